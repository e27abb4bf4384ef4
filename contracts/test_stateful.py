"""Stateful: sequences of create -> PATCH/PUT/GET -> delete that nobody wrote by hand.

A schemathesis state machine follows the spec's links from a created room; after every
PATCH/PUT the contract model judges the answer and a GET of the room (`actions.judge_update`),
and schemathesis's stateful checks (use after free, resource availability) run as well.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import ensure_resource_availability, use_after_free

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.client import delete_rooms
from meeting_room_contract.generation import (REPLACED_CHECKS, UPDATE_EXTRA_EXCLUDED, UPDATE_METHODS, load_schema, send,
                                               validate_by_rule)

def lifecycle_machine(run) -> type:
    """The state machine of the run's spec, sending to the run's target through its primary login."""

    class MeetingRoomLifecycle(load_schema(run).as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.client = run.target.client("primary")
            self._before: dict[str, Any] | None = None
            self._raw = None
            self._first_created = len(self.client.registry.journal)

        def teardown(self) -> None:
            """Delete the scenario's rooms: every scenario (and every replay) starts from the same state."""
            registry = self.client.registry
            mine = set(registry.journal[self._first_created:])
            delete_rooms([(sid, owner) for sid, owner in registry.live_rooms() if sid in mine])

        def call(self, case: Any, **kwargs: Any) -> Response:
            sid = case.path_parameters.get("meeting_room_sid") if case.path_parameters else None
            self._replaced = sid is not None and not self.client.registry.may_change(sid)
            if self._replaced:
                # Never aim at a room this run did not create: send a sid that names no room instead.
                case.path_parameters = {"meeting_room_sid": self.client.registry.unknown_sid()}
                sid = None
            self._sid = sid
            self._before = None
            if sid and case.method.upper() in UPDATE_METHODS:
                current = self.client.get_room(sid)
                self._before = current.json() if current.status_code == 200 else None
            self._raw = send(run, case, self.client)
            return Response.from_requests(self._raw, verify=True)

        def after_call(self, response: Response, case: Any) -> None:
            super().after_call(response, case)
            if self._before is not None:
                from schemathesis.core import NOT_SET

                body = None if case.body is NOT_SET else case.body
                actions.judge_update(run, self.client, self._sid, self._before, case.method, body, self._raw)

        def validate_response(self, response: Response, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            excluded = list(REPLACED_CHECKS) + (UPDATE_EXTRA_EXCLUDED if self._before is not None else [])
            # The availability checks read a 404 as "the room is gone". Skip them when the sent sid is
            # not the one the link provided, or when the room existed just before the call (a 404 for
            # an unknown DID group is allowed; judge_update verifies the room is still there).
            if self._replaced or (response.status_code == 404 and self._before is not None):
                excluded += [ensure_resource_availability, use_after_free]
            validate_by_rule(run, case, response, f"{case.method.upper()} {case.operation.path}", raw=self._raw,
                             excluded_checks=excluded, transport_kwargs=kwargs or None, recorder=self.recorder)

    return MeetingRoomLifecycle


def test_lifecycle_sequences_keep_the_contract(run, client):
    """Sequences of create -> PATCH/PUT/GET -> delete along the spec's links keep every rule."""
    lifecycle_machine(run).run(settings=settings(settings.default, max_examples=max(10, settings.default.max_examples // 2)))


def test_deleted_room_is_gone(client, rooms, run):
    """DELETE answers 204 (or 200, observed); afterwards GET, PATCH and PUT of the sid are 404."""
    created = rooms.create(label="life")
    sid = created["meeting_room_sid"]
    response = client.delete_room(sid)
    actions.status_is(run, "lifecycle.delete_then_404", response, frozenset({200, 204}), "DELETE /meeting_rooms/{sid}",
                     "DELETE of a room")
    if getattr(response, "gateway_attempts", 1) == 1:  # not a stand-in for a DELETE a gateway answered
        actions.observe(run, "delete_status", str(response.status_code), "DELETE /meeting_rooms/{sid}", response)
    for method in ("GET", "PATCH", "PUT"):
        body = strategies.simplest_body(run, ()) if method != "GET" else None
        if method == "PUT":  # valid but for the sid: the path's sid and the login's account
            body = actions.complete_put_for(run, body, sid, client)
        after = client.request(method, client.room_path(sid), json_body=body)
        actions.status_is(run, "lifecycle.delete_then_404", after, frozenset({404}), room_operation(method),
                         f"{method} of a deleted room")


def test_an_empty_body_creates_a_room(client, run):
    """`{}` is a valid POST body (D): 200 with a Meeting Room object, and a GET reads the same room."""
    response = client.create_room({})  # recorded for cleanup at once
    created = actions.room_answer(run, "status.documented_codes", response, "POST /meeting_rooms", "POST of {}")
    sid = created["meeting_room_sid"]
    try:
        after = actions.read_room(run, client, sid, "room created from {}")
        actions.state_matches(run, "status.documented_codes", created, after, response, "POST /meeting_rooms",
                             "the room created from {} differs from what a GET reads")
    finally:
        client.delete_if_ours(sid)
