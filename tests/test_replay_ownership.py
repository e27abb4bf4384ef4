"""The replay touches only rooms it created itself: its own room names, fresh codes of the recorded forms.

On a shared staging a colleague may hold a code or a name that a recorded failure sent days ago. The
replay sends its own (the recorded run's room names under the replay's own run id, every access code a
fresh one of the same form), finds a room created behind a refusal only by what it sent itself, and
deletes only rooms its own POSTs created; a room found by a code alone is reported, never deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from meeting_room_contract.mock import MeetingRoomMock

from .stubs import live_rooms

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "conference_user_123", "qwerty123"


def _record(tmp_path: Path, fault: str, rule: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "contracts/test_uniqueness.py", "-q", "-p", "no:cacheprovider",
                                "--mock-fault", fault, "--stop-on-rule", rule, "--no-contract-strict",
                                "--report-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert completed.returncode == 1, completed.stdout[-3000:]
    failures = [json.loads(path.read_text()) for path in (tmp_path / "failures").glob("*.json")]
    found = [doc for doc in failures if doc["rule"] == rule and (doc.get("judge") or {}).get("judge") == "created_anyway"]
    assert found, [doc["rule"] for doc in failures]
    return found[0]


def _replay(tmp_path: Path, doc: dict, mock: MeetingRoomMock) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    return subprocess.run([sys.executable, "-m", "meeting_room_contract.replay", str(tmp_path), "--failure", doc["id"],
                           "--base-url", mock.base_url, "--username", USER, "--mock-logins",
                           "--state-dir", str(tmp_path / "state")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct target", "faulty target"])
def test_the_replay_never_touches_a_colleagues_room_holding_the_recorded_code_or_name(tmp_path, faulty):
    """A colleague's rooms hold the recorded failure's code and name: the replay neither deletes nor
    changes them, reports NOT REPRODUCED against a correct target (not fooled by them) and REPRODUCED
    against the faulty one, and leaves no room of its own."""
    doc = _record(tmp_path, "refused_create_still_stored", "uniqueness.across_rooms")
    recorded = doc["judge"]
    with MeetingRoomMock(faults=("refused_create_still_stored",) if faulty else ()) as mock:
        colleague = {}
        for code in recorded["codes"]:
            room = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5, json={
                "name": "alice's room", "access_codes": [{"access_code": str(code), "role": "host"}]}).json()
            colleague[room["meeting_room_sid"]] = room
        if recorded.get("name"):
            room = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                 json={"name": recorded["name"]}).json()
            colleague[room["meeting_room_sid"]] = room
        completed = _replay(tmp_path, doc, mock)
        live = live_rooms(mock)
        left = {sid: room for sid, room in live.items() if sid not in colleague}
    out = completed.stdout + completed.stderr
    for sid, room in colleague.items():
        assert sid in live, f"the replay deleted a colleague's room {sid}: {out}"
        assert {k: live[sid].get(k) for k in ("name", "access_codes")} == {k: room.get(k) for k in ("name", "access_codes")}
    if faulty:
        assert completed.returncode == 1 and "REPRODUCED" in completed.stdout, out
    else:
        assert completed.returncode == 0 and "NOT REPRODUCED" in completed.stdout, out
    # the faulty target stores the refused room under the replay's own name: its own, deleted
    assert not left, f"the replay left rooms: {left}\n{out}"
