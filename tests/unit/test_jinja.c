/* test_jinja.c - unit tests of the Jinja interpreter (src/text/jinja*.c) and the chat
 * layer API (src/text/chat.h): Python value semantics (arithmetic, float repr, str/repr
 * of containers), string methods, filters, tests, HF tojson, printf formatting, loops,
 * scoping, macros, whitespace control (trim_blocks, lstrip_blocks, -/+ modifiers,
 * comments, raw), errors with line numbers, raise_exception, and resource limits.
 * Expected strings are what Jinja2 under transformers' apply_chat_template prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnic.h"
#include "text/chat.h"
#include "text/jinja.h"

/* Render src with vars (JSON text or NULL); returns malloc'd output or NULL (error in
 * omnic_errmsg()). */
static char *render_lim(const char *src, size_t srclen, const char *vars, const jinja_limits *lim, int *rc_out) {
    json_t *v = NULL;
    if (vars) {
        json_error_t je;
        v = json_loads(vars, 0, &je);
        if (!v) fail_msg("bad test JSON: %s", je.text);
    }
    jinja_template *t = NULL;
    char *out = NULL;
    int rc = jinja_parse(src, srclen, "test", &t);
    if (rc == OMNIC_OK) {
        size_t n;
        rc = jinja_render(t, v, lim, &out, &n);
        if (rc == OMNIC_OK) assert_int_equal(n, strlen(out));
    }
    jinja_free(t);
    json_decref(v);
    if (rc_out) *rc_out = rc;
    return out;
}

static void check(const char *src, const char *vars, const char *want) {
    int rc;
    char *out = render_lim(src, strlen(src), vars, NULL, &rc);
    if (!out) fail_msg("template %s failed: %s", src, omnic_errmsg());
    if (strcmp(out, want)) {
        fprintf(stderr, "template: %s\n     got: [%s]\n    want: [%s]\n", src, out, want);
        free(out);
        fail();
    }
    free(out);
}

static void check_err_lim(const char *src, const char *vars, const jinja_limits *lim, const char *needle) {
    int rc;
    char *out = render_lim(src, strlen(src), vars, lim, &rc);
    if (out) {
        fprintf(stderr, "template %s: expected an error containing '%s', got output [%s]\n", src, needle, out);
        free(out);
        fail();
    }
    assert_true(rc < 0);
    if (!strstr(omnic_errmsg(), needle)) fail_msg("template %s: error '%s' lacks '%s'", src, omnic_errmsg(), needle);
}

static void check_err(const char *src, const char *vars, const char *needle) { check_err_lim(src, vars, NULL, needle); }

/* ---- values and operators ------------------------------------------------------------- */

static void test_arithmetic(void **st) {
    (void)st;
    check("{{ 1 + 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % -3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 7 / 2 }}|{{ 6 / 2 }}",
          NULL, "3|3|-4|-2|2|1024|0.5|3.5|3.0");
    check("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ -2 ** 2 }}|{{ 2 * 3 ** 2 }}|{{ 10 - 2 - 3 }}|{{ 1.5 * 2 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}",
          NULL, "7|9|4|18|5|3.0|3.0|0.5");
    check("{{ true + 1 }}|{{ 3 - true }}|{{ '42' | int + 1 }}|{{ -3 | abs }}", NULL, "2|2|43|3");
}

static void test_float_repr(void **st) {
    (void)st;
    check("{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 1.5e-5 }}|{{ 0.0001 }}|{{ 2.0 }}|{{ -0.0 }}|{{ 1/3 }}|{{ 123456789.125 }}|{{ 1_000.5 }}",
          NULL, "0.30000000000000004|1e+16|1000000000000000.0|1.5e-05|0.0001|2.0|-0.0|0.3333333333333333|123456789.125|1000.5");
    check("{{ n }}|{{ i }}|{{ big }}|{{ [n, i] | tojson }}", "{\"n\": 2.0, \"i\": 3, \"big\": 1e300}", "2.0|3|1e+300|[2.0, 3]");
}

