"""Auth: every operation needs valid credentials; without them, 401 and nothing changes."""

from __future__ import annotations

import pytest

from meeting_room_contract import checks, model
from meeting_room_contract.checks import ContractViolation, rule

BAD_CREDENTIALS = {
    "no credentials": None,
    "wrong password": "wrong-password",
    "unknown login": ("contract-test-nobody", "not-a-password"),
}
FULL_BODY = {"access_codes": [], "properties": {"did_language": "it"}, "did_group_sid": None, "name": "unauthorised change"}


def _auth(kind: str, client) -> object:
    value = BAD_CREDENTIALS[kind]
    if value is None:
        return lambda request: request  # send no Authorization header at all
    if isinstance(value, str):
        return (client.credentials.username, value)
    return value


@pytest.mark.parametrize("kind", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_room_operations_need_valid_credentials(method, kind, client, room):
    """GET/PATCH/PUT/DELETE of a room without valid credentials: 401, JSON error, room unchanged."""
    sid = room["meeting_room_sid"]
    before = checks.current_room(client, sid, "status.documented_codes", "room before the unauthenticated call")
    body = FULL_BODY if method in ("PATCH", "PUT") else None
    response = client.request(method, client.room_path(sid), json_body=body, auth=_auth(kind, client))
    with rule("auth.required", checks.room_path_label(method)):
        checks.status_is_allowed("auth.required", response, model.UNAUTHORIZED, f"{method} with {kind}")
        checks.error_body_is_json_object(response)
        after = checks.current_room(client, sid, "auth.required", f"{method} with {kind}")
        checks.state_matches("auth.required", before, after, response, f"{method} with {kind} changed the room")


@pytest.mark.parametrize("kind", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("path", ["/meeting_rooms", "/did_groups"])
def test_lists_need_valid_credentials(path, kind, client):
    """The room and DID group lists without valid credentials: 401."""
    response = client.request("GET", path, auth=_auth(kind, client))
    with rule("auth.required", f"GET {path}"):
        checks.status_is_allowed("auth.required", response, model.UNAUTHORIZED, f"GET {path} with {kind}")


@pytest.mark.parametrize("kind", list(BAD_CREDENTIALS))
def test_create_needs_valid_credentials(kind, client, rooms):
    """POST without valid credentials: 401 and no room created."""
    response = client.request("POST", "/meeting_rooms", json_body={"name": rooms.name("unauthorised")},
                              auth=_auth(kind, client))
    client.record_if_created(response)  # if it was wrongly created, it is still cleaned up
    with rule("auth.required", "POST /meeting_rooms"):
        if 200 <= response.status_code < 300:
            raise ContractViolation("auth.required", f"POST with {kind} created a room", response=response)
        checks.status_is_allowed("auth.required", response, model.UNAUTHORIZED, f"POST with {kind}")
