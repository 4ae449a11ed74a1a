/* torch_pickle.c - restricted unpickler for torch.save state dicts and the zip
 * checkpoint around it (see torch_pickle.h). Objects live in a node arena and
 * are referred to by index; the stack, marks and memo hold node indices. */
#include "formats/torch_pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum { N_NONE, N_BOOL, N_INT, N_STR, N_TUPLE, N_DICT, N_GLOBAL, N_STORAGE, N_TENSOR };
enum { G_ODICT = 1, G_REBUILD_TENSOR, G_REBUILD_PARAM, G_STORAGE };

typedef struct node {
    int kind;
    int64_t i;          /* int / bool value; global id; storage dtype */
    char *s;            /* string; storage key */
    int *items;         /* tuple items; dict key,value pairs */
    int n, cap;
    /* storage: numel in i2, dtype in i; tensor: storage node, offset, shape */
    int64_t i2;
    int sto, ndim;
    int64_t shape[8], stride[8];
} node;

typedef struct up {
    const char *fname;
    node *nd;
    int nn, ncap;
    int *st;            /* stack */
    int ns, scap;
    int *marks;
    int nm, mcap;
    int *memo;          /* -1 = unset */
    int64_t nmemo;
} up;

#define MAX_NODES (1 << 22)
#define MAX_STACK (1 << 20)
#define MAX_MEMO (1 << 22)