static void test_str_repr(void **st) {
    (void)st;
    check("{{ none }}|{{ true }}|{{ False }}|{{ [1, 'a', none, true, 2.5] }}|{{ {'k': 'v', 'n': none} }}|{{ (1,) }}|{{ ('a', 2) }}|{{ [] }}|{{ {} }}",
          NULL, "None|True|False|[1, 'a', None, True, 2.5]|{'k': 'v', 'n': None}|(1,)|('a', 2)|[]|{}");
    check("{{ [\"it's\", 'say \"hi\"', 'a\\nb', 'tab\\t', '\\\\', '한'] }}", NULL,
          "[\"it's\", 'say \"hi\"', 'a\\nb', 'tab\\t', '\\\\', '한']");
    check("{{ n }}|{{ i }}|{{ s }}|{{ arr }}|{{ arr | tojson }}", "{\"n\": 2.5, \"i\": -3, \"s\": \"é\", \"arr\": [1, {\"k\": null}]}",
          "2.5|-3|é|[1, {'k': None}]|[1, {\"k\": null}]");
    check("{{ 'a\\tb\\u00e9\\x41\\\\\\'\\\"\\q' }}", NULL, "a\tbéA\\'\"\\q");
    check("{{ \"ab\" 'cd' }}|{{ 0x1F }}|{{ 0o17 }}|{{ 0b101 }}", NULL, "abcd|31|15|5");
}

static void test_comparisons(void **st) {
    (void)st;
    check("{{ 1 < 2 < 3 }}{{ 1 < 3 < 2 }}{{ 'b' in 'abc' }}{{ 'x' not in ['y'] }}{{ 1 == 1.0 }}{{ [1, 2] == [1, 2] }}"
          "{{ {'a': 1} == {'a': 1} }}{{ not 0 }}{{ 1 and 'x' }}{{ 0 or 'y' }}{{ none or 0 }}{{ 'a' ~ 1 ~ none }}{{ 'x' if false }}"
          "|{{ [1] + [2] }}{{ 'ab' * 2 }}{{ 2 * 'c' }}",
          NULL, "TrueFalseTrueTrueTrueTrueTrueTruexy0a1None|[1, 2]ababcc");
    check("{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 2 >= 2.0 }}{{ 'k' in {'k': 1} }}{{ 1 in [1.0] }}{{ x == y }}{{ none == none }}",
          NULL, "TrueTrueTrueTrueTrueTrueTrue");
    check("{{ 'y' if 0 else 'n' }}{{ 'a' if 1 else 'b' if 2 else 'c' }}{{ 1 if 0 else 2 if 0 else 3 }}", NULL, "na3");
}

/* ---- strings --------------------------------------------------------------------------- */

static void test_string_methods(void **st) {
    (void)st;
    check("{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a b c'.split(none, 1) }}|{{ 'a b c'.rsplit(' ', 1) }}"
          "|{{ 'a b  c '.rsplit(none, 1) }}|{{ 'a-b-c'.split('-', maxsplit=1) }}",
          NULL, "['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|['a b', 'c']|['a b', 'c']|['a', 'b-c']");
    check("{{ 'xxhixx'.strip('x') }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ ' x '.rstrip() }}|{{ '\\u3000x\\u3000'.strip() }}", NULL,
          "hi|x\n| x|x");
    check("{{ 'hello'.replace('l', 'L', 1) }}|{{ 'hello'.replace('l', '') }}|{{ 'ab'.replace('', '-') }}", NULL, "heLlo|heo|-a-b-");
    check("{{ 'hello'.find('l') }}|{{ 'hello'.rfind('l') }}|{{ 'héllo'.find('l') }}|{{ 'abc'.find('z') }}|{{ 'aaa'.count('a') }}",
          NULL, "2|3|2|-1|3");
    check("{{ 'Hello World'.lower() }}|{{ 'hi'.upper() }}|{{ 'ÀÉ'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}",
          NULL, "hello world|HI|àé|Hello World|Hello");
    check("{{ 'ab'.startswith(('x', 'a')) }}{{ 'ab'.endswith('b') }}{{ 'ab'.startswith('b') }}|{{ '-'.join(['a', 'b']) }}"
          "|{{ 'x'.center(5) }}|{{ '5'.zfill(3) }}|{{ 'ab'.ljust(4, '*') }}|{{ '12'.isdigit() }}{{ 'a1'.isalpha() }}",
          NULL, "TrueTrueFalse|a-b|  x  |005|ab**|TrueFalse");
    check("{{ '{} and {}'.format('a', 'b') }}|{{ '{1}{0}'.format('x', 'y') }}|{{ '{n}!'.format(n=3) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}",
          NULL, "a and b|yx|3!|['a', 'b', 'c']");
    check("{{ 'abc'[1] }}|{{ 'abc'[-1] }}|{{ '한국어'[1] }}|{{ '한국어'[1:] }}|{{ 'abcdef'[::2] }}|{{ 'abc'[::-1] }}|{{ 'abc'[5] is undefined }}"
          "|{{ 'abcdef'[-3:-1] }}|{{ 'abc'[10:] }}|{{ '한국어'[::-1] }}",
          NULL, "b|c|국|국어|ace|cba|True|de||어국한");
    check("{{ [1, 2, 3, 4][1:3] }}|{{ [1, 2, 3][-2:] }}|{{ [1, 2, 3][::-1] }}|{{ [1, 2, 3][-1] }}|{{ [1][5] is undefined }}", NULL,
          "[2, 3]|[2, 3]|[3, 2, 1]|3|True");
}

