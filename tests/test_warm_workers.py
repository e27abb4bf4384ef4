"""Workers forked from a warm interpreter (`warm_workers`, `warm_launcher`): a worker started through the
launcher behaves as `python -c CODE` would (its stdin, stdout, stderr, exit status, environment, working
directory and SIGINT disposition), the launcher stands in for it (signals passed on, its death is the
worker's), and without a server a worker still starts, the usual way."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from meeting_room_contract.warm_workers import WarmWorkers



@pytest.fixture
def warm():
    server = WarmWorkers.start()
    assert server is not None, "the warm server did not start"
    yield server
    server.stop()


def _launch(warm: WarmWorkers, code: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen([*shlex.split(warm.python()), "-u", "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_a_warm_worker_is_python_c_forked_from_the_server(warm, tmp_path):
    """The code runs in a child of the server with everything imported already, reads the launcher's
    stdin, writes its stdout and stderr, sees its environment and directory, and its exit status is the
    launcher's."""
    code = ("import os, sys; warm = 'hypothesis' in sys.modules and 'schemathesis' in sys.modules; "
            "line = sys.stdin.readline(); "
            "print(line.strip().upper(), warm, os.getppid(), os.environ.get('WARM_PROBE'), os.getcwd(), sys.argv, "
            "sys.path[0] == ''); sys.stderr.write('to stderr'); sys.exit(3)")
    process = _launch(warm, code, env={**os.environ, "WARM_PROBE": "seen"}, cwd=tmp_path)
    out, err = process.communicate("hello\n", timeout=30)
    assert process.returncode == 3, err
    assert out.split() == ["HELLO", "True", str(warm.process.pid), "seen", str(tmp_path), "['-c']", "True"]
    assert err == "to stderr"


def test_a_worker_killed_by_a_signal_ends_its_launcher_by_that_signal(warm):
    """SIGTERM to the launcher (xdist's process for the worker) reaches the worker; the launcher ends as
    the worker did. SIGINT is not passed on (a Ctrl-C reaches the worker itself: twice would be too many)."""
    process = _launch(warm, "import os, sys, time; print(os.getpid(), flush=True); time.sleep(60)")
    worker = int(process.stdout.readline())
    process.send_signal(signal.SIGINT)  # ignored by the launcher
    time.sleep(0.2)
    assert process.poll() is None and not _gone(worker, 0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == -signal.SIGTERM
    assert _gone(worker)


def test_killing_the_launcher_kills_its_worker(warm):
    """xdist ends a worker that does not stop by killing its process: the launcher. The worker goes too."""
    process = _launch(warm, "import os, time; print(os.getpid(), flush=True); time.sleep(60)")
    worker = int(process.stdout.readline())
    process.kill()
    process.wait(timeout=10)
    assert _gone(worker)


def test_sigint_disposition_is_the_launchers():
    """A worker started where SIGINT is ignored (a background job) ignores it too; else Python's handler."""
    server = WarmWorkers.start()
    try:
        code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
        ignoring = _launch(server, code, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        default = _launch(server, code, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert ignoring.communicate(timeout=30)[0].strip() == "True"
        assert default.communicate(timeout=30)[0].strip() == "False"
    finally:
        server.stop()


def test_without_a_server_a_worker_starts_the_usual_way(tmp_path):
    """The launcher cannot reach the server (gone, never started): it becomes the interpreter itself."""
    launcher = [sys.executable, "-I", "-S", str(WarmWorkers.start.__globals__["LAUNCHER"]), str(tmp_path / "no-socket")]
    process = subprocess.run([*launcher, "-u", "-c", "import sys; print(sys.stdin.read().strip(), 'hypothesis' in sys.modules)"],
                             input="plain", capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    assert process.stdout.split() == ["plain", "False"]


def test_the_server_ends_with_the_controller_and_waits_for_its_workers(warm):
    """Closing the server's stdin (the controller ends, or dies) stops new workers; the server ends once
    its workers have, and its socket and directory go."""
    process = _launch(warm, "import time; time.sleep(0.5); print('done')")
    time.sleep(0.2)  # forked by now
    started = time.monotonic()
    warm.stop()
    assert warm.process.returncode == 0 and time.monotonic() - started >= 0.2  # it waited for its worker
    assert process.communicate(timeout=10)[0].strip() == "done" and process.returncode == 0
    assert not os.path.exists(warm.directory)


def test_a_run_that_chooses_its_workers_starts_them_warm_and_leaves_nothing(tmp_path):
    """A remote target (10 ms per answer) without -n: the run's workers are forked from the warm server
    (the header says so), the run passes, and no server, launcher, worker, socket directory or room is
    left when it ends."""
    import json
    import tempfile
    from pathlib import Path

    import requests

    from meeting_room_contract.mock import MeetingRoomMock
    from meeting_room_contract.selfcheck import PROJECT_ROOT

    before = set(Path(tempfile.gettempdir()).glob("contract-warm-*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    with MeetingRoomMock(latency_ms=10) as mock:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "contracts"), "-p", "no:cacheprovider",
             "-k", "empty_patch or unknown_sid", "--base-url", mock.base_url, "--username", "conference_user_123",
             "--password", "qwerty123", "--report-dir", str(tmp_path), "--state-dir", str(tmp_path / "state"),
             "--no-contract-strict"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
        rooms = requests.get(mock.base_url + "/meeting_rooms", auth=("conference_user_123", "qwerty123"), timeout=5).json()
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert "xdist workers by default for a remote target" in output and "started from a warm interpreter" in output, output[:3000]
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["workers"] >= 2 and summary["requests_sent"] > 0
    assert rooms.get("items") == [], rooms
    assert set(Path(tempfile.gettempdir()).glob("contract-warm-*")) <= before
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    assert [line for line in processes if "contract-warm-" in line and not any(str(d) in line for d in before)] == []


def test_a_worker_killed_by_sigkill_ends_its_launcher_by_sigkill(warm):
    """SIGKILL cannot be handled: the launcher does not try to reset it, and ends by it too."""
    process = _launch(warm, "import os; os.kill(os.getpid(), 9)")
    _, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL and "Traceback" not in err, err


def test_an_uncaught_interrupt_ends_the_worker_by_sigint_as_python_does(warm):
    """A KeyboardInterrupt that reaches the top of the worker's code: printed (without the server's frame),
    and the worker ends by SIGINT, as the interpreter ends."""
    process = _launch(warm, "raise KeyboardInterrupt('SIGINT')")
    _, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGINT, err
    assert "KeyboardInterrupt: SIGINT" in err and "_become_worker" not in err, err
