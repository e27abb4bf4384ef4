"""Response conformance of every operation, with schemathesis generating the requests.

PATCH/PUT get the most cases (coverage phase plus fuzzing), each aimed at a room the suite
created and judged twice: by schemathesis's built-in checks (status codes, content type,
headers, response schema, negative data rejected, never 5xx) and by the contract model
(`actions.judge_update`: accepted updates do exactly what the contract says, rejected ones
change nothing). schemathesis's failures are reported under our rule ids (`validate_by_rule`).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import settings

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions
from meeting_room_contract.client import ConferenceClient
from meeting_room_contract.generation import (LIST_EXTRA_EXCLUDED, REPLACED_CHECKS, UPDATE_EXTRA_EXCLUDED, UPDATE_METHODS,
                                               load_schema, pin_room, send, validate_by_rule)
from meeting_room_contract.rooms import RoomFactory

schema = schemathesis.pytest.from_fixture("contract_schema")
# No xdist group: each test below is one item, so workers take them apart (the long poles of a remote
# run). A 409 their boundary codes cause on another worker's room is proven by `worker_codes`.
OTHER_OPERATION_EXAMPLES = max(5, settings.default.max_examples // 3)


@pytest.fixture(scope="session")
def contract_schema(run):
    """The run's spec, pointed at the run's target (schemathesis generates the cases from it)."""
    return load_schema(run)


@pytest.fixture(scope="module")
def shape_room(rooms: RoomFactory) -> Iterator[dict[str, Any]]:
    """The room every generated PATCH/PUT/GET of this module is aimed at."""
    with rooms.fresh(label="shape") as room:
        yield room


@schema.include(method="PATCH").parametrize()
def test_patch_answers_conform_to_spec_and_model(case, client: ConferenceClient, shape_room, run) -> None:
    """PATCH answers match the spec, and the room afterwards is what the contract predicts."""
    _judge_update_case(run, case, client, shape_room)


@schema.include(method="PUT").parametrize()
def test_put_answers_conform_to_spec_and_model(case, client: ConferenceClient, shape_room, run) -> None:
    """PUT answers match the spec, and the room afterwards is what the contract predicts."""
    _judge_update_case(run, case, client, shape_room)


def _judge_update_case(run, case, client: ConferenceClient, shape_room) -> None:
    """One generated PATCH/PUT: schemathesis's checks on the answer, the contract model's on the room."""
    sid = pin_room(case, shape_room["meeting_room_sid"], client)
    is_update = case.method.upper() in UPDATE_METHODS
    # the room before: the read-back of the previous case when nothing went to the room since, else a GET
    before = (client.registry.last_read(sid, client) or client.get_room(sid).json()) if sid and is_update else None
    response = send(run, case, client)
    excluded = REPLACED_CHECKS + (UPDATE_EXTRA_EXCLUDED if before is not None else [])
    validate_by_rule(run, case, response, room_operation(case.method), excluded_checks=excluded)
    if before is not None:
        actions.judge_update(run, client, sid, before, case.method, case.body if _has_body(case) else None, response)


@schema.include(method="GET").parametrize()
@settings(max_examples=OTHER_OPERATION_EXAMPLES)
def test_read_answers_conform_to_spec(case, client: ConferenceClient, shape_room, rooms: RoomFactory, run) -> None:
    """List, get and DID-group answers match the spec."""
    _check_other_case(run, case, client, shape_room, rooms)


# Its own test (not a subtest of the one above): under xdist the two run apart, each shorter than the
# PATCH and PUT tests (at 80 ms per answer one test of every operation was the run's longest)
@schema.exclude(method=[*UPDATE_METHODS, "GET"]).parametrize()
@settings(max_examples=OTHER_OPERATION_EXAMPLES)
def test_other_answers_conform_to_spec(case, client: ConferenceClient, shape_room, rooms: RoomFactory, run) -> None:
    """Create, delete and every other operation's answers match the spec."""
    _check_other_case(run, case, client, shape_room, rooms)


def _check_other_case(run, case, client: ConferenceClient, shape_room, rooms: RoomFactory) -> None:
    """One generated request of an operation other than PATCH/PUT: schemathesis's checks on its answer."""
    path = case.operation.path
    excluded = list(REPLACED_CHECKS)
    if path == "/meeting_rooms/{meeting_room_sid}":
        if case.operation.method.upper() == "DELETE":
            pin_room(case, rooms.create(label="delete")["meeting_room_sid"], client)
        else:
            pin_room(case, shape_room["meeting_room_sid"], client)
    elif case.operation.method.upper() == "GET":
        excluded += LIST_EXTRA_EXCLUDED
    response = send(run, case, client)
    validate_by_rule(run, case, response, f"{case.method.upper()} {path}", excluded_checks=excluded)
    if case.method.upper() == "POST" and path == "/meeting_rooms" and response.status_code == 200:
        client.delete_if_ours(response.json()["meeting_room_sid"])


def _has_body(case: Any) -> bool:
    from schemathesis.core import NOT_SET

    return case.body is not NOT_SET
