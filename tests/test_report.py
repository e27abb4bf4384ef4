"""Failure output, contract-report.html and the summary, from one real failing run.

The contract suite runs once (module fixture) in a subprocess, with `-x`, against a mock with
the `patch_response_stale` fault started here and given as `--base-url` with the password on
the command line: the output and every report must lead with the violation and never show it.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from meeting_room_contract import rules
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.selfcheck import PROJECT_ROOT

USER, PASSWORD = "conference_user_123", "qwerty123"
SCREENSHOT = PROJECT_ROOT / "reports" / "contract-report-failing-run.png"


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(terminal output, report dir) of `pytest contracts -x` against a stale-PATCH-answer mock."""
    report_dir = tmp_path_factory.mktemp("reports")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
    with MeetingRoomMock(faults=("patch_response_stale",)) as mock:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "contracts"), "-x", "-p", "no:cacheprovider", "-n", "0",
             "-k", "test_patch_changes_exactly_the_sent_fields", "--base-url", mock.base_url,
             "--username", USER, "--password", PASSWORD, "--report-dir", str(report_dir)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]
    return output, report_dir


def test_failure_output_leads_with_the_violation(failing_run):
    output, _ = failing_run
    failure = output.split(" FAILURES ")[1]
    first_line = next(line for line in failure.splitlines()[2:] if line.strip())
    assert first_line.startswith("CONTRACT VIOLATION [patch.response_is_updated_object] (D):")
    assert re.search(r"^  curl -X PATCH http://127\.0\.0\.1:\d+/", failure, re.MULTILINE)
    assert '"$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD"' in failure
    assert "Expected vs observed (- expected, + observed; only what differs):" in failure
    assert "@reproduce_failure(" in failure  # hypothesis's way back to the example stays
    # no test source, traceback frames, fixture reprs or covered-lines explanation
    for noise in ("@given", "def test_", "checks.send_update(", "ConferenceClient(", "RoomFactory object", "client=,",
                  "E   ", "These lines were always and only run"):
        assert noise not in failure, noise
    # hypothesis's section (its header and "Shrinking stopped after 4 s") comes only when this shrink outlasts the gate's
    # 4 s, which it does on a busy machine and sometimes on a quiet one: not the length of the suite's own output
    shrink_note = re.compile(r"^(-+ Hypothesis -+|Shrinking stopped after .*)$")
    assert len([line for line in output.splitlines() if not shrink_note.match(line)]) < 60, output


def test_contract_traceback_switch_is_an_option():
    completed = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=PROJECT_ROOT, capture_output=True,
                               text=True, timeout=120)
    assert "--contract-traceback" in completed.stdout


def test_reports_name_the_failure_and_never_the_password(failing_run):
    output, report_dir = failing_run
    html = (report_dir / "contract-report.html").read_text(encoding="utf-8")
    assert "127.0.0.1" in html and "Hypothesis profile" in html and "Requests sent" in html
    for rule_id in rules.RULES:  # the matrix has a row per rule, with its kind and summary
        assert f'<span class="rid">{rule_id}</span>' in html
    assert 'class="c failed"' in html and 'class="c passed"' in html and 'title="not checked"' in html
    for name in rules.BEHAVIOURS:
        assert f">{name}</td>" in html
    assert "CONTRACT VIOLATION [patch.response_is_updated_object]" in html and "curl -X PATCH" in html
    pytest_html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert 'href="contract-report.html"' in pytest_html and "patch.response_is_updated_object" in pytest_html
    for path in report_dir.rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path
    assert PASSWORD not in output


def test_report_renders_in_a_headless_browser(failing_run):
    """A real browser draws the failing run's report; the screenshot is kept in reports/ to look at."""
    browser = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)
    if browser is None:
        pytest.skip("no chromium binary: install it with `apt-get install -y chromium` (Debian) to check the report in a browser")
    _, report_dir = failing_run
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    completed = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--screenshot={SCREENSHOT}", "--window-size=1280,2000",
                                (report_dir / "contract-report.html").as_uri()],
                               capture_output=True, text=True, timeout=120)
    assert SCREENSHOT.is_file(), completed.stderr[-2000:]
    header = SCREENSHOT.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 2000)
    assert SCREENSHOT.stat().st_size > 50_000  # a drawn page, not a blank one


