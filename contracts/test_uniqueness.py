"""Access-code uniqueness (D): a code may not repeat in one room, nor in two rooms of one account
and DID group (null included). Refusals must be proven: a 409 no room explains is a violation."""

from __future__ import annotations

import pytest

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, ownership, strategies
from meeting_room_contract.rooms import ProvenConflict
from meeting_room_contract.rules import UpdateOutcome

GROUPS = ["null DID group", "a DID group"]


def _names(run) -> tuple[str, str, str]:
    """The run's spec's `x-unique` array (access codes), its scope field (the DID group) and item field (the code)."""
    unique = run.model.UNIQUE[0]
    return unique.array_field, next(f for f in unique.scope if f in run.model.MODIFIABLE_FIELDS), unique.item_field


def _group(kind: str, did_groups: list[str]) -> str | None:
    if kind == "null DID group":
        return None
    if not did_groups:
        pytest.skip("the account has no DID group to put rooms in")
    return did_groups[0]


def _holder_unchanged(client, holder: dict, response, operation: str, run) -> None:
    after = actions.read_room(run, client, holder["meeting_room_sid"], "the room holding the code")
    actions.state_matches(run, "uniqueness.across_rooms", holder, after, response, operation, "the room holding the code changed")


@pytest.mark.parametrize("group", GROUPS)
def test_creating_a_room_with_a_code_in_use_is_refused(group, client, rooms, did_groups, run):
    """POST of a room whose code another room of the account and DID group holds: refused, no room created."""
    CODES, GROUP, CODE = _names(run)
    did_group = _group(group, did_groups)
    held = strategies.fresh_access_codes(run, 1)
    with rooms.fresh({CODES: held, GROUP: did_group}, label="holder") as holder:
        body = {**strategies.simplest_body(run, [did_group] if did_group else []), GROUP: did_group, CODES: held}
        if "name" in body:  # the run's prefix: a room created behind the refusal is recognisably this POST's
            body["name"] = rooms.name("dup")
        response = client.create_room(body)  # a wrongly created room is recorded and deleted at the end
        with actions.rule(run, "uniqueness.across_rooms", "POST /meeting_rooms"):
            if response.status_code < 300:
                raise actions.violated(run, "uniqueness.across_rooms", f"a second room with code {held[0][CODE]} was "
                                        f"created in the same account and {group}", response=response,
                                        judge=actions.answer_judge("refused"))
        actions.conflict_explained(run, client, None, None, "POST", body, response)
        actions.rejection_status(run, "status_code_in_use", response, "POST /meeting_rooms", f"POST with a code in use ({group})")
        actions.error_body_is_json_object(run, response, "POST /meeting_rooms")
        code = held[0][CODE]
        created = [room for room in client.list_all("/meeting_rooms")  # another room holding the code: created behind the refusal
                   if room.get("meeting_room_sid") != holder["meeting_room_sid"]
                   and any(isinstance(entry, dict) and entry.get(CODE) == code for entry in room.get(CODES) or [])]
        for room in created:  # found by a code, not by its sid: never adopted (the run's sweep deletes it only if
            # it holds a name this run POSTed, i.e. this very POST created it behind its refusal)
            if ownership.carries_a_name_of_the_run(client.registry, room):
                client.registry.record_created(room["meeting_room_sid"], client)  # holds the name this POST sent
            else:
                client.registry.report_foreign(room["meeting_room_sid"], f"holds this test's code {code} (found by it)")
        with actions.rule(run, "uniqueness.across_rooms", "POST /meeting_rooms"):
            if created:
                raise actions.violated(run, "uniqueness.across_rooms", f"POST was refused with {response.status_code}, but the "
                                        "room was created all the same", response=response, observed=created[0],
                                        judge=actions.answer_judge("created_anyway", name=body.get("name"), codes=[code]))
        _holder_unchanged(client, holder, response, "POST /meeting_rooms", run)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("group", GROUPS)
def test_updating_a_room_to_a_code_in_use_is_refused(group, method, client, rooms, did_groups, run):
    """PATCH/PUT giving a room a code another room of the same account and DID group holds: refused
    (400/409/422), both rooms unchanged."""
    CODES, GROUP, CODE = _names(run)
    did_group = _group(group, did_groups)
    held = strategies.fresh_access_codes(run, 1)
    with rooms.fresh({CODES: held, GROUP: did_group}, label="holder") as holder, \
         rooms.fresh({CODES: strategies.fresh_access_codes(run, 1), GROUP: did_group}, label="samecode") as room:
        body = {CODES: held}
        if method == "PUT":
            body = {**strategies.simplest_body(run, [did_group] if did_group else []), **body}
        _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], method, body)
        operation = room_operation(method)
        with actions.rule(run, "uniqueness.across_rooms", operation):
            if outcome is UpdateOutcome.APPLIED:
                raise actions.violated(run, "uniqueness.across_rooms", f"{method} gave the room code {held[0][CODE]}, "
                                        f"which another room of the account and {group} holds", response=response,
                                        judge=actions.answer_judge("refused"))
        actions.rejection_status(run, "status_code_in_use", response, operation, f"{method} with a code in use ({group})")
        _holder_unchanged(client, holder, response, operation, run)


