"""Issue 17, items 4-8: bounded waits, the cleanup journal, never adopting, complete listings,
redaction by place. Stub servers on loopback; one end-to-end run killed with SIGKILL."""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Callable, Iterator

import pytest
import requests

from meeting_room_contract import preflight
from meeting_room_contract.client import ConferenceClient, ListingContradiction
from meeting_room_contract.curl import curl_command
from meeting_room_contract.registry import RoomRegistry
from meeting_room_contract.transport import Deadline, Politeness, RateLimiter, RequestCounter, TargetUnavailable
from meeting_room_contract.journal import CleanupJournal, cleanup_journalled, journal_dir, signals_held
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.mock.semantics import Answer
from meeting_room_contract.redaction import Credentials, Redactor
from meeting_room_contract.rooms import sweep_run_rooms
from meeting_room_contract.selfcheck import PROJECT_ROOT

from .stubs import Stub, live_rooms, serving

USER, PASSWORD = "conference_user_123", "qwerty123"
SECOND_USER, SECOND_PASSWORD = "conference_user_456", "qwerty456"


# -- a scripted stub ---------------------------------------------------------------------------------

@pytest.fixture
def stub() -> Iterator[Callable[..., Stub]]:
    yield from serving(Stub)


def _client(base_url: str, *, max_retry_wait: float = 30.0, deadline: Deadline | None = None,
            password: str = PASSWORD, registry: RoomRegistry | None = None, gateway_backoff: float = 0.5) -> ConferenceClient:
    kwargs = {"deadline": deadline} if deadline is not None else {}
    return ConferenceClient(base_url, Credentials(USER, password), registry or RoomRegistry("unit", "contract-test"),
                            Politeness(timeout=5, max_retry_wait=max_retry_wait, gateway_backoff=gateway_backoff),
                            RateLimiter(0), RequestCounter(), **kwargs)


OK = (200, {}, {"meeting_room_sid": "s1", "name": "x"}, 0.0)


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# -- item 4: bounded waits -----------------------------------------------------------------------------

@pytest.mark.parametrize("retry_after", ["3600", "date+3600"], ids=["seconds", "http-date"])
def test_a_retry_after_beyond_the_cap_ends_as_could_not_test_at_once(stub, retry_after):
    value = _http_date(3600) if retry_after.startswith("date") else retry_after
    server = stub([(429, {"Retry-After": value}, {"message": "slow down"}, 0.0)])
    client = _client(server.base_url, max_retry_wait=5)
    started = time.monotonic()
    with pytest.raises(TargetUnavailable) as error:
        client.patch_room(client.registry.unknown_sid(), {"name": "x"})  # a valid PATCH: never judged as refused
    elapsed = time.monotonic() - started
    assert elapsed < 5 + 3, elapsed  # within the cap and a few seconds (here: at once)
    assert "429" in error.value.reason and "--max-retry-wait 5 s" in error.value.reason
    assert len(server.seen) == 1  # not sent again before the time the target asked for
    assert not isinstance(error.value, AssertionError)  # not a contract violation


def test_a_retry_after_http_date_within_the_cap_is_waited_out(stub):
    server = stub([(429, {"Retry-After": _http_date(2)}, {}, 0.0), OK])
    client = _client(server.base_url, max_retry_wait=5)
    started = time.monotonic()
    assert client.create_room({"name": "contract-test-unit x"}).status_code == 200  # a POST too: a 429 was not processed
    assert 0.5 <= time.monotonic() - started < 5
    assert [method for method, _, _ in server.seen] == ["POST", "POST"]


def test_the_cap_bounds_the_waits_of_one_request_together(stub):
    server = stub([(429, {"Retry-After": "2"}, {}, 0.0)])
    client = _client(server.base_url, max_retry_wait=3)
    started = time.monotonic()
    with pytest.raises(TargetUnavailable):
        client.get_room("x")
    assert 1.8 <= time.monotonic() - started < 3 + 2
    assert len(server.seen) == 2  # one wait of 2 s; the second would pass the 3 s cap


def test_gateway_errors_are_retried_in_one_layer_only(stub):
    server = stub([(502, {}, b"<html>bad gateway</html>", 0.0)])
    client = _client(server.base_url, gateway_backoff=0.01)
    response = client.get_room("x")
    assert response.status_code == 502 and response.gateway_attempts == 1 + client.politeness.gateway_retries
    assert len(server.seen) == 1 + client.politeness.gateway_retries  # not (1 + 4) x (1 + 3)


