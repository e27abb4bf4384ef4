"""Access-code uniqueness (D): a code may not repeat in one room, nor in two rooms of one account
and DID group (null included). Refusals must be proven: a 409 no room explains is a violation."""

from __future__ import annotations

import pytest

from meeting_room_contract import checks, model, puts, strategies
from meeting_room_contract.checks import ContractViolation, rule
from meeting_room_contract.observations import RECORDER
from meeting_room_contract.rooms import ProvenConflict
from meeting_room_contract.rules import UpdateOutcome

GROUPS = ["null DID group", "a DID group"]
CODES = model.UNIQUE[0].array_field  # the `x-unique` array (access codes) and its scope field (the DID group)
GROUP = next(field for field in model.UNIQUE[0].scope if field in model.MODIFIABLE_FIELDS)
CODE = model.UNIQUE[0].item_field


def _group(kind: str, did_groups: list[str]) -> str | None:
    if kind == "null DID group":
        return None
    if not did_groups:
        pytest.skip("the account has no DID group to put rooms in")
    return did_groups[0]


def _holder_unchanged(client, holder: dict, response, operation: str) -> None:
    after = checks.current_room(client, holder["meeting_room_sid"], "uniqueness.across_rooms", "the room holding the code")
    checks.state_matches("uniqueness.across_rooms", holder, after, response, operation, "the room holding the code changed")


@pytest.mark.parametrize("group", GROUPS)
def test_creating_a_room_with_a_code_in_use_is_refused(group, client, rooms, did_groups):
    """POST of a room whose code another room of the account and DID group holds: refused, no room created."""
    did_group = _group(group, did_groups)
    held = strategies.fresh_access_codes(1)
    with rooms.fresh({CODES: held, GROUP: did_group}, label="holder") as holder:
        body = {**strategies.simplest_body([did_group] if did_group else []), GROUP: did_group, CODES: held}
        response = client.create_room(body)  # a wrongly created room is recorded and deleted at the end
        with rule("uniqueness.across_rooms", "POST /meeting_rooms"):
            if response.status_code < 300:
                raise ContractViolation("uniqueness.across_rooms", f"a second room with code {held[0][CODE]} was "
                                        f"created in the same account and {group}", response=response)
        checks.conflict_explained(client, None, None, "POST", body, response)
        checks.rejection_status("status_code_in_use", response, "POST /meeting_rooms", f"POST with a code in use ({group})")
        checks.error_body_is_json_object(response, "POST /meeting_rooms")
        code = held[0][CODE]
        created = [room for room in client.list_all("/meeting_rooms")  # another room holding the code: created behind the refusal
                   if room.get("meeting_room_sid") != holder["meeting_room_sid"]
                   and any(isinstance(entry, dict) and entry.get(CODE) == code for entry in room.get(CODES) or [])]
        for room in created:
            client.registry.record_created(room["meeting_room_sid"], client)  # deleted at the end of the run
        with rule("uniqueness.across_rooms", "POST /meeting_rooms"):
            if created:
                raise ContractViolation("uniqueness.across_rooms", f"POST was refused with {response.status_code}, but the "
                                        "room was created all the same", response=response, observed=created[0])
        _holder_unchanged(client, holder, response, "POST /meeting_rooms")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("group", GROUPS)
def test_updating_a_room_to_a_code_in_use_is_refused(group, method, client, rooms, did_groups, properties_tracker):
    """PATCH/PUT giving a room a code another room of the same account and DID group holds: refused
    (400/409/422), both rooms unchanged."""
    did_group = _group(group, did_groups)
    held = strategies.fresh_access_codes(1)
    with rooms.fresh({CODES: held, GROUP: did_group}, label="holder") as holder, \
         rooms.fresh({CODES: strategies.fresh_access_codes(1), GROUP: did_group}, label="samecode") as room:
        body = {CODES: held}
        if method == "PUT":
            body = {**strategies.simplest_body([did_group] if did_group else []), **body}
        _, response, outcome = checks.send_update(client, room["meeting_room_sid"], method, body, properties_tracker)
        operation = checks.room_path_label(method)
        with rule("uniqueness.across_rooms", operation):
            if outcome is UpdateOutcome.APPLIED:
                raise ContractViolation("uniqueness.across_rooms", f"{method} gave the room code {held[0][CODE]}, "
                                        f"which another room of the account and {group} holds", response=response)
        checks.rejection_status("status_code_in_use", response, operation, f"{method} with a code in use ({group})")
        _holder_unchanged(client, holder, response, operation)