static void test_printf(void **st) {
    (void)st;
    check("{{ '%s|%5s|%-5s|%.2s|%d|%05d|%+d|%x|%X|%o|%#x|%#o|%.3f|%e|%g|%c|%%|%r' % ('a', 'b', 'c', 'xyz', 42, 42, 7, 255, 255, 8, "
          "255, 8, 3.14159, 12345.678, 0.0001, 65, 'q') }}",
          NULL, "a|    b|c    |xy|42|00042|+7|ff|FF|10|0xff|0o10|3.142|1.234568e+04|0.0001|A|%|'q'");
    check("{{ 'video_%02d' % 3 }}|{{ '%(a)s-%(b)d' % {'a': 'x', 'b': 2} }}|{{ '%d' % 3.9 }}|{{ '%s' % [1, 2] }}|{{ '%-4d|' % -5 }}"
          "|{{ '%*d' % (4, 7) }}|{{ '%s' % none }}|{{ '%5.1f' % 2 }}",
          NULL, "video_03|x-2|3|[1, 2]|-5  ||   7|None|  2.0");
    check_err("{{ '%d' % 'x' }}", NULL, "format");
    check_err("{{ '%s %s' % ('a',) }}", NULL, "not enough arguments");
    check_err("{{ '%s' % ('a', 'b') }}", NULL, "not all arguments converted");
    check_err("{{ '%x' % 1.5 }}", NULL, "integer");
}

/* ---- filters, tests, tojson ---------------------------------------------------------------- */