def test_moving_a_room_into_a_group_where_its_code_is_held_is_refused(client, rooms, did_groups, run):
    """PATCH of `did_group_sid` alone that brings a room's code into a group where another room holds it: refused."""
    CODES, GROUP, CODE = _names(run)
    did_group = _group("a DID group", did_groups)
    held = strategies.fresh_access_codes(run, 1)
    with rooms.fresh({CODES: held, GROUP: did_group}, label="holder") as holder:
        try:
            mover = rooms.create({CODES: held, GROUP: None}, label="mover")
        except ProvenConflict:
            # Proven: the target keeps codes unique across DID groups, so no room can hold the code elsewhere.
            actions.observe(run, "codes_across_did_groups", "refused", "POST /meeting_rooms")
            return
        _move_into_group(client, holder, mover, did_group, held[0][CODE], run)


def _move_into_group(client, holder, room, did_group, code, run) -> None:
    CODES, GROUP, CODE = _names(run)
    try:
        _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], "PATCH", {GROUP: did_group})
        operation = room_operation("PATCH")
        with actions.rule(run, "uniqueness.across_rooms", operation):
            if outcome is UpdateOutcome.APPLIED:
                raise actions.violated(run, "uniqueness.across_rooms", "PATCH moved a room into a DID group where another room "
                                        f"holds its code {code}", response=response,
                                        judge=actions.answer_judge("refused"))
        actions.rejection_status(run, "status_code_in_use", response, operation, "PATCH into a group where the code is held")
        _holder_unchanged(client, holder, response, operation, run)
    finally:
        client.delete_room(room["meeting_room_sid"])


def test_rooms_in_different_did_groups_may_share_a_code_or_not(client, rooms, did_groups, run):
    """Whether two DID groups may hold the same code is not documented: either answer passes, and
    the target's choice is reported (`codes_across_did_groups`). Where they may share it, a later
    PATCH of the room's other fields is valid: the code held in the other group explains no refusal."""
    CODES, GROUP, CODE = _names(run)
    other_group = _group("a DID group", did_groups)
    held = strategies.fresh_access_codes(run, 1)
    with rooms.fresh({CODES: held, GROUP: None}, label="holder"), \
         rooms.fresh({CODES: [], GROUP: other_group}, label="othergrp") as room:
        _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], "PATCH", {CODES: held})
        operation = room_operation("PATCH")
        if actions.valid_update_accepted(run, outcome, "patch.partial_update", "PATCH", response):
            actions.observe(run, "codes_across_did_groups", "shared", operation, response)
            others = [f for f in run.model.MODIFIABLE_FIELDS if f not in (CODES, GROUP)]
            body = strategies.simplest_body(run, (), fields=others)  # e.g. a new name: codes and DID group untouched
            _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], "PATCH", body)
            actions.valid_update_accepted(run, outcome, "patch.partial_update", "PATCH", response)
        else:  # refused, and proven by the holder (judge_update reported `codes_across_did_groups: refused`)
            actions.rejection_status(run, "status_code_in_use", response, operation, "PATCH with a code held in another DID group")


# -- uniqueness seen from another account (uniqueness.account_scope) ------------------------------------

SCOPE = "uniqueness.account_scope"
NAME = "name"  # the rooms' recognisable names (rooms.NAME_KEY)


def _refused_for_a_foreign_code(run, client, sid, before, method: str, body: dict, response) -> bool:
    """A refusal of a body whose code only another account's room holds is a violation of the
    account scope; a refusal that a room of this account explains (someone else's room on a shared
    deployment) leaves the case unjudged (returns True). False: not refused."""
    if response.status_code not in (400, 409, 422):
        return False
    operation = room_operation(method) if sid else "POST /meeting_rooms"
    if actions.code_holders(run, client, sid, before, method, body):
        run.recorder.unchecked(SCOPE, operation, "refused, but a room of this account holds the code too; not judged")
        return True
    with actions.rule(run, SCOPE, operation):
        raise actions.violated(run, SCOPE, f"{method} with code(s) {sorted(strategies.codes_of(run, body))}, held only by a room of "
                                f"another account, was refused with {response.status_code}: uniqueness is per account",
                                response=response, judge=actions.answer_judge("accepted", refusals=[400, 409, 422]))


