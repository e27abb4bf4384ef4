"""An in-memory Conference v2 meeting-room server on a loopback port, with fault injection.

It implements every rule of `CONTRACT.md` through `meeting_room_contract.model`; each
named fault (see `behaviours.py`) swaps one rule for the bug a real backend could have.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .. import model, spec
from ..spec import Spec
from .behaviours import check_names

API_PREFIX = "/conference/v2"
ROOM_PATH = re.compile(r"^/meeting_rooms/([^/]+)$")
MAX_BODY_BYTES = 1 << 20  # a larger body is answered 413
MAX_DRAIN_BYTES = 16 << 20  # an oversized body up to this size is read and dropped, so the client sees the 413
MAX_JSON_DEPTH = 64  # nested arrays/objects
MAX_NUMBER_CHARS = 1000  # digits of a JSON number


@dataclass
class Account:
    account_sid: str
    login: str
    password: str
    did_groups: list[dict[str, Any]] = field(default_factory=list)


def default_accounts() -> list[Account]:
    """Two accounts with two DID groups each; the first uses the docs' sample credentials."""
    specs = [
        ("a1f38bf7-5879-49c1-be72-50ffa7f249a6", "conference_user_123", "qwerty123"),
        ("5b0c7e61-3f0e-4b8e-9d43-7c2f1a9e0b11", "conference_user_456", "qwerty456"),
    ]
    accounts = []
    for number, (sid, login, password) in enumerate(specs, start=1):
        groups = [
            {
                "account_sid": sid,
                "call_flow_sid": None,
                "did_group_sid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"did-group-{number}-{index}")),
                "name": f"DID group {index} of account {number}",
                "properties": {},
            }
            for index in (1, 2)
        ]
        accounts.append(Account(sid, login, password, groups))
    return accounts


