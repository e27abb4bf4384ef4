"""Issue 17 items 1-4: exit statuses a pipeline can act on, an explicit target, honest counting,
--max-duration. Subprocess runs of `pytest contracts` (small subsets) against the embedded mock or a
proxy in front of a mock that turns into a 429 wall after the preflight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from meeting_room_contract import actions, report
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.rules import UpdateOutcome
from meeting_room_contract.selfcheck import PROJECT_ROOT

from .stubs import Proxy

USER, PASSWORD = "conference_user_123", "qwerty123"


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None, contracts: bool = True,
         cwd: Path = PROJECT_ROOT, timeout: float = 300) -> tuple[int, str, float]:
    command = [sys.executable, "-m", "pytest", *(["contracts"] if contracts else []), "-q", "-p", "no:cacheprovider",
               *args]
    if "--report-dir" not in args:
        command += ["--report-dir", str(tmp_path)]
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}, **(env or {})}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    completed = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    return completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


# -- item 2: the target is explicit --------------------------------------------------------------------

@pytest.mark.parametrize("args,env,expected", [
    ([], {"CONFERENCE_BASE_URL": "", "CONFERENCE_USERNAME": USER, "CONFERENCE_PASSWORD": PASSWORD},
     "CONFERENCE_BASE_URL is set but empty"),
    (["--base-url", ""], {}, "--base-url is empty"),
    ([], {"CONFERENCE_USERNAME": USER, "CONFERENCE_PASSWORD": PASSWORD}, "credentials without a target"),
    (["--username", USER], {}, "credentials without a target (--username)"),
], ids=["empty-env-url-with-credentials", "empty-option", "credentials-in-env-without-url", "username-without-url"])
def test_a_target_that_is_not_explicit_is_a_usage_error(tmp_path, args, env, expected):
    code, output, _ = _run(tmp_path, *args, env=env)
    lines = _lines(output)
    assert code == 4 and len(lines) == 1 and expected in lines[0], output[-2000:]
    assert PASSWORD not in output


def test_a_base_url_without_contracts_is_a_usage_error(tmp_path):
    """`pytest tests --base-url URL` never runs the project's own tests against the mock."""
    code, output, _ = _run(tmp_path, "tests", "--base-url", "https://staging.example/conference/v2", "--username", USER,
                           contracts=False)
    lines = _lines(output)
    assert code == 4 and len(lines) == 1 and "is for the contract suite" in lines[0], output[-2000:]


def test_a_quiet_run_names_the_target_everywhere(tmp_path):
    """-q hides pytest's header: the suite says "embedded mock" itself, and so do the summaries, the
    JUnit properties and the first line of contract-report.html. A subset of the suite is incomplete:
    exit 7 in strict mode (the gate profile's default), 0 with --no-contract-strict."""
    code, output, _ = _run(tmp_path, "-k", "test_empty_patch_is_accepted")
    assert code == 7, output[-3000:]
    assert _lines(output)[0] == "contract target: embedded mock", output[:500]
    assert "exit status 7: incomplete" in output and "NOT CHECKED (its tests were not selected" in output
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["target"] == "embedded mock" and summary["exit_status"] == 7
    assert "isolation.accounts" in summary["rules_not_checked"]
    assert "embedded mock" in (tmp_path / "contract-summary.md").read_text().splitlines()[2]
    first = (tmp_path / "contract-report.html").read_text().splitlines()[0]
    assert first.startswith("<!-- contract run against embedded mock: exit 7"), first
    page = (tmp_path / "contract-report.html").read_text()
    assert "Rules not checked at all" in page and "None: every" not in page
    properties = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "junit.xml").iter("property")}
    assert properties["contract_target"] == "embedded mock" and properties["contract_exit_status"] == "7"

    code, output, _ = _run(tmp_path, "-k", "test_empty_patch_is_accepted", "--no-contract-strict")
    assert code == 0, output[-3000:]
    assert "exit status 0: passed without strict mode" in output


