"""Faults and variants as hooks beside the correct path: per behaviour, what it does at which named point.

The correct path (semantics.py, http.py) calls `hooks(point, value, call, **info)` at the points
listed in POINTS; each switched-on behaviour's function for that point gets the value (and the
call) and returns the value to go on with, or raises the answer it wants. A behaviour is a
factory returning {point: function}, so a behaviour that needs state (a counter, a snapshot)
keeps it in its closure, one per mock. Names, rules and descriptions live in behaviours.py.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import unicodedata
from collections import defaultdict
from typing import Any, Callable

from .schema import REPO_SPEC, load
from .semantics import ApiError, Answer, Call, GatewayError
from .store import Conflict

Hook = Callable[..., Any]

POINTS = {
    # http.py
    "before_request": "None -> an Answer to send instead (rate limits, gateway pages), or None; info: count, target, raw",
    "idle_timeout": "None -> seconds after which the server closes a kept-alive connection left idle (None: never)",
    "drop_unanswered": "False -> whether to close the connection after reading a request, without handling or answering "
                       "it; info: reused (an earlier request was answered on this connection)",
    "final_answer": "the Answer about to be sent -> the one sent; info: count, target, raw",
    "media_type_ok": "whether the Content-Type names JSON -> whether the body is read; info: content_type",
    "body_encoding": "the encoding the body bytes are decoded with (utf-8); info: chunked (Transfer-Encoding: chunked)",
    "malformed_json": "the ApiError for a body that is not JSON -> the exception raised",
    # semantics.py
    "startup": "None, once when the mock is built",
    "schema": "the ApiSchema the backend follows; info: purpose (backend: everything, values: value validation)",
    "status": "the status of a kind of refusal; info: kind (semantics.STATUS)",
    "authenticate": "the Account the credentials name (None: 401) -> the Account let in",
    "any_account": "False -> whether a room of another account is found too",
    "before_lookup": "None, before a PUT looks its room up",
    "before_validation": "None, after the room was found, before the body is validated",
    "read_only": "{read-only field: different value sent} (ignored) -> raise to refuse",
    "unknown_fields": "[fields the spec does not know] (ignored) -> raise to refuse",
    "put_read_only": "[read-only fields a PUT carries] (optional) -> raise to refuse",
    "put_missing": "[modifiable fields a PUT lacks] -> the ones that make it refused",
    "before_values": "the body, before its values are validated",
    "value_errors": "[why values break the spec] -> the reasons that refuse the body",
    "reference_known": "whether an x-references value names an item of the account; info: value, reference",
    "duplicates": "{unique values repeated in the body} -> those that refuse it",
    "validated": "the accepted body -> the body the operation uses (or raise)",
    "new_room": "the room a POST builds -> the room",
    "patch_updates": "{modifiable field: value} a PATCH sets -> the updates applied",
    "patch_compute": "the function computing the patched room from the stored one -> the function used",
    "patch_base": "the stored room a PATCH starts from -> the base",
    "properties_mode": "'merge' for an x-patch: merge-or-replace object -> 'merge' or 'replace'; info: value",
    "patched": "the room after a PATCH -> the room; info: updates",
    "replaced": "the room after a PUT -> the room",
    "applied": "the room after POST/PATCH/PUT with the body applied -> the room",
    "stored": "the room about to be stored -> what the storage keeps (and answers)",
    "to_store": "the updated room -> what is written",
    "uniqueness_scope": "the scope key of a room's unique values (None: unique nowhere); info: parts",
    "conflict_exclude": "the sid excluded from an update's uniqueness check -> the sid (None: none)",
    "conflict": "the ApiError refusing a value in use -> the error raised; info: rule, values, room (the refused state)",
    "created": "the room a POST stored",
    "updated": "the room a PATCH or PUT stored",
    "update_answer": "the updated room -> the room answered",
    "create_status": "200 -> the status of a successful POST",
    "delete_mode": "'remove' -> 'remove' or 'soft' (the row stays, hidden from updates)",
    "delete_answer": "Answer(204) -> the answer; info: room",
    "render": "a room about to be answered -> the JSON answered",
    "list_item": "a room as an item of the account's list -> the item",
    "envelope": "the list envelope -> the envelope answered",
}


class Hooks:
    """The chains of the switched-on behaviours, point by point; calling it runs one point's chain."""

    def __init__(self, names: list[str] | tuple[str, ...] | frozenset[str]):
        self.chains: dict[str, list[Hook]] = defaultdict(list)
        for name in names:
            for point, function in BEHAVIOURS[name]().items():
                if point not in POINTS:
                    raise ValueError(f"behaviour {name}: no hook point {point!r}")
                self.chains[point].append(function)

    def __call__(self, point: str, value: Any, call: Call, /, **info: Any) -> Any:
        for function in self.chains.get(point, ()):
            value = function(value, call, **info)
        return value


# -- small helpers of the behaviours -------------------------------------------------------------------

def when(predicate: Callable[[Call], bool], function: Hook) -> Hook:
    """`function` for the calls `predicate` accepts; the identity for the others."""
    return lambda subject, call, /, **info: function(subject, call, **info) if predicate(call) else subject


def method(*methods: str) -> Callable[[Call], bool]:
    return lambda call: call.method in methods


def fail(status: int, message: str, field_name: str | None = None) -> Hook:
    def refuse(subject: Any, call: Call, /, **info: Any) -> Any:
        raise ApiError(status, message, field_name)
    return refuse


def statuses(**by_kind: int) -> dict[str, Hook]:
    return {"status": lambda status, call, kind, **info: by_kind.get(kind, status)}


