"""The JUnit XML a dashboard can use: pytest's file, tidied once pytest wrote it (contract runs only).

* every `<failure message="...">` is the test's root-cause rule id and one line (`rule: what`), the
  rule of its group in the contract report (pytest wrote the terminal's short-summary text there,
  fitted to the terminal's width: empty on a narrow or non-tty terminal);
* one testcase per test the terminal counts: a subtest's result (schemathesis runs one per API
  operation) is folded into its test, a failed subtest as the test's failure, so `tests` and
  `failures` say what the terminal's `N failed, M passed` says;
* hypothesis's statistics (a base64 property per test, ~23 KB a file) only with
  `--hypothesis-show-statistics`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

import pytest
from _pytest.junitxml import bin_xml_escape

from .stash import ARRIVAL_KEY, HEADLINES_KEY, SUMMARY_KEY

STATISTICS = "hypothesis-statistics-"
_SUBTEST = re.compile(r"^(?P<test>.+?)\[(?P<case>.*)\]$")


def junit_name(nodeid: str, prefix: str | None = None) -> tuple[str, str]:
    """(classname, name) pytest's junitxml gives a node id."""
    from _pytest.junitxml import mangle_test_address

    names = mangle_test_address(nodeid)
    classname = ".".join(names[:-1])
    return (f"{prefix}.{classname}" if prefix else classname), names[-1]


def failure_messages(summary: Mapping[str, Any] | None, headlines: Mapping[str, str]) -> dict[str, str]:
    """nodeid -> `rule: one line` for every failed test: its root cause's rule (the group the report lists
    it under) first, never cut."""
    groups = (summary or {}).get("failure_groups", [])
    messages = {}
    for nodeid, headline in headlines.items():
        group = next((g for g in groups if nodeid in g.get("tests", [])), None)
        if group is None or headline.startswith(f"{group['rule']}:"):
            messages[nodeid] = headline
        else:
            messages[nodeid] = f"{group['rule']}: {group.get('finding') or group.get('situation', '')}"[:200]
    return messages


_VIOLATION = re.compile(r"^CONTRACT VIOLATION \[(?P<rule>[\w.]+)\] \([DA]\): ")


def _one_line(message: str) -> str:
    """pytest's message when the run has none of its own: its first line, `rule: ...` for a violation."""
    first = " ".join((message.strip().splitlines() or [""])[0].split())
    first = _VIOLATION.sub(lambda match: f"{match['rule']}: ", first)
    return first if len(first) <= 200 else first[:199] + "…"


def tidy(path: Path, messages: Mapping[tuple[str, str], str], *, keep_statistics: bool = False,
         failed_first: list[tuple[str, str]] | None = None) -> None:
    """Rewrite pytest's JUnit file at `path` (see the module docstring); messages by (classname, name).
    `failed_first`: the failed tests in the order the run reported them (the terminal's and the report's
    order; under xdist pytest writes testcases in the order they started): they lead, in that order."""
    tree = ET.parse(path)
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        for properties in suite.findall("properties"):
            for prop in list(properties):
                if not keep_statistics and str(prop.get("name", "")).startswith(STATISTICS):
                    properties.remove(prop)
            if not len(properties):
                suite.remove(properties)
        cases = {(case.get("classname", ""), case.get("name", "")): case for case in suite.findall("testcase")}
        for (classname, name), case in cases.items():  # before subtests are folded: a subtest's report names itself
            match = _SUBTEST.match(name)
            message = messages.get((classname, name)) or (messages.get((classname, match["test"])) if match else None)
            for child in case:
                if child.tag == "failure":
                    # a rule's line may quote a sent value (a control character of the edge corpus): XML 1.0 has no
                    # such characters, so they are written as pytest writes them (`#x0B`), or no tool reads the file
                    child.set("message", bin_xml_escape(message or _one_line(child.get("message", ""))))
        for (classname, name), case in list(cases.items()):
            match = _SUBTEST.match(name)
            parent = cases.get((classname, match["test"])) if match else None
            if parent is None or parent is case:
                continue
            outcome = [child for child in case if child.tag in ("failure", "error")]
            if outcome and not any(child.tag in ("failure", "error") for child in parent):
                for child in outcome:
                    parent.insert(0, child)
            suite.remove(case)
        cases_left = suite.findall("testcase")
        if failed_first:
            position = _positions(failed_first, {(case.get("classname", ""), case.get("name", "")) for case in cases_left})
            ordered = sorted(cases_left, key=lambda case: position.get((case.get("classname", ""), case.get("name", "")),
                                                                      len(position)))
            for case in cases_left:
                suite.remove(case)
            for case in ordered:
                suite.append(case)
            cases_left = ordered
        suite.set("tests", str(len(cases_left)))
        for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            suite.set(attribute, str(sum(1 for case in cases_left if case.find(tag) is not None)))
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _positions(failed_first: list[tuple[str, str]], names: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Each testcase's place in the run's reading order: a subtest's report (schemathesis's
    `test_x[POST /meeting_rooms]`, folded into `test_x`) places its test."""
    position: dict[tuple[str, str], int] = {}
    for index, (classname, name) in enumerate(failed_first):
        match = _SUBTEST.match(name)
        key = (classname, name) if (classname, name) in names or not match else (classname, match["test"])
        position.setdefault(key, index)
    return position


@pytest.hookimpl(trylast=True)  # after pytest's junitxml wrote the file (its own pytest_sessionfinish)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
    path = getattr(config.option, "xmlpath", None)
    if not path or not Path(path).is_file():
        return
    prefix = getattr(config.option, "junitprefix", None)
    messages = failure_messages(config.stash.get(SUMMARY_KEY, None), config.stash.get(HEADLINES_KEY, {}))
    try:
        tidy(Path(path), {junit_name(nodeid, prefix): message for nodeid, message in messages.items()},
             keep_statistics=bool(config.getoption("hypothesis_show_statistics", False)),
             failed_first=[junit_name(nodeid, prefix) for nodeid in config.stash.get(ARRIVAL_KEY, [])])
    except (ET.ParseError, OSError) as error:  # pytest's file stays as it was
        config.get_terminal_writer().line(f"WARNING: {path} not tidied: {error}", yellow=True)