static void test_filters(void **st) {
    (void)st;
    check("{{ [3, 1, 2] | sort | list }}|{{ ['b', 'a', 'C'] | sort }}|{{ ['b', 'a', 'C'] | sort(case_sensitive=true) }}|{{ [1, 2, 3] | sum }}"
          "|{{ [1, 2] | join('-') }}|{{ 'x' | default('d') }}|{{ undef | default('d') }}|{{ '' | default('d', true) }}|{{ [1, 2, 3] | first }}"
          "|{{ [1, 2, 3] | last }}|{{ 'abc' | length }}|{{ {'a': 1} | items | list }}|{{ ' x ' | trim }}|{{ 'a' | upper }}|{{ [1, 1, 2] | unique | list }}"
          "|{{ [4, 2, 9] | max }}|{{ [4, 2, 9] | min }}|{{ '3.5' | float }}|{{ 2.567 | round(2) }}|{{ [1, 2] | reverse | list }}"
          "|{{ 'a<b>&\"' | escape }}|{{ 'A b' | lower }}|{{ 'x' | d }}|{{ [1, 2] | count }}|{{ 5 | string ~ '!' }}",
          NULL, "[1, 2, 3]|['a', 'b', 'C']|['C', 'a', 'b']|6|1-2|x|d|d|1|3|3|[('a', 1)]|x|A|[1, 2]|9|2|3.5|2.57|[2, 1]"
                "|a&lt;b&gt;&amp;&#34;|a b|x|2|5!");
    const char *ms = "{\"ms\": [{\"r\": \"u\", \"c\": \"1\"}, {\"r\": \"a\", \"c\": \"2\"}, {\"r\": \"u\", \"c\": \"3\"}]}";
    check("{{ ms | selectattr('r', 'equalto', 'u') | map(attribute='c') | join(',') }}|{{ ms | rejectattr('r', 'eq', 'u') | map(attribute='c') | list }}"
          "|{{ ms | map(attribute='r') | map('upper') | join }}|{{ [0, 1, '', 'a'] | select | list }}|{{ [1, 2, 3] | reject('odd') | list }}"
          "|{{ ms | map(attribute='zz', default='-') | join }}|{{ ms | sort(attribute='c', reverse=true) | map(attribute='c') | join }}"
          "|{{ ms | selectattr('r') | list | length }}|{{ ms | map(attribute='c') | map('int') | sum(start=10) }}",
          ms, "1,3|['2']|UAU|[1, 'a']|[2]|---|321|3|16");
    check("{{ {'b': 1, 'a': 2} | dictsort }}|{{ {'b': 1, 'a': 2} | dictsort(by='value') }}|{{ 'a\\nb\\n\\nc' | indent(2) }}"
          "|{{ 'a\\nb' | indent(2, true) }}|{{ 'x' | indent('>') }}|{{ 'one two  three' | wordcount }}|{{ '%s=%d' | format('k', 3) }}",
          NULL, "[('a', 2), ('b', 1)]|[('b', 1), ('a', 2)]|a\n  b\n\n  c|  a\n  b|x|3|k=3");
    check("{{ 'abc' | list }}|{{ {'x': 1, 'y': 2} | list }}|{{ 'x' | int }}|{{ 'x' | int(7) }}|{{ '0x1A' | int(0, 16) }}|{{ 3.9 | int }}"
          "|{{ '12' | int }}|{{ 2.5 | round }}|{{ 3.5 | round }}|{{ 2.1 | round(method='ceil') }}|{{ 7 | round }}",
          NULL, "['a', 'b', 'c']|['x', 'y']|0|7|26|3|12|2.0|4.0|3.0|7");
}

static void test_tojson(void **st) {
    (void)st;
    check("{{ {'b': 1, 'a': [1.0, 'é', none, true]} | tojson }}|{{ 'é\"\\n<>&\\'\\x01' | tojson }}|{{ 'é' | tojson(ensure_ascii=true) }}"
          "|{{ '😀\\x7f' | tojson(ensure_ascii=true) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ [1, 2] | tojson(separators=(',', ':')) }}",
          NULL, "{\"b\": 1, \"a\": [1.0, \"é\", null, true]}|\"é\\\"\\n<>&'\\u0001\"|\"\\u00e9\"|\"\\ud83d\\ude00\\u007f\"|{\"a\": 2, \"b\": 1}|[1,2]");
    check("{{ {'a': [1, {}], 'b': []} | tojson(indent=2) }}|{{ [] | tojson(indent=2) }}|{{ [1] | tojson(indent=0) }}|{{ {1: 'x', none: 2} | tojson }}",
          NULL, "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}|[]|[\n1\n]|{\"1\": \"x\", \"null\": 2}");
    check("{{ x | tojson }}", "{\"x\": {\"z\": 1, \"a\": {\"m\": [true, false]}, \"한\": \"글\"}}",
          "{\"z\": 1, \"a\": {\"m\": [true, false]}, \"한\": \"글\"}");
    check_err("{{ undefined_thing | tojson }}", NULL, "not JSON serializable");
    check_err("{{ namespace(a=1) | tojson }}", NULL, "not JSON serializable");
}

static void test_tests(void **st) {
    (void)st;
    check("{{ 1 is number }}{{ 'a' is string }}{{ none is none }}{{ x is defined }}{{ {} is mapping }}{{ [] is sequence }}{{ 3 is odd }}"
          "{{ 4 is divisibleby 2 }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ 1 is true }}{{ 'a' is in 'abc' }}"
          "{{ 2 is in [1, 2] }}{{ 'ABC' is upper }}{{ 1 is not string }}{{ x is undefined }}{{ 'a' is sequence }}{{ 3 is eq 3 }}"
          "{{ 2 is gt 1 }}{{ true is number }}{{ true is integer }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ range is callable }}",
          NULL, "TrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrue");
    check("{{ ns is mapping }}{{ ns is defined }}", NULL, "FalseFalse");
}

