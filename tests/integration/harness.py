"""harness.py - what the integration scripts share: one "PASS <name> (detail)" or
"FAIL <name>: <why>" line per case (tests/run_all.sh counts them), the failure count
for the exit status, and spotting sanitizer reports in a child's stderr."""

failures = 0


def report(name, ok, why=""):
    global failures
    if ok:
        print("PASS %s%s" % (name, (" (%s)" % why) if why else ""), flush=True)
    else:
        failures += 1
        print("FAIL %s: %s" % (name, why), flush=True)


def sanitizer_issue(err):
    """The first AddressSanitizer / LeakSanitizer / UBSan marker in err, or None."""
    for pat in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:"):
        if pat in err:
            return pat
    return None


def exit_code():
    return 1 if failures else 0
