"""One edge value at a time: each value of the edge corpus on its own, every other field plain.

The corpus (`strategies.edge_corpus`: a pinned sample of the Big List of Naughty Strings plus hand
cases for the classes it lacks, lengths, sizes, numbers written as strings, access-code arrays) is
explicit: the same cases run in every gate, whatever hypothesis draws elsewhere. Each case is sent
by POST (a new room), PATCH and PUT (a room of the run). A plain value must be accepted; an edge
value may be refused (400/422: behaviours `edge_values`, `edge_access_codes`, pinnable), but an
accepted one comes back exactly as sent, in the answer and wherever the room is read back.
"""

from __future__ import annotations

import pytest

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, ownership, strategies
from meeting_room_contract.actions import NAME_KEY
from meeting_room_contract.rules import UpdateOutcome

RULE = "round_trip.exact_values"
CREATE = "POST /meeting_rooms"


def _verdict(run, case: strategies.EdgeCase, value, outcome: UpdateOutcome, response, operation: str, method: str) -> None:
    """A plain value must have been applied; an edge value's refusal is observed (and must use an
    allowed status); a proven conflict (another room holds a code) leaves the case unjudged."""
    if outcome is UpdateOutcome.CONFLICT:
        run.recorder.unchecked(RULE, operation, f"{case.id}: refused, proven by another room holding a code; not judged")
        return
    if strategies.is_plain_field_value(run, case.field, value):
        actions.valid_update_accepted(run, outcome, RULE, method, response)
        return
    verdict = "accepted" if outcome is UpdateOutcome.APPLIED else "refused"
    if outcome is UpdateOutcome.REJECTED:
        actions.rejection_status(run, "status_invalid_value", response, operation, f"{method} with edge value {case.id}")
    behaviour = "edge_access_codes" if run.model.UNIQUE and case.field == run.model.UNIQUE[0].array_field else "edge_values"
    actions.observe(run, behaviour, verdict, operation, response)


def test_edge_value_by_post(edge_case, client, rooms, run):
    """POST of a room with one edge value (and the run's name, or a fresh code that identifies it when
    the name is the edge value): refused with nothing created, or created with the value exactly as
    sent, in the answer and read back."""
    case = edge_case
    value = case.value()
    body = {case.field: value}
    if case.field != NAME_KEY and NAME_KEY in run.model.CREATABLE_FIELDS:
        body[NAME_KEY] = rooms.name("edge")
    elif run.model.UNIQUE and case.field != run.model.UNIQUE[0].array_field:
        body[run.model.UNIQUE[0].array_field] = strategies.fresh_access_codes(run, 1)  # a plain code: finds a room created behind a refusal
    response = client.create_room(body)  # a created room is recorded at once and deleted at the end of the run
    actions.never_5xx(run, response, CREATE, f"POST with edge value {case.id}")
    if response.status_code >= 400:
        outcome = _refused_post(run, client, body, response)
    else:
        outcome = UpdateOutcome.APPLIED
        created = actions.room_answer(run, "status.documented_codes", response, CREATE, f"POST with edge value {case.id}")
        sid = created[run.model.ID_FIELD]
        try:
            sent = tuple(body)
            actions.state_matches(run, RULE, {**created, **body}, created, response, CREATE, f"POST with {case.id}: the answer",
                                 fields=sent)
            after = actions.read_room(run, client, sid, f"POST with {case.id}")
            actions.state_matches(run, RULE, {**after, **body}, after, response, CREATE, f"POST with {case.id}: read back",
                                 fields=sent)
        finally:
            if client.registry.owns(sid):
                client.delete_if_ours(sid)
            else:  # the answer names a room the account held before: the room this POST created is found by its marker
                _rooms_of_this_post(run, client, body)
    _verdict(run, case, value, outcome, response, CREATE, "POST")


def _refused_post(run, client, body: dict, response) -> UpdateOutcome:
    """A refused POST: a JSON error, a 409 explained by a room holding a code, and no room created."""
    provable = response.status_code == 409 or (response.status_code in (400, 422) and not run.model.invalid_value_reasons(body))
    holders = actions.conflict_explained(run, client, None, None, "POST", body, response) if provable else []
    actions.error_body_is_json_object(run, response, CREATE)
    _nothing_created(run, client, body, response)
    return UpdateOutcome.CONFLICT if holders else UpdateOutcome.REJECTED


def _identity(run, client, body: dict) -> tuple[str | None, set]:
    """What identifies the room of this POST: the run's room name it carries, else its fresh code."""
    name = body.get(NAME_KEY) if isinstance(body.get(NAME_KEY), str) and body[NAME_KEY].startswith(
        client.registry.room_name_prefix + " ") else None
    return name, run.model.unique_values(body) if name is None and run.model.UNIQUE else set()


def _rooms_of_this_post(run, client, body: dict) -> list[dict]:
    """The rooms of the account carrying what identifies this POST (the run's room name, or its fresh
    code): one holding our name is the run's (`ownership`: deleted at the end of the run); one found by
    a code only is never adopted, it is reported for a human."""
    name, marker = _identity(run, client, body)
    if name is None and not marker:
        return []
    created = [room for room in client.list_all("/meeting_rooms")
               if (name is not None and room.get(NAME_KEY) == name) or (marker and marker & run.model.unique_values(room))]
    for room in created:
        if ownership.carries_a_name_of_the_run(client.registry, room):
            client.registry.record_created(room[run.model.ID_FIELD], client)  # holds the name this POST sent: ours
        elif not client.registry.owns(room[run.model.ID_FIELD]):
            client.registry.report_foreign(room[run.model.ID_FIELD], "holds this POST's fresh code (found by it; a code is "
                                           "no proof of who created a room)")
    return created


def _nothing_created(run, client, body: dict, response) -> None:
    """No room of the account carries what identifies this POST (the run's room name, or its fresh code)."""
    created = _rooms_of_this_post(run, client, body)
    name, marker = _identity(run, client, body)
    with actions.rule(run, RULE, CREATE):
        if created:
            raise actions.violated(run, RULE, f"POST was refused with {response.status_code}, but the room was created all "
                                    "the same", response=response, observed=created[0],
                                    judge=actions.answer_judge("created_anyway", name=name, codes=sorted(marker, key=repr)))


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_edge_value_by_update(edge_case, method, client, rooms, run):
    """PATCH (the one field) or PUT (the one field, the others as they are) of a room of the run:
    refused with nothing changed, or applied with the value exactly as sent (answer and read back)."""
    case = edge_case
    value = case.value()
    with rooms.reused(label="edge", free=(case.field,)) as created:  # one room per method, the other fields as created
        body = {case.field: value}
        if method == "PUT":
            body = strategies.complete_put(run, body, created)  # every other modifiable field as it is (plain)
        _, response, outcome = actions.send_update(run, client, created[run.model.ID_FIELD], method, body,
                                                  state_rule=RULE)
        _verdict(run, case, value, outcome, response, room_operation(method), method)
