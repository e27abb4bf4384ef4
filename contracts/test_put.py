"""PUT: full replacement, all modifiable fields required, idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from meeting_room_contract import checks, model, puts, strategies

OP = "PUT /meeting_rooms/{sid}"


def test_a_valid_put_is_accepted_with_or_without_read_only_fields(client, rooms, did_groups):
    """A valid PUT is accepted without the read-only fields or, if the target requires them, with
    their current values (the target's choice is reported as `put_read_only_fields`)."""
    puts.probe_put_style(client, rooms, did_groups)


@given(data=st.data())
def test_put_sets_every_modifiable_field_and_is_idempotent(data, client, rooms, did_groups, properties_tracker):
    """A full PUT sets every modifiable field to exactly the body's values; the same PUT again
    is accepted and leaves the same state."""
    initial = data.draw(strategies.initial_rooms(did_groups), label="room created with")
    body = data.draw(strategies.put_bodies(did_groups), label="PUT body")
    with rooms.fresh(initial) as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = checks.send_update(client, sid, "PUT", body, properties_tracker)
        if not checks.valid_update_accepted(outcome, "put.full_replacement", "PUT", response):
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)
        after_first, again, outcome = checks.send_update(client, sid, "PUT", body, properties_tracker)
        if not checks.valid_update_accepted(outcome, "put.idempotent", "PUT", again):
            reject()  # proven: since the first PUT, another room took one of its codes (a race on staging)
        after_second = checks.current_room(client, sid, "put.idempotent", "room after the second PUT")
        checks.state_matches("put.idempotent", after_first, after_second, again, OP, "the same PUT twice")


@pytest.mark.parametrize("missing", model.PUT_REQUIRED_FIELDS)
def test_put_without_a_modifiable_field_is_rejected_and_changes_nothing(missing, client, room, did_groups,
                                                                         properties_tracker):
    """Every field the spec's PUT body requires must be present: leaving one out is 400/422, no change."""
    sid = room["meeting_room_sid"]
    full = {**strategies.simplest_body(did_groups[-1:]), **strategies.sample_values()}
    body = {key: value for key, value in full.items() if key != missing}
    _, response, outcome = checks.send_update(client, sid, "PUT", body, properties_tracker)
    checks.update_refused(outcome, "status_missing_put_field", "PUT", response, f"PUT without `{missing}`")
