"""Isolation: another account cannot see or change a room; an update touches one room only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.rules import UpdateOutcome



def _full_body(run) -> dict:
    """A full, valid PATCH/PUT body, built in the test: its fresh codes avoid the codes in use on the target."""
    return {**strategies.simplest_body(run, ()), **strategies.sample_values(run)}


@pytest.mark.needs_second_account
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_other_account_cannot_read_or_change_a_room(method, client, second_client, room, run):
    """Another account's GET/PATCH/PUT/DELETE of the room: 404 (or 403), and the room is unchanged."""
    sid = room["meeting_room_sid"]
    before = actions.read_room(run, client, sid, "room before the foreign call")
    body = _full_body(run) if method in ("PATCH", "PUT") else None
    if method == "PUT":  # valid but for whose room it is: the path's sid and the sending login's account
        body = actions.complete_put_for(run, body, sid, second_client)
    response = second_client.request(method, second_client.room_path(sid), json_body=body)
    operation = room_operation(method)
    actions.rejection_status(run, "foreign_room_status", response, operation, f"{method} by another account")
    after = actions.read_room(run, client, sid, f"{method} by another account")
    actions.state_matches(run, "isolation.accounts", before, after, response, operation, f"{method} by another account changed the room")


@pytest.mark.needs_second_account
def test_other_account_does_not_list_the_room(client, second_client, room, run):
    """The room is not in another account's room list."""
    listed = {item.get("meeting_room_sid") for item in second_client.list_all("/meeting_rooms")}
    with actions.rule(run, "isolation.accounts", "GET /meeting_rooms"):
        if room["meeting_room_sid"] in listed:
            raise actions.violated(run, "isolation.accounts", "another account's list shows the room")


@pytest.mark.needs_second_account
def test_other_accounts_did_group_is_rejected(client, second_client, room, run):
    """A DID group of another account is not a valid `did_group_sid`: refused, nothing changed."""
    foreign_groups = second_client.did_group_sids()
    if not foreign_groups:
        pytest.skip("the second account has no DID groups")
    sid = room["meeting_room_sid"]
    body = {reference.field: foreign_groups[0] for reference in run.model.REFERENCES}
    before = actions.read_room(run, client, sid, "room before the PATCH")
    response = client.patch_room(sid, body)
    operation = room_operation("PATCH")
    with actions.rule(run, "isolation.accounts", operation):
        if response.status_code < 300:
            raise actions.violated(run, "isolation.accounts", "PATCH with another account's DID group was accepted",
                                    response=response, judge=actions.answer_judge("refused"))
    allowed = frozenset({400, 403, 404, 422})  # an unknown DID group (400/404/422) or a forbidden one (403)
    actions.status_is(run, "isolation.accounts", response, allowed, operation, "PATCH with another account's DID group")
    actions.judge_update(run, client, sid, before, "PATCH", body, response)  # JSON error, nothing changed


@given(data=st.data())
def test_update_of_one_room_changes_no_other_room(data, client, rooms, did_groups, run):
    """A PATCH or PUT of one room leaves another room of the account exactly as it was."""
    neighbour_body = data.draw(st.one_of(st.just({}), strategies.initial_rooms(run, did_groups)),
                               label="neighbour created with, besides the run's name")
    target_body = data.draw(st.one_of(st.just({}), strategies.initial_rooms(run, 
        did_groups, exclude_codes=strategies.codes_of(run, neighbour_body))), label="room created with, besides the run's name")
    method = data.draw(st.sampled_from(["PATCH", "PUT"]), label="method")
    taken = strategies.codes_of(run, neighbour_body) | strategies.codes_of(run, target_body)
    body = data.draw(strategies.patch_bodies(run, did_groups, exclude_codes=taken) if method == "PATCH"
                     else strategies.put_bodies(run, did_groups, exclude_codes=taken), label=f"{method} body")
    _update_leaves_neighbour_alone(client, rooms, run, neighbour_body, target_body, method, body)


def test_update_of_minimal_room_changes_no_other_minimal_room(client, rooms, run):
    """The same for two rooms created from the documented minimal body `{}` (defaults must not be shared)."""
    body = strategies.sample_values(run)
    _update_leaves_neighbour_alone(client, rooms, run, {}, {}, "PATCH", body)


def _update_leaves_neighbour_alone(client, rooms, run, neighbour_body, target_body, method, body) -> None:
    with rooms.fresh(neighbour_body, label="neighbor") as neighbour, rooms.fresh(target_body, label="updated") as updated:
        neighbour_sid, sid = neighbour["meeting_room_sid"], updated["meeting_room_sid"]
        neighbour_before = actions.read_room(run, client, neighbour_sid, "neighbour before")
        _, response, outcome = actions.send_update(run, client, sid, method, body)
        if outcome is UpdateOutcome.CONFLICT:  # proven: another room of the account holds a drawn code
            actions.proven_conflict(run, "isolation.rooms", room_operation(method), method)
            return
        neighbour_after = actions.read_room(run, client, neighbour_sid, "neighbour after")
        actions.state_matches(run, "isolation.rooms", neighbour_before, neighbour_after, response, room_operation(method),
                             f"{method} of room {sid} changed another room")