class ApiError(Exception):
    def __init__(self, status: int, message: str, field_name: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field_name, self.headers = status, message, field_name, headers or {}


class GatewayError(Exception):
    """An answer from a proxy in front of the API (HTML, not the API's JSON)."""

    def __init__(self, status: int):
        super().__init__(f"gateway {status}")
        self.status = status


GATEWAY_PAGE = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>%d</h1></center><hr><center>nginx</center></body></html>"
# Codes an "other tester" holds in the first account when the `other_tester_rooms` variant is on:
# the simplest 6-digit codes, which a generator reaches first.
OTHER_TESTER_CODES = ("000000", "111111", "123456", "000001", "100000", "999999", "012345", "654321")


class MeetingRoomStore:
    """The accounts, their rooms and the update rules. Thread-safe through one lock."""

    def __init__(self, faults: frozenset[str], variants: frozenset[str], api_spec: Spec | None = None):
        self.faults, self.variants = faults, variants
        self.spec = api_spec or spec.current()
        # The API the backend implements: the spec it was started with, or (fault) the default spec
        # while the run uses a newer one. Bodies are validated and applied by the same model as the checks.
        self.model = model.for_spec(spec.default() if self.fault("backend_on_old_spec") else self.spec)
        # (fault) Only the PATCH path still validates values by the default spec.
        self.patch_model = model.for_spec(spec.default()) if self.fault("patch_validates_by_old_spec") else self.model
        self.accounts = default_accounts()
        self.rooms: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.lock = threading.RLock()
        self.shared_default_properties: dict[str, str] = {}
        self.updates_seen = 0
        if self.variant("other_tester_rooms"):
            for index in range(0, len(OTHER_TESTER_CODES), 2):
                self._other_tester_room([{"access_code": code, "role": "host"} for code in OTHER_TESTER_CODES[index:index + 2]], None)

    def _other_tester_room(self, codes: list[dict[str, Any]], did_group_sid: str | None) -> None:
        """A room of the first account that the suite did not create (someone else on staging)."""
        sid = str(uuid.uuid4())
        self.rooms[sid] = self.model.new_room({"access_codes": copy.deepcopy(codes), "did_group_sid": did_group_sid,
                                               "name": f"someone else's room {len(self.rooms)}"},
                                              {"account_sid": self.accounts[0].account_sid, "meeting_room_sid": sid})

    def after_update(self, room: dict[str, Any]) -> None:
        """`other_tester_rooms`: now and then another tester grabs the codes a room just got (a race)."""
        self.updates_seen += 1
        if self.variant("other_tester_rooms") and self.updates_seen % 25 == 0 and room["access_codes"]:
            self._other_tester_room(room["access_codes"][:1], room.get("did_group_sid"))

    # -- helpers ---------------------------------------------------------------------------
    def fault(self, name: str) -> bool:
        return name in self.faults

    def variant(self, name: str) -> bool:
        return name in self.variants

    @property
    def properties_mode(self) -> model.PropertiesMode:
        return model.PropertiesMode.REPLACE if self.variant("properties_replace") else model.PropertiesMode.MERGE

    def requires_read_only_on_put(self) -> bool:
        """`put_validated_before_lookup` includes requiring the read-only fields (the self-test runs one variant at a time)."""
        return self.variant("put_requires_read_only_fields") or self.variant("put_validated_before_lookup")

    def validation_status(self) -> int:
        return 400 if self.variant("rejections_400") else 422

    def conflict_status(self) -> int:
        return 400 if self.variant("rejections_400") else 409

    def authenticate(self, header: str | None, method: str, path: str) -> Account:
        if header is None and method == "PUT" and self.fault("put_without_auth_allowed"):
            match = ROOM_PATH.match(path)
            room = self.rooms.get(match.group(1)) if match else None
            if room is not None:
                return self.account_by_sid(room["account_sid"])
        issue13_account = issue13_authenticate(self, header)  # issue 13 faults (edge branch)
        if issue13_account is not None:
            return issue13_account
        if not header or not header.startswith("Basic "):
            raise ApiError(401, "Unauthorized", headers={"WWW-Authenticate": 'Basic realm="conference"'})
        try:
            login, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "Bad credentials", headers={"WWW-Authenticate": 'Basic realm="conference"'}) from None
        for account in self.accounts:
            if account.login == login and (account.password == password or self.fault("wrong_password_accepted")):
                return account
        raise ApiError(401, "Bad credentials", headers={"WWW-Authenticate": 'Basic realm="conference"'})

    def account_by_sid(self, sid: str) -> Account:
        return next(account for account in self.accounts if account.account_sid == sid)

    def find_room(self, account: Account, sid: str, *, any_account: bool = False) -> dict[str, Any]:
        room = self.rooms.get(sid)
        if room is None:
            raise ApiError(404, "Cannot find item by SID", "meeting_room_sid")
        if room["account_sid"] != account.account_sid and not any_account:
            if self.variant("foreign_room_403"):
                raise ApiError(403, "Forbidden")
            raise ApiError(404, "Cannot find item by SID", "meeting_room_sid")
        return room

    def render(self, room: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy({key: value for key, value in room.items() if not key.startswith("_")})
        if self.variant("access_codes_reordered"):
            out["access_codes"] = list(reversed(out["access_codes"]))
        if self.fault("null_did_group_omitted") and out.get("did_group_sid") is None:
            out.pop("did_group_sid", None)
        if self.fault("numeric_property_values_coerced"):
            out["properties"] = {k: int(v) if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v) else v
                                 for k, v in out["properties"].items()}
        return out

    def stored(self, room: dict[str, Any]) -> dict[str, Any]:
        """What the storage layer keeps of a room (round-trip faults live here)."""
        name = room.get("name")
        if isinstance(name, str):
            if self.fault("name_whitespace_trimmed"):
                name = name.strip()
            if self.fault("long_name_truncated"):
                name = name[:100]
            if self.fault("non_latin1_mangled"):
                name = name.encode("latin-1", errors="replace").decode("latin-1")
            room["name"] = name
        room = issue13_stored(self, room)  # issue 13 faults (edge branch)
        if self.fault("access_code_leading_zeros_dropped"):
            room["access_codes"] = [{**entry, "access_code": str(int(entry["access_code"]))} if entry["access_code"].isdigit()
                                    else entry for entry in room["access_codes"]]
        return room

    # -- validation ------------------------------------------------------------------------
    def validate(self, account: Account, body: Any, *, method: str, room: dict[str, Any] | None) -> None:
        """Raise ApiError for a body the contract says must be rejected."""
        status = self.validation_status()
        if not isinstance(body, dict):
            raise ApiError(status, "The request body must be a JSON object")
        if room is not None:
            self._validate_read_only(body, room)
        unknown = self.model.unknown_fields(body)
        if unknown and self.variant("unknown_fields_rejected"):
            raise ApiError(422 if status == 422 else 400, f"Unknown field(s): {', '.join(unknown)}", unknown[0])
        if method == "PUT":
            self._validate_put_read_only(body)
        if method == "PUT" and not self.fault("put_missing_field_accepted"):
            missing = self.model.missing_put_fields(body)
            if missing:
                raise ApiError(status, f"PUT requires every modifiable field; missing: {', '.join(missing)}", missing[0])
        if self.fault("invalid_role_server_error"):
            roles = {"host": 1, "participant": 2, "listener": 3}
            for entry in body.get("access_codes") or []:
                if isinstance(entry, dict):
                    roles[entry.get("role")]  # KeyError -> 500, the injected bug
        value_model = self.patch_model if method == "PATCH" else self.model
        reasons = ((self.model.invalid_create_reasons(body) if method == "POST" else value_model.invalid_value_reasons(body))
                   + self._strict_value_reasons(body))
        if reasons:
            raise ApiError(status, "; ".join(reasons), reasons[0].split(":", 1)[0].split(" ", 1)[0])
        for reference in self.model.REFERENCES:  # `x-references`: a resource of the account
            value = body.get(reference.field)
            if isinstance(value, str) and not self.fault("unknown_did_group_accepted"):
                accounts = self.accounts if self.fault("foreign_did_group_accepted") else [account]
                known = {item.get(reference.key) for acc in accounts for item in self.resources(acc, reference.resource)}
                if value not in known:
                    raise ApiError(404 if self.variant("unknown_did_group_404") else status,
                                   f"Cannot find {reference.resource.strip('/')} item by SID", reference.field)
        for unique in self.model.UNIQUE:  # `x-unique`: no value twice in one array
            duplicates = self.model.duplicate_codes(body.get(unique.array_field), unique)
            if duplicates and not self.fault("duplicate_codes_accepted"):
                raise ApiError(422 if self.variant("duplicate_codes_422") else self.conflict_status(),
                               f"{unique.item_field} value(s) repeated in the request: {', '.join(sorted(duplicates))}",
                               unique.array_field)

    def resources(self, account: Account, resource: str) -> list[dict[str, Any]]:
        """The account's items of a referenced resource (`x-references`)."""
        return account.did_groups if resource == "/did_groups" else []

    def _strict_value_reasons(self, body: dict[str, Any]) -> list[str]:
        """Stricter validation some servers do (variants: still inside the contract)."""
        reasons = []
        codes = body.get("access_codes")
        if self.variant("access_codes_six_digits_only") and isinstance(codes, list):
            if any(isinstance(e, dict) and not re.fullmatch(r"[0-9]{6}", str(e.get("access_code"))) for e in codes):
                reasons.append("access_codes must be 6 digits")
        name = body.get("name")
        if self.variant("names_max_40") and isinstance(name, str) and len(name) > 40:
            reasons.append(f"name too long ({len(name)} characters, at most 40)")
        props = body.get("properties")
        if self.variant("property_values_validated_per_key") and isinstance(props, dict):
            for key, value in props.items():
                for form in spec.property_value_forms():
                    if re.search(form["keys"], key) and not (isinstance(value, str) and re.fullmatch(form["values"], value)):
                        reasons.append(f"properties {key}: value {value!r} is not of the form {form['values']}")
        return reasons

    def _validate_put_read_only(self, body: dict[str, Any]) -> None:
        present = [f for f in self.model.READ_ONLY_FIELDS if f in body]
        if self.fault("put_rejects_read_only_fields"):
            raise ApiError(422, "Read-only fields cannot be sent" if present else "PUT requires every field")
        if self.requires_read_only_on_put() and len(present) < len(self.model.READ_ONLY_FIELDS):
            missing = [f for f in self.model.READ_ONLY_FIELDS if f not in body]
            raise ApiError(self.validation_status(), f"PUT requires every field; missing: {', '.join(missing)}", missing[0])

    def _validate_read_only(self, body: dict[str, Any], room: dict[str, Any]) -> None:
        if self.fault("read_only_current_value_rejected") and any(f in body for f in self.model.READ_ONLY_FIELDS):
            raise ApiError(422, "Read-only fields cannot be sent", next(f for f in self.model.READ_ONLY_FIELDS if f in body))
        changes = self.model.read_only_changes(body, room)
        if changes and (self.variant("read_only_rejected") or self.variant("read_only_rejected_403")):
            raise ApiError(403 if self.variant("read_only_rejected_403") else 422, f"Read-only field(s) cannot be changed: {', '.join(changes)}", next(iter(changes)))

    def check_conflicts(self, account: Account, candidate: dict[str, Any], *, exclude_sid: str | None) -> None:
        if self.fault("uniqueness_not_enforced"):
            return
        if self.fault("null_did_group_codes_not_unique") and candidate.get("did_group_sid") is None:
            return
        for unique in self.model.UNIQUE:  # `x-unique`: no value in two rooms of the account sharing the scope
            codes = self.model.unique_values(candidate, unique)
            for sid, other in self.rooms.items():
                if sid == exclude_sid or sid in self.deleted or (
                        other["account_sid"] != account.account_sid and not self.fault("codes_unique_across_accounts")):
                    continue
                if (self.model.scope_of(other, unique) != self.model.scope_of(candidate, unique)
                        and not self.variant("codes_unique_per_account")):
                    continue
                clash = codes & self.model.unique_values(other, unique)
                if clash:
                    raise ApiError(422 if self.variant("code_in_use_422") else self.conflict_status(),
                                   f"{unique.item_field} value(s) already used in this scope: {', '.join(sorted(clash))}"
                                   + issue13_conflict_detail(self, codes, unique), unique.array_field)

    # -- operations ------------------------------------------------------------------------
    def list_rooms(self, account: Account, query: dict[str, list[str]]) -> dict[str, Any]:
        items = [self.render(room) for room in self.rooms.values() if room["account_sid"] == account.account_sid]
        listed = envelope(items, query)
        if self.fault("list_envelope_without_total"):
            del listed["total"], listed["has_more"]
        return listed

    def list_did_groups(self, account: Account, query: dict[str, list[str]]) -> dict[str, Any]:
        return envelope(copy.deepcopy(account.did_groups), query)

    def create(self, account: Account, body: Any) -> tuple[int, dict[str, Any]]:
        self.validate(account, body, method="POST", room=None)
        if self.fault("create_requires_name") and "name" not in body:
            raise ApiError(422, "name is required", "name")
        creatable = set(self.spec.resolved(spec.CREATE_SCHEMA).get("properties", {}))
        sent = {key: value for key, value in body.items() if key in creatable}
        room = self._projected(self.model.new_room(sent, {"account_sid": account.account_sid,
                                                          "meeting_room_sid": str(uuid.uuid4())}))
        if "properties" not in body and self.fault("shared_default_properties"):
            room["properties"] = self.shared_default_properties
        if self.fault("unknown_field_stored"):
            room.update({key: copy.deepcopy(body[key]) for key in self.model.unknown_fields(body)})
        if self.fault("refused_create_still_stored"):
            self.rooms[room["meeting_room_sid"]] = self.stored(room)  # the bug: stored before the uniqueness check
        self.check_conflicts(account, room, exclude_sid=room["meeting_room_sid"])
        self.rooms[room["meeting_room_sid"]] = self.stored(room)
        return (201 if self.fault("create_returns_201") else 200), self.render(room)

    def get(self, account: Account, sid: str) -> dict[str, Any]:
        return self.render(self.find_room(account, sid))

    def delete(self, account: Account, sid: str) -> None:
        self.find_room(account, sid)
        if self.fault("deleted_room_still_readable"):
            self.deleted.add(sid)
            self.rooms[sid]["access_codes"] = []
            return
        del self.rooms[sid]

    def patch(self, account: Account, sid: str, body: Any) -> dict[str, Any]:
        room = self.find_room(account, sid, any_account=self.fault("foreign_room_patchable"))
        if sid in self.deleted:
            raise ApiError(404, "Cannot find item by SID", "meeting_room_sid")
        if self.fault("rejected_patch_partially_applied") and isinstance(body, dict) and isinstance(body.get("name"), str):
            room["name"] = body["name"]
        self.validate(account, body, method="PATCH", room=room)
        if body == {} and self.fault("patch_empty_body_rejected"):
            raise ApiError(422, "Nothing to update")
        if self.fault("conflict_on_codes_held_in_other_group"):
            self._conflict_on_codes_held_in_other_group(account, sid, room, body)
        if (self.fault("bogus_conflict_on_codes_with_other_field") and "access_codes" in body
                and len(set(body) & set(self.model.MODIFIABLE_FIELDS)) > 1):
            raise ApiError(409, "Access code already in use", "access_codes")
        updates = {key: value for key, value in body.items() if key in self.model.MODIFIABLE_FIELDS}
        if self.fault("patch_ignores_x_since"):  # the PATCH path was not updated for the fields added since
            updates = {key: value for key, value in updates.items() if "x-since" not in self.spec.field_schema(key)}
        if self.fault("patch_ignores_null_did_group") and updates.get("did_group_sid", "") is None:
            del updates["did_group_sid"]
        before = copy.deepcopy(room)
        if self.fault("lost_update_under_concurrency"):
            # The bug: read, compute and write without holding the lock across the whole update.
            self.lock.release()
            try:
                time.sleep(0.05)
                new = self._patched(before, updates)
            finally:
                self.lock.acquire()
        else:
            new = self._patched(room, updates)
        new = self._with_read_only_faults(new, body, method="PATCH")
        self.check_conflicts(account, new, exclude_sid=sid)
        if self.fault("patch_properties_not_persisted"):
            stored = {**new, "properties": room["properties"]}
        else:
            stored = new
        if self.fault("shared_default_properties") and "properties" in updates and self.properties_mode is model.PropertiesMode.MERGE:
            room["properties"].update(updates["properties"])  # the bug: in place, on a dict that may be shared
            stored["properties"] = room["properties"]
        self._save(sid, stored)
        self.after_update(stored)
        return self.render(before if self.fault("patch_response_stale") else new)

    def _conflict_on_codes_held_in_other_group(self, account: Account, sid: str, room: dict[str, Any],
                                               body: dict[str, Any]) -> None:
        """(fault) A PATCH that leaves the codes and their scope alone still checks the stored codes,
        per account: a room in another DID group holding one of them makes it a 409."""
        for unique in self.model.UNIQUE:
            if unique.array_field in body or any(f in body for f in unique.scope):
                continue
            codes = self.model.unique_values(room, unique)
            for other_sid, other in self.rooms.items():
                if (other_sid != sid and other["account_sid"] == account.account_sid
                        and self.model.scope_of(other, unique) != self.model.scope_of(room, unique)
                        and codes & self.model.unique_values(other, unique)):
                    raise ApiError(409, f"{unique.item_field} value(s) already used", unique.array_field)

    def _patched(self, room: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
        if self.fault("patch_resets_omitted_fields"):
            room = {**room, "access_codes": [], "properties": {}, "did_group_sid": None, "name": ""}
        mode = self.properties_mode
        props = updates.get("properties")
        if self.fault("properties_mode_depends_on_size") and props is not None:
            mode = model.PropertiesMode.MERGE if len(props) == 1 else model.PropertiesMode.REPLACE
        new = self.model.apply_patch(room, updates, mode)
        if self.fault("properties_merge_drops_empty_values") and props is not None:
            new["properties"] = {k: v for k, v in new["properties"].items() if not (k in props and v == "")}
        return self._projected(new)

    def put(self, account: Account, sid: str, body: Any) -> dict[str, Any]:
        if self.fault("put_creates_unknown_room") and sid not in self.rooms and isinstance(body, dict):
            self.rooms[sid] = self.model.new_room({}, {"account_sid": account.account_sid, "meeting_room_sid": sid})
        if self.variant("put_validated_before_lookup"):
            # The framework deserialises and validates the body before the handler looks the room up.
            self.validate(account, body, method="PUT", room=None)
        room = self.find_room(account, sid)
        if sid in self.deleted:
            raise ApiError(404, "Cannot find item by SID", "meeting_room_sid")
        if self.fault("persistent_gateway_error_on_put") and isinstance(body, dict) and isinstance(body.get("did_group_sid"), str):
            raise GatewayError(503)
        if self.fault("rejected_put_partially_applied") and isinstance(body, dict) and isinstance(body.get("properties"), dict):
            room["properties"] = copy.deepcopy(body["properties"])
        self.validate(account, body, method="PUT", room=room)
        if self.fault("put_unchanged_body_rejected") and all(body.get(f) == room.get(f) for f in self.model.MODIFIABLE_FIELDS):
            raise ApiError(422, "Nothing to update")
        if self.fault("put_missing_field_accepted"):
            body = {**{f: room[f] for f in self.model.MODIFIABLE_FIELDS}, **body}
        new = self.model.apply_put(room, body)
        if self.fault("put_merges_properties"):
            new["properties"] = {**room["properties"], **body["properties"]}
        new = self._projected(new)
        new = self._with_read_only_faults(new, body, method="PUT")
        self.check_conflicts(account, new, exclude_sid=None if self.fault("put_conflicts_with_own_codes") else sid)
        self._save(sid, new)
        self.after_update(new)
        return self.render(room if self.fault("put_response_stale") else new)

    def _projected(self, room: dict[str, Any]) -> dict[str, Any]:
        """Items of object arrays keep only their documented properties (what the storage has columns for)."""
        for field_name in self.model.MODIFIABLE_FIELDS:
            items_schema = self.spec.field_schema(field_name).get("items") if field_name in self.spec.room_fields() else None
            if isinstance(room.get(field_name), list) and isinstance(items_schema, dict) and "properties" in items_schema:
                room[field_name] = [{k: v for k, v in item.items() if k in items_schema["properties"]}
                                    if isinstance(item, dict) else item for item in room[field_name]]
        return room

    def _with_read_only_faults(self, new: dict[str, Any], body: dict[str, Any], *, method: str) -> dict[str, Any]:
        if self.fault("unknown_field_stored"):
            new.update({key: copy.deepcopy(body[key]) for key in self.model.unknown_fields(body)})
        if method == "PATCH" and self.fault("patch_applies_account_sid") and isinstance(body.get("account_sid"), str):
            new["account_sid"] = body["account_sid"]
        if method == "PUT" and self.fault("put_applies_meeting_room_sid") and isinstance(body.get("meeting_room_sid"), str):
            new["meeting_room_sid"] = body["meeting_room_sid"]
        return new

    def _save(self, sid: str, room: dict[str, Any]) -> None:
        room = self.stored(room)
        new_sid = room["meeting_room_sid"]
        if new_sid != sid:
            self.rooms.pop(sid, None)
        self.rooms[new_sid] = room


def envelope(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    limit = _int_param(query, "limit", 10, 0, 1000)
    offset = _int_param(query, "offset", 0, 0, None)
    page = items[offset: offset + limit]
    has_more = offset + len(page) < len(items)
    pagination = {"next": f"?limit={limit}&offset={offset + limit}"} if has_more else {}
    if offset > 0:
        pagination["previous"] = f"?limit={limit}&offset={max(0, offset - limit)}"
    return {"count": len(page), "has_more": has_more, "items": page, "limit": limit, "offset": offset,
            "pagination": pagination, "total": len(items)}


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int | None) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", name) from None
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"{name} out of range", name)
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024  # headers and body leave in one write...
    disable_nagle_algorithm = True  # ...and without waiting for a delayed ACK
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        if self.server.mock.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        mock = self.server.mock
        try:
            raw = self._read_body()  # always drain the body (keep-alive)
        except ApiError as error:  # the body's framing is broken or too large: answer, then close if lost
            self._send(error.status, error_payload(error), dict(error.headers))
            return
        try:
            status, payload, headers = mock.handle(self.command, self.path, self.headers, raw)
        except Exception as exc:  # an injected 500 fault, or a mock bug: answer, never hang
            status, payload, headers = 500, {"message": f"Internal server error: {type(exc).__name__}"}, {}
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, bytes):
            data, content_type = payload, headers.pop("Content-Type", "text/html")
        elif payload is None:
            data, content_type = b"", None
        else:
            data, content_type = json.dumps(payload).encode("utf-8"), "application/json"
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = _dispatch

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked; ApiError (400/413) when it cannot be read."""
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise self._lost(400, f"Unsupported Transfer-Encoding {encoding!r}: send chunked or a Content-Length")
            return self._read_chunked()
        value = (self.headers.get("Content-Length") or "0").strip()
        if not value.isdecimal() or not value.isascii():
            raise self._lost(400, "Content-Length must be a non-negative integer")
        length = int(value)
        if length > MAX_BODY_BYTES:
            if length > MAX_DRAIN_BYTES:
                raise self._lost(413, f"Request body too large: at most {MAX_BODY_BYTES} bytes")
            while length > 0:  # drop it in pieces, then answer on a clean connection
                piece = self.rfile.read(min(length, 1 << 16))
                if not piece:
                    break
                length -= len(piece)
            raise ApiError(413, f"Request body too large: at most {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        """A `Transfer-Encoding: chunked` body (RFC 9112 7.1), trailers dropped."""
        body = bytearray()
        while True:
            size_text = self.rfile.readline(1024).split(b";", 1)[0].strip()
            if not size_text or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
                raise self._lost(400, "Malformed chunked body: bad chunk size")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise self._lost(413, f"Request body too large: at most {MAX_BODY_BYTES} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3).strip():
                raise self._lost(400, "Malformed chunked body: chunk shorter than its size")
            body += chunk
        for _ in range(100):  # trailer fields, up to the blank line
            if not self.rfile.readline(65537).strip():
                return bytes(body)
        raise self._lost(400, "Malformed chunked body: too many trailer fields")

    def _lost(self, status: int, message: str) -> ApiError:
        """An error after which the connection's framing is unknown: answer, then close it."""
        self.close_connection = True
        return ApiError(status, message, headers={"Connection": "close"})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors of the HTTP layer itself (bad request line, headers) as JSON too."""
        self.close_connection = True
        self._send(code, error_payload(ApiError(code, message or "Bad request")), {"Connection": "close"})

    def handle_one_request(self) -> None:
        # Methods without a do_ handler (QUERY, CONNECT, ...) get a JSON 405 too.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            getattr(self, "do_" + self.command, self._dispatch)()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    mock: "MeetingRoomMock"


ROUTES = {"collection": ("GET", "POST"), "room": ("GET", "PATCH", "PUT", "DELETE"), "did_groups": ("GET",)}


class MeetingRoomMock:
    """The embedded mock: `start()` it, read `base_url`, `stop()` it (or use it as a context manager)."""

    def __init__(self, faults: tuple[str, ...] = (), variants: tuple[str, ...] = (), host: str = "127.0.0.1",
                 port: int = 0, verbose: bool = False, spec_path: str | None = None):
        check_names(faults, variants)
        api_spec = spec.at(str(spec_path)) if spec_path else spec.current()
        self.store = MeetingRoomStore(frozenset(faults), frozenset(variants), api_spec)
        self.host, self.port, self.verbose = host, port, verbose
        self.requests_served = 0
        self._counter_lock = threading.Lock()
        self._blocked_until = 0.0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> frozenset[str]:
        return self.store.faults

    @property
    def variants(self) -> frozenset[str]:
        return self.store.variants

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def accounts(self) -> list[Account]:
        return self.store.accounts

    def start(self) -> "MeetingRoomMock":
        self._server = _Server((self.host, self.port), _Handler)
        self._server.mock = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="meeting-room-mock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "MeetingRoomMock":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ------------------------------------------------------------------
    def _throttle(self) -> tuple[int, Any, dict[str, str]] | None:
        with self._counter_lock:
            self.requests_served += 1
            count = self.requests_served
            now = time.monotonic()
            if "rate_limited" in self.variants:
                if now < self._blocked_until:
                    wait = max(1, int(self._blocked_until - now + 0.999))
                    return 429, {"message": "Too Many Requests (retried before Retry-After)"}, {"Retry-After": str(wait)}
                if count % 60 == 0:
                    self._blocked_until = now + 1.0
                    return 429, {"message": "Too Many Requests"}, {"Retry-After": "1"}
        if "slow" in self.variants:
            time.sleep(0.6 if count % 40 == 0 else 0.015)
        return None

    def handle(self, method: str, raw_path: str, headers: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        throttled = self._throttle()
        if throttled:
            return throttled
        count = self.requests_served
        flaky = "flaky_gateway" in self.variants
        if flaky and count % 47 == 0:
            return 503, GATEWAY_PAGE % 503, {"Content-Type": "text/html"}  # the request never reached the API
        answer = self._answer(method, raw_path, headers, raw)
        if flaky and method in ("POST", "PATCH", "PUT", "DELETE") and count % 37 == 0:
            return 502, GATEWAY_PAGE % 502, {"Content-Type": "text/html"}  # applied, but the answer got lost
        return answer

    def _answer(self, method: str, raw_path: str, headers: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        store = self.store
        try:
            url = urlsplit(raw_path)
            if not url.path.startswith(API_PREFIX + "/"):
                raise ApiError(404, "Not Found")
            path = url.path[len(API_PREFIX):].rstrip("/") or "/"
            route, sid = self._route(path)
            allowed = ROUTES[route]
            if method not in allowed:
                raise ApiError(405, f"Method {method} not allowed", headers={"Allow": ", ".join(allowed)})
            if not (headers.get("Authorization") or "").isascii():  # http.server decodes headers as latin-1
                raise ApiError(401, "Bad credentials", headers={"WWW-Authenticate": 'Basic realm="conference"'})
            with store.lock:
                account = store.authenticate(headers.get("Authorization"), method, path)
                body = self._body(method, headers, raw) if method in ("POST", "PATCH", "PUT") else None
                query = parse_qs(url.query, keep_blank_values=True)
                if route == "collection" and method == "GET":
                    return 200, store.list_rooms(account, query), {}
                if route == "collection":
                    status, room = store.create(account, body)
                    return status, room, {}
                if route == "did_groups":
                    return 200, store.list_did_groups(account, query), {}
                if method == "GET":
                    return 200, store.get(account, sid), {}
                if method == "DELETE":
                    deleted = store.get(account, sid)
                    store.delete(account, sid)
                    if store.variant("delete_200_empty"):
                        return 200, None, {}  # Content-Length: 0 and no Content-Type
                    return (200, deleted, {}) if store.variant("delete_200") else (204, None, {})
                if method == "PATCH":
                    return 200, store.patch(account, sid, body), {}
                return 200, store.put(account, sid, body), {}
        except GatewayError as error:
            return error.status, GATEWAY_PAGE % error.status, {"Content-Type": "text/html"}
        except ApiError as error:
            if error.status == 404 and store.fault("error_body_not_json"):
                return 404, b"<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html"}
            if error.status == 401 and store.variant("unauthorized_from_gateway"):
                return 401, b"<html><body><h1>401 Authorization Required</h1></body></html>", {
                    "Content-Type": "text/html", **error.headers}
            if store.variant("error_bodies_other_shape"):
                return error.status, {"error": {"status": error.status, "detail": error.message}}, dict(error.headers)
            return error.status, error_payload(error), dict(error.headers)

    @staticmethod
    def _route(path: str) -> tuple[str, str | None]:
        if path == "/meeting_rooms":
            return "collection", None
        if path == "/did_groups":
            return "did_groups", None
        match = ROOM_PATH.match(path)
        if match:
            return "room", match.group(1)
        raise ApiError(404, "Not Found")

    def _body(self, method: str, headers: Any, raw: bytes) -> Any:
        if not raw:
            raise ApiError(400, f"{method} needs a JSON body; send {{}} for an empty one")
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json" and not self.store.fault("missing_content_type_accepted"):
            raise ApiError(415, "Unsupported media type: send Content-Type: application/json")
        if self.store.fault("charset_content_type_refused") and headers.get("Content-Type") != "application/json":
            raise ApiError(415, "Unsupported media type: send Content-Type: application/json")  # issue 13 fault
        encoding = "latin-1" if self.store.fault("raw_utf8_body_misdecoded") else "utf-8"  # issue 13 fault
        try:
            body = json.loads(raw.decode(encoding), parse_int=_json_int, parse_float=_json_float,
                              parse_constant=_json_constant)
        except (UnicodeDecodeError, json.JSONDecodeError):
            if self.store.fault("malformed_json_server_error"):
                raise RuntimeError("unparsed body") from None
            raise ApiError(400, "No JSON object could be decoded") from None
        except RecursionError:  # deeper than the parser goes
            raise ApiError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        if _too_deep(body):
            raise ApiError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return body


def error_payload(error: ApiError) -> dict[str, Any]:
    """The API's JSON error body."""
    return {"message": error.message,
            "errors": [{"field": error.field_name, "message": error.message, "reference_sid": None}]}


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ApiError(400, f"JSON number longer than {MAX_NUMBER_CHARS} digits")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value):
        raise ApiError(400, f"JSON number out of range: {text[:40]}")
    return value


