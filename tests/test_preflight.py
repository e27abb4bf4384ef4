"""A user's mistake is one clear line, exit code 4 (usage error), within 10 s: never a traceback.

Each case runs `pytest contracts` in a subprocess against a mock started here (or a port where
nothing listens), as a user would against staging.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Callable, Iterator

import pytest
import requests
import yaml

from meeting_room_contract import preflight, spec
from meeting_room_contract.spec import DEFAULT_SPEC_PATH
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.mock.behaviours import check_names
from meeting_room_contract.selfcheck import PROJECT_ROOT

from .stubs import LoopbackServer, QuietHandler, serving

USER, PASSWORD = "conference_user_123", "qwerty123"
SECOND_USER, SECOND_PASSWORD = "conference_user_456", "qwerty456"


@pytest.fixture(scope="module")
def mock() -> Iterator[MeetingRoomMock]:
    with MeetingRoomMock() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(tmp_path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    command = [sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider",
               "--report-dir", str(tmp_path), *args]
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}, **(env or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode: a 2 s start instead of 4 s
    started = time.monotonic()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    return completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started


@pytest.fixture(scope="module")
def time_limit(tmp_path_factory) -> float:
    """10 s; more on a machine so busy that pytest alone (`--help`: plugins and conftest) starts slowly."""
    _, _, startup = _run(tmp_path_factory.mktemp("startup"), "--help")
    return max(10.0, 2.5 * startup)


@pytest.fixture
def one_line(tmp_path, time_limit):
    """Run the suite with `args`; assert one line (containing `expected`), exit code 4, in time."""
    def check(args: list[str], *expected: str) -> str:
        return _assert_one_line(tmp_path, time_limit, args, *expected)
    return check


def _assert_one_line(tmp_path, time_limit: float, args: list[str], *expected: str) -> str:
    code, output, seconds = _run(tmp_path, *args)
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    assert len(lines) == 1, output[-3000:]
    assert code == 4 and seconds < time_limit, (code, seconds, time_limit, output)
    for text in expected:
        assert text in lines[0], lines[0]
    assert PASSWORD not in output and SECOND_PASSWORD not in output and "wrong-pw" not in output
    return lines[0]


def _target(base_url: str, password: str = PASSWORD, *extra: str) -> list[str]:
    return ["--base-url", base_url, "--username", USER, "--password", password, *extra]


def test_nothing_listening(one_line):
    url = f"http://127.0.0.1:{_free_port()}/conference/v2"
    one_line(_target(url), "connection refused at 127.0.0.1:", "nothing listens")


def test_wrong_password_names_the_login_not_the_password(one_line, mock):
    one_line(_target(mock.base_url, "wrong-pw"), f"login '{USER}' was refused (401)", "--password")


def test_wrong_second_password(one_line, mock):
    args = _target(mock.base_url, PASSWORD, "--second-username", SECOND_USER, "--second-password", "wrong-pw")
    one_line(args, f"login '{SECOND_USER}'", "--second-password")


def test_wrong_base_path_is_a_prefix_problem(one_line, mock):
    wrong = mock.base_url.rsplit("/v2", 1)[0]  # .../conference without /v2
    one_line(_target(wrong), "404", "API prefix")


def test_silent_server_times_out_quickly(one_line):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/conference/v2"
        one_line(_target(url, PASSWORD, "--request-timeout", "1"), "no answer within 1 s")


@pytest.mark.parametrize("args,expected", [
    (["--hypothesis-profile", "nosuch"], "unknown hypothesis profile 'nosuch'"),
    (["--mock-fault", "nosuch"], "unknown mock behaviour(s): nosuch"),
    (["--mock-variant", "nosuch"], "unknown mock behaviour(s): nosuch"),
    (["--base-url", "http://127.0.0.1:9/conference/v2", "--username", USER, "--password", PASSWORD,
      "--mock-fault", "patch_response_stale"], "apply only to the embedded mock"),
    (["--base-url", "http://127.0.0.1:9/conference/v2"], "needs --username and --password"),
    (["--request-timeout", "0"], "--request-timeout must be a positive number"),
    (["--rate-limit", "-1"], "--rate-limit must be 0 (unlimited) or a positive number"),
], ids=["profile", "fault", "variant", "mock-with-base-url", "no-credentials", "timeout", "rate-limit"])
def test_bad_option(one_line, args, expected):
    one_line(args, expected)


def test_network_checks_fail_fast_in_process():
    """The preflight's own share of the time: a refused port and a silent server, without pytest's start."""
    login = [preflight.Login(USER, PASSWORD)]
    started = time.monotonic()
    with pytest.raises(preflight.PreflightError, match="connection refused"):
        preflight.run(f"http://127.0.0.1:{_free_port()}/conference/v2", login, "contract-test-unit preflight", 15)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        with pytest.raises(preflight.PreflightError, match="no answer within 2 s"):
            preflight.run(f"http://127.0.0.1:{silent.getsockname()[1]}/conference/v2", login, "x", 2)
    assert time.monotonic() - started < 2 + 2


def test_good_run_against_a_base_url_passes_the_preflight_and_leaves_no_room(mock):
    """The preflight's own room is created and deleted; nothing else is touched."""
    logins = [preflight.Login(USER, PASSWORD), preflight.Login(SECOND_USER, SECOND_PASSWORD)]
    preflight.run(mock.base_url, logins, "contract-test-unit preflight", 5)
    assert requests.get(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5).json()["total"] == 0


