"""The embedded mock: bad input gets a clear 4xx JSON error, changes nothing, and never a 5xx."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meeting_room_contract.mock import FAULTS, VARIANTS, MeetingRoomMock

AUTH = ("conference_user_123", "qwerty123")
OTHER = ("conference_user_456", "qwerty456")


@pytest.fixture(scope="module")
def mock():
    with MeetingRoomMock() as server:
        yield server


_CODES = itertools.count(555000)


@pytest.fixture
def room(mock):
    response = requests.post(mock.base_url + "/meeting_rooms", json={"name": "unit", "access_codes": [
        {"access_code": str(next(_CODES)), "role": "host"}]}, auth=AUTH, timeout=5)
    assert response.status_code == 200
    return response.json()


def test_docs_sample_credentials_work(mock):
    assert requests.get(mock.base_url + "/meeting_rooms", auth=AUTH, timeout=5).status_code == 200
    assert requests.get(mock.base_url + "/meeting_rooms", auth=("conference_user_123", "nope"), timeout=5).status_code == 401


@pytest.mark.parametrize("body,status", [
    ({"name": 5}, 422), ({"access_codes": [{"access_code": "1", "role": "boss"}]}, 422),
    ({"did_group_sid": "no-such-group"}, 422), ([1, 2], 422),
    ({"access_codes": [{"access_code": "9", "role": "host"}, {"access_code": "9", "role": "listener"}]}, 409),
])
def test_bad_patch_is_4xx_json_and_changes_nothing(mock, room, body, status):
    url = f"{mock.base_url}/meeting_rooms/{room['meeting_room_sid']}"
    response = requests.patch(url, json=body, auth=AUTH, timeout=5)
    assert response.status_code == status
    assert isinstance(response.json().get("message"), str)
    assert requests.get(url, auth=AUTH, timeout=5).json() == room


def test_malformed_json_and_missing_content_type(mock, room):
    url = f"{mock.base_url}/meeting_rooms/{room['meeting_room_sid']}"
    assert requests.patch(url, data="{", headers={"Content-Type": "application/json"}, auth=AUTH, timeout=5).status_code == 400
    assert requests.patch(url, data='{"name": "x"}', auth=AUTH, timeout=5).status_code == 415
    assert requests.get(url, auth=AUTH, timeout=5).json() == room


def test_other_account_sees_404(mock, room):
    url = f"{mock.base_url}/meeting_rooms/{room['meeting_room_sid']}"
    assert requests.get(url, auth=OTHER, timeout=5).status_code == 404
    assert requests.patch(url, json={"name": "x"}, auth=OTHER, timeout=5).status_code == 404


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "TRACE"]),
       suffix=st.sampled_from(["", "/x", "/%00", "/../did_groups", "?limit=abc", "?offset=-1", "?limit=5000"]),
       body=st.one_of(st.none(), st.binary(max_size=64), st.text(max_size=40).map(str.encode),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                                   lambda children: st.lists(children, max_size=3) | st.dictionaries(
                                       st.sampled_from(["name", "properties", "access_codes", "did_group_sid",
                                                        "account_sid", "role", "access_code"]), children, max_size=4),
                                   max_leaves=10).map(lambda v: __import__("json").dumps(v).encode())),
       content_type=st.sampled_from([None, "application/json", "text/plain", "application/json; charset=utf-8"]))
def test_no_client_input_gets_a_5xx_or_changes_a_room(mock, room, method, suffix, body, content_type):
    """Any method, path, body and content type: never 5xx; anything but a 2xx leaves the room alone."""
    base = f"{mock.base_url}/meeting_rooms"
    url = (base + "/" + room["meeting_room_sid"] if method in ("PATCH", "PUT") and not suffix.startswith("/")
           else base + suffix)
    headers = {"Content-Type": content_type} if content_type else {}
    room_url = f"{base}/{room['meeting_room_sid']}"
    before = requests.get(room_url, auth=AUTH, timeout=5).json()
    response = requests.request(method, url, data=body, headers=headers, auth=AUTH, timeout=5)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json(), dict)
        assert requests.get(room_url, auth=AUTH, timeout=5).json() == before


def test_behaviour_catalogue_is_large_enough():
    assert len(FAULTS) >= 20 and len(VARIANTS) >= 5


def test_unknown_behaviour_name_is_refused():
    with pytest.raises(ValueError):
        MeetingRoomMock(faults=("no_such_fault",))


def test_standalone_mock_starts_and_lists_behaviours():
    listing = subprocess.run([sys.executable, "-m", "meeting_room_contract.mock", "--list"],
                             capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "patch_resets_omitted_fields" in listing.stdout
    process = subprocess.Popen([sys.executable, "-m", "meeting_room_contract.mock", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        base_url = line.split("listening on ", 1)[1].strip()
        assert requests.get(base_url + "/did_groups", auth=AUTH, timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
