"""PATCH: partial update, verified by reading the room back."""

from __future__ import annotations

from hypothesis import given, reject
from hypothesis import strategies as st

from meeting_room_contract import actions, strategies

OP = "PATCH /meeting_rooms/{sid}"


@given(data=st.data())
def test_patch_changes_exactly_the_sent_fields(data, client, rooms, did_groups, run):
    """For any subset of the modifiable fields with valid values, the answer and a GET show those
    fields set as sent and every other field unchanged ({} changes nothing)."""
    initial = data.draw(strategies.initial_rooms(run, did_groups), label="room created with, besides the run's name")
    body = data.draw(strategies.patch_bodies(run, did_groups), label="PATCH body")
    with rooms.fresh(initial) as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = actions.send_update(run, client, sid, "PATCH", body)
        rule_id = "patch.empty_body" if body == {} else "patch.partial_update"
        if not actions.valid_update_accepted(run, outcome, rule_id, "PATCH", response):
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)


def test_empty_patch_is_accepted_and_changes_nothing(client, room, run):
    """`{}` is a valid PATCH body: 200 with the room unchanged."""
    sid = room["meeting_room_sid"]
    _, response, outcome = actions.send_update(run, client, sid, "PATCH", {})
    actions.valid_update_accepted(run, outcome, "patch.empty_body", "PATCH", response)


def test_properties_patch_is_merge_or_replace_throughout(client, rooms, run):
    """PATCH of `properties` either merges key by key or replaces the object, one rule all run.

    Probes with one, two and three sent keys, each on a room holding other keys, so that
    merge and replace predict different states every time.
    """
    held = {"conference_stop_wait": "30", "call_mute_dtmf_binding": "*6", "conference_start_wait": "360"}
    sends = [{"conference_mute_policy": "hpl"},
             {"conference_mute_policy": "hp", "conference_hold_dtmf_binding": "*7"},
             {"conference_mute_policy": "p", "conference_hold_dtmf_binding": "*8", "conference_lock_dtmf_binding": "*9"},
             {"conference_stop_wait": "45"}]
    for sent in sends:
        with rooms.fresh({"properties": held}, label="props") as created:
            sid = created["meeting_room_sid"]
            _, response, outcome = actions.send_update(run, client, sid, "PATCH", {"properties": sent})
            actions.valid_update_accepted(run, outcome, "patch.properties_merge_or_replace", "PATCH", response)
    with actions.rule(run, "patch.properties_merge_or_replace", OP):
        if run.properties_settled is None:
            raise actions.violated(run, "patch.properties_merge_or_replace", "no probe told merge from replace")
    print(f"observed: PATCH {run.properties_settled.value}s nested `properties`")


def test_patch_sends_only_what_it_names(client, rooms, did_groups, run):
    """A PATCH of one field on a room with every field set leaves the others exactly as they were."""
    for field, value in strategies.simplest_body(run, ()).items():
        full = {**strategies.simplest_body(run, did_groups[:1]), **strategies.sample_values(run, did_groups, fresh_codes=2)}
        with rooms.fresh(full, label="onefield") as created:
            sid = created["meeting_room_sid"]
            _, response, outcome = actions.send_update(run, client, sid, "PATCH", {field: value})
            actions.valid_update_accepted(run, outcome, "patch.partial_update", "PATCH", response)