def _options(**changes):
    values = dict(base_url=None, username=None, password=None, second_username=None, second_password=None,
                  mock_faults=[], mock_variants=[], request_timeout=15.0, rate_limit=0.0, room_prefix="contract-test",
                  profile=None, known_profile=lambda name: name == "gate", check_mock_names=check_names)
    return {**values, **changes}


@pytest.mark.parametrize("changes,expected", [
    ({"request_timeout": float("nan")}, "--request-timeout"),
    ({"rate_limit": float("inf")}, "--rate-limit"),
    ({"second_username": SECOND_USER}, "--second-username and --second-password go together"),
    ({"base_url": "ftp://example/conference/v2", "username": USER, "password": PASSWORD}, "not an http(s) URL"),
])
def test_option_checks(changes, expected):
    with pytest.raises(preflight.PreflightError, match=None) as error:
        preflight.check_options(**_options(**changes))
    assert expected in str(error.value)
    preflight.check_options(**_options())  # the defaults are fine


def test_connection_errors_become_one_line():
    from urllib3.exceptions import NameResolutionError

    dns = requests.exceptions.ConnectionError(NameResolutionError("api.example", None, "Name or service not known"))
    assert "cannot resolve host 'api.example'" in preflight.describe_error(dns, "https://api.example/conference/v2", 5)
    tls = requests.exceptions.SSLError("certificate verify failed")
    assert preflight.describe_error(tls, "https://api.example/x", 5).startswith("TLS handshake with api.example:443")


# -- the preflight's own room: created, then deleted even through transient errors (review 2, F5) ---------

class _Stub(LoopbackServer):
    """A tiny API for the preflight: lists, one POST, and DELETE answers scripted per test."""

    def __init__(self, delete_answers: list[int | float | tuple[float, int]], create_status: int = 200, create_body: bytes = b"",
                 store_refused_create: bool = False):
        self.delete_answers = list(delete_answers)  # a status, seconds to stay silent, or (seconds, status)
        self.create_status, self.create_body = create_status, create_body
        self.store_refused_create = store_refused_create  # a gateway error after the room was stored
        self.rooms: set[str] = set()
        self.names: dict[str, str] = {}
        self.deletes = 0
        super().__init__(_StubHandler)