def test_a_run_that_writes_no_contract_report_marks_the_previous_one(tmp_path):
    """A contract run's usage error replaces an earlier green page; a run that is not a contract run (an
    unrelated project where the plugin is installed) leaves that project's files alone (issue 26 item 7)."""
    (tmp_path / "contract-report.html").write_text("<p>No contract violation — run passed</p>")
    (tmp_path / "contract-summary.json").write_text("{}")
    (tmp_path / "junit.xml").write_text('<testsuites><property name="contract_status" value="passed"/></testsuites>')
    (tmp_path / "report.html").write_text("<p>all passed</p>")  # pytest-html's page of that run
    code, _, _ = _run(tmp_path, "--base-url", "")
    assert code == 4
    page = (tmp_path / "contract-report.html").read_text()
    assert page.startswith("<!-- no contract run wrote this report") and "run passed" not in page
    assert not (tmp_path / "contract-summary.json").exists()
    assert not (tmp_path / "junit.xml").exists() and not (tmp_path / "report.html").exists()  # R6-4: no green JUnit left

    project = tmp_path / "other"
    (project / "reports").mkdir(parents=True)
    (project / "reports" / "contract-report.html").write_text("green")
    (project / "test_one.py").write_text("def test_one():\n    pass\n")
    code, output, _ = _run_plain(project)
    assert code == 0, output
    assert (project / "reports" / "contract-report.html").read_text() == "green"


def _run_plain(project: Path) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"], cwd=project,
                               env=env, capture_output=True, text=True, timeout=120)
    return completed.returncode, completed.stdout + completed.stderr, 0.0


# -- items 1 and 4: could not test ------------------------------------------------------------------------

def test_max_duration_ends_the_run_as_could_not_test(tmp_path):
    code, output, seconds = _run(tmp_path, "-k", "test_patch or test_put", "--max-duration", "1.5")
    assert code == 6, output[-3000:]
    assert "could not test: run deadline: --max-duration 1.5 s reached" in output
    assert "Traceback" not in output
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["exit_status"] == 6 and summary["could_not_test"]
    assert any("the run stopped before a test checked it" in why for why in summary["rules_not_checked"].values())
    # the deadline stops the tests, not the cleanup: every room of the run is deleted (60 s more at most)
    assert summary["rooms_left_behind"] == [] and "could not delete" not in output, output[-3000:]


def _wall(upstream: str, pass_requests: int, retry_after: str) -> Proxy:
    """A proxy in front of a mock: after `pass_requests` requests every answer is 429 with `retry_after`."""
    count = [0]

    def intercept(handler) -> tuple[int, dict[str, str], bytes] | None:
        count[0] += 1
        return (429, {"Retry-After": retry_after}, b'{"message": "slow down"}') if count[0] > pass_requests else None

    return Proxy(upstream, intercept)


@pytest.fixture
def wall() -> Iterator[Any]:
    made: list[Any] = []

    def make(retry_after: str, pass_requests: int = 8) -> Proxy:
        mock = MeetingRoomMock().__enter__()
        server = _wall(mock.base_url, pass_requests, retry_after)
        made.append((mock, server))
        return server

    yield make
    for mock, server in made:
        server.shutdown()
        mock.__exit__(None, None, None)


def test_a_retry_after_of_one_hour_is_could_not_test_within_the_cap(tmp_path, wall):
    """The preflight passes, then every answer is 429 asking for an hour: one line, exit 6, in seconds."""
    server = wall("3600")
    code, output, seconds = _run(tmp_path, "--base-url", server.base_url, "--username", USER, "-k", "test_patch",
                                 "-n", "0",  # serial: no round-trip probes before the preflight (the wall counts requests)
                                 "--max-retry-wait", "5", "--state-dir", str(tmp_path / "state"),
                                 env={"CONFERENCE_PASSWORD": PASSWORD})
    assert code == 6, output[-3000:]
    assert "could not test:" in output and "429" in output and "Traceback" not in output, output[-3000:]
    assert seconds < 60, seconds
    assert PASSWORD not in output