def stored_text(transform: Callable[[str], str], *, properties: bool = False) -> dict[str, Hook]:
    """A storage layer that alters names (and, with `properties`, property values) on the way in."""
    def keep(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("name"), str):
            room["name"] = transform(room["name"])
        if properties and isinstance(room.get("properties"), dict):
            room["properties"] = {k: transform(v) if isinstance(v, str) else v for k, v in room["properties"].items()}
        return room
    return {"stored": keep}


def reject_read_only(status: int) -> dict[str, Hook]:
    def refuse(changes: dict[str, Any], call: Call, **info: Any) -> Any:
        if changes:
            raise ApiError(status, f"Read-only field(s) cannot be changed: {', '.join(changes)}", next(iter(changes)))
        return changes
    return {"read_only": refuse}


def require_read_only_on_put() -> dict[str, Hook]:
    def refuse(present: list[str], call: Call, **info: Any) -> Any:
        missing = [f for f in call.schema.read_only if f not in present]
        if missing:
            raise ApiError(call.api.status("read_only_missing", call), f"PUT requires every field; missing: {', '.join(missing)}",
                           missing[0])
        return present
    return {"put_read_only": refuse}


def html(status: int, text: str) -> bytes:
    return f"<html><body><h1>{status} {text}</h1></body></html>".encode()


GATEWAY_PAGE = ("<html><head><title>{0} Service Temporarily Unavailable</title></head><body><center><h1>{0}</h1>"
                "</center><hr><center>nginx</center></body></html>")


def gateway_answer(status: int) -> Answer:
    return Answer(status, GATEWAY_PAGE.format(status).encode(), {"Content-Type": "text/html"})


def scope_without(name: str) -> Hook:
    def scope(key: str | None, call: Call, parts: dict[str, Any], **info: Any) -> str | None:
        return None if key is None else json.dumps({k: v for k, v in parts.items() if k != name}, sort_keys=True)
    return scope


NON_LATIN1 = lambda text: text.encode("latin-1", errors="replace").decode("latin-1")  # noqa: E731
INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
ASTRAL = re.compile("[\U00010000-\U0010ffff]")


# -- behaviours with state or several points -----------------------------------------------------------