class _StubHandler(QuietHandler):
    server: _Stub

    def _answer(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        items = [{"meeting_room_sid": sid, "name": self.server.names.get(sid)} for sid in sorted(self.server.rooms)]
        self._answer(200, json.dumps({"items": items, "count": len(items), "total": len(items), "has_more": False,
                                      "limit": 1000, "offset": 0, "pagination": {}}).encode())

    def do_POST(self) -> None:
        sent = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        sid = str(uuid.uuid4())
        if self.server.create_status == 200 or self.server.store_refused_create:
            self.server.rooms.add(sid)
            self.server.names[sid] = sent.get("name")
        if self.server.create_status != 200:
            return self._answer(self.server.create_status, self.server.create_body, "text/plain")
        self._answer(200, json.dumps({"meeting_room_sid": sid, "name": sent.get("name")}).encode())

    def do_DELETE(self) -> None:
        self.server.deletes += 1
        sid = self.path.rsplit("/", 1)[1]
        answer = self.server.delete_answers.pop(0) if self.server.delete_answers else 204
        if isinstance(answer, tuple):  # (seconds, status): a slow answer
            delay, answer = answer
            time.sleep(delay)
        elif isinstance(answer, float):
            time.sleep(answer)  # the client has given up by then
            self.server.rooms.discard(sid)
            return
        if answer in (200, 204):
            if sid not in self.server.rooms:
                return self._answer(404, b'{"message": "Cannot find item by SID"}')
            self.server.rooms.discard(sid)
            return self._answer(answer)
        self._answer(answer, b"<html>Bad gateway</html>", "text/html")


@pytest.fixture
def stub() -> Iterator[Callable[..., _Stub]]:
    yield from serving(_Stub)


@pytest.mark.parametrize("answers", [[503], [502, 504], [3.5]], ids=["503", "502-504", "timeout"])
def test_the_preflight_room_is_deleted_through_transient_errors(stub, answers):
    """A gateway error, or a DELETE applied late and never answered (the retry is then a 204 or a 404)."""
    server = stub(answers)
    started = time.monotonic()
    preflight.run(server.base_url, [preflight.Login(USER, PASSWORD)], "contract-test-unit preflight", 15)
    assert server.rooms == set() and server.deletes >= 2
    assert time.monotonic() - started < preflight.BUDGET_S + preflight.DELETE_RESERVE_S


@pytest.mark.parametrize("answers,expected", [
    ([503] * 10, "the target answered 503 to DELETE /meeting_rooms/"),
    ([30.0] * 10, "got no answer within"),
], ids=["503", "timeout"])
def test_a_preflight_room_that_cannot_be_deleted_is_named_with_the_command_to_delete_it(stub, answers, expected):
    server = stub(answers)
    login = preflight.Login(USER, PASSWORD)
    with pytest.raises(preflight.PreflightError) as error:
        preflight.run(server.base_url, [login], "contract-test-unit preflight", 4)
    message = str(error.value)
    (sid,) = server.rooms
    assert expected in message and f"DELETE /meeting_rooms/{sid}" in message, message
    assert (f'curl -X DELETE -u "$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD" {server.base_url}/meeting_rooms/{sid}'
            in message), message
    assert "is it the API" not in message and PASSWORD not in message and "\n" not in message


def test_an_unexpected_status_shows_the_start_of_the_answer(stub):
    body = f"name rejected: {'x' * 300} password={PASSWORD}\nsecond line".encode()
    server = stub([], create_status=418, create_body=b"  name   rejected:\n too long " + body)
    with pytest.raises(preflight.PreflightError) as error:
        preflight.run(server.base_url, [preflight.Login(USER, PASSWORD)], "contract-test-unit preflight", 15)
    message = str(error.value)
    assert "answered 418 to POST /meeting_rooms (name rejected: too long name rejected: xxx" in message, message
    assert "\n" not in message and PASSWORD not in message and len(message) < 400


def test_a_silent_server_is_reported_within_the_request_timeout():
    """The first answer may take --request-timeout (a cold start, tests/test_safety.py), and no more."""
    login = [preflight.Login(USER, PASSWORD)]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        with pytest.raises(preflight.PreflightError, match="no answer within 3 s"):
            preflight.run(f"http://127.0.0.1:{silent.getsockname()[1]}/conference/v2", login, "x", 3)
    assert 3 <= time.monotonic() - started < 3 + 1


def test_silent_server_is_one_line_after_the_request_timeout(one_line):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/conference/v2"
        one_line(_target(url, PASSWORD, "--request-timeout", "3"), "no answer within 3 s")


# -- --spec and --room-prefix mistakes (review 2, F1, F4, F7) ------------------------------------------

def _spec_variant(tmp_path, name: str, change: Callable[[dict], None]) -> str:
    document = yaml.safe_load(DEFAULT_SPEC_PATH.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("kind,expected", [
    ("malformed", "is not valid YAML"),
    ("not-openapi", "is not an OpenAPI 3 document"),
    ("invalid-openapi", "is not a valid OpenAPI 3.0.3 document (openapi-spec-validator:"),
    ("no-put-schema", "lacks components.schemas.MeetingRoomPut"),
    ("missing", "does not exist"),
    ("empty-dir", "without a *.yaml spec file"),
    ("two-yaml-dir", "is a directory with 2 *.yaml files"),
])
def test_a_bad_spec_is_one_line(one_line, tmp_path_factory, kind, expected):
    where = tmp_path_factory.mktemp("spec")
    if kind == "malformed":
        (where / "bad.yaml").write_text("not: [yaml\n")
        path = str(where / "bad.yaml")
    elif kind == "not-openapi":
        (where / "foo.yaml").write_text("foo: 1\n")
        path = str(where / "foo.yaml")
    elif kind == "invalid-openapi":
        path = _spec_variant(where, "invalid.yaml", lambda doc: doc["info"].pop("version"))
    elif kind == "no-put-schema":
        path = _spec_variant(where, "noput.yaml", lambda doc: doc["components"]["schemas"].pop("MeetingRoomPut"))
    elif kind == "missing":
        path = str(where / "nosuch.yaml")
    elif kind == "empty-dir":
        path = str(where)
    else:
        (where / "a.yaml").write_text("foo: 1\n")
        (where / "b.yaml").write_text("foo: 2\n")
        path = str(where)
    line = one_line(["--spec", path], "--spec:", expected)
    assert "Traceback" not in line


def test_a_bad_spec_from_the_environment_is_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("not: [yaml\n")
    code, output, _ = _run(tmp_path, env={spec.SPEC_ENV: str(tmp_path / "bad.yaml")})
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 4 and len(lines) == 1 and f"(from {spec.SPEC_ENV})" in lines[0] and "not valid YAML" in lines[0], output


def test_a_spec_directory_with_one_yaml_is_that_spec(tmp_path):
    code, output, _ = _run(tmp_path, "--spec", str(DEFAULT_SPEC_PATH.parent), "--co", "-v")  # -v: the header
    assert code == 0, output[-3000:]
    assert f"contract spec: {DEFAULT_SPEC_PATH}" in output


def test_a_room_prefix_that_cannot_make_plain_names_is_one_line(one_line):
    one_line(["--room-prefix", "p" * 30], "--room-prefix", "cannot make plain room names", "use at most")


def test_an_empty_room_prefix_is_one_line(one_line):
    """The prefix is checked with the other options (plugin/options.py), before anything starts."""
    one_line(["--room-prefix", ""], "--room-prefix", "non-empty")


def test_a_slow_delete_passes_when_the_request_timeout_allows_it(stub):
    """Once the target has answered, a request may take --request-timeout: raising it (as the
    one line advises) lets a slow but working target through."""
    server = stub([(5.0, 204)])  # the DELETE answers after 5 s
    preflight.run(server.base_url, [preflight.Login(USER, PASSWORD)], "contract-test-unit preflight", 8)
    assert server.rooms == set()


def test_a_preflight_room_stored_behind_a_gateway_error_is_swept(stub, one_line):
    """POST stores the room, then a gateway answers 503: the run stops in the preflight (one line,
    exit 4) and the run's sweep by name deletes the room the user never saw."""
    server = stub([], create_status=503, create_body=b"<html>Service Unavailable</html>", store_refused_create=True)
    one_line(_target(server.base_url), "503", "[cleanup: no room named")
    assert server.rooms == set()


def test_a_report_or_state_dir_that_cannot_be_a_directory_is_one_line(one_line, tmp_path, mock):
    """A --report-dir or --state-dir that names a file (or cannot be created) is a usage error naming the
    option, never an INTERNALERROR."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    one_line(["--report-dir", str(a_file)], f"--report-dir {a_file}", "give a directory")
    one_line([*_target(mock.base_url), "--state-dir", str(a_file), "-n", "0"], f"--state-dir {a_file}", "give a directory")