# -- item 3: honest counting (in process) --------------------------------------------------------------

def test_a_stand_in_answer_is_never_counted_or_observed(make_run):
    run = make_run()
    stand_in = requests.Response()
    stand_in.status_code, stand_in._content = 204, b""
    stand_in.headers["X-Contract-Note"] = "gateway answered 502; the room was gone when read back"
    actions.never_5xx(run, stand_in, "DELETE /meeting_rooms/{sid}", "cleanup")
    actions.observe(run, "delete_status", "204", "DELETE /meeting_rooms/{sid}", stand_in)
    assert not run.recorder.checks and not run.recorder.behaviours
    assert "server.never_5xx" in run.recorder.not_checked


def test_a_proven_conflict_is_recorded_as_not_checked(make_run):
    run = make_run()
    answer = requests.Response()
    answer.status_code = 409
    assert actions.valid_update_accepted(run, UpdateOutcome.CONFLICT, "patch.partial_update", "PATCH", answer) is False
    assert not run.recorder.checks
    assert any("proven conflict" in key for key in run.recorder.not_checked["patch.partial_update"])


def test_the_report_lists_rules_with_empty_rows_as_not_checked():
    page = report.render({"target": "embedded mock", "checks": [{"rule": "auth.required", "operation": "GET /did_groups",
                                                                  "run": 1, "passed": 1, "failed": 0}],
                          "rules_not_checked": {"isolation.accounts": "no second account"}, "exit_status": 7})
    assert page.splitlines()[0].startswith("<!-- contract run against embedded mock: exit 7")
    assert "isolation.accounts" in page and "no second account" in page and "None: every" not in page


def test_a_target_that_never_answers_409_is_not_incomplete(tmp_path):
    """A legal target that refuses conflicting codes with 422 (never 409) gives no answer the rule
    `uniqueness.conflict_explained` applies to: strict mode lists it as NOT APPLICABLE, with the
    observed reason, and the run is green (review FA-1: exit 7 there was a false "incomplete")."""
    code, output, _ = _run(tmp_path, "--mock-variant", "code_in_use_422", "--mock-variant", "duplicate_codes_422")
    assert code == 0, output[-3000:]
    assert "NOT APPLICABLE (the target refuses conflicting codes with 400/422, never 409" in output
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert "uniqueness.conflict_explained" in summary["rules_not_applicable"]
    assert "uniqueness.conflict_explained" not in summary["rules_not_checked"]


def test_an_interrupt_is_not_raised_inside_a_garbage_collector_callback():
    """R6-3: a Ctrl-C that lands in hypothesis's gc callback (or a finalizer) is not raised there, where
    Python would print it as an "Exception ignored" traceback; the session's stop flag ends the run."""
    import sys

    from meeting_room_contract.plugin.session import _in_a_finalizer

    def gc_callback() -> bool:
        return nested()

    def nested() -> bool:
        return _in_a_finalizer(sys._getframe())

    assert gc_callback() and not nested()


def test_an_interrupt_traceback_with_a_frame_without_a_line_number_is_still_shown():
    """CPython 3.11 can leave an interrupt's frame without a line number; pytest's formatting crashed on
    it (TypeError), and the run ended as an internal error instead of "interrupted". Such a frame is
    dropped and the rest is shown; a worker keeps only the last frame."""
    import sys
    import types

    from _pytest._code.code import Traceback, TracebackEntry

    from meeting_room_contract.plugin.session import _InterruptTraceback

    def where_the_run_was() -> None:
        raise KeyboardInterrupt("SIGTERM")

    for last_frame_only in (False, True):
        try:
            where_the_run_was()
        except KeyboardInterrupt:
            excinfo = pytest.ExceptionInfo.from_exc_info(sys.exc_info())
        no_line = types.SimpleNamespace(tb_lineno=None, tb_frame=sys._getframe(), tb_next=None, tb_lasti=-1)
        excinfo.traceback = Traceback([*excinfo.traceback, TracebackEntry(no_line)])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            excinfo.getrepr(funcargs=True)  # what pytest's terminal reporter does
        _InterruptTraceback(last_frame_only=last_frame_only).pytest_keyboard_interrupt(excinfo)
        assert "where_the_run_was" in str(excinfo.getrepr(funcargs=True))
        assert len(excinfo.traceback) == (1 if last_frame_only else 2)


