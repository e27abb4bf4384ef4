"""Round trip: whatever the server accepts comes back exactly as sent."""

from __future__ import annotations

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.rules import UpdateOutcome


# The docs-era troublemakers, bundled (extra cases: one edge value at a time is test_edge_values.py's).
# Their access codes are forms: each is sent as a fresh code of that form (`strategies.with_fresh_codes`).
BUNDLED_EDGE_BODIES = [
    ("PATCH", {"name": "  padded name  ", "properties": {"conference_start_wait": "360"}, "access_codes": []}),
    ("PUT", {"name": "  padded by PUT\t", "properties": {"conference_start_wait": "007"}, "access_codes": []}),
    ("PATCH", {"name": "Zoë's 会議室 🎉 ☎", "properties": {"conference_mute_policy": "hplx", "conference_start_wait": ""},
               "access_codes": [{"access_code": "0071", "role": "host"}, {"access_code": "*6#1", "role": "listener"}]}),
    ("PUT", {"name": "x" * 120 + " long", "properties": {"conference_stop_wait": "٣٦٠", "call_mute_dtmf_binding": "-1"},
             "access_codes": [{"access_code": "0000123456789", "role": "participant"}]}),
]


@pytest.mark.parametrize(("method", "body"), BUNDLED_EDGE_BODIES)
def test_bundled_edge_values_come_back_exactly(method, body, client, rooms, run):
    """The docs-era troublemakers together in one body: refused, or stored and returned exactly."""
    _round_trip(run, client, rooms, method, strategies.with_fresh_codes(run, body))


@given(data=st.data())
def test_accepted_values_come_back_exactly(data, client, rooms, run):
    """Unicode, surrounding whitespace, long strings, undocumented property value forms and codes of
    other lengths or with `*`/`#` (every modifiable field with strings, drawn from the spec's
    schemas), by PATCH and by PUT: refused with 400/422 and nothing changed, or stored and returned
    exactly (answer, GET and the account's list; access codes compared as a set)."""
    method = data.draw(st.sampled_from(["PATCH", "PUT"]), label="method")
    body = data.draw(strategies.edge_field_values(run, ()), label="body")
    _round_trip(run, client, rooms, method, body)


def _round_trip(run, client, rooms, method, body) -> None:
    operation = room_operation(method)
    with rooms.reused(label="trip") as created:
        sid = created["meeting_room_sid"]
        if method == "PUT":
            body = strategies.complete_put(run, body, created)  # the other modifiable fields as they are
        _, response, outcome = actions.send_update(run, client, sid, method, body, state_rule="round_trip.exact_values")
        if outcome is UpdateOutcome.CONFLICT:  # proven: another room of the account holds a code (conflict_explained)
            actions.proven_conflict(run, "round_trip.exact_values", operation, method)
            return
        if outcome is UpdateOutcome.REJECTED:
            actions.rejection_status(run, "status_invalid_value", response, operation, f"{method} with unusual but valid values")
        verdict = "accepted" if outcome is UpdateOutcome.APPLIED else "refused"
        if any(not strategies.is_plain_code(run, code) for code in strategies.codes_of(run, body)):
            actions.observe(run, "edge_access_codes", verdict, operation, response)
        actions.observe(run, "edge_values", verdict, operation, response)


@given(data=st.data())
def test_plain_values_are_accepted_and_come_back_exactly(data, client, rooms, did_groups, run):
    """Ordinary names, documented property value forms and 6-digit codes are accepted and round-trip."""
    body = data.draw(strategies.put_bodies(run, did_groups), label="PUT body")
    with rooms.reused(label="plain") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = actions.send_update(run, client, sid, "PUT", body,
                                                  state_rule="round_trip.exact_values")
        if not actions.valid_update_accepted(run, outcome, "round_trip.exact_values", "PUT", response):
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)
