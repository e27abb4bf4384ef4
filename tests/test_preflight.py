"""A user's mistake is one clear line, exit code 4 (usage error), within 10 s: never a traceback.

Each case runs `pytest contracts` in a subprocess against a mock started here (or a port where
nothing listens), as a user would against staging.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Iterator

import pytest
import requests

from meeting_room_contract import preflight
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.mock.behaviours import check_names
from meeting_room_contract.selfcheck import PROJECT_ROOT

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


def _run(tmp_path, *args: str) -> tuple[int, str, float]:
    command = [sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider",
               "--report-dir", str(tmp_path), *args]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
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
        with pytest.raises(preflight.PreflightError, match="no answer within"):
            preflight.run(f"http://127.0.0.1:{silent.getsockname()[1]}/conference/v2", login, "x", 15)
    assert time.monotonic() - started < preflight.BUDGET_S + 2


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
    ({"room_prefix": ""}, "--room-prefix"),
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
