"""The contract's straight correct path (CONTRACT.md, in our own code): who asks, what a body may hold, what each operation does.

Faults and variants never appear here as branches: at named points the path hands a value to
`self.hooks(point, value, call, ...)`, which returns it unchanged unless a behaviour (hooks.py)
transforms it (or raises). With no behaviour switched on, every point is the identity.
"""

from __future__ import annotations

import copy
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .schema import CREATE, PATCH, PUT, ApiSchema, UniqueRule
from .store import Conflict, Store

ACCOUNT_FIELD = "account_sid"  # the read-only field naming the room's account (the account owns the room)
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="conference"'}
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000

# The status of each kind of refusal (CONTRACT.md lets several; this is the mock's default choice).
STATUS = {
    "invalid": 422, "unknown_reference": 422, "unknown_field": 422, "missing_put_field": 422,
    "read_only_change": 422, "read_only_missing": 422, "duplicate": 409, "in_use": 409, "foreign_room": 404,
}


@dataclass
class Account:
    account_sid: str
    login: str
    password: str
    did_groups: list[dict[str, Any]] = field(default_factory=list)


def default_accounts() -> list[Account]:
    """Two accounts with two DID groups each; the first uses the docs' sample credentials."""
    logins = [
        ("a1f38bf7-5879-49c1-be72-50ffa7f249a6", "conference_user_123", "qwerty123"),
        ("5b0c7e61-3f0e-4b8e-9d43-7c2f1a9e0b11", "conference_user_456", "qwerty456"),
    ]
    accounts = []
    for number, (sid, login, password) in enumerate(logins, start=1):
        groups = [{"account_sid": sid, "call_flow_sid": None,
                   "did_group_sid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"did-group-{number}-{index}")),
                   "name": f"DID group {index} of account {number}", "properties": {}} for index in (1, 2)]
        accounts.append(Account(sid, login, password, groups))
    return accounts