static int grow(void **p, int *cap, int need, size_t es, int max) {
    if (need <= *cap) return 0;
    if (need > max) return -1;
    int nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    if (nc > max) nc = max;
    void *q = realloc(*p, (size_t)nc * es);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static int new_node(up *u, int kind) {
    if (grow((void **)&u->nd, &u->ncap, u->nn + 1, sizeof(node), MAX_NODES)) return -1;
    memset(&u->nd[u->nn], 0, sizeof(node));
    u->nd[u->nn].kind = kind;
    return u->nn++;
}

static int push(up *u, int v) {
    if (v < 0 || grow((void **)&u->st, &u->scap, u->ns + 1, sizeof(int), MAX_STACK)) return -1;
    u->st[u->ns++] = v;
    return 0;
}

static int add_item(up *u, int obj, int v) {
    node *o = &u->nd[obj];
    if (grow((void **)&o->items, &o->cap, o->n + 1, sizeof(int), MAX_STACK)) return -1;
    o->items[o->n++] = v;
    return 0;
}

static void up_free(up *u) {
    for (int i = 0; i < u->nn; i++) {
        free(u->nd[i].s);
        free(u->nd[i].items);
    }
    free(u->nd);
    free(u->st);
    free(u->marks);
    free(u->memo);
}

static const char *op_name(int op) {
    switch (op) {
    case 0x80: return "PROTO";
    case '}': return "EMPTY_DICT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 'X': return "BINUNICODE";
    case 'c': return "GLOBAL";
    case ')': return "EMPTY_TUPLE";
    case 'R': return "REDUCE";
    case '(': return "MARK";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 'J': return "BININT";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 'Q': return "BINPERSID";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'b': return "BUILD";
    case '.': return "STOP";
    /* common ones that are refused, for readable errors */
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 'P': return "PERSID";
    case 0x82: return "EXT1";
    case 'G': return "BINFLOAT";
    case 0x8a: return "LONG1";
    case ']': return "EMPTY_LIST";
    case 'e': return "APPENDS";
    case 'a': return "APPEND";
    case 'N': return "NONE";
    case 'V': return "UNICODE";
    case 'S': return "STRING";
    case 'U': return "SHORT_BINSTRING";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'l': return "LIST";
    case 'd': return "DICT";
    case 'p': return "PUT";
    case 'g': return "GET";
    default: return "unknown";
    }
}

static int storage_dtype(const char *name, int64_t *dt) {
    if (!strcmp(name, "FloatStorage")) *dt = TP_F32;
    else if (!strcmp(name, "LongStorage")) *dt = TP_I64;
    else if (!strcmp(name, "HalfStorage")) *dt = TP_F16;
    else if (!strcmp(name, "BFloat16Storage")) *dt = TP_BF16;
    else return -1;
    return 0;
}

/* Pop the objects above the last mark into a new tuple. */
static int pop_mark(up *u, int *lo) {
    if (u->nm == 0) return -1;
    *lo = u->marks[--u->nm];
    if (*lo > u->ns) return -1;
    return 0;
}

static int tuple_of(up *u, int lo) {
    int t = new_node(u, N_TUPLE);
    if (t < 0) return -1;
    for (int i = lo; i < u->ns; i++)
        if (add_item(u, t, u->st[i])) return -1;
    u->ns = lo;
    return t;
}

static int int_tuple(up *u, int t, int64_t *v, int *n) {
    node *o = &u->nd[t];
    if (o->kind != N_TUPLE || o->n > 8) return -1;
    for (int i = 0; i < o->n; i++) {
        node *e = &u->nd[o->items[i]];
        if (e->kind != N_INT || e->i < 0) return -1;
        v[i] = e->i;
    }
    *n = o->n;
    return 0;
}

/* Interpret REDUCE for the three allowed callables. */
static int reduce(up *u, int fn, int args, size_t at) {
    node *f = &u->nd[fn], *a = &u->nd[args];
    if (f->kind != N_GLOBAL || a->kind != N_TUPLE)
        return omnic_err(OMNIC_EFORMAT, "%s: pickle REDUCE at offset %zu on something that is not an allowed global", u->fname, at);
    if (f->i == G_ODICT) {
        if (a->n != 0) return omnic_err(OMNIC_EFORMAT, "%s: OrderedDict with arguments at offset %zu", u->fname, at);
        return new_node(u, N_DICT);
    }
    if (f->i == G_REBUILD_PARAM) {
        /* (tensor, requires_grad, backward_hooks) -> the tensor */
        if (a->n != 3 || u->nd[a->items[0]].kind != N_TENSOR || u->nd[a->items[1]].kind != N_BOOL ||
            u->nd[a->items[2]].kind != N_DICT)
            return omnic_err(OMNIC_EFORMAT, "%s: bad _rebuild_parameter arguments at offset %zu", u->fname, at);
        return a->items[0];
    }
    if (f->i == G_REBUILD_TENSOR) {
        /* (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]) */
        if ((a->n != 6 && a->n != 7) || u->nd[a->items[0]].kind != N_STORAGE || u->nd[a->items[1]].kind != N_INT ||
            u->nd[a->items[4]].kind != N_BOOL || u->nd[a->items[5]].kind != N_DICT ||
            (a->n == 7 && u->nd[a->items[6]].kind != N_DICT))
            return omnic_err(OMNIC_EFORMAT, "%s: bad _rebuild_tensor_v2 arguments at offset %zu", u->fname, at);
        int64_t shape[8], stride[8];
        int nd1, nd2;
        if (int_tuple(u, a->items[2], shape, &nd1) || int_tuple(u, a->items[3], stride, &nd2) || nd1 != nd2)
            return omnic_err(OMNIC_EFORMAT, "%s: bad tensor size/stride tuples at offset %zu", u->fname, at);
        int t = new_node(u, N_TENSOR);
        if (t < 0) return -1;
        a = &u->nd[args];
        node *tn = &u->nd[t];
        tn->sto = a->items[0];
        tn->i2 = u->nd[a->items[1]].i;
        tn->ndim = nd1;
        memcpy(tn->shape, shape, sizeof shape);
        memcpy(tn->stride, stride, sizeof stride);
        return t;
    }
    return omnic_err(OMNIC_EFORMAT, "%s: pickle REDUCE at offset %zu calls a storage type (not allowed)", u->fname, at);
}

static int run(up *u, const uint8_t *p, size_t len) {
    size_t i = 0;
#define NEED(k) do { if (len - i < (size_t)(k)) goto trunc; } while (0)
#define OOM() do { return omnic_err(OMNIC_EFORMAT, "%s: pickle too large or out of memory at offset %zu", u->fname, at); } while (0)
#define BAD(msg) do { return omnic_err(OMNIC_EFORMAT, "%s: pickle %s at offset %zu: %s", u->fname, op_name(op), at, msg); } while (0)
    while (i < len) {
        size_t at = i;
        int op = p[i++];
        switch (op) {
        case 0x80:
            NEED(1);
            if (p[i] < 2 || p[i] > 5) BAD("unsupported protocol");
            i++;
            break;
        case '}': if (push(u, new_node(u, N_DICT))) OOM(); break;
        case ')': if (push(u, new_node(u, N_TUPLE))) OOM(); break;
        case 0x88: case 0x89: {
            int v = new_node(u, N_BOOL);
            if (v < 0) OOM();
            u->nd[v].i = op == 0x88;
            if (push(u, v)) OOM();
            break;
        }
        case 'K': case 'M': case 'J': {
            int k = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            NEED(k);
            int64_t v = p[i];
            if (k >= 2) v |= (int64_t)p[i + 1] << 8;
            if (k == 4) v = (int32_t)((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24);
            i += (size_t)k;
            int n = new_node(u, N_INT);
            if (n < 0) OOM();
            u->nd[n].i = v;
            if (push(u, n)) OOM();
            break;
        }
        case 'X': {
            NEED(4);
            uint32_t l = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
            i += 4;
            NEED(l);
            if (memchr(p + i, 0, l)) BAD("string with a NUL byte");
            int n = new_node(u, N_STR);
            if (n < 0) OOM();
            char *s = malloc((size_t)l + 1);
            if (!s) OOM();
            memcpy(s, p + i, l);
            s[l] = 0;
            u->nd[n].s = s;
            i += l;
            if (push(u, n)) OOM();
            break;
        }
        case 'c': {
            const uint8_t *e1 = memchr(p + i, '\n', len - i);
            if (!e1) goto trunc;
            const uint8_t *e2 = memchr(e1 + 1, '\n', (size_t)(p + len - (e1 + 1)));
            if (!e2) goto trunc;
            char mod[128], name[128];
            size_t lm = (size_t)(e1 - (p + i)), ln = (size_t)(e2 - (e1 + 1));
            if (lm >= sizeof mod || ln >= sizeof name) BAD("global name too long (not allowed)");
            memcpy(mod, p + i, lm);
            mod[lm] = 0;
            memcpy(name, e1 + 1, ln);
            name[ln] = 0;
            for (size_t k = 0; k < lm; k++) if ((unsigned char)mod[k] < 32) mod[k] = '?';
            for (size_t k = 0; k < ln; k++) if ((unsigned char)name[k] < 32) name[k] = '?';
            i = (size_t)(e2 + 1 - p);
            int64_t g = 0, dt = 0;
            if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict")) g = G_ODICT;
            else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) g = G_REBUILD_TENSOR;
            else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_parameter")) g = G_REBUILD_PARAM;
            else if (!strcmp(mod, "torch") && storage_dtype(name, &dt) == 0) g = G_STORAGE;
            else
                return omnic_err(OMNIC_EFORMAT, "%s: pickle GLOBAL '%s.%s' at offset %zu is not allowed (restricted unpickler)",
                                 u->fname, mod, name, at);
            int n = new_node(u, N_GLOBAL);
            if (n < 0) OOM();
            u->nd[n].i = g;
            u->nd[n].i2 = dt;
            if (push(u, n)) OOM();
            break;
        }
        case 'q': case 'r': case 'h': case 'j': {
            int k = (op == 'q' || op == 'h') ? 1 : 4;
            NEED(k);
            uint32_t idx = p[i];
            if (k == 4) idx = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
            i += (size_t)k;
            if (op == 'q' || op == 'r') {
                if (u->ns == 0) BAD("empty stack");
                if (idx >= MAX_MEMO) BAD("memo index too large");
                if ((int64_t)idx >= u->nmemo) {
                    int64_t nm = (int64_t)idx + 1 > u->nmemo * 2 ? (int64_t)idx + 1 : u->nmemo * 2;
                    if (nm > MAX_MEMO) nm = MAX_MEMO;
                    int *m = realloc(u->memo, (size_t)nm * sizeof(int));
                    if (!m) OOM();
                    for (int64_t k2 = u->nmemo; k2 < nm; k2++) m[k2] = -1;
                    u->memo = m;
                    u->nmemo = nm;
                }
                u->memo[idx] = u->st[u->ns - 1];
            } else {
                if ((int64_t)idx >= u->nmemo || u->memo[idx] < 0) BAD("memo key not set");
                if (push(u, u->memo[idx])) OOM();
            }
            break;
        }
        case '(':
            if (grow((void **)&u->marks, &u->mcap, u->nm + 1, sizeof(int), MAX_STACK)) OOM();
            u->marks[u->nm++] = u->ns;
            break;
        case 't': {
            int lo;
            if (pop_mark(u, &lo)) BAD("no mark");
            int t = tuple_of(u, lo);
            if (push(u, t)) OOM();
            break;
        }
        case 0x85: case 0x86: case 0x87: {
            int k = op - 0x84;
            if (u->ns < k) BAD("stack underflow");
            int t = tuple_of(u, u->ns - k);
            if (push(u, t)) OOM();
            break;
        }
        case 'R': {
            if (u->ns < 2) BAD("stack underflow");
            int args = u->st[--u->ns], fn = u->st[--u->ns];
            int r = reduce(u, fn, args, at);
            if (r < 0) return r == -1 ? omnic_err(OMNIC_EFORMAT, "%s: pickle too large at offset %zu", u->fname, at) : r;
            if (push(u, r)) OOM();
            break;
        }
        case 'Q': {
            if (u->ns < 1) BAD("stack underflow");
            int pid = u->st[--u->ns];
            node *t = &u->nd[pid];
            if (t->kind != N_TUPLE || t->n != 5 || u->nd[t->items[0]].kind != N_STR || strcmp(u->nd[t->items[0]].s, "storage") ||
                u->nd[t->items[1]].kind != N_GLOBAL || u->nd[t->items[1]].i != G_STORAGE ||
                u->nd[t->items[2]].kind != N_STR || u->nd[t->items[3]].kind != N_STR ||
                u->nd[t->items[4]].kind != N_INT || u->nd[t->items[4]].i < 0)
                BAD("persistent id is not ('storage', type, key, location, numel)");
            int s = new_node(u, N_STORAGE);
            if (s < 0) OOM();
            t = &u->nd[pid];
            u->nd[s].i = u->nd[t->items[1]].i2;
            u->nd[s].i2 = u->nd[t->items[4]].i;
            u->nd[s].sto = t->items[2]; /* key string node */
            if (push(u, s)) OOM();
            break;
        }
        case 's': case 'u': {
            int lo;
            if (op == 's') {
                if (u->ns < 3) BAD("stack underflow");
                lo = u->ns - 2;
            } else if (pop_mark(u, &lo)) BAD("no mark");
            if (lo < 1 || (u->ns - lo) % 2) BAD("odd number of items");
            int d = u->st[lo - 1];
            if (u->nd[d].kind != N_DICT) BAD("target is not a dict");
            for (int k = lo; k < u->ns; k++)
                if (add_item(u, d, u->st[k])) OOM();
            u->ns = lo;
            break;
        }
        case 'b': {
            if (u->ns < 2) BAD("stack underflow");
            int state = u->st[u->ns - 1], obj = u->st[u->ns - 2];
            if (u->nd[obj].kind != N_DICT || u->nd[state].kind != N_DICT) BAD("only an OrderedDict's state dict may be built");
            u->ns--; /* the state (_metadata) is ignored */
            break;
        }
        case '.':
            if (u->ns != 1 || u->nm != 0) BAD("stack not left with exactly one object");
            return 0;
        default:
            return omnic_err(OMNIC_EFORMAT, "%s: pickle opcode 0x%02x (%s) at offset %zu is not allowed (restricted unpickler)",
                             u->fname, op, op_name(op), at);
        }
    }
trunc:
    return omnic_err(OMNIC_EFORMAT, "%s: pickle truncated (no STOP before byte %zu)", u->fname, len);
#undef NEED
#undef OOM
#undef BAD
}

void tp_tensors_free(tp_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].storage_key);
    }
    free(t);
}