/* ---- statements -------------------------------------------------------------------------- */

static void test_loops(void **st) {
    (void)st;
    check("{% for x in [1, 2, 3] %}{{ loop.index0 }}{{ loop.revindex }}{{ 'F' if loop.first }}{{ 'L' if loop.last }}"
          "{{ loop.previtem | default('-') }}{{ loop.nextitem | default('-') }};{% endfor %}",
          NULL, "03F-2;1213;21L2-;");
    check("{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1, 2, 3, 4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"
          "|{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}"
          "|{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}|{% for x in undefined_list %}no{% else %}else{% endfor %}",
          NULL, "empty|2242|a1b2|[h][é]|xy|else");
    check("{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}"
          "|{% for i in range(3) %}{% for j in range(3) %}{% if j == 1 %}{% break %}{% endif %}{{ i }}{{ j }}{% endfor %}{% endfor %}"
          "|{{ range(2, 11, 3) | list }}|{{ range(3, 0, -1) | list }}|{% for i in range(3) %}{{ loop.cycle('o', 'e') }}{% endfor %}",
          NULL, "0246|001020|[2, 5, 8]|[3, 2, 1]|oeo");
    check("{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}|{% for x in [1, 2] %}{% for x in ['a'] %}{{ x }}{% endfor %}{{ x }}{% endfor %}"
          "|{% for i in [1, 1, 2] %}{{ 'c' if loop.changed(i) else '.' }}{% endfor %}",
          NULL, "37|a1a2|c.c");
}

static void test_scoping(void **st) {
    (void)st;
    /* a set inside a loop is local to each iteration (Jinja2 scoping) */
    check("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}", NULL, "231");
    check("{% set ns = namespace(c=0, l=[]) %}{% for i in [1, 2, 3] %}{% set ns.c = ns.c + i %}{% set ns.l = ns.l + [i] %}{% endfor %}"
          "{{ ns.c }}{{ ns.l }}{{ ns.missing is undefined }}",
          NULL, "6[1, 2, 3]True");
    check("{% if true %}{% set y = 5 %}{% endif %}{{ y }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = (1, 2) %}{{ t }}", NULL, "5|12|(1, 2)");
    check("{% set b %}X{{ 1 }}{% endset %}{{ b }}|{% filter upper %}ab{{ 'c' }}{% endfilter %}|{% with a = 5 %}{{ a }}{% endwith %}{{ a is defined }}"
          "|{% set u | upper %}low{% endset %}{{ u }}",
          NULL, "X1|ABC|5False|LOW");
    check("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{% set j = joiner('-') %}{{ j() }}x{{ j() }}y{{ j() }}z",
          NULL, "abax-y-z");
    check("{{ messages[0].role }}{{ messages[0]['content'] }}{{ messages | length }}{{ tools is defined }}",
          "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", "userhi1False");
}

static void test_macros(void **st) {
    (void)st;
    check("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} "
          "{{ greet(punct='.', name='C') }}|{{ greet() }}",
          NULL, "Hi A! Hi B? Hi C.|Hi !");
    check("{% set g = 'G' %}{% macro m(x) %}{{ g }}{{ x }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}", NULL, "G1(2,){'k': 3}");
    check("{% macro fact(n) %}{{ 1 if n <= 1 else n * (fact(n - 1) | int) }}{% endmacro %}{{ fact(5) }}", NULL, "120");
}

static void test_dict_methods(void **st) {
    (void)st;
    check("{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 5) }}{{ d.keys() | list }}{{ d.values() | list }}{{ d['a'] }}{{ d.a }}"
          "{{ d.missing is undefined }}{{ d.items() | list }}{{ d.get('b')[0] }}{{ [5, 6].index(6) }}{{ [1, 1].count(1) }}",
          "{\"d\": {\"a\": 1, \"b\": [2]}}", "1None5['a', 'b'][1, [2]]11True[('a', 1), ('b', [2])]212");
    check("{{ dict(a=1, b='x') }}|{{ namespace({'k': 1}).k }}|{{ d.get('a', {}).get('url', '') }}|", "{\"d\": {}}", "{'a': 1, 'b': 'x'}|1||");
}

