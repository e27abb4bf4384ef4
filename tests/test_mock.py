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


# -- the faults of issue 13's classes misbehave as described (the mock's side; the suite's side is the matrix)

def _with(fault):
    return MeetingRoomMock(faults=(fault,))


def _rooms_url(mock):
    return mock.base_url + "/meeting_rooms"


def _post(mock, body, auth=AUTH, **kwargs):
    return requests.post(_rooms_url(mock), json=body, auth=auth, timeout=5, **kwargs)


def test_every_behaviour_has_hooks():
    from meeting_room_contract.mock.behaviours import SPEC_FAULTS
    from meeting_room_contract.mock.hooks import BEHAVIOURS
    assert set(BEHAVIOURS) == set(FAULTS) | set(VARIANTS) | set(SPEC_FAULTS)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json;charset=UTF-8",
                                          "Application/JSON"])
def test_json_content_type_forms(content_type):
    body = b'{"name": "forms"}'
    with MeetingRoomMock() as mock:
        assert requests.post(_rooms_url(mock), data=body, headers={"Content-Type": content_type}, auth=AUTH,
                             timeout=5).status_code == 200
    with _with("charset_content_type_refused") as mock:
        assert requests.post(_rooms_url(mock), data=body, headers={"Content-Type": content_type}, auth=AUTH,
                             timeout=5).status_code == 415
        assert _post(mock, {"name": "plain"}).status_code == 200


def test_raw_utf8_body_misdecoded():
    raw = '{"name": "Zoë 会议"}'.encode("utf-8")
    for fault, expected in ((None, "Zoë 会议"), ("raw_utf8_body_misdecoded", raw.decode("latin-1")[10:-2])):
        with MeetingRoomMock(faults=(fault,) if fault else ()) as mock:
            answer = requests.post(_rooms_url(mock), data=raw, headers={"Content-Type": "application/json"}, auth=AUTH,
                                   timeout=5).json()
            assert answer["name"] == expected
            assert _post(mock, {"name": "Zoë 会议"}).json()["name"] == "Zoë 会议"  # \u escapes are fine


def test_list_item_stale_after_update():
    with _with("list_item_stale_after_update") as mock:
        room = _post(mock, {"name": "before"}).json()
        requests.patch(f"{_rooms_url(mock)}/{room['meeting_room_sid']}", json={"name": "after"}, auth=AUTH, timeout=5)
        assert requests.get(f"{_rooms_url(mock)}/{room['meeting_room_sid']}", auth=AUTH, timeout=5).json()["name"] == "after"
        assert requests.get(_rooms_url(mock), auth=AUTH, timeout=5).json()["items"][0]["name"] == "before"


def test_list_item_mangles_non_ascii():
    with _with("list_item_mangles_non_ascii") as mock:
        room = _post(mock, {"name": "Zoë"}).json()
        assert requests.get(f"{_rooms_url(mock)}/{room['meeting_room_sid']}", auth=AUTH, timeout=5).json()["name"] == "Zoë"
        assert requests.get(_rooms_url(mock), auth=AUTH, timeout=5).json()["items"][0]["name"] == "Zo?"


def test_codes_unique_across_accounts_and_conflict_reveals_foreign_room():
    codes = {"access_codes": [{"access_code": "424242", "role": "host"}]}
    with MeetingRoomMock() as mock:  # correct: another account's code is free, a refusal names no foreign room
        foreign = _post(mock, codes, auth=OTHER).json()
        assert _post(mock, codes).status_code == 200
        refused = _post(mock, codes)
        assert refused.status_code == 409 and foreign["meeting_room_sid"] not in refused.text
    with _with("codes_unique_across_accounts") as mock:
        _post(mock, codes, auth=OTHER)
        assert _post(mock, codes).status_code == 409
    with _with("conflict_reveals_foreign_room") as mock:
        foreign = _post(mock, codes, auth=OTHER).json()
        assert _post(mock, codes).status_code == 200
        refused = _post(mock, codes)
        assert refused.status_code == 409 and foreign["meeting_room_sid"] in refused.text


