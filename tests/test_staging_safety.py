"""Safe on a shared deployment: only our rooms, all deleted, no secrets written, reports present.

The suite runs in a subprocess against a mock started here (as it would against staging, with
--base-url and credentials), so this test can inspect the server's rooms afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from meeting_room_contract.registry import new_run_id
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.selfcheck import PROJECT_ROOT

from .stubs import Proxy, live_rooms

USER, PASSWORD = "conference_user_123", "qwerty123"
SECOND_USER, SECOND_PASSWORD = "conference_user_456", "qwerty456"


def _suite(mock: MeetingRoomMock, report_dir: Path, *args: str, password_on_command_line: bool = False) -> list[str]:
    command = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "contracts"), "-q", "-p", "no:cacheprovider",
               "--base-url", mock.base_url, "--username", USER, "--second-username", SECOND_USER,
               "--report-dir", str(report_dir), "--state-dir", str(report_dir / "state"),
               "--no-contract-strict", *args]  # subsets of the suite: incomplete by design
    if password_on_command_line:
        command += ["--password", PASSWORD, "--second-password", SECOND_PASSWORD]
    return command


def _env(password_in_env: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
    if password_in_env:
        env.update(CONFERENCE_PASSWORD=PASSWORD, CONFERENCE_SECOND_PASSWORD=SECOND_PASSWORD)
    return env


def _bystander(mock: MeetingRoomMock) -> dict:
    """A room the suite did not create: it must come out untouched."""
    response = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                             json={"name": "a colleague's room", "properties": {"conference_moh": "on"},
                                   "access_codes": [{"access_code": "31415926", "role": "host"}]})
    assert response.status_code == 200
    return response.json()


def _rooms(mock: MeetingRoomMock) -> dict[str, dict]:
    return mock.rooms()


def test_passing_run_leaves_no_room_writes_reports_and_no_password(tmp_path):
    with MeetingRoomMock() as mock:
        bystander = _bystander(mock)
        completed = subprocess.run(_suite(mock, tmp_path, password_on_command_line=True), cwd=PROJECT_ROOT,
                                   env=_env(False), capture_output=True, text=True, timeout=900)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-4000:]
        assert _rooms(mock) == {bystander["meeting_room_sid"]: bystander}
    for name in ("junit.xml", "report.html", "contract-summary.json", "contract-summary.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["rooms_left_behind"] == [] and summary["rooms_created"] > 0
    assert any(row["rule"] == "patch.partial_update" and row["passed"] > 0 for row in summary["checks"])
    assert summary["behaviours"]["properties_on_patch"]
    for text in [output] + [path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()]:
        for secret in _secrets():
            assert secret not in text


def test_failing_run_leaves_no_room_and_links_reproductions(tmp_path):
    with MeetingRoomMock(faults=("patch_response_stale",)) as mock:
        bystander = _bystander(mock)
        completed = subprocess.run(_suite(mock, tmp_path, "--maxfail=2"), cwd=PROJECT_ROOT, env=_env(True),
                                   capture_output=True, text=True, timeout=900)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 1, output[-4000:]
        assert _rooms(mock) == {bystander["meeting_room_sid"]: bystander}
    assert "CONTRACT VIOLATION [patch.response_is_updated_object]" in output
    assert '"$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD"' in output
    summary = (tmp_path / "contract-summary.md").read_text()
    assert "patch.response_is_updated_object" in summary and "curl -X PATCH" in summary
    for text in [output] + [path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()]:
        assert PASSWORD not in text


def _secrets() -> list[str]:
    """Every form a password could leak in: plain, `user:password`, and the Basic token."""
    forms = []
    for user, password in ((USER, PASSWORD), (SECOND_USER, SECOND_PASSWORD)):
        forms += [password, f"{user}:{password}", base64.b64encode(f"{user}:{password}".encode()).decode()]
    return forms


def test_failing_generated_case_prints_no_credentials(tmp_path):
    """A schemathesis case that fails (its repr is printed) carries no credentials in any form."""
    with MeetingRoomMock(faults=("list_envelope_without_total",)) as mock:
        completed = subprocess.run(_suite(mock, tmp_path, "-k", "test_read_answers"), cwd=PROJECT_ROOT, env=_env(True),
                                   capture_output=True, text=True, timeout=600)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-4000:]
    assert "shape.response_conformance" in output
    for text in [output] + [path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()]:
        for secret in _secrets():
            assert secret not in text


def test_interrupted_run_leaves_no_room(tmp_path):
    with MeetingRoomMock() as mock:
        bystander = _bystander(mock)
        # SIGINT as at a terminal, even when this test runs where SIGINT is ignored (a background job)
        process = subprocess.Popen(_suite(mock, tmp_path), cwd=PROJECT_ROOT, env=_env(True),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while len(_rooms(mock)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_rooms(mock)) >= 3, "the suite never created rooms"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
        assert process.returncode != 0, output[-3000:]
        assert _rooms(mock) == {bystander["meeting_room_sid"]: bystander}, output[-3000:]


def test_an_interrupted_multi_worker_run_keeps_what_its_workers_checked(tmp_path):
    """R8-1/R8-2: Ctrl-C to the controller of xdist workers is passed on to them at once; each ends its
    test, deletes its rooms and reports. The summary holds the workers' checks and every room the run
    created, the status is "interrupted" (a schemathesis case cut short is no failed test), and only
    the bystander is left."""
    with MeetingRoomMock(latency_ms=10) as mock:
        bystander = _bystander(mock)
        created: list[str] = []
        mock.on_created(lambda room: created.append(room["meeting_room_sid"]))
        process = subprocess.Popen(_suite(mock, tmp_path, "-n", "2"), cwd=PROJECT_ROOT, env=_env(True),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 180
        while len(created) < 40 and time.monotonic() < deadline:  # both workers well into their tests
            time.sleep(0.05)
        assert len(created) >= 40, "the suite never created rooms"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
        rooms = _rooms(mock)
    assert process.returncode == 2, output[-3000:]
    assert rooms == {bystander["meeting_room_sid"]: bystander}, output[-3000:]
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["workers"] == 2
    assert sum(row["passed"] for row in summary["checks"]) > 0, "the workers' checks were lost"  # the controller runs none
    assert summary["rooms_created"] == len(created)
    assert "SUBFAILED" not in output and "failed" not in output.splitlines()[-1], output[-3000:]


def _no_journal_left(state_dir: Path) -> list[str]:
    return sorted(path.name for path in (state_dir / "journal").glob("*.jsonl"))


def test_an_interrupt_while_the_run_starts_ends_it_like_any_interrupt(tmp_path):
    """R9-4: a Ctrl-C while the run starts (here while the preflight creates its room, before xdist
    starts the workers) is raised once the session has started: pytest ends only a started session
    (pytest_sessionfinish), so raised in the preflight it left no summary, the run's journal and the
    preflight's room. The run ends with one line and exit 2, its summary says interrupted with nothing
    checked, and no room and no journal is left."""
    with MeetingRoomMock() as mock:
        bystander = _bystander(mock)
        running: list[subprocess.Popen] = []
        mock.on_created(lambda room: room["name"].endswith(" preflight") and running[0].send_signal(signal.SIGINT))
        running.append(subprocess.Popen(_suite(mock, tmp_path, "-n", "2"), cwd=PROJECT_ROOT, env=_env(True),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)))
        output, _ = running[0].communicate(timeout=120)
        rooms = _rooms(mock)
    assert running[0].returncode == 2, output[-3000:]
    assert rooms == {bystander["meeting_room_sid"]: bystander}, output[-3000:]
    assert "Interrupted: interrupted by SIGINT" in output and "Traceback" not in output and "Warning" not in output, output
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["exit_status"] == 2 and summary["rooms_created"] == 1
    assert not any(row["passed"] or row["failed"] for row in summary["checks"])
    assert "the run was interrupted before a test checked it" in summary["rules_not_checked"]["patch.partial_update"]
    assert _no_journal_left(tmp_path / "state") == []


def test_an_interrupt_stops_the_preflight_where_it_waits(tmp_path):
    """R10-1, R10-2: a Ctrl-C while the preflight waits for a slow answer stops it there. Let to finish,
    a silent target held the run for --request-timeout, and the preflight went on to POST its room,
    where a kill that came later left that room unjournalled. No request follows the signal (no room is
    created, and the account is not listed for the end-of-run sweep, which a silent target held for a
    minute), and the run ends interrupted long before the slow answer would have come."""
    with MeetingRoomMock() as mock:
        bystander = _bystander(mock)
        running: list[subprocess.Popen] = []
        signalled: list[float] = []
        after_the_signal: list[str] = []
        respond = mock.front.respond

        def slow_did_groups(method, target, headers, raw):
            if signalled:
                after_the_signal.append(f"{method} {target}")
            elif method == "GET" and "/did_groups" in target:
                signalled.append(time.monotonic())
                running[0].send_signal(signal.SIGINT)
                time.sleep(30)  # the answer a silent target never gives in time
            return respond(method, target, headers, raw)

        mock.front.respond = slow_did_groups
        running.append(subprocess.Popen(_suite(mock, tmp_path, "-n", "0"), cwd=PROJECT_ROOT, env=_env(True),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)))
        output, _ = running[0].communicate(timeout=120)
        took = time.monotonic() - signalled[0]
        rooms = _rooms(mock)
    assert running[0].returncode == 2 and took < 20, (took, output[-3000:])
    assert after_the_signal == [], output[-3000:]  # no POST, and no sweep of a name no POST carried
    assert rooms == {bystander["meeting_room_sid"]: bystander}, output[-3000:]
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["rooms_created"] == 0
    assert _no_journal_left(tmp_path / "state") == []


WORKER_COLLECTS = '''
import os, signal, time

told = []


def pytest_pycollect_makeitem(collector, name, obj):
    """In each xdist worker: Ctrl-C to the controller while this hook (which schemathesis wraps) runs."""
    if hasattr(collector.config, "workerinput") and name.startswith("test_") and not told:
        told.append(os.kill(os.getppid(), signal.SIGINT))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not collector.session.shouldstop:  # the controller's word comes here
            time.sleep(0.01)
'''


def test_an_interrupt_while_the_workers_collect_is_raised_between_collectors(tmp_path):
    """R9-4: the controller passes a Ctrl-C on to its workers at once; a worker still collecting stops
    at its next collector, not inside the hook it runs: raised inside schemathesis's collection hook
    wrapper, the interrupt was printed as a PluggyTeardownRaisedWarning."""
    (tmp_path / "worker_collects.py").write_text(WORKER_COLLECTS)
    with MeetingRoomMock() as mock:
        bystander = _bystander(mock)
        process = subprocess.Popen(_suite(mock, tmp_path, "-n", "2", "-p", "worker_collects"), cwd=PROJECT_ROOT,
                                   env={**_env(True), "PYTHONPATH": str(tmp_path)}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        output, _ = process.communicate(timeout=120)
        rooms = _rooms(mock)
    assert process.returncode == 2, output[-3000:]
    assert "PluggyTeardownRaisedWarning" not in output and "warning" not in output.splitlines()[-1], output[-3000:]
    assert rooms == {bystander["meeting_room_sid"]: bystander}, output[-3000:]
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["workers"] == 2
    assert _no_journal_left(tmp_path / "state") == []


def test_delete_leftovers_never_deletes_rooms_by_name(tmp_path):
    """Rooms named like earlier runs' but in no journal are reported, not deleted (tests/test_safety.py
    covers the journalled rooms of a killed run, which are deleted whatever their names)."""
    with MeetingRoomMock() as mock:
        bystander = _bystander(mock)
        leftover = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                 json={"name": "contract-test-20200101000000-abcdef room 1"}).json()
        running = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,  # a run still going
                                json={"name": f"contract-test-{time.strftime('%Y%m%d%H%M%S')}-fedcba room 1"}).json()
        old_run = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,  # today's run ids
                                json={"name": f"contract-test-{new_run_id(time.time() - 7 * 3600)} holder 3"}).json()
        new_running = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                    json={"name": f"contract-test-{new_run_id(time.time() - 3600)} room 1"}).json()
        word = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,  # not a run id
                             json={"name": "contract-test-manual room"}).json()
        completed = subprocess.run(_suite(mock, tmp_path, "--delete-leftovers", "-k", "empty_patch",
                                          "--state-dir", str(tmp_path / "state")), cwd=PROJECT_ROOT,
                                   env=_env(True), capture_output=True, text=True, timeout=300)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-3000:]
        rooms = _rooms(mock)
    assert rooms == {room["meeting_room_sid"]: room for room in (bystander, leftover, running, old_run, new_running, word)}
    assert "in no journal here" in output and leftover["meeting_room_sid"] in output and old_run["meeting_room_sid"] in output
    assert word["meeting_room_sid"] not in output.split("in no journal here", 1)[1]  # not a run id: not even reported


def test_a_wrong_password_probe_answered_429_is_never_repeated_and_the_run_goes_on(tmp_path):
    """R6-2: the one wrong-password probe meets a 429 (a rate limit is allowed): it is not sent again (the
    login could be locked), the probe is reported as not checked, and the run goes on (it used to stop
    every later test with "could not test")."""
    wrong = "Basic " + base64.b64encode(f"{USER}:{SECOND_PASSWORD}".encode()).decode()
    probes: list[str] = []

    def intercept(handler) -> tuple[int, dict[str, str], bytes] | None:
        if handler.headers.get("Authorization") != wrong:  # the probe: the primary user, the second's password
            return None
        probes.append(handler.command)
        return 429, {"Retry-After": "1"}, b"{}"

    with MeetingRoomMock() as mock:
        proxy = Proxy(mock.base_url, intercept)
        try:
            completed = _run_through(proxy.base_url, "test_auth.py", tmp_path, tmp_path / "state",
                                     "--no-contract-strict", "--cross-login-probes")
        finally:
            proxy.stop()
    out = completed.stdout + completed.stderr
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert probes == ["PATCH"], probes  # sent once, never again
    assert completed.returncode == 0 and "could not test" not in out.lower(), out[-2000:]
    assert any("429" in situation and "not repeated" in situation
               for situation in summary["not_checked"].get("auth.required", {})), summary["not_checked"]
    # R8-6: the rule was checked on the other answers: this one answer is "not judged", not the rule "not checked"
    assert "NOT JUDGED (the rule was checked on other answers), auth.required: " in out, out[-2000:]


def _credentials_sent(handler) -> tuple[str, str] | None:
    header = handler.headers.get("Authorization") or ""
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None
    return user, password


def _run_through(proxy_url: str, contract_file: str, report_dir, state_dir, *extra: str) -> subprocess.CompletedProcess:
    """One serial contract run of `contracts/<contract_file>` through a proxy, both logins given, the
    passwords in the environment."""
    command = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "contracts" / contract_file), "-q", "-n", "0",
               "-p", "no:cacheprovider", "--base-url", proxy_url, "--username", USER,
               "--second-username", SECOND_USER, "--report-dir", str(report_dir), "--state-dir", str(state_dir), *extra]
    return subprocess.run(command, env=_env(password_in_env=True), capture_output=True, text=True, timeout=300)


def test_parallel_runs_on_one_login_send_one_wrong_password_probe_per_window_and_no_cross_login_probe(tmp_path):
    """Two runs sharing a state dir (parallel pipelines on one login) within --wrong-password-window: the
    second sends no wrong-password probe (reported as not checked, the run goes on), and without
    --cross-login-probes no request carries a real password under another user name."""
    sent: list[tuple[str, str]] = []

    def intercept(handler) -> None:
        credentials = _credentials_sent(handler)
        if credentials is not None:
            sent.append(credentials)
        return None  # forwarded

    with MeetingRoomMock() as mock:
        proxy = Proxy(mock.base_url, intercept)
        try:
            outputs = []
            for run in ("first", "second"):
                completed = _run_through(proxy.base_url, "test_auth.py", tmp_path / run, tmp_path / "state",
                                         "--no-contract-strict")
                outputs.append((completed.returncode, completed.stdout + completed.stderr))
        finally:
            proxy.stop()
    for code, out in outputs:
        assert code == 0, out[-2000:]
    wrong = [(user, password) for user, password in sent if (user, password) not in ((USER, PASSWORD), (SECOND_USER, SECOND_PASSWORD))
             and user in (USER, SECOND_USER)]
    assert len(wrong) == 2, wrong  # the first run's two probes (one per login), none by the second run
    real_elsewhere = [(user, password) for user, password in sent if password in (PASSWORD, SECOND_PASSWORD)
                      and (user, password) not in ((USER, PASSWORD), (SECOND_USER, SECOND_PASSWORD))]
    assert real_elsewhere == [], real_elsewhere
    second = json.loads((tmp_path / "second" / "contract-summary.json").read_text())
    assert any("wrong-password-window" in situation for situation in second["not_checked"].get("auth.required", {})), \
        second["not_checked"]


def test_a_password_echoed_in_an_answer_is_in_no_file_under_reports(tmp_path):
    """A server that accepts the wrong-password probe (the primary user with the second login's password)
    and echoes the password it got in its answer: the violation's story and the summary keep that answer,
    and no file under the report directory holds either password (every string of each document is
    scrubbed before it is serialised: in JSON text the password is an escaped substring)."""
    def intercept(handler):
        if _credentials_sent(handler) == (USER, SECOND_PASSWORD):
            return 200, {"Content-Type": "application/json"}, json.dumps(
                {"message": "welcome", "password": SECOND_PASSWORD}).encode()
        return None

    with MeetingRoomMock() as mock:
        proxy = Proxy(mock.base_url, intercept)
        try:
            completed = _run_through(proxy.base_url, "test_auth.py", tmp_path / "reports", tmp_path / "state",
                                     "--cross-login-probes", "-k", "wrong_password")
        finally:
            proxy.stop()
    out = completed.stdout + completed.stderr
    assert completed.returncode == 1 and "auth.required" in out, out[-2000:]
    written = [path for path in (tmp_path / "reports").rglob("*") if path.is_file()]
    assert any(path.parent.name == "failures" for path in written), written
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert PASSWORD not in text and SECOND_PASSWORD not in text, path
    assert PASSWORD not in out and SECOND_PASSWORD not in out


def _deploying(seconds: float, retry_after: str):
    """An intercept: a gateway answering 503 with an HTML page and `Retry-After` for `seconds` from its first request."""
    started: list[float] = []

    def intercept(handler):
        if not started:
            started.append(time.monotonic())
        if time.monotonic() - started[0] < seconds:
            return 503, {"Content-Type": "text/html", "Retry-After": retry_after}, b"<html><h1>503 deploying</h1></html>"
        return None
    return intercept


def test_a_deploy_during_the_preflight_is_waited_out_and_one_beyond_the_wait_bound_is_could_not_test(tmp_path):
    """A rolling deploy answers the preflight 503 with Retry-After: the preflight waits it out and the run
    goes on (exit 0); a gateway asking for longer than --max-retry-wait is no usage error: one line,
    could not test (exit 6), no test run, no room left."""
    for seconds, asked, expected in ((2.5, "1", 0), (600.0, "120", 6)):
        with MeetingRoomMock() as mock:
            proxy = Proxy(mock.base_url, _deploying(seconds, asked))
            try:
                started = time.monotonic()
                completed = _run_through(proxy.base_url, "test_patch.py", tmp_path / asked, tmp_path / "state",
                                         "--no-contract-strict", "-k", "empty_patch")
                elapsed = time.monotonic() - started
            finally:
                proxy.stop()
            left = live_rooms(mock)
        out = completed.stdout + completed.stderr
        assert completed.returncode == expected, out[-2000:]
        if expected == 6:
            assert "could not test" in out.lower() and "Retry-After" in out and elapsed < 30, (elapsed, out[-2000:])
            assert "Traceback" not in out
        assert left == {}, left


def test_a_login_whose_password_changes_mid_run_is_could_not_test_never_a_violation(tmp_path):
    """The second login's password is rotated while the run goes on: every request with it is answered 401.
    That is no verdict on the rules the isolation tests check: the run says the login is refused now
    (exit 6, one line naming the login), never a violation."""
    seen = [0]

    def rotated(handler):
        if _credentials_sent(handler) == (SECOND_USER, SECOND_PASSWORD):
            seen[0] += 1
            if seen[0] > 3:  # after the preflight's requests with it
                return 401, {"Content-Type": "application/json"}, b'{"message": "Bad credentials"}'
        return None

    with MeetingRoomMock() as mock:
        proxy = Proxy(mock.base_url, rotated)
        try:
            completed = _run_through(proxy.base_url, "test_isolation.py", tmp_path / "reports", tmp_path / "state",
                                     "--no-contract-strict")
        finally:
            proxy.stop()
    out = completed.stdout + completed.stderr
    assert completed.returncode == 6, out[-3000:]
    assert "CONTRACT VIOLATION" not in out and f"login {SECOND_USER!r} itself" in out, out[-3000:]