int torch_pickle_state_dict(const uint8_t *pkl, size_t len, const char *fname, const char *dict_key,
                            tp_tensor **out, int *n) {
    *out = NULL;
    *n = 0;
    up u;
    memset(&u, 0, sizeof u);
    u.fname = fname;
    int rc = run(&u, pkl, len);
    if (rc) {
        up_free(&u);
        return rc;
    }
    int top = u.st[0];
    if (u.nd[top].kind != N_DICT) {
        up_free(&u);
        return omnic_err(OMNIC_EFORMAT, "%s: checkpoint is not a dict", fname);
    }
    int sd = top;
    if (dict_key) {
        sd = -1;
        node *d = &u.nd[top];
        for (int k = 0; k + 1 < d->n; k += 2)
            if (u.nd[d->items[k]].kind == N_STR && !strcmp(u.nd[d->items[k]].s, dict_key)) sd = d->items[k + 1];
        if (sd < 0 || u.nd[sd].kind != N_DICT) {
            up_free(&u);
            return omnic_err(OMNIC_ETENSOR, "%s: checkpoint has no '%s' state dict", fname, dict_key);
        }
    }
    node *d = &u.nd[sd];
    int nt = d->n / 2;
    tp_tensor *t = calloc(nt ? (size_t)nt : 1, sizeof *t);
    if (!t) {
        up_free(&u);
        return omnic_err(OMNIC_ENOMEM, "%s: out of memory", fname);
    }
    for (int k = 0; k < nt; k++) {
        node *key = &u.nd[d->items[2 * k]], *v = &u.nd[d->items[2 * k + 1]];
        if (key->kind != N_STR || v->kind != N_TENSOR) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: state dict entry %d (%s) is not a named tensor", fname, k,
                           key->kind == N_STR ? key->s : "?");
            break;
        }
        node *s = &u.nd[v->sto];
        tp_tensor *o = &t[k];
        o->name = strdup(key->s);
        o->storage_key = strdup(u.nd[s->sto].s);
        if (!o->name || !o->storage_key) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", fname); break; }
        o->dtype = (tp_dtype)s->i;
        o->storage_numel = s->i2;
        o->offset = v->i2;
        o->ndim = v->ndim;
        o->numel = 1;
        for (int j = 0; j < v->ndim; j++) {
            o->shape[j] = v->shape[j];
            o->stride[j] = v->stride[j];
            if (o->shape[j] > ((int64_t)1 << 40) / (o->numel ? o->numel : 1)) {
                rc = omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' is absurdly large", fname, o->name);
                break;
            }
            o->numel *= o->shape[j];
        }
        if (rc) break;
    }
    up_free(&u);
    if (rc) {
        tp_tensors_free(t, nt);
        return rc;
    }
    *out = t;
    *n = nt;
    return 0;
}