@pytest.mark.parametrize("fault, sent, stored", [
    ("non_ascii_replaced_with_question_mark", "Café 会议 🎉", "Caf? ?? ?"),
    ("names_normalised_to_nfc", "Cafe\u0301", "Caf\u00e9"),
    ("astral_characters_dropped", "party 🎉 time", "party  time"),
    ("invisible_characters_stripped", "a\u200bb\u2060c\ufeffd", "abcd"),
])
def test_name_faults_alter_stored_names(fault, sent, stored):
    with MeetingRoomMock() as mock:
        assert _post(mock, {"name": sent}).json()["name"] == sent
    with _with(fault) as mock:
        room = _post(mock, {"name": "plain"}).json()
        url = f"{_rooms_url(mock)}/{room['meeting_room_sid']}"
        assert _post(mock, {"name": sent}).json()["name"] == stored
        assert requests.patch(url, json={"name": sent}, auth=AUTH, timeout=5).json()["name"] == stored
        assert requests.put(url, json={"name": sent, "properties": {}, "access_codes": [], "did_group_sid": None},
                            auth=AUTH, timeout=5).json()["name"] == stored
        assert requests.get(url, auth=AUTH, timeout=5).json()["name"] == stored


def test_astral_characters_dropped_from_property_values():
    with _with("astral_characters_dropped") as mock:
        assert _post(mock, {"properties": {"greeting": "hi 🎉"}}).json()["properties"] == {"greeting": "hi "}


def test_size_truncation_faults():
    many_keys = {f"key_{index:02}": "v" for index in range(25)}
    many_codes = [{"access_code": f"{620000 + index}", "role": "host"} for index in range(12)]
    with MeetingRoomMock() as mock:
        room = _post(mock, {"properties": many_keys, "access_codes": many_codes}).json()
        assert len(room["properties"]) == 25 and len(room["access_codes"]) == 12
    with _with("properties_truncated_at_20_keys") as mock:
        response = _post(mock, {"properties": many_keys})
        assert response.status_code == 200 and len(response.json()["properties"]) == 20
    with _with("access_codes_truncated_at_10") as mock:
        response = _post(mock, {"access_codes": many_codes})
        assert response.status_code == 200 and len(response.json()["access_codes"]) == 10


# -- the faults of issue 27's classes: transitions to empty values by one write path, property keys

_FULL = {"name": "full", "properties": {"conference_mute_policy": "hpl"}, "did_group_sid": None,
         "access_codes": [{"access_code": "731000", "role": "host"}]}
_EMPTIES = {"name": "", "properties": {}, "access_codes": []}


def _groups(mock):
    return [g["did_group_sid"] for g in requests.get(mock.base_url + "/did_groups", auth=AUTH, timeout=5).json()["items"]]


@pytest.mark.parametrize("fault, method", [(None, "PUT"), (None, "PATCH"), ("put_keeps_old_on_empty", "PUT"),
                                           ("patch_ignores_empty_values", "PATCH")])
def test_empty_values_by_one_write_path(fault, method):
    with MeetingRoomMock(faults=(fault,) if fault else ()) as mock:
        room = _post(mock, {**_FULL, "did_group_sid": _groups(mock)[0]}).json()
        url = f"{_rooms_url(mock)}/{room['meeting_room_sid']}"
        sent = {**_EMPTIES, "did_group_sid": None}
        if method == "PATCH":  # the mock's PATCH merges `properties`: `{}` changes nothing, rightly
            sent = {k: v for k, v in sent.items() if k != "properties"}
        answer = requests.request(method, url, json=sent, auth=AUTH, timeout=5)
        assert answer.status_code == 200
        stored = {k: v for k, v in requests.get(url, auth=AUTH, timeout=5).json().items() if k in sent}
        assert (stored == sent) is (fault is None), stored
        other = "PATCH" if method == "PUT" else "PUT"  # the other write path is right
        requests.put(url, json={**_FULL, "access_codes": []}, auth=AUTH, timeout=5)
        full = {**_EMPTIES, "did_group_sid": None}
        assert requests.request(other, url, json=full, auth=AUTH, timeout=5).json()["name"] == ""


