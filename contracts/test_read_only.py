"""Read-only fields: `account_sid` and `meeting_room_sid` are never changed by PATCH or PUT."""

from __future__ import annotations

from hypothesis import given, reject
from hypothesis import strategies as st

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.rules import UpdateOutcome


def _foreign_values(field: str, other_room: dict, second_room: dict | None) -> list:
    """Realistic values of a read-only field: what other rooms (of this and another account) hold."""
    return [room[field] for room in (other_room, second_room) if room is not None and room.get(field) is not None]


@given(data=st.data())
def test_read_only_values_are_rejected_or_ignored_never_applied(data, client, rooms, did_groups, run,
                                                                 other_room, second_account_room):
    """A body with a different, realistic read-only value (another room's or account's sid, a
    fresh UUID) is rejected (400/403/422) with nothing changed, or accepted with the value
    ignored: the room stays readable under its sid with its account."""
    method = data.draw(st.sampled_from(["PATCH", "PUT"]), label="method")
    fields = data.draw(st.lists(st.sampled_from(run.model.READ_ONLY_FIELDS), min_size=1, unique=True), label="read-only fields")
    smuggled = {}
    for field in fields:
        foreign = _foreign_values(field, other_room, second_account_room)
        realistic = st.builds(client.registry.unknown_sid)  # a fresh UUID the run made up (a room moved there is the run's)
        smuggled[field] = data.draw(st.one_of(st.sampled_from(foreign), realistic) if foreign else realistic, label=field)
    valid = strategies.put_bodies(run, did_groups) if method == "PUT" else strategies.patch_bodies(run, did_groups)
    body = {**data.draw(valid, label="valid part"), **smuggled}
    with rooms.reused(label="readonly") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = actions.send_update(run, client, sid, method, body)
        if outcome is UpdateOutcome.CONFLICT:
            run.recorder.unchecked("read_only.never_applied", room_operation(method), "a proven conflict (another room "
                                   "holds a drawn code): not judged")
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)
        if outcome is UpdateOutcome.REJECTED:  # the rest of the body is plain valid input: the refusal is about read-only values
            operation = room_operation(method)
            actions.rejection_status(run, "status_read_only_value", response, operation, f"{method} with a different read-only value")
            actions.observe(run, "read_only_values", "rejected", operation, response)


def test_current_read_only_values_are_accepted(client, room, run):
    """Sending the room's current read-only values is accepted (PATCH and PUT)."""
    sid = room["meeting_room_sid"]
    current = {field: room[field] for field in run.model.READ_ONLY_FIELDS}
    patch = {**current, **strategies.sample_values(run)}
    put = {**current, **strategies.simplest_body(run, ())}
    for method, body in (("PATCH", patch), ("PUT", put)):
        _, response, outcome = actions.send_update(run, client, sid, method, body)
        actions.valid_update_accepted(run, outcome, "read_only.current_value_accepted", method, response)