def _patch_properties_not_persisted() -> dict[str, Hook]:
    def keep_old(new: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if call.method == "PATCH" and "properties" in call.body:
            return {**new, "properties": copy.deepcopy(call.room["properties"])}
        return new
    return {"to_store": keep_old}


def _properties_mode_depends_on_size() -> dict[str, Hook]:
    return {"properties_mode": lambda mode, call, value, **info: "merge" if isinstance(value, dict) and len(value) == 1
            else "replace"}


def _properties_merge_drops_empty_values() -> dict[str, Hook]:
    def drop(new: dict[str, Any], call: Call, updates: dict[str, Any], **info: Any) -> dict[str, Any]:
        sent = updates.get("properties")
        if isinstance(sent, dict) and isinstance(new.get("properties"), dict):
            new["properties"] = {k: v for k, v in new["properties"].items() if not (k in sent and v == "")}
        return new
    return {"patched": drop}


def _empty(value: Any) -> bool:
    """An empty value as a careless `if value:` sees it: null, an empty string, array or object."""
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def _put_keeps_old_on_empty() -> dict[str, Hook]:
    """The PUT handler copies a field only `if body[field]:`; an empty value leaves the old one."""
    def keep_old(new: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        for name in call.schema.modifiable:
            if name in call.body and _empty(call.body[name]) and name in call.room:
                new[name] = copy.deepcopy(call.room[name])
        return new
    return {"replaced": keep_old}


def _patch_ignores_empty_values() -> dict[str, Hook]:
    """The PATCH handler takes a sent field as 'not sent' when its value is empty."""
    return {"patch_updates": lambda updates, call, **info: {k: v for k, v in updates.items() if not _empty(v)}}


def _post_drops_empty_values() -> dict[str, Hook]:
    """The POST handler builds the room from `{k: v for k, v in body.items() if v}`: a field sent
    empty gets the default of a field not sent (an empty name is stored as null)."""
    def drop(body: Any, call: Call, **info: Any) -> Any:
        if call.method == "POST" and isinstance(body, dict):
            return {k: v for k, v in body.items() if not _empty(v)}
        return body
    return {"validated": drop}


def _nested(properties: dict[str, Any]) -> dict[str, Any]:
    """A document store's update by path: `a.b` is written as `b` inside an object `a`."""
    out: dict[str, Any] = {}
    for key, value in properties.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[last] = value
    return out


def _property_keys_dotted_nested() -> dict[str, Hook]:
    """Property keys with a dot are paths to the store (`a.b` -> `{"a": {"b": v}}`); the serializer,
    which knows property values are strings, leaves the nested objects out of every answer."""
    def store(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("properties"), dict):
            room["properties"] = _nested(room["properties"])
        return room

    def render(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("properties"), dict):
            room["properties"] = {k: v for k, v in room["properties"].items() if not isinstance(v, dict)}
        return room
    return {"stored": store, "render": render}


def _property_keys_lowercased() -> dict[str, Hook]:
    """A case-insensitive key column: property keys are stored in lower case (of `Mode` and `mode`, one is left)."""
    def store(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("properties"), dict):
            room["properties"] = {k.lower(): v for k, v in room["properties"].items()}
        return room
    return {"stored": store}


def _property_keys_dollar_dropped() -> dict[str, Hook]:
    """An input sanitizer against operator injection removes property keys starting with `$` (answered 200)."""
    def sanitize(body: Any, call: Call, **info: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("properties"), dict):
            return {**body, "properties": {k: v for k, v in body["properties"].items() if not k.startswith("$")}}
        return body
    return {"validated": sanitize}


def _partially_applied(method_name: str, field_name: str, kind: type) -> dict[str, Hook]:
    """The handler writes one field before it validates the rest: a refusal leaves it behind."""
    def write_early(value: None, call: Call, **info: Any) -> None:
        if call.method == method_name and isinstance(call.body, dict) and isinstance(call.body.get(field_name), kind):
            room = {**call.room, field_name: copy.deepcopy(call.body[field_name])}
            call.api.store.set_document(call.sid, room)
        return value
    return {"before_validation": write_early}


def _put_missing_field_accepted() -> dict[str, Hook]:
    def fill(body: Any, call: Call, **info: Any) -> Any:
        if call.method == "PUT":
            return {**{f: call.room[f] for f in call.schema.modifiable if f in call.room}, **body}
        return body
    return {"put_missing": lambda missing, call, **info: [], "validated": fill}


def _put_merges_properties() -> dict[str, Hook]:
    def merge(new: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        new["properties"] = {**call.room["properties"], **call.body["properties"]}
        return new
    return {"replaced": merge}


def _put_rejects_read_only_fields() -> dict[str, Hook]:
    def refuse(present: list[str], call: Call, **info: Any) -> Any:
        raise ApiError(422, "Read-only fields cannot be sent" if present else "PUT requires every field")
    return {"put_read_only": refuse}


def _put_unchanged_body_rejected() -> dict[str, Hook]:
    def refuse(body: Any, call: Call, **info: Any) -> Any:
        if call.method == "PUT" and all(body.get(f) == call.room.get(f) for f in call.schema.modifiable):
            raise ApiError(422, "Nothing to update")
        return body
    return {"validated": refuse}


def _read_only_applied(method_name: str, field_name: str) -> dict[str, Hook]:
    def apply(new: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if call.method == method_name and isinstance(call.body.get(field_name), str):
            new[field_name] = call.body[field_name]
        return new
    return {"applied": apply}


def _read_only_current_value_rejected() -> dict[str, Hook]:
    def refuse(changes: dict[str, Any], call: Call, **info: Any) -> Any:
        sent = [f for f in call.schema.read_only if f in call.body]
        if sent:
            raise ApiError(422, "Read-only fields cannot be sent", sent[0])
        return changes
    return {"read_only": refuse}


def _null_did_group_omitted() -> dict[str, Hook]:
    def omit(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if room.get("did_group_sid", "") is None:
            del room["did_group_sid"]
        return room
    return {"render": omit}


def _list_envelope_without_total() -> dict[str, Hook]:
    def cut(listed: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        listed.pop("total", None)
        listed.pop("has_more", None)
        return listed
    return {"envelope": cut}


def _create_requires_name() -> dict[str, Hook]:
    def refuse(body: Any, call: Call, **info: Any) -> Any:
        if call.method == "POST" and "name" not in body:
            raise ApiError(422, "name is required", "name")
        return body
    return {"validated": refuse}


def _error_body_not_json() -> dict[str, Hook]:
    def page(answer: Answer, call: Call, **info: Any) -> Answer:
        if answer.error is not None and answer.status == 404:
            return Answer(404, html(404, "Not Found"), {"Content-Type": "text/html"})
        return answer
    return {"final_answer": page}


def _deleted_room_still_readable() -> dict[str, Hook]:
    return {"delete_mode": lambda mode, call, **info: "soft"}


def _put_creates_unknown_room() -> dict[str, Hook]:
    def upsert(value: None, call: Call, **info: Any) -> None:
        if isinstance(call.body, dict) and call.api.store.room(call.sid) is None:
            room = call.api.new_room(call.schema, {}, call.account.account_sid, call.sid)
            call.api.store.insert(room, call.schema.id_field, "account_sid", [])
        return value
    return {"before_lookup": upsert}


def _persistent_gateway_error_on_put() -> dict[str, Hook]:
    def timeout(value: None, call: Call, **info: Any) -> None:
        if call.method == "PUT" and isinstance(call.body, dict) and isinstance(call.body.get("did_group_sid"), str):
            raise GatewayError(503)
        return value
    return {"before_validation": timeout}


def _numeric_property_values_coerced() -> dict[str, Hook]:
    def coerce(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("properties"), dict):
            room["properties"] = {k: int(v) if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v) else v
                                  for k, v in room["properties"].items()}
        return room
    return {"render": coerce}


def _access_codes_map(transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], point: str) -> dict[str, Hook]:
    def change(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("access_codes"), list):
            room["access_codes"] = transform(room["access_codes"])
        return room
    return {point: change}


def _leading_zeros_dropped(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**entry, "access_code": str(int(entry["access_code"]))}
            if isinstance(entry, dict) and str(entry.get("access_code", "")).isdigit() and entry["access_code"].isascii()
            else entry for entry in codes]


def _properties_truncated_at_20_keys() -> dict[str, Hook]:
    def cut(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if isinstance(room.get("properties"), dict) and len(room["properties"]) > 20:
            room["properties"] = dict(list(room["properties"].items())[:20])
        return room
    return {"stored": cut}


def _invalid_role_server_error() -> dict[str, Hook]:
    def lookup(body: Any, call: Call, **info: Any) -> Any:
        roles = {"host": 1, "participant": 2, "listener": 3}
        codes = body.get("access_codes")
        for entry in codes if isinstance(codes, list) else []:
            if isinstance(entry, dict):
                roles[entry.get("role")]  # KeyError -> 500, the injected bug
        return body
    return {"before_values": lookup}


def _malformed_json_server_error() -> dict[str, Hook]:
    return {"malformed_json": lambda error, call, **info: RuntimeError("unparsed body")}


def _unknown_field_stored() -> dict[str, Hook]:
    def keep(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        room.update({k: copy.deepcopy(v) for k, v in call.body.items() if k not in call.schema.fields})
        return room
    return {"new_room": keep, "applied": keep}


def _refused_create_still_stored() -> dict[str, Hook]:
    """POST writes the room before the uniqueness check: the refusal is right, the room is there all the same."""
    def store_anyway(error: ApiError, call: Call, room: dict[str, Any] | None = None, **info: Any) -> ApiError:
        if call.method == "POST" and room is not None and call.api.store.room(room["meeting_room_sid"]) is None:
            call.api.store.insert(copy.deepcopy(room), call.schema.id_field, "account_sid",
                                  call.api.unique_rows(call, room), indexed=False)
        return error
    return {"conflict": store_anyway}


def _put_conflicts_with_own_codes() -> dict[str, Hook]:
    return {"conflict_exclude": lambda sid, call, **info: None if call.method == "PUT" else sid}


def _bogus_conflict_on_codes_with_other_field() -> dict[str, Hook]:
    def refuse(body: Any, call: Call, **info: Any) -> Any:
        if call.method == "PATCH" and "access_codes" in body and len(set(body) & set(call.schema.modifiable)) > 1:
            raise ApiError(409, "Access code already in use", "access_codes")
        return body
    return {"validated": refuse}


def _conflict_on_codes_held_in_other_group() -> dict[str, Hook]:
    """A PATCH that leaves codes and DID group alone still checks the stored codes against the
    account's rooms of *other* DID groups."""
    def refuse(body: Any, call: Call, **info: Any) -> Any:
        if call.method != "PATCH" or "access_codes" in body or "did_group_sid" in body:
            return body
        codes = {e.get("access_code") for e in call.room.get("access_codes") or [] if isinstance(e, dict)}
        for other in call.api.store.rooms(call.account.account_sid):
            if (other["meeting_room_sid"] != call.sid and other.get("did_group_sid") != call.room.get("did_group_sid")
                    and codes & {e.get("access_code") for e in other.get("access_codes") or [] if isinstance(e, dict)}):
                raise ApiError(409, "access_code value(s) already used", "access_codes")
        return body
    return {"validated": refuse}


def _conflict_reveals_foreign_room() -> dict[str, Hook]:
    def reveal(error: ApiError, call: Call, rule: Any, values: list[str], **info: Any) -> ApiError:
        holders = call.api.store.holders_anywhere(rule.array_field, values)
        error.details["conflicting_rooms"] = [{"meeting_room_sid": sid, "account_sid": account, "access_code": value}
                                              for sid, account, value in holders]
        return error
    return {"conflict": reveal}


def _put_without_auth_allowed() -> dict[str, Hook]:
    def owner(account: Any, call: Call, **info: Any) -> Any:
        if account is None and call.credentials.kind == "none" and call.method == "PUT" and call.route == "room":
            found = call.api.store.room(call.sid or "")
            if found is not None:
                return call.api.account(found[0]["account_sid"])
        return account
    return {"authenticate": owner}


def _credentials_matrix(kind: str) -> dict[str, Hook]:
    """Authentication bugs: who gets in by what."""
    def let_in(account: Any, call: Call, **info: Any) -> Any:
        if account is not None:
            return account
        api, credentials = call.api, call.credentials
        if kind == "malformed":
            return api.accounts[0] if credentials.kind == "malformed" else None
        if credentials.kind != "basic":
            return None
        known = api.store.account_by_login(credentials.login or "")
        if kind == "any_password":
            return api.account(known[0]) if known else None
        holders = api.store.accounts_with_password(credentials.password or "")
        if kind == "unknown_user" and known is None and holders:
            return api.account(holders[0])
        if kind == "other_password" and known is not None and holders:
            return api.account(known[0])
        return None
    return {"authenticate": let_in}


def _foreign_room_patchable() -> dict[str, Hook]:
    return {"any_account": lambda mine, call, **info: mine or call.method == "PATCH"}


def _foreign_did_group_accepted() -> dict[str, Hook]:
    def anywhere(known: bool, call: Call, value: str, reference: Any, **info: Any) -> bool:
        return known or value in {item.get(reference.key) for item in call.api.resources(None, reference.resource)}
    return {"reference_known": anywhere}


def _shared_default_properties() -> dict[str, Hook]:
    """Rooms created without properties share one object; a merge into one of them changes all."""
    shared: dict[str, Any] = {}
    sharing: set[str] = set()

    def share(room: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        if "properties" not in call.body:
            room["properties"] = copy.deepcopy(shared)
        return room

    def created(room: dict[str, Any], call: Call, **info: Any) -> None:
        if "properties" not in call.body:
            sharing.add(room["meeting_room_sid"])

    def updated(room: dict[str, Any], call: Call, **info: Any) -> None:
        if call.sid not in sharing:
            return
        merged = (call.method == "PATCH" and isinstance(call.body.get("properties"), dict)
                  and call.api.hooks("properties_mode", "merge", call, value=call.body["properties"]) == "merge")
        if not merged:
            sharing.discard(call.sid)
            return
        shared.update(call.body["properties"])  # in place, on the object every sharing room holds
        for sid in sorted(sharing):
            found = call.api.store.room(sid)
            if found is None:
                sharing.discard(sid)
            else:
                call.api.store.set_document(sid, {**found[0], "properties": copy.deepcopy(shared)})
    return {"new_room": share, "created": created, "updated": updated}


def _lost_update_under_concurrency() -> dict[str, Hook]:
    def unlocked(compute: Callable[[dict[str, Any]], dict[str, Any]], call: Call, **info: Any) -> Callable[..., Any]:
        def read_compute_write(room: dict[str, Any]) -> dict[str, Any]:
            stale = copy.deepcopy(room)  # read ...
            with call.api.store.released():  # ... then compute without holding the lock
                time.sleep(0.05)
            return compute(stale)
        return read_compute_write
    return {"patch_compute": unlocked}


# -- spec faults ------------------------------------------------------------------------------------------

def _patch_ignores_x_since() -> dict[str, Hook]:
    def ignore(updates: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        return {k: v for k, v in updates.items() if k not in call.schema.since}
    return {"patch_updates": ignore}


def _old_spec(only_patch_values: bool) -> dict[str, Hook]:
    def old(schema: Any, call: Call, purpose: str, **info: Any) -> Any:
        if only_patch_values and not (purpose == "values" and call.method == "PATCH"):
            return schema
        return load(REPO_SPEC)
    return {"schema": old}


# -- variants ------------------------------------------------------------------------------------------------

def _properties_replace() -> dict[str, Hook]:
    return {"properties_mode": lambda mode, call, **info: "replace"}


def _strict(check: Callable[[dict[str, Any], Call], list[str]]) -> dict[str, Hook]:
    def add(reasons: list[str], call: Call, **info: Any) -> list[str]:
        return reasons + check(call.body, call)
    return {"value_errors": add}


def _six_digit_codes(body: dict[str, Any], call: Call) -> list[str]:
    codes = body.get("access_codes")
    if isinstance(codes, list) and any(isinstance(e, dict) and not re.fullmatch(r"[0-9]{6}", str(e.get("access_code")))
                                       for e in codes):
        return ["access_codes must be 6 digits"]
    return []


def _per_key_values(body: dict[str, Any], call: Call) -> list[str]:
    reasons = []
    props = body.get("properties")
    if isinstance(props, dict):
        for key, value in props.items():
            for form in call.api.schema.value_forms:
                if re.search(form["keys"], key) and not (isinstance(value, str) and re.fullmatch(form["values"], value)):
                    reasons.append(f"properties {key}: value {value!r} is not of the form {form['values']}")
    return reasons


def _names_max_40(body: dict[str, Any], call: Call) -> list[str]:
    name = body.get("name")
    return [f"name too long ({len(name)} characters, at most 40)"] if isinstance(name, str) and len(name) > 40 else []


def _empty_name(body: dict[str, Any], call: Call) -> list[str]:
    return ["name must not be empty"] if body.get("name") == "" else []


def _unknown_fields_rejected() -> dict[str, Hook]:
    def refuse(unknown: list[str], call: Call, **info: Any) -> Any:
        if unknown:
            raise ApiError(call.api.status("unknown_field", call), f"Unknown field(s): {', '.join(unknown)}", unknown[0])
        return unknown
    return {"unknown_fields": refuse}


def _put_validated_before_lookup() -> dict[str, Hook]:
    def validate_first(value: None, call: Call, **info: Any) -> None:
        call.api.validate(call, room=None)  # the framework validates the body before the handler runs
        return value
    return {**require_read_only_on_put(), "before_lookup": validate_first}


def _error_bodies_other_shape() -> dict[str, Hook]:
    def reshape(answer: Answer, call: Call, **info: Any) -> Answer:
        if answer.error is not None and isinstance(answer.payload, dict):
            return Answer(answer.status, {"error": {"status": answer.status, "detail": answer.error.message}},
                          answer.headers, answer.error)
        return answer
    return {"final_answer": reshape}


def _unauthorized_from_gateway() -> dict[str, Hook]:
    def page(answer: Answer, call: Call, **info: Any) -> Answer:
        if answer.status == 401:
            return Answer(401, html(401, "Authorization Required"), {**answer.headers, "Content-Type": "text/html"})
        return answer
    return {"final_answer": page}


def _chunked_body_refused() -> dict[str, Hook]:
    """A front proxy that wants a length: a body sent with `Transfer-Encoding: chunked` is refused 411."""
    def refuse(encoding: str, call: Call, chunked: bool = False, **info: Any) -> str:
        if chunked:
            raise ApiError(411, "Length Required: send the body with a Content-Length")
        return encoding

    return {"body_encoding": refuse}


def _delete_200(with_room: bool) -> dict[str, Hook]:
    return {"delete_answer": lambda answer, call, room, **info: Answer(200, room if with_room else None)}


OTHER_TESTER_CODES = ("000000", "111111", "123456", "000001", "100000", "999999", "012345", "654321")


def _other_tester_rooms() -> dict[str, Hook]:
    """The first account holds rooms of another tester (with the simplest codes); now and then that
    tester grabs a code a room just got (a race the unique index never saw)."""
    updates = [0]

    def seed(value: None, call: Call, **info: Any) -> None:
        account = call.api.accounts[0].account_sid
        for index in range(0, len(OTHER_TESTER_CODES), 2):
            call.api.add_room(account, {"name": f"someone else's room {index // 2}", "access_codes": [
                {"access_code": code, "role": "host"} for code in OTHER_TESTER_CODES[index:index + 2]]})
        return value

    def race(room: dict[str, Any], call: Call, **info: Any) -> None:
        updates[0] += 1
        if updates[0] % 25 == 0 and room.get("access_codes"):
            call.api.add_room(room["account_sid"], {"name": "someone else's room (raced)", "access_codes": room["access_codes"][:1],
                                                    "did_group_sid": room.get("did_group_sid")}, indexed=False)
    return {"startup": seed, "updated": race}


def _flaky_gateway() -> dict[str, Hook]:
    def before(value: Any, call: Call, count: int, **info: Any) -> Any:
        return gateway_answer(503) if count % 47 == 0 else value  # the request never reached the API

    def after(answer: Answer, call: Call, count: int, **info: Any) -> Answer:
        if call.method in ("POST", "PATCH", "PUT", "DELETE") and count % 37 == 0:
            return gateway_answer(502)  # applied, but the answer got lost
        return answer
    return {"before_request": before, "final_answer": after}


# -- a staging deployment: the infrastructure in front of the API, and the other testers of the account ---------
# (variants: the suite must pass each with no room left and no room of another tester touched;
# tests/test_staging_simulation.py runs them over HTTP and checks the store itself)

DEPLOY_EVERY = 350  # requests between two rolling-deploy windows
DEPLOY_WINDOW_S = 2.5  # how long a window answers 503 (Retry-After: 1)


def _rolling_deploy() -> dict[str, Hook]:
    """Every DEPLOY_EVERY requests a rolling deploy starts: for DEPLOY_WINDOW_S every request is answered 503
    by the gateway (an HTML page, `Retry-After: 1`), nothing reaches the API."""
    lock = threading.Lock()
    window_ends = [0.0]

    def gateway(value: Any, call: Call, count: int, **info: Any) -> Any:
        with lock:
            now = time.monotonic()
            if count % DEPLOY_EVERY == 0 and now >= window_ends[0]:
                window_ends[0] = now + DEPLOY_WINDOW_S
            if now < window_ends[0]:
                answer = gateway_answer(503)
                answer.headers["Retry-After"] = "1"
                return answer
        return value
    return {"before_request": gateway}


IDLE_TIMEOUT_S = 0.3  # a load balancer's idle timeout, short
DROP_EVERY = 25  # every this many requests on reused connections, the balancer drops one unanswered


def _idle_connection_close() -> dict[str, Hook]:
    """A load balancer closes kept-alive connections idle for IDLE_TIMEOUT_S, and drops every DROP_EVERY-th
    request that arrives on a reused connection (its idle timer raced the request): read, never forwarded,
    the connection closed without a byte of answer."""
    lock = threading.Lock()
    reused = [0]

    def drop(value: bool, call: Call, reused_connection: bool = False, **info: Any) -> bool:
        if not info.get("reused"):
            return value
        with lock:
            reused[0] += 1
            return value or reused[0] % DROP_EVERY == 0
    return {"idle_timeout": lambda value, call, **info: IDLE_TIMEOUT_S, "drop_unanswered": drop}


ATTACK_LOOKING = re.compile(rb"(?i)<\s*script|\bdrop\s+table\b|\bunion\s+(all\s+)?select\b|'\s*or\s*'?1'?\s*=\s*'?1")
WAF_PAGE = (b"<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>"
            b"<p>Request blocked by the web application firewall.</p></body></html>")


def _firewall() -> dict[str, Hook]:
    """A web application firewall in front of the API: a body that looks like an attack (`<script`, SQL such as
    `DROP TABLE`, `UNION SELECT`, `' OR '1'='1`) is answered 403 with an HTML page; the API never sees it."""
    def inspect(value: Any, call: Call, raw: bytes = b"", **info: Any) -> Any:
        if value is None and raw and ATTACK_LOOKING.search(raw):
            return Answer(403, WAF_PAGE, {"Content-Type": "text/html", "Server": "awselb/2.0"})
        return value
    return {"before_request": inspect}


COLLEAGUE_NAME = "alice's test room"
COLLEAGUE_EVERY = 9  # requests between two actions of the colleague


def _colleague() -> dict[str, Hook]:
    """Another tester works in the first account while the suite runs: every COLLEAGUE_EVERY requests they
    create a room (a random 6-digit code, maybe one the suite drew), rename one of theirs or delete one; a
    list page is now and then counted before a room of theirs was inserted (its `total` one short, once).
    The mock keeps what they did (`api.colleague`: their rooms as they left them, and any request of
    someone else that changed or deleted one of them)."""
    import random

    rng = random.Random(20261207)
    lock = threading.Lock()
    state: dict[str, Any] = {"rooms": {}, "deleted": set(), "touched": [], "lists": 0}

    def start(value: None, call: Call, **info: Any) -> None:
        call.api.colleague = state
        return value

    def act(value: Any, call: Call, count: int, target: str = "", **info: Any) -> Any:
        sid = target.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        with lock:  # never held while the store's lock is waited for (the list hook takes this lock under it)
            if call.method in ("PATCH", "PUT", "DELETE") and sid in state["rooms"]:
                state["touched"].append((call.method, sid))
            if count % COLLEAGUE_EVERY:
                return value
            mine = [s for s in state["rooms"] if s not in state["deleted"]]
            roll = rng.random()
            gone = rng.choice(mine) if mine and roll < 0.3 else None
            code = f"{rng.randrange(100000, 1000000)}"
            name = f"{COLLEAGUE_NAME} {len(state['rooms'])}"
        schema = call.api.schema
        if gone is not None:
            with call.api.store.lock:
                found = call.api.store.room(gone)
                if found is not None and not found[1]:
                    call.api.store.mark_deleted(gone, {**found[0], **{rule.array_field: [] for rule in schema.unique}})
            with lock:
                state["deleted"].add(gone)
            return value
        try:
            room = call.api.add_room(call.api.accounts[0].account_sid,
                                     {"name": name, "access_codes": [{"access_code": code, "role": "host"}]})
        except Conflict:  # the code is held (the unique index): the colleague picks another next time
            return value
        with lock:
            state["rooms"][room[schema.id_field]] = copy.deepcopy(room)
        return value

    def counted_early(envelope: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        with lock:
            state["lists"] += 1
            if state["lists"] % 13 == 0 and envelope.get("items") and isinstance(envelope.get("total"), int):
                return {**envelope, "total": envelope["total"] - 1}  # counted before a colleague's room was inserted
        return envelope
    return {"startup": start, "before_request": act, "envelope": counted_early}


POST_502_EVERY = 7


def _gateway_502_after_post() -> dict[str, Hook]:
    """The gateway loses the answer of a POST the API applied: every POST_502_EVERY-th room creation, and
    every creation from an empty body `{}`, is stored, then answered 502 with an HTML page."""
    lock = threading.Lock()
    posts = [0]

    def lose(answer: Answer, call: Call, target: str = "", raw: bytes = b"", **info: Any) -> Answer:
        if call.method != "POST" or not target.split("?")[0].rstrip("/").endswith("/meeting_rooms") \
                or not 200 <= answer.status < 300:
            return answer
        try:
            empty = json.loads(raw or b"null") == {}
        except ValueError:
            empty = False
        with lock:
            posts[0] += 1
            lost = posts[0] % POST_502_EVERY == 0 or empty
        return gateway_answer(502) if lost else answer
    return {"final_answer": lose}


def _slow() -> dict[str, Hook]:
    def wait(value: Any, call: Call, count: int, **info: Any) -> Any:
        time.sleep(0.6 if count % 40 == 0 else 0.015)
        return value
    return {"before_request": wait}


def _rate_limited() -> dict[str, Hook]:
    lock = threading.Lock()
    blocked_until = [0.0]

    def limit(value: Any, call: Call, count: int, **info: Any) -> Any:
        with lock:
            now = time.monotonic()
            if now < blocked_until[0]:
                wait = max(1, int(blocked_until[0] - now + 0.999))
                return Answer(429, {"message": "Too Many Requests (retried before Retry-After)"}, {"Retry-After": str(wait)})
            if count % 60 == 0:
                blocked_until[0] = now + 1.0
                return Answer(429, {"message": "Too Many Requests"}, {"Retry-After": "1"})
        return value
    return {"before_request": limit}


def _charset_content_type_refused() -> dict[str, Hook]:
    return {"media_type_ok": lambda ok, call, content_type, **info: ok and content_type.strip() == "application/json"}


STAGING_BEHAVIOURS = {"rolling_deploy": _rolling_deploy, "idle_connection_close": _idle_connection_close,
                      "firewall": _firewall, "colleague": _colleague, "gateway_502_after_post": _gateway_502_after_post}

REFUSALS_400 = ("invalid", "unknown_reference", "unknown_field", "missing_put_field", "read_only_missing", "duplicate", "in_use")

BEHAVIOURS: dict[str, Callable[[], dict[str, Hook]]] = {
    # -- faults: PATCH and PUT
    "patch_resets_omitted_fields": lambda: {"patch_base": lambda room, call, **info: {
        **room, **{f: call.schema.default(f) for f in call.schema.modifiable}}},
    "patch_ignores_null_did_group": lambda: {"patch_updates": lambda updates, call, **info: {
        k: v for k, v in updates.items() if not (k == "did_group_sid" and v is None)}},
    "patch_empty_body_rejected": lambda: {"validated": when(lambda call: call.method == "PATCH" and call.body == {},
                                                            fail(422, "Nothing to update"))},
    "patch_response_stale": lambda: {"update_answer": when(method("PATCH"), lambda new, call, **info: call.room)},
    "patch_properties_not_persisted": _patch_properties_not_persisted,
    "properties_mode_depends_on_size": _properties_mode_depends_on_size,
    "properties_merge_drops_empty_values": _properties_merge_drops_empty_values,
    "patch_ignores_empty_values": _patch_ignores_empty_values,
    "rejected_patch_partially_applied": lambda: _partially_applied("PATCH", "name", str),
    "rejected_put_partially_applied": lambda: _partially_applied("PUT", "properties", dict),
    "put_missing_field_accepted": _put_missing_field_accepted,
    "put_merges_properties": _put_merges_properties,
    "put_unchanged_body_rejected": _put_unchanged_body_rejected,
    "put_response_stale": lambda: {"update_answer": when(method("PUT"), lambda new, call, **info: call.room)},
    "put_rejects_read_only_fields": _put_rejects_read_only_fields,
    "put_keeps_old_on_empty": _put_keeps_old_on_empty,
    "post_drops_empty_values": _post_drops_empty_values,
    # -- faults: read-only fields
    "patch_applies_account_sid": lambda: _read_only_applied("PATCH", "account_sid"),
    "put_applies_meeting_room_sid": lambda: _read_only_applied("PUT", "meeting_room_sid"),
    "read_only_current_value_rejected": _read_only_current_value_rejected,
    # -- faults: shapes and statuses
    "null_did_group_omitted": _null_did_group_omitted,
    "list_envelope_without_total": _list_envelope_without_total,
    "create_requires_name": _create_requires_name,
    "create_returns_201": lambda: {"create_status": lambda status, call, **info: 201},
    "error_body_not_json": _error_body_not_json,
    "deleted_room_still_readable": _deleted_room_still_readable,
    "put_creates_unknown_room": _put_creates_unknown_room,
    "persistent_gateway_error_on_put": _persistent_gateway_error_on_put,
    # -- faults: round trip
    "name_whitespace_trimmed": lambda: stored_text(str.strip),
    "long_name_truncated": lambda: stored_text(lambda text: text[:100]),
    "non_latin1_mangled": lambda: stored_text(NON_LATIN1),
    "numeric_property_values_coerced": _numeric_property_values_coerced,
    "access_code_leading_zeros_dropped": lambda: _access_codes_map(_leading_zeros_dropped, "stored"),
    "non_ascii_replaced_with_question_mark": lambda: stored_text(lambda text: re.sub(r"[^\x00-\x7f]", "?", text)),
    "names_normalised_to_nfc": lambda: stored_text(lambda text: unicodedata.normalize("NFC", text)),
    "astral_characters_dropped": lambda: stored_text(lambda text: ASTRAL.sub("", text), properties=True),
    "invisible_characters_stripped": lambda: stored_text(lambda text: INVISIBLE.sub("", text)),
    "properties_truncated_at_20_keys": _properties_truncated_at_20_keys,
    "access_codes_truncated_at_10": lambda: _access_codes_map(lambda codes: codes[:10], "stored"),
    "property_keys_dotted_nested": _property_keys_dotted_nested,
    "property_keys_lowercased": _property_keys_lowercased,
    "property_keys_dollar_dropped": _property_keys_dollar_dropped,
    # -- faults: bad input and request forms
    "duplicate_codes_accepted": lambda: {"duplicates": lambda repeated, call, **info: set()},
    "unknown_did_group_accepted": lambda: {"reference_known": lambda known, call, **info: True},
    "invalid_role_server_error": _invalid_role_server_error,
    "malformed_json_server_error": _malformed_json_server_error,
    "missing_content_type_accepted": lambda: {"media_type_ok": lambda ok, call, **info: True},
    "unknown_field_stored": _unknown_field_stored,
    "charset_content_type_refused": _charset_content_type_refused,
    "raw_utf8_body_misdecoded": lambda: {"body_encoding": lambda encoding, call, **info: "latin-1"},
    "chunked_body_misdecoded": lambda: {"body_encoding": lambda encoding, call, chunked=False, **info:
                                        "latin-1" if chunked else encoding},
    # -- faults: read paths
    "list_item_stale_after_update": lambda: _list_item_stale_after_update(),
    "list_item_mangles_non_ascii": lambda: {"list_item": lambda item, call, **info: {
        **item, "name": re.sub(r"[^\x00-\x7f]", "?", item["name"])} if isinstance(item.get("name"), str) else item},
    # -- faults: uniqueness
    "uniqueness_not_enforced": lambda: {"uniqueness_scope": lambda key, call, **info: None},
    "refused_create_still_stored": _refused_create_still_stored,
    "null_did_group_codes_not_unique": lambda: {"uniqueness_scope": lambda key, call, parts, **info: (
        None if parts.get("did_group_sid") is None else key)},
    "put_conflicts_with_own_codes": _put_conflicts_with_own_codes,
    "bogus_conflict_on_codes_with_other_field": _bogus_conflict_on_codes_with_other_field,
    "conflict_on_codes_held_in_other_group": _conflict_on_codes_held_in_other_group,
    "codes_unique_across_accounts": lambda: {"uniqueness_scope": scope_without("account_sid")},
    "conflict_reveals_foreign_room": _conflict_reveals_foreign_room,
    # -- faults: auth and isolation
    "put_without_auth_allowed": _put_without_auth_allowed,
    "wrong_password_accepted": lambda: _credentials_matrix("any_password"),
    "unknown_user_with_known_password_accepted": lambda: _credentials_matrix("unknown_user"),
    "password_of_other_login_accepted": lambda: _credentials_matrix("other_password"),
    "malformed_authorization_accepted": lambda: _credentials_matrix("malformed"),
    "foreign_room_patchable": _foreign_room_patchable,
    "foreign_did_group_accepted": _foreign_did_group_accepted,
    "shared_default_properties": _shared_default_properties,
    "lost_update_under_concurrency": _lost_update_under_concurrency,
    # -- spec faults
    "patch_ignores_x_since": _patch_ignores_x_since,
    "patch_validates_by_old_spec": lambda: _old_spec(only_patch_values=True),
    "backend_on_old_spec": lambda: _old_spec(only_patch_values=False),
    # -- variants
    "read_only_rejected": lambda: reject_read_only(422),
    "read_only_rejected_403": lambda: reject_read_only(403),
    "properties_replace": _properties_replace,
    "access_codes_reordered": lambda: _access_codes_map(lambda codes: list(reversed(codes)), "render"),
    "rejections_400": lambda: statuses(**{kind: 400 for kind in REFUSALS_400}),
    "unknown_fields_rejected": _unknown_fields_rejected,
    "duplicate_codes_422": lambda: statuses(duplicate=422),
    "unknown_did_group_404": lambda: statuses(unknown_reference=404),
    "foreign_room_403": lambda: statuses(foreign_room=403),
    "access_codes_six_digits_only": lambda: _strict(_six_digit_codes),
    "property_values_validated_per_key": lambda: _strict(_per_key_values),
    "names_max_40": lambda: _strict(_names_max_40),
    "empty_name_refused": lambda: _strict(_empty_name),
    "put_requires_read_only_fields": require_read_only_on_put,
    "put_validated_before_lookup": _put_validated_before_lookup,
    "error_bodies_other_shape": _error_bodies_other_shape,
    "unauthorized_from_gateway": _unauthorized_from_gateway,
    "chunked_body_refused": _chunked_body_refused,
    "delete_200": lambda: _delete_200(with_room=True),
    "delete_200_empty": lambda: _delete_200(with_room=False),
    "code_in_use_422": lambda: statuses(in_use=422),
    "codes_unique_per_account": lambda: {"uniqueness_scope": scope_without("did_group_sid")},
    "other_tester_rooms": _other_tester_rooms,
    "flaky_gateway": _flaky_gateway,
    **STAGING_BEHAVIOURS,
    "slow": _slow,
    "rate_limited": _rate_limited,
}


def _list_item_stale_after_update() -> dict[str, Hook]:
    """The list is served from a cache filled when a room is created and never refreshed."""
    first: dict[str, dict[str, Any]] = {}

    def remember(room: dict[str, Any], call: Call, **info: Any) -> None:
        first[room["meeting_room_sid"]] = copy.deepcopy(room)

    def cached(item: dict[str, Any], call: Call, **info: Any) -> dict[str, Any]:
        seen = first.get(item.get("meeting_room_sid"))
        return call.api.render(seen, call) if seen is not None else item
    return {"created": remember, "list_item": cached}