/* ---- whitespace ------------------------------------------------------------------------------- */

static void test_whitespace(void **st) {
    (void)st;
    check("{% if true %}\nyes\n{% endif %}\nend", NULL, "yes\nend");
    check("a\n    {% if true %}b{% endif %}\n", NULL, "a\nb");
    check("a\n    {%+ if true %}b{% endif %}", NULL, "a\n    b");
    check("a   {{- 'b' -}}   c", NULL, "abc");
    check("a\n    {{ 'b' }}", NULL, "a\n    b");
    check("a\n  {# c #}\nb", NULL, "a\nb");
    check("a {# c -#}  \n b {#- d #} c", NULL, "a b c");
    check("{% if true +%}\nx{% endif %}", NULL, "\nx");
    check("x {% if true %}y{% endif %}  {% if true %}z{% endif %}", NULL, "x y  z");
    check("  {% for i in [1, 2] %}\n  {{ i }}\n  {% endfor %}\n", NULL, "  1\n  2\n");
    check("{% raw %}{{ x }}{% if %}{% endraw %}|{%- raw %} a {% endraw -%} |", NULL, "{{ x }}{% if %}| a |");
    check("x\n", NULL, "x");
    check("x\n\n", NULL, "x\n");
    check("a\r\nb\rc", NULL, "a\nb\nc");
    check("{{ {'a': {'b': 1}} }}", NULL, "{'a': {'b': 1}}");
    check("{{- ' x ' -}}\n\n", NULL, " x ");
    check("  {%- if true %}a{% endif -%}  \n b", NULL, "ab");
    check("", NULL, "");
    check("{% generation %}in{% endgeneration %}", NULL, "in");
}

/* ---- errors and limits ----------------------------------------------------------------------- */

static void test_syntax_errors(void **st) {
    (void)st;
    check_err("{{ 1 + }}", NULL, "line 1");
    check_err("a\nb\n{{ 1 + }}", NULL, "line 3: syntax error");
    check_err("a\n\n{% if x %}", NULL, "line 3");
    check_err("a\n\n{% if x %}", NULL, "endif");
    check_err("{% endfor %}", NULL, "unexpected");
    check_err("{% for x in y %}{% endif %}", NULL, "endfor");
    check_err("{% foo %}", NULL, "unknown tag 'foo'");
    check_err("{% include 'x.j2' %}", NULL, "not supported");
    check_err("{% break %}", NULL, "outside of a for-loop");
    check_err("{{ 'abc }}", NULL, "unterminated string");
    check_err("{{ x", NULL, "not closed");
    check_err("{# x", NULL, "unterminated comment");
    check_err("{{ (1 }}", NULL, "expected");
    check_err("{{ 1 ]}}", NULL, "unexpected ']'");
    check_err("{{ $ }}", NULL, "unexpected character");
    check_err("{{ '\\x4' }}", NULL, "truncated");
    check_err("{% for x in y recursive %}{% endfor %}", NULL, "recursive");
    check_err("{% set 1 = 2 %}", NULL, "assign");
    check_err("{{ f(a=1, 2) }}", NULL, "positional argument after keyword");
    check_err("{% macro m(a=1, b) %}{% endmacro %}", NULL, "non-default");
    check_err("{% raw %}x", NULL, "endraw");
    int rc;
    char *out = render_lim("\xff\xfe", 2, NULL, NULL, &rc);
    assert_null(out);
    assert_int_equal(rc, OMNIC_EFORMAT);
    assert_non_null(strstr(omnic_errmsg(), "UTF-8"));
    char deep[1200];
    strcpy(deep, "{{ ");
    for (int i = 0; i < 300; i++) strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 300; i++) strcat(deep, ")");
    strcat(deep, " }}");
    check_err(deep, NULL, "deep");
    char deep2[4000];
    strcpy(deep2, "{{ ");
    for (int i = 0; i < 600; i++) strcat(deep2, "not ");
    strcat(deep2, "1 }}");
    check_err(deep2, NULL, "nested too deeply");
}