def _reveals_nothing(run, response, foreign: dict, secret_codes: set, operation: str) -> None:
    """Neither the status line nor the body nor a header names the other account's room, its name
    or a code only it holds."""
    texts = [response.text, *response.headers.values()]
    hidden = {"its sid": foreign["meeting_room_sid"], "its name": foreign.get(NAME) or None,
              **{f"its code {code}": code for code in secret_codes}}
    with actions.rule(run, SCOPE, operation):
        leaked = [label for label, value in hidden.items() if value and any(value in text for text in texts)]
        if leaked:
            raise actions.violated(run, SCOPE, f"the answer reveals another account's room: {', '.join(leaked)}",
                                    response=response, judge=actions.answer_judge("reveals", hidden=hidden))


def _foreign_room(run, second_client, rooms, codes: list) -> dict | None:
    """A room of the second account holding `codes` (created directly: a refusal because a room of the
    primary account holds a code is itself a violation of the account scope). None when a room of the
    second account already holds a code (recorded as not checked)."""
    CODES, GROUP, CODE = _names(run)
    body = {NAME: rooms.name("foreign"), CODES: codes, GROUP: None}
    response = second_client.create_room(body)  # recorded at once, deleted at the end of the run
    if _refused_for_a_foreign_code(run, second_client, None, None, "POST", body, response):
        return None
    return actions.room_answer(run, "status.documented_codes", response, "POST /meeting_rooms", "the other account's room")


@pytest.mark.needs_second_account
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_code_held_by_another_account_is_free(method, client, second_client, rooms, run):
    """A code that only a room of another account holds is free for this account: POST, PATCH and PUT
    carrying it are accepted, and the answer names nothing of the other room."""
    CODES, GROUP, CODE = _names(run)
    held = strategies.fresh_access_codes(run, 1)
    with rooms.fresh({CODES: held, GROUP: None}, client=second_client, label="foreign") as foreign:
        if method == "POST":
            body = {NAME: rooms.name("scope"), CODES: held}
            response = client.create_room(body)  # recorded at once, deleted at the end of the run
            actions.never_5xx(run, response, "POST /meeting_rooms", "POST with a code another account holds")
            if _refused_for_a_foreign_code(run, client, None, None, "POST", body, response):
                return
            created = actions.room_answer(run, SCOPE, response, "POST /meeting_rooms", "POST with a code another account holds")
            client.delete_if_ours(created["meeting_room_sid"])
        else:
            with rooms.fresh(label="scope") as room:
                sid = room["meeting_room_sid"]
                before = actions.read_room(run, client, sid, f"room before {method}")
                body = {CODES: held}
                if method == "PUT":
                    body = actions.complete_put_body(run, strategies.complete_put(run, body, before), before)
                response = client.request(method, client.room_path(sid), json_body=body)
                actions.never_5xx(run, response, room_operation(method), f"{method} with a code another account holds")
                if _refused_for_a_foreign_code(run, client, sid, before, method, body, response):
                    return
                outcome = actions.judge_update(run, client, sid, before, method, body, response)
                actions.valid_update_accepted(run, outcome, SCOPE, method, response)
        operation = "POST /meeting_rooms" if method == "POST" else room_operation(method)
        _reveals_nothing(run, response, foreign, set(), operation)


@pytest.mark.needs_second_account
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_refusal_reveals_no_room_of_another_account(method, client, second_client, rooms, run):
    """A code held by a room of this account AND by a room of another account: POST/PATCH/PUT of it is
    refused (the room of this account), and the refusal names nothing of the other account's room
    (its sid, its name, a code only it holds)."""
    CODES, GROUP, CODE = _names(run)
    held, secret = strategies.fresh_access_codes(run, 1), strategies.fresh_access_codes(run, 1)
    with rooms.fresh({CODES: held, GROUP: None}, label="holder"):
        foreign = _foreign_room(run, second_client, rooms, held + secret)
        if foreign is None:
            return  # the second account holds a drawn code itself: not judged (recorded)
        try:
            if method == "POST":
                body = {NAME: rooms.name("scope"), CODES: held}
                response = client.create_room(body)  # a wrongly created room is recorded and deleted at the end
                operation = "POST /meeting_rooms"
                actions.conflict_explained(run, client, None, None, "POST", body, response)
                with actions.rule(run, "uniqueness.across_rooms", operation):
                    if response.status_code < 300:
                        raise actions.violated(run, "uniqueness.across_rooms", "a second room with a code in use was created",
                                                response=response, judge=actions.answer_judge("refused"))
            else:
                with rooms.fresh(label="samecode") as room:
                    body = {CODES: held}
                    if method == "PUT":
                        body = {**strategies.simplest_body(run, ()), **body}
                    _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], method, body)
                    operation = room_operation(method)
                    with actions.rule(run, "uniqueness.across_rooms", operation):
                        if outcome is UpdateOutcome.APPLIED:
                            raise actions.violated(run, "uniqueness.across_rooms", f"{method} gave the room a code in use",
                                                    response=response, judge=actions.answer_judge("refused"))
            _reveals_nothing(run, response, foreign, {entry[CODE] for entry in secret}, operation)
        finally:
            second_client.delete_room(foreign["meeting_room_sid"])
