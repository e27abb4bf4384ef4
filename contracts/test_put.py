"""PUT: full replacement, all modifiable fields required, idempotent."""

from __future__ import annotations

from hypothesis import given, reject
from hypothesis import strategies as st

from meeting_room_contract import actions, strategies
from meeting_room_contract import rooms as rooms_module

OP = "PUT /meeting_rooms/{sid}"


def test_a_valid_put_is_accepted_with_or_without_read_only_fields(client, rooms, did_groups, run):
    """A valid PUT is accepted without the read-only fields or, if the target requires them, with
    their current values (the target's choice is reported as `put_read_only_fields`)."""
    rooms_module.probe_put_style(run, client, rooms, did_groups)


@given(data=st.data())
def test_put_sets_every_modifiable_field_and_is_idempotent(data, client, rooms, did_groups, run):
    """A full PUT sets every modifiable field to exactly the body's values; the same PUT again
    is accepted and leaves the same state."""
    initial = data.draw(strategies.initial_rooms(run, did_groups), label="room created with, besides the run's name")
    body = data.draw(strategies.put_bodies(run, did_groups), label="PUT body")
    with rooms.fresh(initial) as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = actions.send_update(run, client, sid, "PUT", body)
        if not actions.valid_update_accepted(run, outcome, "put.full_replacement", "PUT", response):
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)
        after_first, again, outcome = actions.send_update(run, client, sid, "PUT", body)
        if not actions.valid_update_accepted(run, outcome, "put.idempotent", "PUT", again):
            reject()  # proven: since the first PUT, another room took one of its codes (a race on staging)
        after_second = actions.last_read(run, client, sid, "room after the second PUT")  # the read-back of the second PUT
        actions.state_matches(run, "put.idempotent", after_first, after_second, again, OP, "the same PUT twice")


def test_put_without_a_modifiable_field_is_rejected_and_changes_nothing(missing_put_field, client, room, did_groups, run):
    """Every field the spec's PUT body requires must be present: leaving one out is 400/422, no change."""
    missing = missing_put_field  # one per field the run's spec's PUT body requires (contracts/conftest.py)
    sid = room["meeting_room_sid"]
    full = {**strategies.simplest_body(run, did_groups[-1:]), **strategies.sample_values(run)}
    body = {key: value for key, value in full.items() if key != missing}
    _, response, outcome = actions.send_update(run, client, sid, "PUT", body)
    actions.update_refused(run, outcome, "status_missing_put_field", "PUT", response, f"PUT without `{missing}`")