static void test_runtime_errors(void **st) {
    (void)st;
    check_err("{{ x | nofilter }}", NULL, "no filter named 'nofilter'");
    check_err("{{ x is notatest }}", NULL, "no test named 'notatest'");
    check_err("{{ 'a'.nomethod() }}", NULL, "has no attribute 'nomethod'");
    check_err("{{ undefined_var + 1 }}", NULL, "'undefined_var' is undefined");
    check_err("{{ x.y.z }}", NULL, "'x' is undefined");
    check_err("{{ 'a' + 1 }}", NULL, "can only concatenate str");
    check_err("{{ 1 + 'a' }}", NULL, "unsupported operand");
    check_err("{{ 1 / 0 }}", NULL, "division by zero");
    check_err("{{ 1 // 0 }}", NULL, "division");
    check_err("{{ [1, 2] < 'a' }}", NULL, "not supported");
    check_err("{% for a, b in [1] %}{% endfor %}", NULL, "not iterable");
    check_err("{% set a, b = [1, 2, 3] %}", NULL, "cannot unpack");
    check_err("{{ 5() }}", NULL, "not callable");
    check_err("{{ undefined_fn() }}", NULL, "'undefined_fn' is undefined");
    check_err("{% set x = [].append(1) %}", NULL, "unsafe");
    check_err("{% set x = {}.update({}) %}", NULL, "unsafe");
    check_err("{% set s = 'str' %}{% set s.attr = 1 %}", NULL, "non-namespace");
    check_err("{{ 5 in 'abc' }}", NULL, "requires string as left operand");
    check_err("{{ 1 in 5 }}", NULL, "not iterable");
    check_err("{% for x in none %}{% endfor %}", NULL, "'NoneType' object is not iterable");
    check_err("{{ range(1000000) | length }}", NULL, "range too big");
    check_err("{{ 'x'.split('') }}", NULL, "empty separator");
    check_err("{{ 9223372036854775807 + 1 }}", NULL, "overflow");
    check_err("{{ 'a'.startswith() }}", NULL, "argument");
    check_err("{{ [1] | join(1, 2, 3) }}", NULL, "at most");
    check_err("{{ [1] | tojson(bogus=1) }}", NULL, "unexpected keyword argument 'bogus'");
    check_err("{{ {[1]: 2} }}", NULL, "unhashable");
    check_err("{{ [1, 'a'] | sort }}", NULL, "not supported");
    check_err("{{ 1 | length }}", NULL, "has no len()");
    check_err("{{ 'x'[1:2:0] }}", NULL, "slice step cannot be zero");
    check_err("{{ ['a', 'b'] | sum(start='') }}", NULL, "can't sum strings");
}

static void test_raise_exception(void **st) {
    (void)st;
    int rc;
    const char *src = "line1\n{{ raise_exception('boom: ' ~ 1) }}";
    char *out = render_lim(src, strlen(src), NULL, NULL, &rc);
    assert_null(out);
    assert_int_equal(rc, OMNIC_EINVAL);
    assert_true(jinja_last_error_raised());
    assert_string_equal(omnic_errmsg(), "test: boom: 1");
    out = render_lim("{{ 1 / 0 }}", 11, NULL, NULL, &rc);
    assert_null(out);
    assert_false(jinja_last_error_raised());
}