def _json_constant(name: str) -> Any:
    raise ApiError(400, f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    """Whether arrays/objects nest deeper than MAX_JSON_DEPTH (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


# -- issue 13 faults (edge branch): small hooks, replaced by the independent mock at merge --------------

_INVISIBLE = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}


def issue13_stored(store: MeetingRoomStore, room: dict[str, Any]) -> dict[str, Any]:
    """What a storage layer with the issue-13 bugs keeps of a room."""
    import unicodedata

    name = room.get("name")
    if isinstance(name, str):
        if store.fault("non_ascii_replaced_with_question_mark"):
            name = "".join(char if char.isascii() else "?" for char in name)
        if store.fault("names_normalised_to_nfc"):
            name = unicodedata.normalize("NFC", name)
        if store.fault("astral_characters_dropped"):
            name = "".join(char for char in name if ord(char) <= 0xFFFF)
        if store.fault("invisible_characters_stripped"):
            name = "".join(char for char in name if ord(char) not in _INVISIBLE)
        room["name"] = name
    props = room.get("properties")
    if isinstance(props, dict):
        if store.fault("astral_characters_dropped"):
            props = {key: "".join(c for c in value if ord(c) <= 0xFFFF) if isinstance(value, str) else value
                     for key, value in props.items()}
        if store.fault("properties_truncated_at_20_keys") and len(props) > 20:
            props = dict(list(props.items())[:20])
        room["properties"] = props
    if store.fault("access_codes_truncated_at_10") and isinstance(room.get("access_codes"), list):
        room["access_codes"] = room["access_codes"][:10]
    return room


def issue13_authenticate(store: MeetingRoomStore, header: str | None) -> Account | None:
    """The account a faulty credential check lets in (None: the correct check decides)."""
    if not header:
        return None
    if not header.startswith("Basic "):
        return store.accounts[0] if store.fault("malformed_authorization_accepted") else None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return store.accounts[0] if store.fault("malformed_authorization_accepted") else None
    if ":" not in decoded:
        return store.accounts[0] if store.fault("malformed_authorization_accepted") else None
    login, _, password = decoded.partition(":")
    known = {account.login: account for account in store.accounts}
    by_password = next((account for account in store.accounts if account.password == password), None)
    if login not in known and by_password is not None and store.fault("unknown_user_with_known_password_accepted"):
        return by_password
    if login in known and by_password is not None and store.fault("password_of_other_login_accepted"):
        return known[login]
    return None


def issue13_conflict_detail(store: MeetingRoomStore, codes: set[Any], unique: Any) -> str:
    """(fault) The 409's message lists every room of any account holding a code, with its sid and codes."""
    if not store.fault("conflict_reveals_foreign_room"):
        return ""
    holders = [f"{sid} ({', '.join(sorted(store.model.unique_values(room, unique)))})"
               for sid, room in store.rooms.items() if codes & store.model.unique_values(room, unique)]
    return "; held by rooms: " + "; ".join(holders)
