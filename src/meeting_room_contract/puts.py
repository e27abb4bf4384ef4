"""How the target wants a PUT: with or without the current read-only values (contract A).

"All fields must be present in a PUT request" (MR-UPDATE) may be read as including the
read-only fields. The suite probes once, on a room of its own: a valid PUT without them; if
that is refused, the same PUT with their current values. One of the two must be accepted.
Every PUT the suite sends afterwards is completed with `PutStyle.complete`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import checks, model, rooms
from .client import ConferenceClient
from .rules import UpdateOutcome
from . import strategies

OPERATION = "PUT /meeting_rooms/{sid}"


@dataclass
class PutStyle:
    read_only_required: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def complete(self, body: Any, room: Mapping[str, Any]) -> Any:
        """The body as the target wants it: read-only fields added (current values) when required."""
        if not self.read_only_required or not isinstance(body, dict):
            return body
        return {**{f: room.get(f) for f in model.READ_ONLY_FIELDS}, **body}

    def complete_for(self, body: Any, sid: str, client: ConferenceClient) -> Any:
        """A PUT to a sid the suite does not read first (unknown, another account's, deleted), as the
        target wants it: the id field is the path's sid and the other read-only fields (the account)
        are the sending login's own. The PUT stays valid except for its sid, so the answer is about
        the sid even on a target that validates the body before it looks the room up."""
        if not self.read_only_required or not isinstance(body, dict):
            return body
        return self.complete(body, {**own_read_only_values(client), model.ID_FIELD: sid})


CURRENT = PutStyle()  # what `checks.send_update` completes PUT bodies with; set once per run by the probe

_OWN_VALUES: dict[int, dict[str, Any]] = {}  # by id(client): the login's own read-only values (its account)
_OWN_LOCK = threading.Lock()


def own_read_only_values(client: ConferenceClient) -> dict[str, Any]:
    """The read-only fields other than the id (the account) of rooms of `client`'s login, read from
    a room the run created with that login; when it has none alive, from a room created for this
    (named with the run's prefix) and deleted at once. Read once per login."""
    with _OWN_LOCK:
        known = _OWN_VALUES.get(id(client))
    if known is not None:
        return known
    room = None
    for sid, owner in client.registry.live_rooms():
        if owner is client:
            response = client.get_room(sid)
            if response.status_code == 200:
                room = response.json()
                break
    if room is None:
        response = client.create_room({rooms.NAME_KEY: client.registry.room_name("account-probe")}
                                      if rooms.NAME_KEY in rooms.creatable_fields() else {})  # recorded for cleanup at once
        room = checks.room_answer("status.documented_codes", response, "POST /meeting_rooms",
                                  "creating a room to learn the login's account (to complete a PUT)")
        client.delete_room(room[model.ID_FIELD])
    values = {f: room.get(f) for f in model.READ_ONLY_FIELDS if f != model.ID_FIELD}
    with _OWN_LOCK:
        _OWN_VALUES[id(client)] = values
    return values


def probe_put_style(client: ConferenceClient, rooms: Any, did_groups: Sequence[str]) -> PutStyle:
    """Send a valid PUT without the read-only fields, then (if refused) with their current values."""
    tracker = checks.PropertiesModeTracker()
    with rooms.fresh(label="putstyle") as room:
        sid = room["meeting_room_sid"]
        body = {**strategies.simplest_body(did_groups), **strategies.sample_values(did_groups)}
        _, response, outcome = checks.send_update(client, sid, "PUT", body, tracker, complete_put=False)
        if outcome is UpdateOutcome.APPLIED:
            checks.observe("put_read_only_fields", "optional", OPERATION, response)
            return PutStyle(read_only_required=False)
        style = PutStyle(read_only_required=True)
        _, response, outcome = checks.send_update(client, sid, "PUT", style.complete(body, room), tracker,
                                                  complete_put=False)
        with checks.rule("put.read_only_fields", OPERATION):
            if outcome is not UpdateOutcome.APPLIED:
                raise checks.ContractViolation(
                    "put.read_only_fields", "a valid PUT was refused both without the read-only fields and with their "
                    f"current values (HTTP {response.status_code}): the target accepts no PUT", response=response)
        checks.observe("put_read_only_fields", "required", OPERATION, response)
        return style
