"""Auth: every operation needs valid credentials; without them, 401 and nothing changes.

The credential matrix: no header, a malformed `Authorization` (not Basic, bad base64, no colon), an
unknown login with a made-up password, with no password and with a REAL password of one of our
logins, and one login's user with the other login's password. Each is 401 (never 200, never 5xx)
and changes nothing.

Safe for the accounts the suite uses: wrong passwords can lock a real login, so the run sends
at most one wrong-password probe per login (`target.wrong_password`), and none within
--wrong-password-window of the last one by any run sharing the state dir (reported as not checked):
the primary login with a made-up password (with the second login's password under
--cross-login-probes, and always against the embedded mock). Every other probe names no real
login (no header, a header that carries no login, or a login that does not exist), so it counts
toward no login's limit. A real password under a made-up user is sent only where cross-login probes
are on: an identity provider may take it for a password spray.
"""

from __future__ import annotations

import base64

import pytest
import requests

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.target import ProbeNotDue

UNKNOWN_USER = "contract-test-nobody"
UNKNOWN_LOGIN = (UNKNOWN_USER, "not-a-password")
KINDS = ["no credentials", "unknown login", "not Basic", "bad base64", "no colon", "unknown login, no password",
         "unknown login, real password"]  # the last: only with --cross-login-probes on a real target (CROSS_LOGIN)


def _full_body(run) -> dict:
    """A full, valid PATCH/PUT body, built in the test: its fresh codes avoid the codes in use on the target."""
    return {**strategies.simplest_body(run, ()), **strategies.sample_values(run)}


def _header(value: str) -> object:
    def send(request):
        request.headers["Authorization"] = value
        return request
    return send


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _auth(kind: str, target) -> object:
    """What a probe of `kind` sends as credentials (never a real login's name)."""
    if kind == "no credentials":
        return lambda request: request  # send no Authorization header at all
    if kind == "not Basic":
        return _header(f"Bearer {_b64(UNKNOWN_USER)}")
    if kind == "bad base64":
        return _header("Basic %%not-base64%%")
    if kind == "no colon":
        return _header(f"Basic {_b64(UNKNOWN_USER)}")
    if kind == "unknown login, no password":
        return (UNKNOWN_USER, "")
    if kind == "unknown login, real password":
        return (UNKNOWN_USER, target.credentials("primary").password)  # the user does not exist: locks nothing
    return UNKNOWN_LOGIN


CROSS_LOGIN = "unknown login, real password"  # a real password under another user name: only when allowed


def _cross_login_not_allowed(run, target, operation: str, kind: str) -> bool:
    """A probe that sends a real password under another user name, against a target where that is not
    asked for (--cross-login-probes): recorded as not checked (why, and how to ask for it)."""
    if kind != CROSS_LOGIN or target.cross_login_probes:
        return False
    run.recorder.unchecked("auth.required", operation, f"{kind}: not sent (a real password under a made-up user looks "
                           "like a password spray to an identity provider); ask for it with --cross-login-probes")
    return True


def _refused_and_unchanged(run, client, sid, method, kind, auth) -> None:
    before = actions.read_room(run, client, sid, "room before the unauthenticated call")
    body = _full_body(run) if method in ("PATCH", "PUT") else None
    if method == "PUT":
        body = actions.complete_put_body(run, body, before)  # valid but for the credentials, also where read-only fields are required
    response = client.request(method, client.room_path(sid), json_body=body, auth=auth)
    operation = room_operation(method)
    actions.status_is(run, "auth.required", response, frozenset({401}), operation, f"{method} with {kind}")
    actions.error_body_is_json_object(run, response, operation)
    after = actions.read_room(run, client, sid, f"{method} with {kind}")
    actions.state_matches(run, "auth.required", before, after, response, operation, f"{method} with {kind} changed the room")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_room_operations_need_valid_credentials(method, kind, target, client, room, run):
    """GET/PATCH/PUT/DELETE of a room without valid credentials: 401, room unchanged."""
    if _cross_login_not_allowed(run, target, room_operation(method), kind):
        return
    _refused_and_unchanged(run, client, room["meeting_room_sid"], method, kind, _auth(kind, target))


def _wrong_password(target) -> tuple[tuple[str, str], str]:
    """The primary login's one wrong-password probe (claimed from `target.wrong_password`): with the
    second login's password when one is configured (a password that is real, but not this login's),
    else with a made-up one."""
    username, made_up = target.wrong_password("primary")
    primary, second = target.credentials("primary"), target.credentials("second")
    if target.cross_login_probes and second is not None and second.password and second.password != primary.password:
        target.redactor.add(second)  # redacted from every message, also before the second login's client exists
        return (username, second.password), "the other login's password"
    return (username, made_up), "a wrong password"