class ApiError(Exception):
    """A refusal of the API: status, message, the field it is about; `details` join the JSON body."""

    def __init__(self, status: int, message: str, field_name: str | None = None,
                 headers: dict[str, str] | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.message, self.field_name = status, message, field_name
        self.headers, self.details = dict(headers or {}), dict(details or {})


class GatewayError(Exception):
    """An answer from a proxy in front of the API (an HTML page, not the API's JSON)."""

    def __init__(self, status: int):
        super().__init__(f"gateway {status}")
        self.status = status


@dataclass
class Credentials:
    """What the Authorization header said: `none`, `basic` (login, password) or `malformed`."""

    kind: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass
class Answer:
    status: int
    payload: Any = None  # a JSON value, raw bytes (with a Content-Type header), or None (no body)
    headers: dict[str, str] = field(default_factory=dict)
    error: ApiError | None = None
    room: dict[str, Any] | None = None  # the room the answer is about (a DELETE's answer may show it)


@dataclass
class Call:
    """One request as the semantics and the hooks see it."""

    method: str
    route: str | None = None  # collection, room, did_groups (None: no route)
    sid: str | None = None
    query: dict[str, list[str]] = field(default_factory=dict)
    credentials: Credentials | None = None
    account: Account | None = None
    body: Any = None
    room: dict[str, Any] | None = None  # the room before the operation
    schema: ApiSchema | None = None  # the spec the backend follows for this call
    api: "Semantics | None" = None


class Semantics:
    def __init__(self, store: Store, schema: ApiSchema, hooks: Callable[..., Any], accounts: list[Account]):
        self.store, self.schema, self.hooks, self.accounts = store, schema, hooks, accounts
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # told of every room a POST created
        for account in accounts:
            store.add_account(account.account_sid, account.login, account.password, account.did_groups)
        self.hooks("startup", None, self.call("START"))

    def call(self, method: str, route: str | None = None, sid: str | None = None,
             query: dict[str, list[str]] | None = None) -> Call:
        call = Call(method, route, sid, query or {}, api=self)
        call.schema = self.hooks("schema", self.schema, call, purpose="backend")
        return call

    def status(self, kind: str, call: Call) -> int:
        return self.hooks("status", STATUS[kind], call, kind=kind)

    def account(self, account_sid: str) -> Account | None:
        return next((account for account in self.accounts if account.account_sid == account_sid), None)

    # -- who asks -----------------------------------------------------------------------------------
    def authenticate(self, call: Call, credentials: Credentials) -> Account:
        call.credentials = credentials
        with self.store.lock:
            account = None
            if credentials.kind == "basic":
                found = self.store.account_by_login(credentials.login or "")
                if found and hmac.compare_digest(found[1].encode(), (credentials.password or "").encode()):
                    account = self.account(found[0])
            account = self.hooks("authenticate", account, call)
        if account is None:
            raise ApiError(401, "Unauthorized" if credentials.kind == "none" else "Bad credentials",
                           headers=UNAUTHORIZED_HEADERS)
        call.account = account
        return account

    # -- operations ----------------------------------------------------------------------------------
    def handle(self, call: Call) -> Answer:
        """The answer to an authenticated call whose body (if any) is parsed."""
        with self.store.lock:
            if call.route == "did_groups":
                limit, offset = page_of(call.query)
                groups = self.store.did_groups(call.account.account_sid)
                return Answer(200, envelope(groups[offset: offset + limit], len(groups), limit, offset))
            if call.route == "collection":
                return self.list_rooms(call) if call.method == "GET" else self.create(call)
            return {"GET": self.get, "PATCH": self.patch, "PUT": self.put, "DELETE": self.delete}[call.method](call)

    def list_rooms(self, call: Call) -> Answer:
        limit, offset = page_of(call.query)
        account = call.account.account_sid
        items = [self.hooks("list_item", self.render(room, call), call)
                 for room in self.store.rooms(account, limit=limit, offset=offset)]
        return Answer(200, self.hooks("envelope", envelope(items, self.store.count_rooms(account), limit, offset), call))

    def get(self, call: Call) -> Answer:
        return Answer(200, self.render(self.find(call, deleted_ok=True), call))

    def create(self, call: Call) -> Answer:
        schema = call.schema
        self.validate(call, room=None)
        body = self.hooks("validated", call.body, call)
        sid = str(uuid.uuid4())
        room = self.new_room(schema, {f: body[f] for f in schema.creatable if f in body and f in schema.fields},
                             call.account.account_sid, sid)
        room = self.hooks("new_room", room, call)
        room = self.hooks("stored", room, call)
        self.check_conflicts(call, room, exclude_sid=sid)
        try:
            self.store.insert(room, schema.id_field, ACCOUNT_FIELD, self.unique_rows(call, room))
        except Conflict:
            raise self.conflict(call, schema.unique[0], []) from None
        self.hooks("created", room, call)
        answer = self.render(room, call)
        for listener in self.listeners:
            listener(copy.deepcopy(answer))
        return Answer(self.hooks("create_status", 200, call), answer)

    def patch(self, call: Call) -> Answer:
        schema = call.schema
        room = self.find(call)
        call.room = copy.deepcopy(room)
        self.hooks("before_validation", None, call)
        self.validate(call, room=room)
        body = self.hooks("validated", call.body, call)
        updates = self.hooks("patch_updates", {f: body[f] for f in schema.modifiable if f in body}, call)
        compute = self.hooks("patch_compute", lambda base: self.patched(call, base, updates), call)
        new = self.hooks("applied", compute(room), call)
        return self.save_update(call, new)

    def patched(self, call: Call, base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
        """PATCH: every sent modifiable field takes the sent value, the others keep theirs; a nested
        object marked `x-patch: merge` (or `merge-or-replace`, merging by default) is merged key by key."""
        schema = call.schema
        new = self.hooks("patch_base", copy.deepcopy(base), call)
        for name in schema.modifiable:
            if name not in updates:
                continue
            value = copy.deepcopy(updates[name])
            mode = schema.patch_modes.get(name)
            if mode == "merge-or-replace":
                mode = self.hooks("properties_mode", "merge", call, value=value)
            if mode == "merge" and isinstance(value, dict):
                value = {**(new[name] if isinstance(new.get(name), dict) else {}), **value}
            new[name] = value
        return self.hooks("patched", self.project(schema, new), call, updates=updates)

    def put(self, call: Call) -> Answer:
        schema = call.schema
        self.hooks("before_lookup", None, call)
        room = self.find(call)
        call.room = copy.deepcopy(room)
        self.hooks("before_validation", None, call)
        self.validate(call, room=room)
        body = self.hooks("validated", call.body, call)
        new = copy.deepcopy(room)
        for name in schema.modifiable:  # full replacement: the body's value, or the default of a field it may omit
            new[name] = copy.deepcopy(body[name]) if name in body else schema.default(name)
        new = self.hooks("replaced", self.project(schema, new), call)
        return self.save_update(call, self.hooks("applied", new, call))

    def save_update(self, call: Call, new: dict[str, Any]) -> Answer:
        """Store the state a PATCH or PUT computed (uniqueness first) and answer with it."""
        new = self.hooks("stored", new, call)
        kept = self.hooks("to_store", new, call)
        self.check_conflicts(call, kept, exclude_sid=self.hooks("conflict_exclude", call.sid, call))
        try:
            self.store.replace(call.sid, kept, call.schema.id_field, ACCOUNT_FIELD, self.unique_rows(call, kept))
        except Conflict:
            raise self.conflict(call, call.schema.unique[0], []) from None
        self.hooks("updated", kept, call)
        return Answer(200, self.render(self.hooks("update_answer", new, call), call))

    def delete(self, call: Call) -> Answer:
        room = self.find(call, deleted_ok=True)
        if self.hooks("delete_mode", "remove", call) == "remove":
            self.store.delete(call.sid)
        else:  # the room stays behind, holding no unique value
            self.store.mark_deleted(call.sid, {**room, **{rule.array_field: [] for rule in call.schema.unique}})
        return self.hooks("delete_answer", Answer(204), call, room=self.render(room, call))

    # -- finding and building rooms -------------------------------------------------------------------
    def find(self, call: Call, deleted_ok: bool = False) -> dict[str, Any]:
        """The room the path names, if the caller's account may see it (else 404 or 403)."""
        found = self.store.room(call.sid or "")
        if found is None:
            raise ApiError(404, "Cannot find item by SID", call.schema.id_field)
        room, deleted = found
        mine = room.get(ACCOUNT_FIELD) == call.account.account_sid or self.hooks("any_account", False, call)
        if not mine:
            status = self.status("foreign_room", call)
            raise ApiError(status, "Forbidden" if status == 403 else "Cannot find item by SID", call.schema.id_field)
        if deleted and not deleted_ok:
            raise ApiError(404, "Cannot find item by SID", call.schema.id_field)
        return room

    def new_room(self, schema: ApiSchema, sent: dict[str, Any], account_sid: str, sid: str) -> dict[str, Any]:
        """A room from a creation body: the sent fields, defaults for the others, the system's ids."""
        room = {name: copy.deepcopy(sent[name]) if name in sent else schema.default(name)
                for name in schema.fields if name not in (ACCOUNT_FIELD, schema.id_field)}
        return self.project(schema, {**room, ACCOUNT_FIELD: account_sid, schema.id_field: sid})

    @staticmethod
    def project(schema: ApiSchema, room: dict[str, Any]) -> dict[str, Any]:
        """Items of object arrays keep their documented properties only (the columns the storage has)."""
        for name in schema.modifiable:
            documented = schema.item_properties(name)
            if documented is not None and isinstance(room.get(name), list):
                room[name] = [{k: v for k, v in item.items() if k in documented} if isinstance(item, dict) else item
                              for item in room[name]]
        return room

    def add_room(self, account_sid: str, fields: dict[str, Any], *, indexed: bool = True) -> dict[str, Any]:
        """A room written straight to the store (someone else's room; `indexed=False`: a racing writer
        whose codes the unique index never saw)."""
        call = self.call("POST", "collection")
        call.account = self.account(account_sid)
        room = self.new_room(call.schema, fields, account_sid, str(uuid.uuid4()))
        with self.store.lock:
            self.store.insert(room, call.schema.id_field, ACCOUNT_FIELD, self.unique_rows(call, room), indexed=indexed)
        return room

    def render(self, room: dict[str, Any], call: Call) -> dict[str, Any]:
        return self.hooks("render", copy.deepcopy(room), call)

    # -- uniqueness ----------------------------------------------------------------------------------
    def unique_rows(self, call: Call, room: dict[str, Any]) -> list[tuple[str, str | None, str]]:
        """(rule, scope key, value) for every unique value the room holds (x-unique)."""
        rows = []
        for rule in call.schema.unique:
            parts = {name: room.get(name) for name in rule.scope}
            scope = self.hooks("uniqueness_scope", json.dumps(parts, sort_keys=True), call, parts=parts)
            rows += [(rule.array_field, scope, value) for value in values_of(room.get(rule.array_field), rule)]
        return rows

    def check_conflicts(self, call: Call, room: dict[str, Any], exclude_sid: str | None) -> None:
        for rule in call.schema.unique:
            rows = [row for row in self.unique_rows(call, room) if row[0] == rule.array_field]
            if rows:
                held = self.store.holders(rule.array_field, rows[0][1], [value for _, _, value in rows], exclude_sid)
                if held:
                    raise self.conflict(call, rule, sorted({value for _, value in held}), room)

    def conflict(self, call: Call, rule: UniqueRule, values: list[str], room: dict[str, Any] | None = None) -> ApiError:
        error = ApiError(self.status("in_use", call),
                         f"{rule.item_field} value(s) already used in this scope: {', '.join(values)}", rule.array_field)
        return self.hooks("conflict", error, call, rule=rule, values=values, room=room)

    # -- bad input -----------------------------------------------------------------------------------
    def validate(self, call: Call, room: dict[str, Any] | None) -> None:
        """Refuse (ApiError) a body the contract says must be refused; return when it is acceptable."""
        body, schema = call.body, call.schema
        if not isinstance(body, dict):
            raise ApiError(self.status("invalid", call), "The request body must be a JSON object")
        if room is not None:  # a different read-only value is ignored on the correct path
            self.hooks("read_only", {f: body[f] for f in schema.read_only if f in body and body[f] != room.get(f)}, call)
        self.hooks("unknown_fields", sorted(set(body) - set(schema.fields)), call)  # ignored on the correct path
        if call.method == "PUT":
            self.hooks("put_read_only", [f for f in schema.read_only if f in body], call)  # optional
            missing = self.hooks("put_missing", [f for f in schema.put_required if f not in body], call)
            if missing:
                raise ApiError(self.status("missing_put_field", call),
                               f"PUT requires every modifiable field; missing: {', '.join(missing)}", missing[0])
        self.hooks("before_values", body, call)
        values = self.hooks("schema", schema, call, purpose="values")
        if call.method == "POST":
            reasons = values.errors(body, CREATE, values.creatable)
            reasons += [r for r in values.errors(body, PATCH, values.modifiable) if r not in reasons]
        else:
            reasons = values.errors(body, PATCH if call.method == "PATCH" else PUT, values.modifiable)
        reasons = self.hooks("value_errors", reasons, call)
        if reasons:
            raise ApiError(self.status("invalid", call), "; ".join(reasons), reasons[0].split(":", 1)[0].split(".")[0])
        for reference in schema.references:
            value = body.get(reference.field)
            if isinstance(value, str):
                known = {item.get(reference.key) for item in self.resources(call.account.account_sid, reference.resource)}
                if not self.hooks("reference_known", value in known, call, value=value, reference=reference):
                    raise ApiError(self.status("unknown_reference", call),
                                   f"Cannot find {reference.resource.strip('/')} item by SID", reference.field)
        for rule in schema.unique:
            repeated = self.hooks("duplicates", repeated_values(body.get(rule.array_field), rule), call)
            if repeated:
                raise ApiError(self.status("duplicate", call),
                               f"{rule.item_field} value(s) repeated in the request: {', '.join(sorted(repeated))}",
                               rule.array_field)

    def resources(self, account_sid: str | None, resource: str) -> list[dict[str, Any]]:
        """The account's items of a referenced resource (None: of every account)."""
        return self.store.did_groups(account_sid) if resource == "/did_groups" else []


def values_of(items: Any, rule: UniqueRule) -> list[str]:
    if not isinstance(items, list):
        return []
    return sorted({item[rule.item_field] for item in items if isinstance(item, dict) and isinstance(item.get(rule.item_field), str)})


def repeated_values(items: Any, rule: UniqueRule) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in (item.get(rule.item_field) for item in items if isinstance(item, dict)) if isinstance(items, list) else ():
        if isinstance(value, str):
            (repeated if value in seen else seen).add(value)
    return repeated


def page_of(query: dict[str, list[str]]) -> tuple[int, int]:
    """(limit, offset) of a list request: limit default 10, at most 1000; offset from 0."""
    return _int_param(query, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT), _int_param(query, "offset", 0, 0, None)


def envelope(page: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    """One page of a list as the list envelope."""
    has_more = offset + len(page) < total
    pagination = {"next": f"?limit={limit}&offset={offset + limit}"} if has_more else {}
    if offset > 0:
        pagination["previous"] = f"?limit={limit}&offset={max(0, offset - limit)}"
    return {"count": len(page), "has_more": has_more, "items": page, "limit": limit, "offset": offset,
            "pagination": pagination, "total": total}


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