def test_moving_a_room_into_a_group_where_its_code_is_held_is_refused(client, rooms, did_groups, properties_tracker):
    """PATCH of `did_group_sid` alone that brings a room's code into a group where another room holds it: refused."""
    did_group = _group("a DID group", did_groups)
    held = strategies.fresh_access_codes(1)
    with rooms.fresh({CODES: held, GROUP: did_group}, label="holder") as holder:
        try:
            mover = rooms.create({CODES: held, GROUP: None}, label="mover")
        except ProvenConflict:
            # Proven: the target keeps codes unique across DID groups, so no room can hold the code elsewhere.
            checks.observe("codes_across_did_groups", "refused", "POST /meeting_rooms")
            return
        _move_into_group(client, holder, mover, did_group, held[0][CODE], properties_tracker)


def _move_into_group(client, holder, room, did_group, code, properties_tracker) -> None:
    try:
        _, response, outcome = checks.send_update(client, room["meeting_room_sid"], "PATCH", {GROUP: did_group},
                                                  properties_tracker)
        operation = checks.room_path_label("PATCH")
        with rule("uniqueness.across_rooms", operation):
            if outcome is UpdateOutcome.APPLIED:
                raise ContractViolation("uniqueness.across_rooms", "PATCH moved a room into a DID group where another room "
                                        f"holds its code {code}", response=response)
        checks.rejection_status("status_code_in_use", response, operation, "PATCH into a group where the code is held")
        _holder_unchanged(client, holder, response, operation)
    finally:
        client.delete_room(room["meeting_room_sid"])


def test_rooms_in_different_did_groups_may_share_a_code_or_not(client, rooms, did_groups, properties_tracker):
    """Whether two DID groups may hold the same code is not documented: either answer passes, and
    the target's choice is reported (`codes_across_did_groups`). Where they may share it, a later
    PATCH of the room's other fields is valid: the code held in the other group explains no refusal."""
    other_group = _group("a DID group", did_groups)
    held = strategies.fresh_access_codes(1)
    with rooms.fresh({CODES: held, GROUP: None}, label="holder"), \
         rooms.fresh({CODES: [], GROUP: other_group}, label="othergrp") as room:
        _, response, outcome = checks.send_update(client, room["meeting_room_sid"], "PATCH", {CODES: held},
                                                  properties_tracker)
        operation = checks.room_path_label("PATCH")
        if checks.valid_update_accepted(outcome, "patch.partial_update", "PATCH", response):
            checks.observe("codes_across_did_groups", "shared", operation, response)
            others = [f for f in model.MODIFIABLE_FIELDS if f not in (CODES, GROUP)]
            body = strategies.simplest_body((), fields=others)  # e.g. a new name: codes and DID group untouched
            _, response, outcome = checks.send_update(client, room["meeting_room_sid"], "PATCH", body, properties_tracker)
            checks.valid_update_accepted(outcome, "patch.partial_update", "PATCH", response)
        else:  # refused, and proven by the holder (judge_update reported `codes_across_did_groups: refused`)
            checks.rejection_status("status_code_in_use", response, operation, "PATCH with a code held in another DID group")


# -- uniqueness seen from another account (uniqueness.account_scope) ------------------------------------

SCOPE = "uniqueness.account_scope"
NAME = "name"  # the rooms' recognisable names (rooms.NAME_KEY)


def _refused_for_a_foreign_code(client, sid, before, method: str, body: dict, response) -> bool:
    """A refusal of a body whose code only another account's room holds is a violation of the
    account scope; a refusal that a room of this account explains (someone else's room on a shared
    deployment) leaves the case unjudged (returns True). False: not refused."""
    if response.status_code not in (400, 409, 422):
        return False
    candidate = checks.candidate_state(before, method, body)
    operation = checks.room_path_label(method) if sid else "POST /meeting_rooms"
    if checks.conflicting_rooms(client, candidate, sid):
        RECORDER.unchecked(SCOPE, operation, "refused, but a room of this account holds the code too; not judged")
        return True
    with rule(SCOPE, operation):
        raise ContractViolation(SCOPE, f"{method} with code(s) {sorted(strategies.codes_of(body))}, held only by a room of "
                                f"another account, was refused with {response.status_code}: uniqueness is per account",
                                response=response)


def _reveals_nothing(response, foreign: dict, secret_codes: set, operation: str) -> None:
    """Neither the status line nor the body nor a header names the other account's room, its name
    or a code only it holds."""
    texts = [response.text, *response.headers.values()]
    hidden = {"its sid": foreign["meeting_room_sid"], "its name": foreign.get(NAME) or None,
              **{f"its code {code}": code for code in secret_codes}}
    with rule(SCOPE, operation):
        leaked = [label for label, value in hidden.items() if value and any(value in text for text in texts)]
        if leaked:
            raise ContractViolation(SCOPE, f"the answer reveals another account's room: {', '.join(leaked)}",
                                    response=response)


