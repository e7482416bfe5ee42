#!/usr/bin/env python
"""Print the failed and errored tests of JUnit XML reports, and the flaky ones, one block each.

`make test` runs molecule after the integration tests, so a failed integration test scrolls far
out of the tail that a CI log viewer shows. This repeats, at the very end, which tests failed and
the last lines of why. With ``--reruns FILE`` (the JSON lines tests/integration/conftest.py
writes), it also names the tests that failed once and passed on their rerun, with their first
failure: flaky tests to look into. Exit status 0 always: the test commands own the exit status.

Usage: hack/test-failures.py [--reruns RERUNS.jsonl] REPORT.xml [REPORT.xml ...]
(missing files are skipped)
"""

from __future__ import annotations

import argparse
import json
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


def junit_id(nodeid: str) -> str:
    """A pytest node id as a JUnit report names the test.

    ``tests/integration/test_x.py::test_y[a]`` is ``tests.integration.test_x::test_y[a]``.
    """
    path, name = nodeid.split("::", 1) if "::" in nodeid else (nodeid, "")
    return f"{path.removesuffix('.py').replace('/', '.')}::{name}"


def reruns(path: Path) -> list[tuple[str, str]]:
    """(JUnit test id, first failure) of every rerun the file records, in order."""
    found = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        detail = "\n".join(str(entry.get("failure", "")).strip().splitlines()[-DETAIL_LINES:])
        found.append((junit_id(str(entry.get("test", ""))), detail))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=Path, help="the rerun report (JSON lines) of the same run")
    parser.add_argument("reports", nargs="*", type=Path)
    args = parser.parse_args(argv)
    failed: set[str] = set()
    for report in args.reports:
        if not report.is_file():
            continue
        try:
            found = failures(report)
        except ET.ParseError as exc:
            print(f"{report}: not a readable JUnit report ({exc})")
            continue
        failed.update(test_id for kind, test_id, detail in found)
        if not found:
            continue
        print(f"\n=== {len(found)} failed in {report} ===")
        for kind, test_id, detail in found:
            print(f"\n--- {kind.upper()}: {test_id}")
            print(detail)
    if args.reruns is not None and args.reruns.is_file():
        flaky = [(test_id, detail) for test_id, detail in reruns(args.reruns) if test_id not in failed]
        if flaky:
            print(f"\n=== {len(flaky)} failed, then passed on a rerun (flaky: look into them) ===")
            for test_id, detail in flaky:
                print(f"\n--- FLAKY: {test_id}; its first failure:")
                print(detail)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
