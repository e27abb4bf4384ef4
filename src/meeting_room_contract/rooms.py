"""Rooms the suite creates for itself: recognisable names, recorded at once, deleted after use."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from typing import Any, Iterator

from hypothesis import reject

from . import checks
from .client import ConferenceClient, RoomRegistry


def random_access_codes() -> list[dict[str, str]]:
    """Three 9-digit codes from the OS random source (not hypothesis): unlikely to meet any other room."""
    return [{"access_code": f"{secrets.randbelow(10**9):09d}", "role": role} for role in ("host", "listener", "participant")]


class RoomFactory:
    def __init__(self, client: ConferenceClient):
        self.client = client
        self._serial = itertools.count(1)

    def name(self, label: str = "room") -> str:
        return f"{self.client.registry.room_name_prefix} {label} {next(self._serial)}"

    def create(self, body: dict[str, Any] | None = None, *, client: ConferenceClient | None = None,
               label: str = "room") -> dict[str, Any]:
        """Create a room (default: codes, properties and a name); returns the created object.

        A 409 can only mean the drawn access codes collide with a room this run does not know
        (another tester on staging): the example is rejected, not reported.
        """
        owner = client or self.client
        for _ in range(3):
            drawn = body if body is not None else {"access_codes": random_access_codes(),
                                                   "properties": {"conference_start_wait": "360"}}
            response = owner.create_room({"name": self.name(label), **drawn})
            if response.status_code != 409:
                break
            if body is not None:
                reject()  # hypothesis-drawn codes met a room we do not know: discard the example
        # (random default codes are simply drawn again; three 409s in a row are reported below)
        with checks.rule("status.documented_codes", "POST /meeting_rooms"):
            return checks.room_response("status.documented_codes", response, "creating a room for the test")

    @contextlib.contextmanager
    def fresh(self, body: dict[str, Any] | None = None, *, client: ConferenceClient | None = None,
              label: str = "room") -> Iterator[dict[str, Any]]:
        """A room that exists for the `with` block and is deleted when it ends (pass or fail)."""
        room = self.create(body, client=client, label=label)
        try:
            yield room
        finally:
            owner = client or self.client
            owner.delete_room(room["meeting_room_sid"])


def delete_leftover_rooms(client: ConferenceClient, registry: RoomRegistry) -> list[str]:
    """Delete rooms whose names carry the suite's prefix but another run's id (opt-in)."""
    prefix = f"{registry.name_prefix}-"
    deleted = []
    for room in client.list_all("/meeting_rooms"):
        name, sid = room.get("name") or "", room.get("meeting_room_sid")
        if sid and name.startswith(prefix) and not name.startswith(registry.room_name_prefix + " "):
            registry.record_created(sid, client)  # adopted: it is ours from an earlier run
            if client.delete_room(sid).status_code in (200, 204, 404):
                deleted.append(sid)
    return deleted