static size_t dt_size(tp_dtype d) { return d == TP_F32 ? 4 : d == TP_I64 ? 8 : 2; }

int torch_ckpt_open_mem(const uint8_t *buf, size_t len, const char *name, const char *dict_key, torch_ckpt *ck) {
    memset(ck, 0, sizeof *ck);
    if (len >= 3 && buf[0] == 0x80 && buf[1] <= 5 && buf[2] == 0x8a)
        return omnic_err(OMNIC_EUNSUP, "%s: legacy (non-zip) torch.save format is not supported; "
                         "re-save it with torch.save(obj, f) from torch >= 1.6", name);
    if (len < 4 || memcmp(buf, "PK\x03\x04", 4))
        return omnic_err(OMNIC_EFORMAT, "%s: not a PyTorch zip checkpoint", name);
    int rc = zip_open_mem(buf, len, name, &ck->zip);
    if (rc) return rc;
    int ip = zip_find_suffix(&ck->zip, "data.pkl");
    if (ip < 0) {
        torch_ckpt_close(ck);
        return omnic_err(OMNIC_EFORMAT, "%s: no data.pkl in the checkpoint", name);
    }
    const char *pn = ck->zip.e[ip].name;
    size_t root_len = strlen(pn) - strlen("data.pkl");
    char pkl_name[512];
    snprintf(pkl_name, sizeof pkl_name, "%s:%s", name, pn);
    int ib = -1;
    {
        char bo[512];
        snprintf(bo, sizeof bo, "%.*sbyteorder", (int)root_len, pn);
        ib = zip_find(&ck->zip, bo);
    }
    const uint8_t *d;
    size_t dl;
    void *own;
    if (ib >= 0) {
        if ((rc = zip_read(&ck->zip, ib, &d, &dl, &own))) goto fail;
        int little = dl >= 6 && !memcmp(d, "little", 6);
        free(own);
        if (!little) { rc = omnic_err(OMNIC_EUNSUP, "%s: big-endian checkpoint storages are not supported", name); goto fail; }
    }
    if ((rc = zip_read(&ck->zip, ip, &d, &dl, &own))) goto fail;
    rc = torch_pickle_state_dict(d, dl, pkl_name, dict_key, &ck->t, &ck->n);
    free(own);
    if (rc) goto fail;
    ck->owned = calloc((size_t)ck->n + 1, sizeof(void *));
    if (!ck->owned) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); goto fail; }
    for (int k = 0; k < ck->n; k++) {
        tp_tensor *t = &ck->t[k];
        char sn[1024];
        snprintf(sn, sizeof sn, "%.*sdata/%s", (int)root_len, pn, t->storage_key);
        int is = zip_find(&ck->zip, sn);
        if (is < 0) { rc = omnic_err(OMNIC_ETENSOR, "%s: tensor '%s': storage file '%s' missing", name, t->name, sn); goto fail; }
        size_t es = dt_size(t->dtype);
        if (ck->zip.e[is].usize / es < (uint64_t)t->storage_numel || ck->zip.e[is].usize != (uint64_t)t->storage_numel * es) {
            rc = omnic_err(OMNIC_ETENSOR, "%s: tensor '%s': storage '%s' holds %llu bytes, its header says %lld elements of %zu bytes",
                           name, t->name, sn, (unsigned long long)ck->zip.e[is].usize, (long long)t->storage_numel, es);
            goto fail;
        }
        /* C-contiguous, inside the storage. */
        int64_t want = 1;
        for (int j = t->ndim - 1; j >= 0; j--) {
            if (t->shape[j] != 1 && t->stride[j] != want) {
                rc = omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' is not contiguous (stride %lld in dim %d)", name, t->name,
                               (long long)t->stride[j], j);
                goto fail;
            }
            want *= t->shape[j];
        }
        if (t->offset > t->storage_numel || t->numel > t->storage_numel - t->offset) {
            rc = omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' (offset %lld, %lld elements) exceeds its storage of %lld elements",
                           name, t->name, (long long)t->offset, (long long)t->numel, (long long)t->storage_numel);
            goto fail;
        }
        /* Shared storages: reuse an earlier inflation. */
        const uint8_t *base = NULL;
        for (int q = 0; q < k && !base; q++)
            if (!strcmp(ck->t[q].storage_key, t->storage_key) && ck->t[q].data)
                base = (const uint8_t *)ck->t[q].data - ck->t[q].offset * (int64_t)dt_size(ck->t[q].dtype);
        if (!base) {
            if ((rc = zip_read(&ck->zip, is, &d, &dl, &own))) goto fail;
            if (own) ck->owned[ck->n_owned++] = own;
            base = d;
        }
        t->data = base + t->offset * (int64_t)es;
    }
    return 0;
fail:
    torch_ckpt_close(ck);
    return rc;
}

void torch_ckpt_close(torch_ckpt *ck) {
    if (!ck) return;
    tp_tensors_free(ck->t, ck->n);
    for (int i = 0; i < ck->n_owned; i++) free(ck->owned[i]);
    free(ck->owned);
    zip_close(&ck->zip);
    memset(ck, 0, sizeof *ck);
}

const tp_tensor *torch_ckpt_find(const torch_ckpt *ck, const char *name) {
    for (int i = 0; i < ck->n; i++)
        if (!strcmp(ck->t[i].name, name)) return &ck->t[i];
    return NULL;
}