static void test_limits(void **st) {
    (void)st;
    jinja_limits lim = {.max_output = 500};
    check_err_lim("{% for i in range(100) %}xxxxxxxxxx{% endfor %}", NULL, &lim, "exceeds 500 bytes");
    check_err_lim("{{ 'x' * 100000 }}", NULL, &lim, "too large");
    jinja_limits steps = {.max_steps = 100000};
    check_err_lim("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", NULL, &steps, "steps");
    check_err("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, "nested deeper than 64");
    jinja_limits depth = {.max_depth = 5};
    check_err_lim("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, &depth, "nested deeper than 5");
    jinja_limits mem = {.max_memory = 1 << 20};
    check_err_lim("{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
                  NULL, &mem, "memory");
    /* the same template within limits */
    check("{% set ns = namespace(s='x') %}{% for i in range(10) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}", NULL, "1024");
    /* NUL bytes in values pass through and the length is exact */
    json_t *v = json_loadb("{\"s\": \"a\\u0000b\"}", 17, JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    jinja_template *t;
    assert_int_equal(jinja_parse("[{{ s }}]", 9, "nul", &t), OMNIC_OK);
    char *out;
    size_t n;
    assert_int_equal(jinja_render(t, v, NULL, &out, &n), OMNIC_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "[a\0b]", 5);
    free(out);
    jinja_free(t);
    json_decref(v);
}

/* ---- chat API ---------------------------------------------------------------------------------- */

static void test_chat_api(void **st) {
    (void)st;
    chat_template *t;
    assert_int_equal(chat_load(NULL, "track-a", &t), OMNIC_OK);
    assert_string_equal(chat_family(t), "track-a");
    char *out;
    assert_int_equal(chat_render(t, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, "{\"thinking\":true}", 1, &out), OMNIC_OK);
    assert_string_equal(out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n");
    free(out);
    assert_int_equal(chat_render(t, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, NULL, 0, &out), OMNIC_OK);
    assert_string_equal(out, "<|im_start|>user\nhi<|im_end|>\n");
    free(out);
    assert_int_not_equal(chat_render(t, "[{\"role\":", NULL, NULL, 1, &out), OMNIC_OK);
    assert_null(out);
    assert_non_null(strstr(omnic_errmsg(), "messages: invalid JSON"));
    assert_int_not_equal(chat_render(t, "[]", "{\"x\":1}", NULL, 1, &out), OMNIC_OK);
    assert_non_null(strstr(omnic_errmsg(), "tools"));
    assert_int_not_equal(chat_render(t, "[]", NULL, "[1]", 1, &out), OMNIC_OK);
    assert_non_null(strstr(omnic_errmsg(), "chat_template_kwargs"));
    /* the caller's JSON is not modified by normalization */
    json_t *m = json_loads("[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}]", 0, NULL);
    assert_non_null(m);
    size_t n;
    assert_int_equal(chat_render_json(t, m, NULL, NULL, 0, 0, &out, &n), OMNIC_OK);
    assert_string_equal(out, "<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>f\n<arg_key>a</arg_key>\n<arg_value>1</arg_value>\n</tool_call><|im_end|>\n");
    free(out);
    assert_true(json_is_null(json_object_get(json_array_get(m, 0), "content")));
    json_decref(m);
    const char *const *s = chat_stop_strings(t);
    assert_string_equal(s[0], "<|im_end|>");
    assert_string_equal(chat_never_stop_strings(t)[0], "</think>");
    size_t len;
    assert_non_null(chat_template_text(t, &len));
    assert_true(len > 1000);
    chat_free(t);

    assert_int_equal(chat_load(NULL, "hcx-legacy", &t), OMNIC_OK);
    assert_string_equal(chat_stop_strings(t)[0], "<|endofturn|>");
    assert_string_equal(chat_never_stop_strings(t)[0], "<|im_end|>");
    chat_free(t);
    assert_int_not_equal(chat_load(NULL, NULL, &t), OMNIC_OK);
    assert_null(t);
    assert_int_not_equal(chat_load(NULL, "nope", &t), OMNIC_OK);
    assert_non_null(strstr(omnic_errmsg(), "nope"));
    assert_int_not_equal(chat_load("/nonexistent/dir", NULL, &t), OMNIC_OK);
    assert_non_null(strstr(omnic_errmsg(), "/nonexistent/dir"));
    chat_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arithmetic),      cmocka_unit_test(test_float_repr),    cmocka_unit_test(test_str_repr),
        cmocka_unit_test(test_comparisons),     cmocka_unit_test(test_string_methods), cmocka_unit_test(test_printf),
        cmocka_unit_test(test_filters),         cmocka_unit_test(test_tojson),        cmocka_unit_test(test_tests),
        cmocka_unit_test(test_loops),           cmocka_unit_test(test_scoping),       cmocka_unit_test(test_macros),
        cmocka_unit_test(test_dict_methods),    cmocka_unit_test(test_whitespace),    cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_runtime_errors),  cmocka_unit_test(test_raise_exception), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_chat_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