def test_report_lists_checks_that_could_not_run():
    """A check that could not run on the target (e.g. no DID groups to tell known from unknown) is shown, not hidden."""
    from meeting_room_contract import report

    page = report.render({"outcome": "passed", "not_checked": {"bad_input.rejected": {"PATCH: the account has no DID group": 3}}})
    section = page.split("<h2>Not checked", 1)[1]
    assert "bad_input.rejected" in section and "the account has no DID group ×3" in section
    every_rule_checked = {"outcome": "passed", "checks": [{"rule": rule_id, "operation": "PATCH /meeting_rooms/{sid}",
                                                           "run": 1, "passed": 1} for rule_id in report.rules.RULES]}
    assert "None: every rule was checked, and every check that applied could run." in report.render(every_rule_checked)
    assert "no check of it ran" in report.render({"outcome": "passed"})  # a rule with an empty row is listed, never "None"


def test_junit_a_dashboard_can_use(failing_run):
    """Issue 26 item 6: every failure's message is its rule and one line; no hypothesis statistics blobs;
    one testcase per test the terminal counts."""
    import xml.etree.ElementTree as ET

    output, report_dir = failing_run
    root = ET.parse(report_dir / "junit.xml").getroot()
    failures = [failure for case in root.iter("testcase") for failure in case.findall("failure")]
    assert failures and all(f.get("message", "").startswith("patch.response_is_updated_object: ") for f in failures)
    assert all("\n" not in f.get("message") and len(f.get("message")) <= 200 for f in failures)
    assert not [p for p in root.iter("property") if p.get("name", "").startswith("hypothesis-statistics-")]
    [suite] = list(root.iter("testsuite"))
    assert suite.get("tests") == str(len(list(root.iter("testcase")))) and suite.get("failures") == "1"
    assert " 1 failed, " in output.strip().splitlines()[-1], output[-500:]


def test_junit_tidy_folds_subtests_and_sets_messages(tmp_path):
    from meeting_room_contract.plugin import junit

    path = tmp_path / "junit.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="2" skipped="0" '
        'tests="5"><properties><property name="contract_target" value="embedded mock"/>'
        '<property name="hypothesis-statistics-contracts/test_a.py::test_x" value="QUJD"/></properties>'
        '<testcase classname="contracts.test_a" name="test_ok"/>'
        '<testcase classname="contracts.test_shape" name="test_ops"/>'
        '<testcase classname="contracts.test_shape" name="test_ops[GET /x]"/>'
        '<testcase classname="contracts.test_shape" name="test_ops[PATCH /x]"><failure message="">text</failure></testcase>'
        '<testcase classname="contracts.test_a" name="test_x"><failure message="">CONTRACT VIOLATION</failure></testcase>'
        "</testsuite></testsuites>")
    messages = {junit.junit_name("contracts/test_a.py::test_x"): "patch.partial_update: a PATCH changed fields",
                junit.junit_name("contracts/test_shape.py::test_ops"): "shape.response_conformance: undocumented"}
    junit.tidy(path, messages, failed_first=[junit.junit_name("contracts/test_a.py::test_x")])
    import xml.etree.ElementTree as ET

    suite = ET.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["test_x", "test_ok", "test_ops"]  # the run's first failure leads
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    assert [f.get("message") for c in cases for f in c.findall("failure")] == \
        ["patch.partial_update: a PATCH changed fields", "shape.response_conformance: undocumented"]
    assert [p.get("name") for p in suite.iter("property")] == ["contract_target"]


def test_junit_a_failed_subtest_first_in_the_run_puts_its_test_first(tmp_path):
    """Under xdist the run's first failure may be a schemathesis subtest (`test_ops[PATCH /x]`): its test,
    into which the subtest is folded, is JUnit's first testcase, as it is the terminal's and the report's."""
    import xml.etree.ElementTree as ET

    from meeting_room_contract.plugin import junit

    path = tmp_path / "junit.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="2" skipped="0" '
        'tests="4"><testcase classname="contracts.test_a" name="test_x[one]"><failure message="">A</failure></testcase>'
        '<testcase classname="contracts.test_a" name="test_ok"/>'
        '<testcase classname="contracts.test_shape" name="test_ops"/>'
        '<testcase classname="contracts.test_shape" name="test_ops[PATCH /x]"><failure message="">B</failure></testcase>'
        "</testsuite></testsuites>")
    junit.tidy(path, {}, failed_first=[junit.junit_name("contracts/test_shape.py::test_ops[PATCH /x]"),
                                       junit.junit_name("contracts/test_a.py::test_x[one]")])
    names = [case.get("name") for case in ET.parse(path).getroot().iter("testcase")]
    assert names == ["test_ops", "test_x[one]", "test_ok"], names


