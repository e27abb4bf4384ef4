"""The replay's user mistakes and unreachable targets are one line, in seconds, with the exit status
that says so (never 1, which means REPRODUCED), before anything is created."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from meeting_room_contract.mock import MeetingRoomMock

from .stubs import live_rooms

ROOT = Path(__file__).resolve().parents[1]
USER = "conference_user_123"


def _a_recorded_failure(tmp_path: Path) -> Path:
    (tmp_path / "failures").mkdir()
    (tmp_path / "failures" / "f1.json").write_text(json.dumps(
        {"id": "f1", "rule": "patch.partial_update", "operation": "PATCH /meeting_rooms/{sid}", "steps": []}))
    return tmp_path


def _replay(report_dir: Path, base_url: str, password: str, *extra: str) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "meeting_room_contract.replay", str(report_dir),
                                "--base-url", base_url, "--username", USER, "--password", password,
                                "--state-dir", str(report_dir / "state"), *extra],
                               capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    return completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started


def _one_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out, out[-2000:]
    return lines[0]


def test_replay_mistakes_and_unreachable_targets_are_one_line_never_reproduced(tmp_path):
    report_dir = _a_recorded_failure(tmp_path)
    with MeetingRoomMock() as mock:
        code, out, _ = _replay(report_dir, mock.base_url, "qwerty123", "--request-timeout", "0")
        assert code == 2 and "--request-timeout" in _one_line(out), out
        code, out, _ = _replay(report_dir, mock.base_url, "wrong-pw")
        assert code == 2 and f"login {USER!r} was refused (401)" in _one_line(out), out
        assert "wrong-pw" not in out
        assert live_rooms(mock) == {}  # nothing was created
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/conference/v2"
        code, out, seconds = _replay(report_dir, url, "qwerty123", "--request-timeout", "1")
    assert code == 3 and "no answer within 1 s" in _one_line(out) and seconds < 10, (seconds, out)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    code, out, seconds = _replay(report_dir, f"http://127.0.0.1:{port}/conference/v2", "qwerty123")
    assert code == 3 and "connection refused" in _one_line(out) and seconds < 10, (seconds, out)
