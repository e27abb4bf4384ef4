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

from . import checks, model
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


CURRENT = PutStyle()  # what `checks.send_update` completes PUT bodies with; set once per run by the probe


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