def test_a_rolling_deploy_is_waited_out_as_its_retry_after_asks(stub):
    """A gateway answers 503 with Retry-After: 2 for a deploy's window: the client waits what the gateway
    asks (not its own shorter backoff) and the request gets the API's answer; no gateway answer is judged."""
    deploy = (503, {"Retry-After": "2"}, b"<html>deploying</html>", 0.0)
    server = stub([deploy, deploy, OK])
    client = _client(server.base_url)
    started = time.monotonic()
    response = client.get_room("x")
    assert response.status_code == 200 and 3.8 <= time.monotonic() - started < 7
    assert len(server.seen) == 3


def test_a_gateway_retry_after_beyond_the_cap_is_could_not_test_for_that_request_only(stub):
    server = stub([(503, {"Retry-After": "120"}, b"<html>maintenance</html>", 0.0), OK])
    client = _client(server.base_url, max_retry_wait=5)
    with pytest.raises(TargetUnavailable, match="asks to wait 120 s") as raised:
        client.get_room("x")
    assert not raised.value.run_wide and not isinstance(raised.value, AssertionError)
    assert client.get_room("x").status_code == 200  # the run goes on: one request could not be tested


def test_connection_refused_is_could_not_test_after_the_session_retries():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}/conference/v2")
    started = time.monotonic()
    with pytest.raises(TargetUnavailable, match="no answer from the target"):
        client.get_room("x")
    assert time.monotonic() - started < 5


def test_the_run_deadline_ends_requests_as_could_not_test(stub):
    server = stub([(200, {}, {"items": []}, 3.0)])  # a slow answer
    deadline = Deadline(1.0)
    client = _client(server.base_url, deadline=deadline)
    started = time.monotonic()
    with pytest.raises(TargetUnavailable, match="run deadline"):
        client.get_room("x")  # cut at the deadline, not after the 5 s request timeout
    assert time.monotonic() - started < 2.5
    with pytest.raises(TargetUnavailable, match="run deadline"):
        client.get_room("x")  # nothing more is sent
    assert len(server.seen) == 1


def test_a_cold_start_of_5_s_passes_the_preflight(stub):
    """The first answer takes 5 s (a deployment scaled to zero); --request-timeout 15 allows it."""
    rooms: dict[str, str] = {}

    class Cold(http.server.BaseHTTPRequestHandler):
        woke = threading.Event()

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            if not Cold.woke.is_set():
                time.sleep(5)
                Cold.woke.set()
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(200, {"items": [], "count": 0, "total": 0, "has_more": False, "limit": 1, "offset": 0,
                               "pagination": {}})

        def do_POST(self) -> None:
            sent = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            sid = str(uuid.uuid4())
            rooms[sid] = "x"
            self._answer(200, {"meeting_room_sid": sid, "name": sent.get("name")})

        def do_DELETE(self) -> None:
            rooms.pop(self.path.rsplit("/", 1)[1], None)
            self._answer(204, None)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cold)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        preflight.run(f"http://127.0.0.1:{server.server_address[1]}/conference/v2", [preflight.Login(USER, PASSWORD)],
                      "contract-test-unit preflight", 15)
        assert 5 <= time.monotonic() - started < 9 and rooms == {}
    finally:
        server.shutdown()
        server.server_close()


# -- item 7: complete listings ----------------------------------------------------------------------------

def _lister(rooms: list[dict], cap: int = 2, **overrides: Any) -> Callable[[dict], Any]:
    def answer(query: dict) -> Any:
        offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 10)), cap)
        page = rooms[offset: offset + limit]
        body = {"count": len(page), "has_more": offset + len(page) < len(rooms), "items": page, "limit": limit,
                "offset": offset, "pagination": {}, "total": len(rooms)}
        for key, value in overrides.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value(body) if callable(value) else value
        return body
    return answer


def test_listing_pages_in_a_stable_order_to_the_total(stub):
    rooms = [{"meeting_room_sid": f"s{i}"} for i in range(7)]
    server = stub([OK], lists=_lister(rooms, cap=3))
    assert _client(server.base_url).list_all("/meeting_rooms") == rooms
    assert all("order=meeting_room_sid+asc" in path for _, path, _ in server.seen)
    assert len(server.seen) == 3


def test_listing_without_has_more_and_total_reads_to_an_empty_page(stub):
    rooms = [{"meeting_room_sid": f"s{i}"} for i in range(5)]
    server = stub([OK], lists=_lister(rooms, cap=2, has_more=None, total=None))
    assert _client(server.base_url).list_all("/meeting_rooms") == rooms  # never a silent partial list


