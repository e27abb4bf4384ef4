"""Rooms the suite creates for itself: recognisable names, recorded at once, deleted after use."""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any, Iterator

from hypothesis import currently_in_test_context, reject

from . import checks
from .client import ConferenceClient, RoomRegistry
from . import model, spec, strategies
from .strategies import CODES_IN_USE

CREATE = "POST /meeting_rooms"


class ProvenConflict(Exception):
    """A room could not be created because another room of the account really holds a code."""


def load_codes_in_use(client: ConferenceClient) -> int:
    """Remember every access code the account's rooms hold: generated codes avoid them."""
    rooms = client.list_all("/meeting_rooms")
    for room in rooms:
        CODES_IN_USE.update(model.unique_values(room))
    return len(rooms)


NAME_KEY = "name"  # where the factory writes recognisable room names (when the spec's creation body has it)


def _creatable() -> set[str]:
    return set(spec.current().resolved(spec.CREATE_SCHEMA).get("properties", {}))


class RoomFactory:
    def __init__(self, client: ConferenceClient):
        self.client = client
        self._serial = itertools.count(1)

    def name(self, label: str = "room") -> str:
        return f"{self.client.registry.room_name_prefix} {label} {next(self._serial)}"

    def create(self, body: dict[str, Any] | None = None, *, client: ConferenceClient | None = None,
               label: str = "room") -> dict[str, Any]:
        """Create a room (default: sample values, three fresh 6-digit codes, and a name); returns it.

        A refusal is proven before anything else: a room of the account that holds one of the
        codes explains it (the default codes are drawn again; drawn test data is rejected as
        proven harmless), and a 409 that no room explains is a violation.
        """
        owner = client or self.client
        for _ in range(3):
            drawn = body if body is not None else strategies.sample_values(fresh_codes=3)
            sent = {**drawn, NAME_KEY: self.name(label)} if NAME_KEY in _creatable() else dict(drawn)
            response = owner.create_room(sent)  # gateway errors: the client finds the room by its name
            if response.status_code not in (400, 409, 422) or not model.unique_values(sent):
                break
            holders = checks.conflict_explained(owner, None, None, "POST", sent, response)
            if not holders:
                break
            if body is not None:
                if currently_in_test_context():
                    reject()  # proven: another room holds a drawn code; the example says nothing
                raise ProvenConflict(f"room not created: codes held by {holders}")
        return checks.room_answer("status.documented_codes", response, CREATE, "creating a room for the test")

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


LEFTOVER_AGE_HOURS = 6.0


def run_started(run_id: str) -> float | None:
    """When a run started, from its id (`YYYYmmddHHMMSS-hex`, local time); None if not one of ours."""
    try:
        return time.mktime(time.strptime(run_id.split("-", 1)[0], "%Y%m%d%H%M%S"))
    except ValueError:
        return None


def delete_leftover_rooms(client: ConferenceClient, registry: RoomRegistry,
                          older_than_hours: float = LEFTOVER_AGE_HOURS) -> list[str]:
    """Delete rooms named by an earlier run of the suite (opt-in), started more than
    `older_than_hours` ago: a run still going (another pipeline, another worker) keeps its rooms."""
    prefix = f"{registry.name_prefix}-"
    deleted = []
    for room in client.list_all("/meeting_rooms"):
        name, sid = room.get("name") or "", room.get("meeting_room_sid")
        if not sid or not name.startswith(prefix) or name.startswith(registry.room_name_prefix + " "):
            continue
        started = run_started(name[len(prefix):].split(" ", 1)[0])
        if started is None or time.time() - started < older_than_hours * 3600:
            continue
        registry.record_created(sid, client)  # adopted: it is ours from an earlier run
        if client.delete_room(sid).status_code in (200, 204, 404):
            deleted.append(sid)
    return deleted


def sweep_run_rooms(clients: list[ConferenceClient], registry: RoomRegistry) -> list[str]:
    """At the end of a run: delete every listed room named with this run's prefix that is still
    there (created behind a refusal or a lost answer); returns the sids that could not be deleted."""
    remaining = []
    for client in clients:
        for room in client.list_all("/meeting_rooms"):
            sid, name = room.get("meeting_room_sid"), room.get("name") or ""
            if sid and name.startswith(registry.room_name_prefix + " "):
                registry.record_created(sid, client)
                if client.delete_room(sid).status_code not in (200, 204, 404):
                    remaining.append(sid)
    return remaining
