#!/usr/bin/env python3
"""Prints every test that ctest skipped, with its reason, from the JUnit
reports of `ctest --output-junit` (make test writes them to BUILD/junit/).

The reason is the test's own line saying why: a line starting with "SKIP"
(tests/integration/lib.sh's skip_all) or "real Kafka not available", else the
last line it printed. Usage: ctest-skips.py REPORT.xml..."""
import sys
import xml.etree.ElementTree as ET


def reason(out):
    lines = [l.strip() for l in (out or "").splitlines() if l.strip()]
    for l in reversed(lines):
        if l.startswith("SKIP") or l.startswith("real Kafka not available"):
            return l
    return lines[-1] if lines else "(it printed no reason)"


skips = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print("ctest-skips: %s: %s" % (path, e), file=sys.stderr)
        continue
    for case in root.iter("testcase"):
        if case.find("skipped") is not None or case.get("status") == "notrun":
            skips.append((case.get("name"), reason(case.findtext("system-out"))))

if skips:
    print("%d test%s skipped:" % (len(skips), "" if len(skips) == 1 else "s"))
    for name, why in skips:
        print("  %s: %s" % (name, why))
else:
    print("no test skipped")