def test_junit_tidy_writes_control_characters_of_a_message_as_pytest_does(tmp_path):
    """A rule's line that quotes a sent value with a control character (the edge corpus sends them) still
    leaves a well-formed file: XML 1.0 has no such characters; they are written `#x0B`, as pytest does."""
    import xml.etree.ElementTree as ET

    from meeting_room_contract.plugin import junit

    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
                    'failures="1" skipped="0" tests="1"><testcase classname="contracts.test_a" name="test_x">'
                    '<failure message="">CONTRACT VIOLATION</failure></testcase></testsuite></testsuites>')
    junit.tidy(path, {junit.junit_name("contracts/test_a.py::test_x"): "patch.partial_update: name 'a\x0bb\x00' kept"})
    failure = ET.parse(path).getroot().find("testsuite/testcase/failure")
    assert failure.get("message") == "patch.partial_update: name 'a#x0Bb#x00' kept"


def test_the_page_links_the_contract_and_only_files_the_run_writes(tmp_path):
    """Issue 26 items 6 and 8: the spec (path and hash) and start time are on the page, rule ids link to
    their CONTRACT.md headings, and with --junitxml elsewhere the page links that file, not reports/junit.xml."""
    from meeting_room_contract import report

    elsewhere = tmp_path / "ci" / "results.xml"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider", "-k",
                                "test_empty_patch_is_accepted", "--no-contract-strict", f"--junitxml={elsewhere}",
                                f"--report-dir={tmp_path / 'reports'}"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-2000:]
    page = (tmp_path / "reports" / "contract-report.html").read_text(encoding="utf-8")
    assert not (tmp_path / "reports" / "junit.xml").exists() and elsewhere.exists()
    assert 'href="junit.xml"' not in page and 'href="../ci/results.xml"' in page
    assert "conference-v2-meeting-rooms.yaml (sha256 " in page and "<dt>Started</dt>" in page
    contract = os.path.relpath(PROJECT_ROOT / "CONTRACT.md", (tmp_path / "reports").resolve())
    assert f'href="{contract}#patchpartial_update--d"' in page
    assert report.rule_anchor("patch.partial_update") == "patchpartial_update--d"
    headings = re.findall(r"^### `([a-z_.0-9]+)` — ([DA])$", (PROJECT_ROOT / "CONTRACT.md").read_text(encoding="utf-8"), re.M)
    assert {report.rule_anchor(rule_id) for rule_id, _ in headings} == \
        {f"{rule_id.replace('.', '')}--{kind.lower()}" for rule_id, kind in headings}


def test_pytest_builds_only_its_cheapest_traceback_for_a_violation_it_replaces():
    """A contract failure's report is ours (unless --contract-traceback): while pytest builds the report,
    its traceback style is `native` (its default parses each frame's file for the statement), and the
    user's style is back afterwards; any other failure keeps the user's style."""
    from types import SimpleNamespace

    from meeting_room_contract.judges.base import ContractViolation
    from meeting_room_contract.plugin import reporting

    def during_and_after(error, **kwargs):
        seen = {}
        option = SimpleNamespace(tbstyle="auto")
        config = SimpleNamespace(option=option, getoption=lambda name, default=None: (
            kwargs.get("contract_traceback", False) if name == "contract_traceback" else default))
        hook = reporting.pytest_runtest_makereport(SimpleNamespace(config=config),
                                                   SimpleNamespace(excinfo=SimpleNamespace(value=error)))
        next(hook)
        seen["during"] = option.tbstyle
        with pytest.raises(StopIteration):
            hook.send(SimpleNamespace(failed=False))
        seen["after"] = option.tbstyle
        return seen["during"], seen["after"]

    violation = ContractViolation("patch.partial_update", "a field not sent changed")
    assert during_and_after(violation) == ("native", "auto")
    assert during_and_after(violation, contract_traceback=True) == ("auto", "auto")
    assert during_and_after(RuntimeError("an internal error")) == ("auto", "auto")