@pytest.mark.parametrize("overrides,expected", [
    ({"count": lambda body: body["count"] + 1}, "count is"),
    ({"has_more": False}, "has_more is false but offset + count"),
    ({"total": 1}, "is more than total"),
], ids=["count", "has_more", "total"])
def test_a_self_contradicting_envelope_is_a_shape_violation(stub, overrides, expected):
    rooms = [{"meeting_room_sid": f"s{i}"} for i in range(5)]
    server = stub([OK], lists=_lister(rooms, cap=2, **overrides))
    with pytest.raises(ListingContradiction) as error:
        _client(server.base_url).list_all("/meeting_rooms")
    assert error.value.rule_id == "shape.response_conformance" and expected in error.value.detail
    assert "[shape.response_conformance]" in str(error.value) and PASSWORD not in str(error.value)


# -- item 8: redaction by place -----------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["e", "check", "test"])
def test_a_short_or_common_wrong_password_leaves_the_preflight_line_readable(password):
    with MeetingRoomMock() as mock:
        with pytest.raises(preflight.PreflightError) as error:
            preflight.run(mock.base_url, [preflight.Login(USER, password)], "contract-test-unit preflight", 5)
    message = str(error.value)
    assert message.startswith(f"preflight: login '{USER}' was refused (401) on GET /meeting_rooms: check --password "
                              "(or CONFERENCE_PASSWORD) and the username"), message
    assert "$CONFERENCE_PASSWORD" not in message


def test_redaction_is_by_place():
    credentials = Credentials(USER, "check")
    redactor = Redactor([credentials])
    plain = "preflight: check --password; every room name contract-test-check stays as it is"
    assert redactor.scrub(plain) == plain
    echoed = (f"Authorization: {credentials.authorization_header()} | {{'Authorization': '{credentials.authorization_header()}'}}"
              f" | token {credentials.token()} | https://{USER}:check@api.example/x | {{\"password\": \"check\"}}"
              f" | {USER}:check")
    scrubbed = redactor.scrub(echoed)
    assert credentials.token() not in scrubbed and ":check@" not in scrubbed and '"check"' not in scrubbed
    assert f"{USER}:check" not in scrubbed and scrubbed.count("<redacted>") >= 4, scrubbed
    probe = "Authorization: Basic " + __import__("base64").b64encode(b"nosuchuser:wrong").decode()
    assert redactor.scrub(probe) == probe  # a probe's made-up login is no secret


def test_reproductions_name_every_known_secret_by_its_variable():
    primary, second = Credentials(USER, PASSWORD), Credentials(SECOND_USER, SECOND_PASSWORD, "CONFERENCE_SECOND_USERNAME",
                                                              "CONFERENCE_SECOND_PASSWORD")
    redactor = Redactor([primary, second])
    session = requests.Session()
    for auth, expected in [((USER, PASSWORD), '-u "$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD"'),
                           ((USER, SECOND_PASSWORD), '-u "$CONFERENCE_USERNAME:$CONFERENCE_SECOND_PASSWORD"'),
                           (("nobody$x", PASSWORD), '-u "nobody\\$x:$CONFERENCE_PASSWORD"'),
                           ((USER, "contract-test-wrong-password"), f"-u {USER}:contract-test-wrong-password")]:
        request = session.prepare_request(requests.Request("GET", "http://h/conference/v2/meeting_rooms", auth=auth))
        command = curl_command(request, redactor)
        assert expected in command and PASSWORD not in command and SECOND_PASSWORD not in command, command
    bare = session.prepare_request(requests.Request("GET", "http://h/x", auth=(USER, PASSWORD)))
    assert PASSWORD not in curl_command(bare) and "not shown" in curl_command(bare)  # no redactor: nothing shown


# -- items 5 and 6: the journal, never adopting ------------------------------------------------------------

def test_journalled_rooms_of_a_dead_run_are_deleted_by_sid_whatever_their_name(tmp_path):
    with MeetingRoomMock() as mock:
        dead = _client(mock.base_url, registry=RoomRegistry("t0dead-abc", "contract-test"))
        dead.registry.attach_journal(CleanupJournal(tmp_path, "t0dead-abc"))
        sids = [dead.create_room({"name": f"contract-test-t0dead-abc room {i}"}).json()["meeting_room_sid"]
                for i in range(3)]
        dead.patch_room(sids[0], {"name": "plain value"})  # renamed: no prefix any more
        dead.delete_room(sids[2])  # deleted during the run: journalled as such
        bystander = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                  json={"name": "contract-test-t0other-abc room 1"}).json()["meeting_room_sid"]
        alive = CleanupJournal(tmp_path, "t1alive-def")  # a run still going (its lock is held: same process here,
        alive.created("not-touched", mock.base_url, USER)  # but flock is per open file, so it counts as alive)
        # The dead run's process "dies": its lock goes with its file descriptor.
        os.close(dead.registry.cleanup_journal._fd)
        dead.registry.cleanup_journal._fd = None

        side = journal_dir(tmp_path)  # what a killed multi-worker run leaves next to its journals
        dead_files = [side / "t0dead-abc.codes.4242", side / "t0dead-abc.wrong-password-0123.claim", side / "t0dead-abc.quiet"]
        alive_files = [side / "t1alive-def.codes.4343", side / "t1alive-def.quiet"]
        for path in dead_files + alive_files:
            path.write_text("x")
        cleaner = _client(mock.base_url, registry=RoomRegistry("t2clean-123", "contract-test"))
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)  # held back: the cleanup is not aborted
            result = cleanup_journalled(tmp_path, cleaner)
            pending = result.interrupted_by
        assert pending == ["SIGTERM"]  # noted by the cleanup, which shares the outer hold
        remaining = set(live_rooms(mock))
    assert {p.sid for p in result.deleted} == {sids[0], sids[1]} and not result.failed
    assert remaining == {bystander}  # the unjournalled (other tester's) room stays
    assert result.busy_journals == 1
    assert not any(path.exists() for path in dead_files)  # its journal went: the run is over, its side files too
    assert all(path.exists() for path in alive_files)  # a run still going keeps its code notes and flags
    alive.close()


