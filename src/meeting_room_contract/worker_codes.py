"""Access codes sent by the other xdist workers of the run, recently: a 409 a room of another worker
explains is proven even when that worker deleted the room before the lookup.

Workers of one run share an account. A worker whose request is refused 409 looks up the room holding
the code; when another worker's room held it and was deleted in between (a room lives for a few
round trips), the lookup finds nothing and a legal refusal would read as `uniqueness.conflict_explained`.
Every worker appends the codes it sends (POST/PATCH/PUT bodies of meeting rooms) with their scope
and time to its own file next to the run's journal; a lookup that finds no holder reads the other
workers' recent lines. Only for the run's own workers, only recent (`RECENT_S`): a code no room of the
run sent lately still proves nothing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from .model import Model

RECENT_S = 60.0


class WorkerCodes:
    def __init__(self, directory: Path, run_id: str, model: Model):
        self.model = model
        self.directory = directory
        self.prefix = f"{run_id}.codes."
        self.path = directory / f"{self.prefix}{os.getpid()}"
        self._lock = threading.Lock()
        self._read: dict[Path, tuple[int, list[tuple[float, Any, str]]]] = {}  # other worker's file -> (offset, notes)

    def sent(self, method: str, path: str, data: Any) -> None:
        """Note the codes of a POST/PATCH/PUT body of a meeting room (called before it is sent):
        `data` is the object the body encodes (the client parses it once), or bytes/text that are no JSON."""
        if method not in ("POST", "PATCH", "PUT") or not path.startswith("/meeting_rooms"):
            return
        try:
            body = json.loads(data) if isinstance(data, (str, bytes)) else data  # `data=` or `json=` of the request
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        lines = []
        for unique in self.model.UNIQUE:
            codes = self.model.unique_values(body, unique)
            fields = [f for f in unique.scope if f in self.model.MODIFIABLE_FIELDS]
            scope = self.model.scope_of(body, unique) if all(f in body for f in fields) else None  # None: not in the body
            lines += [json.dumps([time.time(), code, scope]) for code in codes]
        if lines:
            with self._lock, open(self.path, "a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")

    def recent(self) -> dict[Any, set[Any]]:
        """Code -> scopes (None: unknown) sent by the run's other workers in the last RECENT_S seconds.
        Each other worker's file is read from where the last lookup stopped (only whole lines: a line
        being written is read next time); what is older than RECENT_S is forgotten."""
        since, found = time.time() - RECENT_S, {}
        with self._lock:
            for other in self.directory.glob(self.prefix + "*"):
                if other == self.path:
                    continue
                offset, notes = self._read.get(other, (0, []))
                try:
                    with open(other, "rb") as notes_file:
                        notes_file.seek(offset)
                        text = notes_file.read()
                except OSError:
                    continue
                whole = text[:text.rfind(b"\n") + 1]
                notes = [note for note in notes if note[0] >= since] + _parsed(whole, since)
                self._read[other] = (offset + len(whole), notes)
                for _, code, scope in notes:
                    found.setdefault(code, set()).add(scope)
        return found

    def holders(self, candidate: dict[str, Any], found_codes: set[Any]) -> list[dict[str, Any]]:
        """Holders standing for rooms of other workers: codes of `candidate` not held by a listed room
        (`found_codes`) that another worker sent lately (same scope when the scope was in its body)."""
        recent = self.recent()
        holders = []
        for unique in self.model.UNIQUE:
            scope = json.dumps(self.model.scope_of(candidate, unique))
            for code in sorted(self.model.unique_values(candidate, unique) - found_codes, key=repr):
                scopes = recent.get(code)
                if scopes:
                    same = scope in scopes or "null" in scopes  # a scope the body did not name may be the same
                    holders.append({"room": "(a room of another xdist worker of this run, gone by the lookup)",
                                    "scope": None, "same_scope": same, "codes": [code], "other_worker": True})
        return holders


def _parsed(text: bytes, since: float) -> list[tuple[float, Any, str]]:
    """The (time, code, scope as JSON) notes of whole lines sent since `since`; a line that is no note is skipped."""
    notes = []
    for line in text.decode("utf-8", errors="replace").splitlines():
        try:
            at, code, scope = json.loads(line)
        except (ValueError, TypeError):
            continue
        if isinstance(at, (int, float)) and at >= since and isinstance(code, (str, int, float)):
            notes.append((at, code, json.dumps(scope)))
    return notes
