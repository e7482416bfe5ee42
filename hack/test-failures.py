#!/usr/bin/env python3
"""Print the failed and errored tests of JUnit XML reports, one block each.

`make test` runs molecule after the integration tests, so a failed integration test scrolls far
out of the tail that a CI log viewer shows. This repeats, at the very end, which tests failed and
the last lines of why. Exit status 0 always: the test commands own the exit status.

Usage: hack/test-failures.py REPORT.xml [REPORT.xml ...]   (missing files are skipped)
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

# Enough lines to see the assertion and the values it compared, few enough for a log tail.
DETAIL_LINES = 12


def failures(report: Path) -> list[tuple[str, str, str]]:
    """(kind, test id, detail) for every failed or errored test case of one report."""
    found = []
    for case in ET.parse(report).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            outcome = case.find(kind)
            if outcome is None:
                continue
            test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
            text = (outcome.text or outcome.get("message") or "").strip()
            detail = "\n".join(text.splitlines()[-DETAIL_LINES:])
            found.append((kind, test_id, detail))
    return found


def main(paths: list[str]) -> int:
    for name in paths:
        report = Path(name)
        if not report.is_file():
            continue
        try:
            found = failures(report)
        except ET.ParseError as exc:
            print(f"{report}: not a readable JUnit report ({exc})")
            continue
        if not found:
            continue
        print(f"\n=== {len(found)} failed in {report} ===")
        for kind, test_id, detail in found:
            print(f"\n--- {kind.upper()}: {test_id}")
            print(detail)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