def _foreign_room(second_client, rooms, codes: list) -> dict | None:
    """A room of the second account holding `codes` (created directly: a refusal because a room of the
    primary account holds a code is itself a violation of the account scope). None when a room of the
    second account already holds a code (recorded as not checked)."""
    body = {NAME: rooms.name("foreign"), CODES: codes, GROUP: None}
    response = second_client.create_room(body)  # recorded at once, deleted at the end of the run
    if _refused_for_a_foreign_code(second_client, None, None, "POST", body, response):
        return None
    return checks.room_answer("status.documented_codes", response, "POST /meeting_rooms", "the other account's room")


@pytest.mark.needs_second_account
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_code_held_by_another_account_is_free(method, client, second_client, rooms, properties_tracker):
    """A code that only a room of another account holds is free for this account: POST, PATCH and PUT
    carrying it are accepted, and the answer names nothing of the other room."""
    held = strategies.fresh_access_codes(1)
    with rooms.fresh({CODES: held, GROUP: None}, client=second_client, label="foreign") as foreign:
        if method == "POST":
            body = {NAME: rooms.name("scope"), CODES: held}
            response = client.create_room(body)  # recorded at once, deleted at the end of the run
            checks.never_5xx(response, "POST /meeting_rooms", "POST with a code another account holds")
            if _refused_for_a_foreign_code(client, None, None, "POST", body, response):
                return
            created = checks.room_answer(SCOPE, response, "POST /meeting_rooms", "POST with a code another account holds")
            client.delete_room(created["meeting_room_sid"])
        else:
            with rooms.fresh(label="scope") as room:
                sid = room["meeting_room_sid"]
                before = checks.current_room(client, sid, "status.documented_codes", f"room before {method}")
                body = {CODES: held}
                if method == "PUT":
                    body = puts.CURRENT.complete(strategies.complete_put(body, before), before)
                response = client.request(method, client.room_path(sid), json_body=body)
                checks.never_5xx(response, checks.room_path_label(method), f"{method} with a code another account holds")
                if _refused_for_a_foreign_code(client, sid, before, method, body, response):
                    return
                outcome = checks.judge_update(client, sid, before, method, body, response, properties_tracker)
                checks.valid_update_accepted(outcome, SCOPE, method, response)
        operation = "POST /meeting_rooms" if method == "POST" else checks.room_path_label(method)
        _reveals_nothing(response, foreign, set(), operation)


@pytest.mark.needs_second_account
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_refusal_reveals_no_room_of_another_account(method, client, second_client, rooms, properties_tracker):
    """A code held by a room of this account AND by a room of another account: POST/PATCH/PUT of it is
    refused (the room of this account), and the refusal names nothing of the other account's room
    (its sid, its name, a code only it holds)."""
    held, secret = strategies.fresh_access_codes(1), strategies.fresh_access_codes(1)
    with rooms.fresh({CODES: held, GROUP: None}, label="holder"):
        foreign = _foreign_room(second_client, rooms, held + secret)
        if foreign is None:
            return  # the second account holds a drawn code itself: not judged (recorded)
        try:
            if method == "POST":
                body = {NAME: rooms.name("scope"), CODES: held}
                response = client.create_room(body)  # a wrongly created room is recorded and deleted at the end
                operation = "POST /meeting_rooms"
                checks.conflict_explained(client, None, None, "POST", body, response)
                with rule("uniqueness.across_rooms", operation):
                    if response.status_code < 300:
                        raise ContractViolation("uniqueness.across_rooms", "a second room with a code in use was created",
                                                response=response)
            else:
                with rooms.fresh(label="samecode") as room:
                    body = {CODES: held}
                    if method == "PUT":
                        body = {**strategies.simplest_body(()), **body}
                    _, response, outcome = checks.send_update(client, room["meeting_room_sid"], method, body,
                                                              properties_tracker)
                    operation = checks.room_path_label(method)
                    with rule("uniqueness.across_rooms", operation):
                        if outcome is UpdateOutcome.APPLIED:
                            raise ContractViolation("uniqueness.across_rooms", f"{method} gave the room a code in use",
                                                    response=response)
            _reveals_nothing(response, foreign, {entry[CODE] for entry in secret}, operation)
        finally:
            second_client.delete_room(foreign["meeting_room_sid"])
