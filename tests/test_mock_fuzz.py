"""The mock never answers 5xx: schemathesis fuzzes every operation (positive and negative data),
and the body-parsing layer gets the inputs that used to break it (deep nesting, huge numbers,
chunked and oversized bodies, invalid UTF-8). Bad input gets a 4xx JSON error and changes nothing.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.checks import not_a_server_error

from meeting_room_contract import spec
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.mock.server import MAX_BODY_BYTES

AUTH = ("conference_user_123", "qwerty123")
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MeetingRoomMock]:
    with MeetingRoomMock() as server:
        yield server


@pytest.fixture(scope="module")
def mock_schema(mock: MeetingRoomMock) -> Any:
    schema = schemathesis.openapi.from_path(str(spec.DEFAULT_SPEC_PATH))
    schema.config.update(base_url=mock.base_url, basic_auth=AUTH)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=25)
    return schema


schema = schemathesis.pytest.from_fixture("mock_schema")


def _new_room(mock: MeetingRoomMock) -> dict[str, Any]:
    response = requests.post(mock.base_url + "/meeting_rooms", json={"name": "fuzz target"}, auth=AUTH, timeout=5)
    assert response.status_code == 200
    return response.json()


def _room_state(mock: MeetingRoomMock, sid: str) -> Any:
    response = requests.get(f"{mock.base_url}/meeting_rooms/{sid}", auth=AUTH, timeout=5)
    return response.status_code, response.json()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case, mock):
    """Every operation, valid and invalid data: never 5xx; a 4xx is a JSON object and changes nothing."""
    room = None
    if "meeting_room_sid" in (case.path_parameters or {}) and not (
            case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)):
        room = _new_room(mock)  # aim at a real room, so that bodies reach the update rules
        case.path_parameters = {"meeting_room_sid": room["meeting_room_sid"]}
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    if 400 <= response.status_code < 500:
        assert isinstance(response.json(), dict)
        if room is not None:
            assert _room_state(mock, room["meeting_room_sid"]) == (200, room)


@pytest.fixture
def room(mock: MeetingRoomMock) -> dict[str, Any]:
    return _new_room(mock)


def _patch(mock: MeetingRoomMock, room: dict[str, Any], data: Any, headers: dict[str, str] | None = None) -> requests.Response:
    url = f"{mock.base_url}/meeting_rooms/{room['meeting_room_sid']}"
    return requests.patch(url, data=data, headers=headers or JSON, auth=AUTH, timeout=10)


def _assert_rejected(mock, room, response, status=400, words=""):
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert _room_state(mock, room["meeting_room_sid"]) == (200, room)


@pytest.mark.parametrize("body", [
    b"[" * 5000 + b"]" * 5000,
    b'{"name": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
    b'{"properties": {"x": ' + b"[" * 100 + b"]" * 100 + b"}}",  # parses, but deeper than the limit
], ids=["5000 arrays", "5000 objects", "100 arrays"])
def test_deep_nesting_is_400(mock, room, body):
    _assert_rejected(mock, room, _patch(mock, room, body), words="nested deeper")


@pytest.mark.parametrize("number", [b"1" * 5000, b"-" + b"9" * 5000, b"1e999", b"-1e999", b"NaN", b"Infinity",
                                    b"0." + b"1" * 5000],
                         ids=["5000 digits", "-5000 digits", "1e999", "-1e999", "NaN", "Infinity", "5000 decimals"])
def test_huge_or_non_json_numbers_are_400(mock, room, number):
    _assert_rejected(mock, room, _patch(mock, room, b'{"name": ' + number + b"}"))


def test_invalid_utf8_is_400(mock, room):
    _assert_rejected(mock, room, _patch(mock, room, b'{"name": "\xff\xfe"}'))


def test_chunked_body_is_read_like_any_other(mock, room):
    chunks = iter([b'{"na', b'me": "sent in ', b'chunks"}'])  # a generator: requests sends it chunked
    response = _patch(mock, room, chunks)
    assert response.status_code == 200 and response.json()["name"] == "sent in chunks"
    deep = iter([b"[" * 5000, b"]" * 5000])
    _assert_rejected(mock, {**room, "name": "sent in chunks"}, _patch(mock, room, deep), words="nested deeper")


def test_oversized_body_is_413_and_the_connection_still_works(mock, room):
    with requests.Session() as session:
        session.auth = AUTH
        url = f"{mock.base_url}/meeting_rooms/{room['meeting_room_sid']}"
        big = json.dumps({"name": "x" * (MAX_BODY_BYTES + 1)})
        response = session.patch(url, data=big, headers=JSON, timeout=10)
        assert response.status_code == 413 and "too large" in response.json()["message"]
        chunked = session.patch(url, data=iter([big.encode()]), headers=JSON, timeout=10)
        assert chunked.status_code == 413 and "too large" in chunked.json()["message"]
        assert session.get(url, timeout=5).json() == room


@pytest.mark.parametrize("head", [
    b"Content-Length: abc\r\n", b"Content-Length: -5\r\n", b"Transfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"Transfer-Encoding: chunked\r\n\r\n5\r\nab",
], ids=["length-not-a-number", "negative-length", "unknown-encoding", "bad-chunk-size", "short-chunk"])
def test_broken_framing_is_a_json_400(mock, room, head):
    request = (f"PATCH /conference/v2/meeting_rooms/{room['meeting_room_sid']} HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Basic Y29uZmVyZW5jZV91c2VyXzEyMzpxd2VydHkxMjM=\r\n"
               "Content-Type: application/json\r\n").encode() + head + (b"" if b"\r\n\r\n" in head else b"\r\n")
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # a short chunk ends here
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head_text, _, body = answer.partition(b"\r\n\r\n")
    assert head_text.startswith(b"HTTP/1.1 400"), answer
    assert isinstance(json.loads(body)["message"], str)
    assert _room_state(mock, room["meeting_room_sid"]) == (200, room)


def test_non_ascii_credentials_are_401(mock):
    response = requests.get(mock.base_url + "/meeting_rooms", headers={"Authorization": "Basic \xe9\xe9"}, timeout=5)
    assert response.status_code == 401 and isinstance(response.json(), dict)