@pytest.fixture(autouse=False)
def _ignore_sigterm():
    previous = signal.signal(signal.SIGTERM, lambda *a: None)
    yield
    signal.signal(signal.SIGTERM, previous)


test_journalled_rooms_of_a_dead_run_are_deleted_by_sid_whatever_their_name = pytest.mark.usefixtures("_ignore_sigterm")(
    test_journalled_rooms_of_a_dead_run_are_deleted_by_sid_whatever_their_name)


def test_the_end_of_run_sweep_deletes_rooms_named_by_a_workers_post(tmp_path):
    """Under xdist a worker POSTs a room whose answer names another room (a faulty server): the room it
    created is found by the name it sent, and the controller's sweep knows that name (the workers write
    what they POST next to the journal) and deletes it, as a serial run does. A prefixed name nobody sent
    stays reported, never deleted."""
    with MeetingRoomMock() as mock:
        controller = _client(mock.base_url, registry=RoomRegistry("t5run-abc", "contract-test"))
        controller.registry.attach_journal(CleanupJournal(tmp_path, "t5run-abc"))
        worker = _client(mock.base_url, registry=RoomRegistry("t5run-abc", "contract-test"))  # (its journal: not needed here)
        worker.registry.shared_names_path = journal_dir(tmp_path) / "t5run-abc.names.4242"
        name = worker.registry.room_name("updated", 7)
        lost = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                             json={"name": name}).json()["meeting_room_sid"]  # as if its answer named another room
        worker.registry.record_posted_name(name)  # what the worker's send() did before the POST (its body's run name)
        stranger = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                 json={"name": worker.registry.room_name("updated", 8)}).json()["meeting_room_sid"]
        raw = worker.registry.room_name("form", 9)  # a POST of raw bytes (the request-form tests) through send()
        worker.request("POST", "/meeting_rooms", data=json.dumps({"name": raw}, ensure_ascii=False).encode(),
                       headers={"Content-Type": "application/json; charset=utf-8"})
        assert controller.registry.posted_this_name(name) and controller.registry.posted_this_name(raw)
        assert sweep_run_rooms([controller], controller.registry) == []
        left = set(live_rooms(mock))
    assert lost not in left and stranger in left and len(left) == 1
    assert [sid for sid, _ in controller.registry.foreign_rooms()] == [stranger]


def test_the_end_of_run_sweep_deletes_what_the_runs_stopped_workers_journalled(tmp_path):
    """R6-1: a worker stopped in a test (an interrupted multi-worker run) leaves a room it renamed (no
    name the run sent): the controller's sweep, after the workers are down, deletes it by the sid in the
    worker's journal of this run. Another dead run's journalled room waits for --delete-leftovers."""
    from meeting_room_contract.plugin.session import _sweep_at_the_end
    from meeting_room_contract.target import Target, TargetSettings

    def dead_journal(run: str, pid: int, sid: str) -> None:
        journal = CleanupJournal(tmp_path / f"w{pid}", run)  # written as that process wrote it, then it died
        journal.created(sid, mock.base_url, USER)
        os.close(journal._fd)
        journal.path.rename(journal_dir(tmp_path) / f"{run}.{pid}.jsonl")

    with MeetingRoomMock() as mock:
        target = Target(TargetSettings(base_url=mock.base_url, username=USER, password=PASSWORD), run_id="t6run-abc")
        target.registry.attach_journal(CleanupJournal(tmp_path, "t6run-abc"))
        renamed, other_run = (requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                            json={"name": name}).json()["meeting_room_sid"]
                              for name in ("renamed by schemathesis", "contract-test-t0old-abc room 1"))
        dead_journal("t6run-abc", 4242, renamed)
        dead_journal("t0old-abc", 4343, other_run)
        assert _sweep_at_the_end(target) == ([], {renamed})  # and the worker's room counts as created by the run
        left = set(live_rooms(mock))
        target.close()
    assert renamed not in left and other_run in left
    assert not (journal_dir(tmp_path) / "t6run-abc.4242.jsonl").exists()  # nothing of that worker is left
    assert (journal_dir(tmp_path) / "t0old-abc.4343.jsonl").exists()