def test_pytest_main_gives_the_signal_handlers_back_also_after_a_usage_error():
    """R10-7: the run's SIGINT/SIGTERM handler only notes a signal until the tests start; left installed
    after `pytest.main()` ended before them, the calling process could no longer be stopped with Ctrl-C."""
    script = ("import signal, pytest\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # a background job starts with SIGINT ignored
              "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
              "code = pytest.main(['contracts', '-q', '-p', 'no:cacheprovider', '--hypothesis-profile', 'no-such-profile'])\n"
              "print(int(code), signal.getsignal(signal.SIGINT) is signal.default_int_handler,"
              " signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n")
    completed = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert completed.stdout.strip().splitlines()[-1] == "4 True True", completed.stdout + completed.stderr


def test_a_subtest_cut_short_by_an_interrupt_is_no_failed_test(tmp_path):
    """pytest reports a KeyboardInterrupt inside a subtest (every schemathesis case is one) as a failed
    subtest before it re-raises it: the case did not fail, the run was interrupted there."""
    (tmp_path / "test_cases.py").write_text(
        "def test_cases(subtests):\n"
        "    with subtests.test(msg='a case'):\n"
        "        pass\n"
        "    with subtests.test(msg='a violation, then the interrupt while its room is deleted'):\n"
        "        from meeting_room_contract.judges import ContractViolation\n"
        "        try:\n"
        "            raise ContractViolation('patch.partial_update', 'a field not sent was changed')\n"
        "        finally:\n"
        "            raise KeyboardInterrupt('SIGINT')\n")
    (tmp_path / "test_cut.py").write_text(
        "def test_cases(subtests):\n"
        "    with subtests.test(msg='a case'):\n"
        "        pass\n"
        "    with subtests.test(msg='the case the interrupt cuts short'):\n"
        "        raise KeyboardInterrupt('SIGINT')\n")
    completed = subprocess.run([sys.executable, "-m", "pytest", "test_cut.py", "--contract-run", "-p", "no:cacheprovider",
                                "-rs", "-v"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output
    assert "SUBFAILED" not in output and "cut short by the interrupt (not judged)" in output, output
    # R9-6: a violation found before the interrupt came (e.g. while its room was deleted) stays a failure
    completed = subprocess.run([sys.executable, "-m", "pytest", "test_cases.py", "--contract-run", "-p", "no:cacheprovider",
                                "-rs", "-v"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert "SUBFAILED" in output and "cut short" not in output, output


def test_a_violation_found_before_an_interrupt_keeps_its_status_and_says_interrupted():
    from meeting_room_contract.plugin.status import RunStatus, meaning

    assert meaning(RunStatus(final=1, violations=3, interrupted=True)) == \
        "contract violations (the run was interrupted: not every test ran)"
    assert meaning(RunStatus(final=2, violations=0, interrupted=True)) == "interrupted"
    assert meaning(RunStatus(final=1, violations=3)) == "contract violations"


def test_the_first_failure_is_said_at_once(tmp_path):
    """R8-4: pytest shows failures only when the run ends (minutes later against a remote target): the
    first one is one line as soon as it is reported, with the violation's headline and rule."""
    code, output, _ = _run(tmp_path, "-n", "2", "-k", "test_patch or test_put", "--mock-fault", "list_item_stale_after_update")
    assert code == 1, output[-3000:]
    first = [line for line in output.splitlines() if line.startswith("FIRST FAILURE")]
    assert len(first) == 1, output[-3000:]
    assert ": read_paths.list_matches_get: " in first[0] and len(first[0]) <= 200, first[0]  # one short line, rule first
    assert output.index(first[0]) < output.index("contract status")  # before the end of the run
