"""One edge value at a time: each value of the edge corpus on its own, every other field plain.

The corpus (`strategies.edge_corpus`: a pinned sample of the Big List of Naughty Strings plus hand
cases for the classes it lacks, lengths, sizes, numbers written as strings, access-code arrays) is
explicit: the same cases run in every gate, whatever hypothesis draws elsewhere. Each case is sent
by POST (a new room), PATCH and PUT (a room of the run). A plain value must be accepted; an edge
value may be refused (400/422: behaviours `edge_values`, `edge_access_codes`, pinnable), but an
accepted one comes back exactly as sent, in the answer and wherever the room is read back.
"""

from __future__ import annotations

import json
import time

import pytest

from meeting_room_contract import checks, model, strategies
from meeting_room_contract.checks import ContractViolation, rule
from meeting_room_contract.observations import RECORDER
from meeting_room_contract.rooms import NAME_KEY
from meeting_room_contract.rules import UpdateOutcome

RULE = "round_trip.exact_values"
CREATE = "POST /meeting_rooms"
CORPUS = strategies.edge_corpus()
UNIQUE = model.UNIQUE[0] if model.UNIQUE else None


def _verdict(case: strategies.EdgeCase, value, outcome: UpdateOutcome, response, operation: str, method: str) -> None:
    """A plain value must have been applied; an edge value's refusal is observed (and must use an
    allowed status); a proven conflict (another room holds a code) leaves the case unjudged."""
    if outcome is UpdateOutcome.CONFLICT:
        RECORDER.unchecked(RULE, operation, f"{case.id}: refused, proven by another room holding a code; not judged")
        return
    if strategies.is_plain_field_value(case.field, value):
        with rule(RULE, operation):
            if outcome is not UpdateOutcome.APPLIED:
                raise ContractViolation(RULE, f"{method} with the plain value {case.id} was refused with HTTP "
                                        f"{response.status_code}: plain values must be accepted", response=response)
        return
    verdict = "accepted" if outcome is UpdateOutcome.APPLIED else "refused"
    if outcome is UpdateOutcome.REJECTED:
        checks.rejection_status("status_invalid_value", response, operation, f"{method} with edge value {case.id}")
    behaviour = "edge_access_codes" if UNIQUE and case.field == UNIQUE.array_field else "edge_values"
    checks.observe(behaviour, verdict, operation, response)


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_edge_value_by_post(case, client, rooms):
    """POST of a room with one edge value (and the run's name, or a fresh code that identifies it when
    the name is the edge value): refused with nothing created, or created with the value exactly as
    sent, in the answer and read back."""
    value = case.value()
    body = {case.field: value}
    if case.field != NAME_KEY and NAME_KEY in model.CREATABLE_FIELDS:
        body[NAME_KEY] = rooms.name("edge")
    elif UNIQUE and case.field != UNIQUE.array_field:
        body[UNIQUE.array_field] = strategies.fresh_access_codes(1)  # a plain code: finds a room created behind a refusal
    response = create_room(client, body)  # a created room is recorded at once and deleted at the end of the run
    checks.never_5xx(response, CREATE, f"POST with edge value {case.id}")
    if response.status_code >= 400:
        outcome = _refused_post(client, body, response)
    else:
        outcome = UpdateOutcome.APPLIED
        created = checks.room_answer("status.documented_codes", response, CREATE, f"POST with edge value {case.id}")
        sid = created[model.ID_FIELD]
        try:
            sent = tuple(body)
            checks.state_matches(RULE, {**created, **body}, created, response, CREATE, f"POST with {case.id}: the answer",
                                 fields=sent)
            after = checks.current_room(client, sid, RULE, f"POST with {case.id}")
            checks.state_matches(RULE, {**after, **body}, after, response, CREATE, f"POST with {case.id}: read back",
                                 fields=sent)
        finally:
            client.delete_room(sid)
    _verdict(case, value, outcome, response, CREATE, "POST")


GATEWAY_STATUSES = (502, 503, 504)


def create_room(client, body: dict, *, data: bytes | None = None, content_type: str = "application/json"):
    """POST a room (the bytes `data`, default: `body` as JSON with escapes); a created room is recorded.

    A body with the run's room name goes through `client.create_room`, whose gateway recovery finds
    the room by that name. A body whose name is the edge value carries a fresh code instead: after a
    gateway answer (502/503/504, the room may have been created) the room is looked up by that code
    and recorded as ours before anything is sent again, so that no room is created twice or left
    behind unrecorded."""
    name = body.get(NAME_KEY)
    ours = isinstance(name, str) and name.startswith(client.registry.room_name_prefix + " ")
    marker = model.unique_values(body)
    if data is None and (ours or not marker):
        return client.create_room(body)
    data = json.dumps(body).encode() if data is None else data
    for attempt in range(1, client.politeness.error_retries + 2):
        response = client.session.request("POST", client.url("/meeting_rooms"), data=data,
                                          headers={"Content-Type": content_type})
        client.record_if_created(response)
        if response.status_code not in GATEWAY_STATUSES or attempt > client.politeness.error_retries:
            return response
        time.sleep(client.politeness.gateway_backoff * attempt)
        created = [room for room in client.list_all("/meeting_rooms") if marker & model.unique_values(room)]
        if created:  # the POST took effect behind the gateway error: the room read back stands for the answer
            client.registry.record_created(created[0][model.ID_FIELD], client)
            return client.get_room(created[0][model.ID_FIELD])
    return response


def _refused_post(client, body: dict, response) -> UpdateOutcome:
    """A refused POST: a JSON error, a 409 explained by a room holding a code, and no room created."""
    provable = response.status_code == 409 or (response.status_code in (400, 422) and not model.invalid_value_reasons(body))
    holders = checks.conflict_explained(client, None, None, "POST", body, response) if provable else []
    checks.error_body_is_json_object(response, CREATE)
    _nothing_created(client, body, response)
    return UpdateOutcome.CONFLICT if holders else UpdateOutcome.REJECTED


def _nothing_created(client, body: dict, response) -> None:
    """No room of the account carries what identifies this POST (the run's room name, or its fresh code)."""
    name = body.get(NAME_KEY) if isinstance(body.get(NAME_KEY), str) and body[NAME_KEY].startswith(
        client.registry.room_name_prefix + " ") else None
    marker = model.unique_values(body) if name is None and UNIQUE else set()
    if name is None and not marker:
        return
    created = [room for room in client.list_all("/meeting_rooms")
               if (name is not None and room.get(NAME_KEY) == name) or (marker and marker & model.unique_values(room))]
    for room in created:
        client.registry.record_created(room[model.ID_FIELD], client)  # it carries our name or fresh code: ours
    with rule(RULE, CREATE):
        if created:
            raise ContractViolation(RULE, f"POST was refused with {response.status_code}, but the room was created all "
                                    "the same", response=response, observed=created[0])


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_edge_value_by_update(case, method, client, rooms, properties_tracker):
    """PATCH (the one field) or PUT (the one field, the others as they are) of a room of the run:
    refused with nothing changed, or applied with the value exactly as sent (answer and read back)."""
    value = case.value()
    with rooms.fresh(label="edge") as created:
        body = {case.field: value}
        if method == "PUT":
            body = strategies.complete_put(body, created)  # every other modifiable field as it is (plain)
        _, response, outcome = checks.send_update(client, created[model.ID_FIELD], method, body, properties_tracker,
                                                  state_rule=RULE)
        _verdict(case, value, outcome, response, checks.room_path_label(method), method)