def test_post_drops_empty_values():
    with MeetingRoomMock() as mock:
        assert _post(mock, {"name": ""}).json()["name"] == ""
    with _with("post_drops_empty_values") as mock:
        assert _post(mock, {"name": ""}).json()["name"] is None
        assert _post(mock, {"name": "kept"}).json()["name"] == "kept"


_KEYS = {"a.b": "1", "Mode": "2", "mode": "3", "$set": "4", "a[b]": "5", "__proto__": "6", "clé": "7", "x" * 1000: "8"}


@pytest.mark.parametrize("fault, stored", [
    (None, _KEYS),
    ("property_keys_dotted_nested", {k: v for k, v in _KEYS.items() if k != "a.b"}),
    ("property_keys_lowercased", {k.lower(): v for k, v in _KEYS.items()}),
    ("property_keys_dollar_dropped", {k: v for k, v in _KEYS.items() if not k.startswith("$")}),
])
def test_property_key_faults(fault, stored):
    with MeetingRoomMock(faults=(fault,) if fault else ()) as mock:
        room = _post(mock, {"properties": _KEYS})
        assert room.status_code == 200 and room.json()["properties"] == stored
        url = f"{_rooms_url(mock)}/{room.json()['meeting_room_sid']}"
        assert requests.get(url, auth=AUTH, timeout=5).json()["properties"] == stored
        assert requests.get(_rooms_url(mock), auth=AUTH, timeout=5).json()["items"][0]["properties"] == stored
        put = requests.put(url, json={"name": "keys", "properties": _KEYS, "access_codes": [], "did_group_sid": None},
                           auth=AUTH, timeout=5)
        assert put.status_code == 200 and put.json()["properties"] == stored


@pytest.mark.parametrize("fault, auth, header", [
    ("unknown_user_with_known_password_accepted", ("nobody_at_all", "qwerty456"), None),
    ("password_of_other_login_accepted", ("conference_user_123", "qwerty456"), None),
    ("malformed_authorization_accepted", None, "Bearer abc"),
    ("malformed_authorization_accepted", None, "Basic !!!not-base64"),
    ("malformed_authorization_accepted", None, "Basic Y29uZmVyZW5jZV91c2VyXzEyMw=="),  # no colon
])
def test_credential_faults(fault, auth, header):
    headers = {"Authorization": header} if header else {}
    for faults, status in (((), 401), ((fault,), 200)):
        with MeetingRoomMock(faults=faults) as mock:
            assert requests.get(_rooms_url(mock), auth=auth, headers=headers, timeout=5).status_code == status
            assert requests.get(_rooms_url(mock), timeout=5).status_code == 401  # no header stays 401
            assert requests.get(_rooms_url(mock), auth=("nobody_at_all", "nope"), timeout=5).status_code == 401


def test_latency_delays_every_answer():
    import time
    with MeetingRoomMock(latency_ms=60) as mock:
        started = time.monotonic()
        assert requests.get(_rooms_url(mock), auth=AUTH, timeout=5).status_code == 200
        assert requests.get(_rooms_url(mock) + "/x", auth=AUTH, timeout=5).status_code == 404
        assert time.monotonic() - started >= 0.12


def test_unknown_did_group_of_another_account_and_nothing_created():
    with MeetingRoomMock() as mock:
        other_group = mock.accounts[1].did_groups[0]["did_group_sid"]
        assert _post(mock, {"did_group_sid": other_group}).status_code == 422
        assert requests.get(_rooms_url(mock), auth=AUTH, timeout=5).json()["total"] == 0


def test_the_mock_is_an_independent_implementation():
    """The mock shares no code with the suite's oracle: it imports nothing from the package outside mock/."""
    import ast
    from pathlib import Path

    import meeting_room_contract.mock as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.level >= 2 or (node.module or "").startswith("meeting_room_contract")), (path.name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(alias.name.startswith("meeting_room_contract") for alias in node.names), path.name


def test_paging_beyond_any_integer_is_an_empty_page(mock, room):
    listed = requests.get(mock.base_url + "/meeting_rooms?limit=5&offset=" + "9" * 30, auth=AUTH, timeout=5)
    assert listed.status_code == 200 and listed.json()["items"] == [] and listed.json()["total"] >= 1