def _not_judged(run, response, operation: str, situation: str) -> bool:
    """A wrong-password probe is sent once and never again (repeated failures can lock the login), so an
    answer that did not judge the credentials says nothing: a 429 (rate limited) or a gateway's
    502/503/504 (a deploy, a restart: whether it persists cannot be known without sending it again) is
    recorded as not checked, and the run goes on. A 500 is the API's: judged."""
    if response.status_code not in (429, 502, 503, 504):
        return False
    why = "rate limited" if response.status_code == 429 else "a gateway's answer: infrastructure, not the API"
    run.recorder.unchecked("auth.required", operation, f"{situation}: the target answered {response.status_code} ({why}); "
                           "the one probe is not repeated, to keep the login from being locked")
    return True


def test_wrong_password_is_refused(target, client, room, rooms, run):
    """The run's one wrong-password probe of the primary login: its user with the other login's
    password (else a made-up one). A PATCH is 401 and changes nothing.

    Exactly one request carries the wrong password: it is sent without retries, and an answer
    that did not judge the credentials is never repeated: a 429 or a gateway's 502/503/504 leaves this
    probe not checked (reported; the run goes on), a 500 is a violation of server.never_5xx."""
    sid = room["meeting_room_sid"]
    rooms.put_backs_done()  # nor do this process's kept rooms, put back in the background
    with client.registry.quiet():  # xdist: the other workers wait, so no rate limit they caused meets the probe
        before = actions.read_room(run, client, sid, "room before the wrong-password probe")  # waits out a 429
        try:
            credentials, kind = _wrong_password(target)
        except ProbeNotDue as not_due:  # another run probed this login lately: reported, never sent
            run.recorder.unchecked("auth.required", room_operation("PATCH"), str(not_due))
            return
        client.registry.note_exchange("PATCH", client.room_path(sid), client, None)  # sent past the client: its last read is stale now
        response = requests.patch(client.url(client.room_path(sid)), json=_full_body(run), auth=credentials,
                                  timeout=client.politeness.timeout)
    operation = room_operation("PATCH")
    if _not_judged(run, response, operation, f"PATCH with {kind}"):
        return
    actions.never_5xx(run, response, operation, f"PATCH with {kind}")  # a 500 is a violation, never a skip
    actions.status_is(run, "auth.required", response, frozenset({401}), operation, f"PATCH with {kind}")
    actions.error_body_is_json_object(run, response, operation)
    after = actions.read_room(run, client, sid, f"PATCH with {kind}")
    actions.state_matches(run, "auth.required", before, after, response, operation, f"PATCH with {kind} changed the room")


@pytest.mark.needs_second_account
def test_a_real_login_without_its_password_part_is_refused(target, second_client, rooms, run):
    """The second login's one wrong-password probe: its real user in a Basic token without the colon
    and password (`Basic base64(user)`). The account's list is 401, never the login's rooms; a 429 leaves
    it not checked (never repeated; the run goes on), a 5xx is a violation."""
    try:
        username, _ = target.wrong_password("second")  # the one probe of this login in the run
    except ProbeNotDue as not_due:  # another run probed this login lately: reported, never sent
        run.recorder.unchecked("auth.required", "GET /meeting_rooms", str(not_due))
        return
    rooms.put_backs_done()  # no put-back of this process in flight: no rate limit it caused meets the probe
    with second_client.registry.quiet():
        response = requests.get(second_client.url("/meeting_rooms"), timeout=second_client.politeness.timeout,
                                headers={"Authorization": f"Basic {_b64(username)}"})
    operation = "GET /meeting_rooms"
    if _not_judged(run, response, operation, "GET with a real login and no password part"):
        return
    actions.never_5xx(run, response, operation, "GET with a real login and no password part")
    actions.status_is(run, "auth.required", response, frozenset({401}), operation,
                      "GET with a real login in a Basic token without its password part (no colon)")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", ["/meeting_rooms", "/did_groups"])
def test_lists_need_valid_credentials(path, kind, target, client, run):
    """The room and DID group lists without valid credentials: 401."""
    if _cross_login_not_allowed(run, target, f"GET {path}", kind):
        return
    response = client.request("GET", path, auth=_auth(kind, target))
    actions.status_is(run, "auth.required", response, frozenset({401}), f"GET {path}", f"GET {path} with {kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_create_needs_valid_credentials(kind, target, client, rooms, run):
    """POST without valid credentials: 401 and no room created."""
    if _cross_login_not_allowed(run, target, "POST /meeting_rooms", kind):
        return
    body = strategies.simplest_body(run, (), fields=())
    response = client.request("POST", "/meeting_rooms", json_body=body, auth=_auth(kind, target))
    client.record_if_created(response, body)  # if it was wrongly created (and is this POST's), it is still cleaned up
    with actions.rule(run, "auth.required", "POST /meeting_rooms"):
        if 200 <= response.status_code < 300:
            raise actions.violated(run, "auth.required", f"POST with {kind} created a room", response=response,
                                    judge=actions.answer_judge("refused"))
    actions.status_is(run, "auth.required", response, frozenset({401}), "POST /meeting_rooms", f"POST with {kind}")
