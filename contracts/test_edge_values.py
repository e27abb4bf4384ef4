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

from meeting_room_contract import actions, strategies
from meeting_room_contract.actions import NAME_KEY

RULE = "round_trip.exact_values"


def test_edge_value_by_post(edge_case, client, rooms, run):
    """POST of a room with one edge value (and the run's name, or a fresh code that identifies it when
    the name is the edge value): refused with nothing created, or created with the value exactly as
    sent, in the answer, read back by GET and in the account's list."""
    case = edge_case
    value = case.value()
    body = {case.field: value}
    if case.field != NAME_KEY and NAME_KEY in run.model.CREATABLE_FIELDS:
        body[NAME_KEY] = rooms.name("edge")
    elif run.model.UNIQUE and case.field != run.model.UNIQUE[0].array_field:
        body[run.model.UNIQUE[0].array_field] = strategies.fresh_access_codes(run, 1)  # a plain code: finds a room created behind a refusal
    outcome, response = actions.create_with(run, client, body, f"POST with edge value {case.id}", RULE)
    actions.one_value_verdict(run, case.field, value, case.id, outcome, response, "POST", RULE)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_edge_value_by_update(edge_case, method, client, rooms, run):
    """PATCH (the one field) or PUT (the one field, the others as they are) of a room of the run:
    refused with nothing changed, or applied with the value exactly as sent (answer and read back).

    The room starts in the state it was created in, the field under test included (`reused` puts
    back and reads again what an earlier case changed): what a case sees never depends on the cases
    before it (an empty array sent to a room an earlier case left empty would prove nothing)."""
    case = edge_case
    value = case.value()
    with rooms.reused(label="edge") as created:  # one room per method, every field as created (read back)
        body = {case.field: value}
        if method == "PUT":
            body = strategies.complete_put(run, body, created)  # every other modifiable field as it is (plain)
        _, response, outcome = actions.send_update(run, client, created[run.model.ID_FIELD], method, body,
                                                  state_rule=RULE)
        actions.one_value_verdict(run, case.field, value, case.id, outcome, response, method, RULE)