def test_an_interrupted_workers_rooms_count_as_created(tmp_path):
    """A worker's journal outlives the worker (also one an interrupt kept from reporting its count): the
    controller counts the rooms it journalled as created, then removes the file; the controller's own
    count comes from its own part. Without journals (a mock run) the parts are summed."""
    from meeting_room_contract.plugin.session import _rooms_created, _sweep_at_the_end
    from meeting_room_contract.target import Target, TargetSettings

    with MeetingRoomMock() as mock:
        worker = CleanupJournal(tmp_path / "w4444", "t7run-abc", keep=True)  # another process's file
        for sid in ("room-a", "room-b"):
            worker.created(sid, mock.base_url, USER)
            worker.deleted(sid)
        worker.close()  # its rooms are deleted, it did not report (interrupted): the file stays
        assert worker.path.exists()
        journal_dir(tmp_path).mkdir()
        kept = worker.path.rename(journal_dir(tmp_path) / "t7run-abc.4444.jsonl")
        target = Target(TargetSettings(base_url=mock.base_url, username=USER, password=PASSWORD), run_id="t7run-abc")
        target.registry.attach_journal(CleanupJournal(tmp_path, "t7run-abc"))
        remaining, created = _sweep_at_the_end(target)
        target.close()
    assert remaining == [] and created == {"room-a", "room-b"} and not kept.exists()
    assert _rooms_created([{"rooms_created": 3}], created) == 5  # the worker's own part was lost
    assert _rooms_created([{"rooms_created": 3}, {"rooms_created": 2}], created) == 5  # not counted twice
    assert _rooms_created([{"rooms_created": 3}, {"rooms_created": 2}], None) == 5


def test_rooms_found_by_prefix_or_code_are_reported_never_deleted():
    with MeetingRoomMock() as mock:
        registry = RoomRegistry("t3run-abc", "contract-test")
        client = _client(mock.base_url, registry=registry)
        mine = client.create_room({"name": registry.room_name("room", 1)}).json()["meeting_room_sid"]
        foreign = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                json={"name": registry.room_name("room", 2)}).json()["meeting_room_sid"]
        assert sweep_run_rooms([client], registry) == []
        assert set(live_rooms(mock)) == {foreign} and mine not in live_rooms(mock)
    (line,) = registry.foreign_warning()
    assert foreign in line and "not deleted, check it by hand" in line


def test_cleanup_command(tmp_path):
    with MeetingRoomMock() as mock:
        journal = CleanupJournal(tmp_path, "t4cmd-abc")
        sid = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5, json={}).json()["meeting_room_sid"]
        journal.created(sid, mock.base_url, USER)
        journal.created("already-gone", mock.base_url, USER)
        os.close(journal._fd)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}, "CONFERENCE_PASSWORD": PASSWORD}
        completed = subprocess.run([sys.executable, "-m", "meeting_room_contract.cleanup", "--base-url", mock.base_url,
                                    "--username", USER, "--state-dir", str(tmp_path)], env=env, capture_output=True,
                                   text=True, timeout=60)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert live_rooms(mock) == {}
    assert f"deleted 1 room(s) journalled by dead runs: {sid} (run t4cmd-abc)" in completed.stdout
    assert "already gone: 1: already-gone" in completed.stdout
    assert list(journal_dir(tmp_path).glob("*.jsonl")) == []  # nothing of that run is left
    assert PASSWORD not in completed.stdout + completed.stderr


def test_a_run_killed_with_sigkill_against_a_renaming_server_leaves_nothing_after_delete_leftovers(tmp_path):
    """SIGKILL mid-run while the server renames rooms (no name left to find them by), then
    `--delete-leftovers`: 0 rooms of the dead run are left, another tester's rooms are untouched."""
    with MeetingRoomMock() as mock:
        others = [requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                json={"name": name}).json()["meeting_room_sid"]
                  for name in ("a colleague's room", "contract-test-t0000a-abc room 1")]  # prefixed, not journalled
        stop = threading.Event()

        def rename() -> None:
            n = 0
            while not stop.is_set():
                with mock.store.lock:
                    for sid, room in live_rooms(mock).items():
                        if sid not in others and not str(room.get("name", "")).startswith("renamed"):
                            n += 1
                            mock.store.set_document(sid, {**room, "name": f"renamed {n}"})
                time.sleep(0.02)

        threading.Thread(target=rename, daemon=True).start()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}, "CONFERENCE_PASSWORD": PASSWORD}
        base = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "contracts"), "-q", "-p", "no:cacheprovider",
                "--base-url", mock.base_url, "--username", USER, "--state-dir", str(tmp_path / "state"),
                "--no-contract-strict",  # a subset of the suite: incomplete by design
                "-n", "0"]  # serial (a loopback target otherwise gets a worker per core): the kill lands in the process that sends
        # SIGKILL (no cleanup at all) while the mock holds one of the run's GETs, once it made 3 rooms,
        # no POST is in flight and every room it made is journalled: a room whose creation answer the
        # run never read (or had not journalled yet) is in no journal (README, "What the suite does to
        # a deployment"). The run sends from more than one thread (background put-backs, both read
        # paths at once), so "a GET is held" alone does not mean the main thread is between requests.
        # A POST that reaches the mock after the kill is a dead client's: refused, it creates nothing.
        killed, respond, posts = threading.Event(), mock.front.respond, threading.Lock()

        def journalled() -> set[str]:
            sids = set()
            for path in journal_dir(tmp_path / "state").glob("*.jsonl"):
                for line in path.read_text().splitlines():
                    with contextlib.suppress(ValueError):
                        entry = json.loads(line)
                        if entry.get("event") == "created":
                            sids.add(entry.get("sid"))
            return sids

        def respond_or_kill(method, target, headers, raw):
            if method == "POST":
                with posts:  # one at a time, and never while the kill is being decided
                    if killed.is_set():
                        return Answer(503, b"{}", {"Content-Type": "application/json"})
                    return respond(method, target, headers, raw)
            if method == "GET" and not killed.is_set() and headers.get("Authorization"):
                with posts:
                    made = set(live_rooms(mock)) - set(others)
                    if len(made) >= 3 and made <= journalled():
                        process.kill()
                        killed.set()
            return respond(method, target, headers, raw)

        mock.front.respond = respond_or_kill
        process = subprocess.Popen([*base, "--report-dir", str(tmp_path / "r1")], cwd=PROJECT_ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert killed.wait(timeout=120), "the run made no 3 rooms in 120 s"
        process.wait(timeout=30)
        mock.front.respond = respond
        time.sleep(0.1)
        stop.set()
        left_by_dead_run = set(live_rooms(mock)) - set(others)
        assert left_by_dead_run, "the killed run left no room: nothing was tested"
        completed = subprocess.run([*base, "--report-dir", str(tmp_path / "r2"), "--delete-leftovers", "-k", "empty_patch"],
                                   cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-3000:]
        assert set(live_rooms(mock)) == set(others), output[-3000:]
    assert f"deleted {len(left_by_dead_run)} room(s) journalled by dead runs" in output, output[-3000:]
    assert "in no journal here" in output and others[1] in output  # reported, not deleted


def test_signals_are_held_whichever_thread_the_kernel_gives_them_to():
    """A SIGTERM during a hold is noted, not raised, also when another thread of the process exists (the
    kernel then gives the signal to a thread that does not block it, and Python runs the handler in the
    main thread): the cleanup runs to its end; the signal is raised when the hold ends, or only noted
    when the hold says so. A hold inside a hold shares it."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    idle = threading.Event()
    other = threading.Thread(target=idle.wait, daemon=True)  # as the run's read-back and put-back threads
    other.start()
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        steps = []
        with pytest.raises(KeyboardInterrupt):
            with signals_held() as arrived:
                os.kill(os.getpid(), signal.SIGTERM)
                for step in range(20):
                    time.sleep(0.005)
                    steps.append(step)
                with signals_held() as inner:
                    assert inner is arrived
        assert len(steps) == 20 and arrived == ["SIGTERM"]
        with signals_held(redeliver=False) as arrived:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        assert arrived == ["SIGTERM"]  # noted, never raised
        assert signal.getsignal(signal.SIGTERM) is interrupt  # the process's own handler again
    finally:
        signal.signal(signal.SIGTERM, previous)
        idle.set()


def test_a_put_back_in_flight_at_an_interrupt_ends_before_the_cleanup(tmp_path):
    """Ctrl-C while the server holds a kept room's background put-back (its PUT), against a server
    whose PUT creates a missing room: the put-back ends before the end-of-run cleanup deletes the
    rooms, so no request reaches the target after it and no room of the run is left."""
    with MeetingRoomMock(faults=("put_creates_unknown_room",)) as mock:
        respond, running, puts = mock.front.respond, [], []

        def slow_put_back(method, target, headers, raw):
            if method == "PUT":  # the tests selected only PATCH: every PUT is a put-back
                puts.append(target)
                if len(puts) == 3:
                    running[0].send_signal(signal.SIGINT)
                    time.sleep(2.0)  # a retried gateway error, a slow target
            return respond(method, target, headers, raw)

        mock.front.respond = slow_put_back
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}, "CONFERENCE_PASSWORD": PASSWORD}
        running.append(subprocess.Popen(
            [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "contracts" / "test_edge_values.py"), "-q",
             "-p", "no:cacheprovider", "-k", "edge_value_by_update and PATCH", "--base-url", mock.base_url,
             "--username", USER, "--state-dir", str(tmp_path / "state"), "--report-dir", str(tmp_path / "r"),
             "--no-contract-strict", "-n", "0"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)))
        output, _ = running[0].communicate(timeout=300)
        time.sleep(0.2)
        left = {sid: room.get("name") for sid, room in live_rooms(mock).items()}
    assert len(puts) >= 3, output[-3000:]
    assert running[0].returncode == 2, output[-3000:]
    assert left == {}, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


# -- never trust a creation answer that cannot be this POST's room ---------------------------------------

def _creation_answer(sid: str, name: str | None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps({"meeting_room_sid": sid, "name": name}).encode()
    return answer


def test_a_creation_answer_naming_another_room_is_never_adopted():
    """A faulty server that stores the new room but answers with another room of the account (e.g.
    another tester's, listed when the run started): the suite does not record that sid as its own (it
    would delete it at the end); it reports it. A room it never saw is this POST's (also when the
    server altered its name: that is a round-trip violation, not another room)."""
    with MeetingRoomMock() as mock:
        client = ConferenceClient(mock.base_url, Credentials(USER, PASSWORD), RoomRegistry("t3trust-abc", "contract-test"),
                                  Politeness(), RateLimiter(0), RequestCounter())
        someone_else = str(uuid.uuid4())
        client.registry.note_listed([someone_else])  # the account's list showed it before this run's POST
        client.record_if_created(_creation_answer(someone_else, "someone else's room 24"),
                                 {"name": "contract-test-t3trust-abc room 1"})
        assert not client.registry.owns(someone_else) and someone_else in dict(client.registry.foreign_rooms())
        client.record_if_created(_creation_answer(someone_else, None), {})  # `{}` too
        assert not client.registry.owns(someone_else)
        ours = str(uuid.uuid4())
        client.record_if_created(_creation_answer(ours, "contract-test-t3trust-abc room ?"),  # a mangled name
                                 {"name": "contract-test-t3trust-abc room 2"})
        assert client.registry.owns(ours)


def test_a_room_the_factory_gets_answered_with_a_room_held_before_is_a_violation_and_is_swept(make_run):
    """Under xdist a worker lists the account and sees the other workers' rooms as not its own; a faulty
    server then answers a POST with one of them. The room factory reports that answer as a violation
    of round_trip.exact_values (never an UnsafeTargetError from a test touching that room), and the room
    the POST did create is deleted by the end-of-run sweep, found by the name the POST sent."""
    from meeting_room_contract.judges import ContractViolation
    from meeting_room_contract.rooms import RoomFactory

    run = make_run()
    client = run.target.client("primary")
    held = requests.post(run.target.mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                         json={"name": "another worker's room"}).json()
    client.registry.note_listed([held["meeting_room_sid"]])  # listed before: not this process's room
    respond = run.target.mock.front.respond

    def answer_with_the_held_room(method, target, headers, raw):
        answer = respond(method, target, headers, raw)
        if method == "POST" and target.split("?")[0].endswith("/meeting_rooms") and answer.status == 200:
            answer.payload = held  # the new room is stored, the answer names the old one
        return answer

    run.target.mock.front.respond = answer_with_the_held_room
    with pytest.raises(ContractViolation) as raised:
        RoomFactory(run, client).create(label="factory")
    run.target.mock.front.respond = respond
    assert raised.value.rule == "round_trip.exact_values" and held["meeting_room_sid"] in str(raised.value)
    created = [sid for sid, room in live_rooms(run.target.mock).items() if room.get("name", "").startswith(
        client.registry.room_name_prefix + " factory")]
    assert len(created) == 1 and not client.registry.owns(created[0])
    assert sweep_run_rooms([client], client.registry) == []
    assert created[0] not in live_rooms(run.target.mock) and held["meeting_room_sid"] in live_rooms(run.target.mock)


def test_an_interrupt_during_a_room_creation_is_raised_once_the_room_is_recorded():
    """R9 (found while measuring review 8's fixes): a SIGINT that came while a POST was in flight was
    raised inside it; the target created the room, its answer was never read, and a room named with an
    edge value (not the run's prefix) was left on the target with no journal naming it. The interrupt
    now waits for the answer: the room is recorded (and deleted at the end), then the run stops."""
    registry = RoomRegistry("t9run-abc", "contract-test")

    def interrupt(signum, frame):  # as the plugin's handler does
        if not registry.defer_interrupt(signal.Signals(signum).name):
            raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        with MeetingRoomMock() as mock:
            mock.on_created(lambda room: os.kill(os.getpid(), signal.SIGTERM))  # the signal comes mid-POST
            client = _client(mock.base_url, registry=registry)
            with pytest.raises(KeyboardInterrupt):
                client.create_room({"name": "Room0123456789 an edge value, not the run's name"})
            created = list(mock.rooms())
            assert len(created) == 1 and registry.owns(created[0])  # recorded before the run stopped
            client.delete_room(created[0])
    finally:
        signal.signal(signal.SIGTERM, previous)
    with pytest.raises(KeyboardInterrupt):  # outside a creation the interrupt is not held
        interrupt(signal.SIGTERM, None)


def test_the_end_of_run_cleanup_gets_its_retries_back_after_an_interrupt_stopped_them():
    deadline = Deadline(None)
    deadline.stopping = True  # an interrupt waited for a room creation: no more retries for it
    deadline.try_again()  # the end-of-run cleanup
    assert not deadline.stopping


def test_a_story_keeps_only_the_rooms_it_touches():
    """A list answer in a story keeps the items of the story's rooms only (other testers' rooms on a shared
    account are other people's data), with a note of how many were left out."""
    from meeting_room_contract import stories

    ours, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    listed = json.dumps({"items": [{"meeting_room_sid": ours, "name": "ours"}, {"meeting_room_sid": theirs, "name": "alice"}],
                         "count": 2, "total": 2})
    steps = [stories.Step("POST", "/meeting_rooms", {}, body="{}", status=200, created=ours),
             stories.Step("GET", "/meeting_rooms?limit=1000", {}, status=200, answer=listed)]
    kept = stories.only_the_story_rooms(steps)
    answer = json.loads(kept[1].answer)
    assert [item["meeting_room_sid"] for item in answer["items"]] == [ours] and "alice" not in kept[1].answer
    assert "1 item(s) of other rooms left out" in answer[stories.OTHER_ROOMS_LEFT_OUT]


def test_a_page_that_contradicts_itself_once_is_read_again_not_judged(stub):
    """Another tester's insert between the server's count and its select: one answer's `total` is one short.
    The page is read again before anything is judged; only a contradiction that persists is a violation."""
    rooms = [{"meeting_room_sid": f"s{i}"} for i in range(5)]
    answered = [0]

    def racing(query: dict) -> Any:
        answered[0] += 1
        body = _lister(rooms, cap=10)(query)
        return {**body, "total": body["total"] - 1} if answered[0] == 1 else body  # counted early, once

    server = stub([OK], lists=racing)
    assert _client(server.base_url).list_all("/meeting_rooms") == rooms
    assert answered[0] == 2


def test_the_pages_after_the_first_are_read_at_once_and_a_changing_list_is_read_again(stub):
    """A list of several pages is read in one round trip after the first page (the window in which another
    tester's writes can change it is short); when its total changed meanwhile, it is read again, whole."""
    rooms = [{"meeting_room_sid": f"s{i:02d}"} for i in range(10)]
    grown = rooms + [{"meeting_room_sid": "s99"}]
    readings = [0]

    def changing(query: dict) -> Any:
        if query.get("offset") == "0":
            readings[0] += 1
        current = rooms if readings[0] == 1 and query.get("offset") == "0" else grown  # an insert after the first page
        return _lister(current, cap=3)(query)

    server = stub([OK], lists=changing)
    assert _client(server.base_url).list_all("/meeting_rooms") == grown
    assert readings[0] == 2


def test_an_empty_page_past_the_end_of_a_list_that_shrank_is_read_again_not_judged(stub):
    """The first page said total 3; a room went before the second page was read, which is then empty
    past the new end (total 2). That is consistent (the list changed), never a contradiction: read again."""
    rooms = [{"meeting_room_sid": f"s{i}"} for i in range(3)]
    shrunk, readings = rooms[:2], [0]

    def shrinking(query: dict) -> Any:
        if query.get("offset") == "0":
            readings[0] += 1
        current = rooms if readings[0] == 1 and query.get("offset") == "0" else shrunk
        return _lister(current, cap=2)(query)

    server = stub([OK], lists=shrinking)
    assert _client(server.base_url).list_all("/meeting_rooms") == shrunk
