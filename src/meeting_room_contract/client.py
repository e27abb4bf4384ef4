"""HTTP access to the target: one client per login, its requests checked against the rooms the run
owns (`registry`), sent through a polite session (`transport`), gateway errors read back, lists paged."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import requests

from .curl import curl_command
from .redaction import Credentials, Redactor, redactor_of
from .registry import RoomRegistry, UnsafeTargetError
from . import ownership
from .transport import (GATEWAY_GIVE_UPS, GATEWAY_STATUSES, NO_DEADLINE, SAFE_METHODS, Chunked, Deadline, Politeness,
                        RateLimiter, RequestCounter, TargetUnavailable, build_session, gateway_pause)


LIST_PAGE_SIZE = 1000  # the documented maximum: most listings are one page, read at one moment
LIST_ATTEMPTS = 5
PAGES_AT_ONCE = 8  # the pages after the first are read at the same time (one round trip for the whole list)
LIST_REREADS = 2  # a page that contradicts itself is read this many times more before it is judged
TOTAL_REREADS = 5  # ... and this many when only its `total` disagrees (another tester wrote between count and select)
LIST_REREAD_PAUSE_S = 0.2
MAX_LISTED_ITEMS = 20000  # an account with more rooms is too large to list in a contract run
LIST_KEYS = {"/meeting_rooms": "meeting_room_sid", "/did_groups": "did_group_sid"}
ID_FIELD = LIST_KEYS["/meeting_rooms"]
_UNSET = object()


class NoAnswer(Exception):
    """A request that got no answer after the session's retries (inside the client only)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def unavailable(self, deadline: Deadline) -> TargetUnavailable:
        """That request could not be tested; a streak of them ends the run's testing (`Deadline.no_answer`)."""
        return TargetUnavailable(self.reason, run_wide=deadline.no_answer(self.reason))


class UnprovenCreation(TargetUnavailable):
    """A POST of a room lost its answer and what it did cannot be proven: not sent again, not judged
    (one request's "could not test"; the rooms that may be its own are reported, never adopted)."""


class Creation:
    """A POST of a room in flight: its body, the run's name it carries (None: nothing in it proves its
    room), and for such a body the sids the account held just before it was sent."""

    def __init__(self, sent: Any, name: str | None):
        self.sent, self.name = sent, name
        self.before: set[Any] | None = None


class ConferenceClient:
    """One login against the target. Mutating calls are refused for rooms the run did not create."""

    def __init__(self, base_url: str, credentials: Credentials | None, registry: RoomRegistry,
                 politeness: Politeness, limiter: RateLimiter, counter: RequestCounter, *,
                 redactor: Redactor | None = None, deadline: Deadline = NO_DEADLINE,
                 on_response: Callable[[str, str, requests.Response], None] | None = None):
        self.base_url = base_url.rstrip("/")
        self.on_response = on_response  # the run's recorder notes drift (undocumented statuses and fields)
        self.credentials = credentials
        self.registry = registry
        self.politeness = politeness
        self.counter = counter
        self.deadline = deadline
        self.redactor = redactor if redactor is not None else Redactor([credentials])
        if credentials is not None:
            self.redactor.add(credentials)
        self.session = build_session(credentials, politeness, limiter, counter, redactor=self.redactor,
                                     deadline=deadline)

    def __repr__(self) -> str:
        user = self.credentials.username if self.credentials else None
        return f"ConferenceClient({self.base_url!r}, user={user!r})"

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | Chunked | None = None,
                headers: dict[str, str] | None = None, auth: Any = None) -> requests.Response:
        method = method.upper()
        kwargs: dict[str, Any] = {"headers": dict(headers or {})}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["headers"].setdefault("Content-Type", "application/json")
        elif data is not None:
            kwargs["data"] = data
        if auth is not None:
            kwargs["auth"] = auth
        return self.send(method, path, **kwargs)

    def send(self, method: str, path: str, *, url: str | None = None, **kwargs: Any) -> requests.Response:
        """Send through the polite session (timeouts, 429s and resendable retries are the session's).

        A gateway answer (502/503/504) to a change leaves the state unknown, so the state is read
        before anything is sent again (after the Retry-After the gateway asks for, else a backoff,
        within --max-retry-wait): a PATCH or PUT of a room is read back and sent again (sending one
        twice leaves the state of sending it once); a DELETE whose room is gone by then is done. A
        POST of a room is sent again only when what the first one did is proven (`ownership`): by
        the run's name it carries, or, for a body without one, by a listing taken just before it was
        sent; a room it created is recorded and its GET stands for the lost answer; where nothing can
        be proven the POST is not sent again and could not be tested (`UnprovenCreation`, the candidate
        rooms reported). The same holds for a POST that got no answer at all (a connection closed
        before any answer byte); other methods are sent again by the session. Other requests are
        sent again as they are. The last answer carries `gateway_attempts`. A room a POST created is
        recorded here, before a Ctrl-C or SIGTERM that came meanwhile is raised (`RoomRegistry.creating`).

        This loop is the only retry layer for gateway answers; 429s and connection errors are
        retried by the session (`PoliteRetry`) only. What is left after those retries raises
        `TargetUnavailable` (could not test) for the request; NO_ANSWER_STREAK requests in a row
        without an answer, a 429 wall or the run deadline end the run's testing.
        """
        method = method.upper()
        if method == "POST" and path.split("?")[0] == "/meeting_rooms":
            with self.registry.creating():  # an interrupt waits until the room it creates is recorded
                sent = _json_body(kwargs["json"] if kwargs.get("json") is not None else kwargs.get("data"))
                creation = Creation(sent, ownership.run_name(self.registry, sent))
                if creation.name is None:  # nothing in it proves its room: what the account holds just before
                    creation.before = {room.get(ID_FIELD) for room in self.list_all("/meeting_rooms")}
                response = self._send(method, path, url=url, creation=creation, **kwargs)
                self.record_if_created(response, sent)
                return response
        return self._send(method, path, url=url, **kwargs)

    def _send(self, method: str, path: str, *, url: str | None = None, creation: "Creation | None" = None,
              **kwargs: Any) -> requests.Response:
        self.refuse_unsafe(method, path)
        self.registry.wait_for_quiet()
        if method != "GET":
            self.registry.note_exchange(method, path, self, None)  # a change in flight: the last read is stale
            # a body given as `json=` (schemathesis's cases) or as bytes/text (`data=`), parsed once
            body = creation.sent if creation is not None else \
                _json_body(kwargs["json"] if kwargs.get("json") is not None else kwargs.get("data"))
            if creation is not None and creation.name is not None:
                self.registry.record_posted_name(creation.name)
            if self.registry.on_send is not None:
                self.registry.on_send(method, path, body)
        url = url or self.url(path)
        started = time.monotonic()
        response = self._answer_of(method, path, url, kwargs, creation)
        attempts, waited = 1, 0.0
        # After GATEWAY_GIVE_UPS errors that outlived their retries the run is red already: later
        # gateway errors are reported at once instead of being waited out again and again.
        while (response.status_code in GATEWAY_STATUSES and attempts <= self.politeness.gateway_retries
               and self.counter.gateway_give_ups < GATEWAY_GIVE_UPS and not self.deadline.stopping):
            pause, asked = gateway_pause(response, attempts, self.politeness)
            if pause >= self.deadline.remaining():  # the run ends first: the gateway error is not judged
                self.deadline.check(f"{method} {path}")
                raise TargetUnavailable(f"{method} {path.split('?')[0]}: a gateway answers {response.status_code}; waiting "
                                        f"{pause:g} s more would pass the run deadline (--max-duration)", run_wide=True)
            if waited + pause > self.politeness.max_retry_wait:
                if asked:  # the target asks for longer than the run may wait: not a verdict on the contract
                    reason = (f"{method} {path.split('?')[0]}: a gateway answers {response.status_code} and asks to wait "
                              f"{pause:g} s (Retry-After), beyond --max-retry-wait {self.politeness.max_retry_wait:g} s: "
                              "try later")
                    raise TargetUnavailable(reason, run_wide=self.deadline.no_answer(reason))
                break  # waited out as long as the run may: a gateway error that persists is judged
            time.sleep(pause)
            waited += pause
            recovered = self._state_after_lost_answer(method, path, url, response, creation)
            if recovered is not None:
                response = recovered
                break
            response = self._answer_of(method, path, url, kwargs, creation)
            attempts += 1
        response.gateway_attempts = attempts  # type: ignore[attr-defined]
        self.counter.note_api_answer(response)
        if response.status_code in GATEWAY_STATUSES and attempts > 1:
            self.counter.gateway_give_ups += 1
        if response.status_code == 401 and "auth" not in kwargs and self.credentials is not None:
            self._still_authenticates(method, path)
        if self.on_response is not None and "X-Contract-Note" not in response.headers:  # a stand-in is not observed
            self.on_response(method, path, response)
        self.registry.stories.record(self, response, started)
        self.registry.note_exchange(method, path, self, response)
        if method == "DELETE" and response.status_code in (200, 204):
            self.registry.record_deleted(path.split("/", 2)[2].split("?")[0])
        return response

    def _answer_of(self, method: str, path: str, url: str, kwargs: dict[str, Any],
                   creation: "Creation | None") -> requests.Response:
        """One request and its answer. A POST of a room that got no answer at all (its connection closed
        before any answer byte, a timeout) is handled as after a gateway error: what it did is proven,
        else it could not be tested; every other method was sent again by the session already."""
        for _ in range(1 + self.politeness.error_retries):
            try:
                return self._send_once(method, path, url, kwargs)
            except NoAnswer as lost:
                if creation is None:
                    raise lost.unavailable(self.deadline) from None
                recovered = self._state_after_lost_answer(method, path, url, None, creation)
                if recovered is not None:
                    return recovered
                error = lost  # proven: nothing was created; sent again
        raise error.unavailable(self.deadline) from None

    def _send_once(self, method: str, path: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """One request through the session's retries; what they could not turn into an answer that
        can be judged raises NoAnswer (a connection error, a timeout) or TargetUnavailable (a 429 wall)."""
        what = f"{method} {path.split('?')[0]}"
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as error:
            self.deadline.check(what)  # a timeout cut short by the run deadline is the deadline's
            raise NoAnswer(f"{what}: no answer from the target after the retries "
                           f"({type(error).__name__}: {self.redactor.scrub(_first_line(error))})") from None
        if response.status_code == 429:
            retries = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
            asked = response.headers.get("Retry-After")
            reason = (f"{what}: the target still answers 429 (rate limited) after {len(retries)} retr"
                      f"{'y' if len(retries) == 1 else 'ies'}" + (f"; it asks to wait {asked!r} (Retry-After), beyond "
                      f"--max-retry-wait {self.politeness.max_retry_wait:g} s or the run deadline" if asked else "")
                      + ": try later, or lower --rate-limit")
            self.deadline.give_up(reason)
            raise TargetUnavailable(reason, run_wide=True)
        self.deadline.answered()
        return response

    def _still_authenticates(self, method: str, path: str) -> None:
        """A request sent with the login's own credentials was answered 401: when the login itself is refused
        now (its password rotated, the account locked mid-run), nothing the run sends with it can be judged:
        the run could not test (TargetUnavailable, run-wide), never a violation of the rule the test checks.
        When the login still works, the 401 was the API's answer to that request, and it is judged."""
        check = self._send_once("GET", "/meeting_rooms?limit=1", self.url("/meeting_rooms?limit=1"), {})
        if check.status_code == 401:
            user = self.credentials.username if self.credentials else "?"
            reason = (f"{method} {path.split('?')[0]}: the target answers 401 to the login {user!r} itself now (GET "
                      f"/meeting_rooms too): its password changed or it was locked during the run; give its current "
                      f"password ({self.credentials.password_option if self.credentials else '--password'})")
            self.deadline.give_up(reason)
            raise TargetUnavailable(reason, run_wide=True)

    def refuse_unsafe(self, method: str, path: str) -> None:
        """Changes go only to POST /meeting_rooms and to rooms the ownership policy gives this run (or
        fresh unknown sids): anything else raises UnsafeTargetError before a byte is sent."""
        if method in SAFE_METHODS:
            return
        bare = path.split("?")[0]
        if method == "POST" and bare == "/meeting_rooms":
            return
        if method in ("PATCH", "PUT", "DELETE") and bare.startswith("/meeting_rooms/"):
            sid = bare.split("/", 2)[2]
            if ownership.may_change(self.registry, sid):
                return
            raise UnsafeTargetError(f"refusing {method} {bare}: this run did not create that room")
        raise UnsafeTargetError(f"refusing {method} {bare}: the suite changes nothing but its own rooms")

    def _state_after_lost_answer(self, method: str, path: str, url: str, response: requests.Response | None,
                                 creation: "Creation | None") -> requests.Response | None:
        """What a gateway error (or, for a POST, a lost answer) hid: an answer standing in for the request
        if it took effect and sending it again would do harm (DELETE done, POST created); None to send
        it again. A POST whose effect cannot be proven raises UnprovenCreation."""
        if creation is not None:
            room = self._room_of_a_lost_creation(creation)
            if room is None:
                return None
            # the GET standing for the lost answer is a safe request: gateway errors of its own are retried
            return self.send("GET", self.room_path(room[ID_FIELD]))
        if method in ("PATCH", "PUT", "DELETE") and path.startswith("/meeting_rooms/"):
            read_back = self._send_once("GET", path.split("?")[0], url.split("?")[0], {})
            if method == "DELETE" and read_back.status_code == 404 and response is not None:
                return _deleted_after_gateway_error(response)
        return None

    def _room_of_a_lost_creation(self, creation: "Creation") -> dict[str, Any] | None:
        """The room a POST created behind a lost answer, recorded as the run's (None: it created none);
        UnprovenCreation when that cannot be proven."""
        listed = self.list_all("/meeting_rooms")
        if creation.name is not None:  # a name this run built and sent: a room holding it was created by this POST
            created = [room for room in listed if room.get(ownership.NAME_KEY) == creation.name]
            if not created:
                return None
            for extra in created[1:]:
                self.registry.report_foreign(extra.get(ID_FIELD), f"also holds this run's name {creation.name!r}")
            self.registry.record_created(created[0][ID_FIELD], self)
            return created[0]
        attribution = ownership.attribute_creation(self.registry, creation.sent, creation.before or (), listed, ID_FIELD)
        if attribution.room is not None:
            self.registry.record_created(attribution.room[ID_FIELD], self)
            return attribution.room
        if attribution.nothing_created:
            return None
        for room in attribution.candidates:
            self.registry.report_foreign(room.get(ID_FIELD), "appeared while a POST of this run without a name of the run "
                                         "lost its answer: it may be that POST's room (not proven)")
        raise UnprovenCreation("POST /meeting_rooms: the answer was lost (a gateway error or a dropped connection) and "
                               "the body carries no name of the run; whether it created a room cannot be proven "
                               f"({len(attribution.candidates)} candidate room(s) appeared meanwhile, reported at the end): "
                               "not sent again, not judged")

    # -- conveniences ----------------------------------------------------------------------
    def room_path(self, sid: str) -> str:
        return f"/meeting_rooms/{sid}"

    def get_room(self, sid: str) -> requests.Response:
        return self.request("GET", self.room_path(sid))

    def patch_room(self, sid: str, body: Any) -> requests.Response:
        return self.request("PATCH", self.room_path(sid), json_body=body)

    def put_room(self, sid: str, body: Any) -> requests.Response:
        return self.request("PUT", self.room_path(sid), json_body=body)

    def delete_room(self, sid: str) -> requests.Response:
        return self.request("DELETE", self.room_path(sid))

    def delete_if_ours(self, sid: str) -> requests.Response | None:
        """Delete a room a POST of this run created, if the run could prove it is its own (a creation
        answer it did not trust was reported instead: never deleted)."""
        return self.delete_room(sid) if self.registry.owns(sid) else None

    def create_room(self, body: dict[str, Any]) -> requests.Response:
        """POST a room; a created room is recorded for cleanup before anything else happens."""
        response = self.request("POST", "/meeting_rooms", json_body=body)
        self.record_if_created(response, body)
        return response

    def record_if_created(self, response: requests.Response, sent: Any = None) -> None:
        """Record the room a creation answer names, for cleanup, unless the answer cannot be the room
        this POST created: a sid the run has seen listed as not its own (the account's rooms are listed
        at the start and whenever a refusal is looked into). Such a room is reported for a human, never
        deleted: a faulty server may answer a POST with another room, e.g. another tester's. (A name
        that differs from the sent one is no proof: a server that alters names breaks the round trip,
        and the room is still this POST's.)"""
        if not 200 <= response.status_code < 300:
            return
        try:
            answered = response.json()
        except ValueError:
            return
        sid = answered.get("meeting_room_sid") if isinstance(answered, dict) else None
        if not isinstance(sid, str) or self.registry.owns(sid):  # recorded already (by `send`)
            return
        if sid in self.registry.seen_elsewhere and not self.registry.owns(sid):
            self.registry.report_foreign(sid, "was named by a creation answer, but the run had listed it before as not its own")
        else:
            self.registry.record_created(sid, self)

    def list_all(self, path: str, page_size: int = LIST_PAGE_SIZE, max_items: int = MAX_LISTED_ITEMS) -> list[dict[str, Any]]:
        """Every item of a list endpoint, complete or not at all.

        Pages are read in a stable order (`order=<sid field> asc`, the documented `order`
        parameter) with the largest documented page, the offset advancing by what each page
        returned (a server may cap the page size), until `offset + count` reaches `total` (or,
        where `total` is null, until `has_more` is false; where both are missing, until an empty
        page). Each envelope is cross-checked: `count` against the items, `offset` against the
        one asked for, `has_more` against `total`; a contradiction that persists when the page is read
        again raises ListingContradiction (a violation of shape.response_conformance). If `total`
        changes between pages (others create or delete rooms meanwhile) the listing starts again; if
        it keeps changing, TargetUnavailable. More than `max_items` is could-not-test for the run
        (`_too_large`): the suite never works on a partial list.
        """
        key = LIST_KEYS.get(path.split("?")[0], "")
        for attempt in range(LIST_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0.05, 0.25) * attempt)  # others are writing: not in step with them
            items, stable = self._list_pass(path, page_size, max_items, key)
            if stable:
                if path.split("?")[0] == "/meeting_rooms":
                    self.registry.note_listed(item.get(key) for item in items)
                return items
        raise TargetUnavailable(f"GET {path}: the list kept changing while it was read ({LIST_ATTEMPTS} attempts): "
                                "another client is creating or deleting many items; try later")

    def list_page(self, path: str, offset: int, page_size: int, order: str = "") -> tuple[list[Any], int | None, bool | None]:
        """One page of a list, checked (`check_list_envelope`). A page that contradicts itself is read
        again before anything is judged: on a shared account another tester's write can make one answer
        disagree with itself for a moment (a `total` counted before the items were selected). Only a
        contradiction that persists over LIST_REREADS more reads (TOTAL_REREADS when only `total` disagrees
        with the page) raises ListingContradiction."""
        attempt = 0
        while True:
            response = self.request("GET", f"{path}?limit={page_size}&offset={offset}{order}")
            response.raise_for_status()
            try:
                return check_list_envelope(_json_or_none(response), offset, page_size, response, path)
            except ListingContradiction as contradiction:
                # a total that disagrees with the page is what busy writers cause: it gets more reads to settle
                if attempt >= (TOTAL_REREADS if contradiction.about_total else LIST_REREADS):
                    raise
            attempt += 1
            time.sleep(LIST_REREAD_PAUSE_S * random.uniform(0.5, 1.5) * attempt)

    def _list_pass(self, path: str, page_size: int, max_items: int, key: str) -> tuple[list[dict[str, Any]], bool]:
        """One reading of every page: (items, whether they are one consistent list). Once the first page tells
        `total` and how many items a page holds, the other pages are read at the same time: on a shared account
        the list changes while it is read, and a reading that takes one round trip instead of one per page is
        far less likely to meet a change (which makes it start again)."""
        order = f"&order={key}+asc" if key else ""
        page, total, has_more = self.list_page(path, 0, page_size, order)
        if total is not None and total > max_items:
            raise self._too_large(path, total, max_items)
        pages = [page]
        step = len(page)
        if total is not None and step and total > step:
            offsets = list(range(step, total, step))
            with ThreadPoolExecutor(max_workers=min(PAGES_AT_ONCE, len(offsets)), thread_name_prefix="contract-list") as pool:
                rest = list(pool.map(lambda offset: self.list_page(path, offset, page_size, order), offsets))
            if any(other_total != total for _, other_total, _ in rest):
                return [], False  # the list changed under us: read it again
            pages += [other for other, _, _ in rest]
        items: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for chunk in pages:
            for item in chunk:
                ident = item.get(key) if key and isinstance(item, dict) else None
                if ident is not None and ident in seen:
                    return [], False  # shifted by an insertion: read it again
                if ident is not None:
                    seen.add(ident)
                items.append(item)
        if total is not None:
            return (items, True) if len(items) >= total else ([], False)  # a page shorter than the first: changed
        while (has_more if has_more is not None else bool(page)):  # no total: page after page
            if len(items) >= max_items:
                raise self._too_large(path, None, max_items)
            page, total, has_more = self.list_page(path, len(items), page_size, order)
            for item in page:
                ident = item.get(key) if key and isinstance(item, dict) else None
                if ident is not None and ident in seen:
                    return [], False
                if ident is not None:
                    seen.add(ident)
                items.append(item)
        return items, True

    def _too_large(self, path: str, total: int | None, max_items: int) -> TargetUnavailable:
        """An account too large to list: the suite never works on a partial list, so it cannot prove
        conflicts nor find its rooms there. One line, and the run stops (could not test)."""
        reason = (f"GET {path} lists {total if total is not None else 'more than ' + str(max_items)} items: more than "
                  f"{max_items}, too many to read in a contract run (use a login whose account holds fewer rooms)")
        self.deadline.give_up(reason)
        return TargetUnavailable(reason, run_wide=True)

    def did_group_sids(self) -> list[str]:
        return [group["did_group_sid"] for group in self.list_all("/did_groups") if group.get("did_group_sid")]


class ListingContradiction(AssertionError):
    """A list envelope that contradicts itself or the request (rule `shape.response_conformance`).

    `rule_id`, `detail` (what was contradictory, one line) and `response` (the page's answer) are
    for the judge; the message is complete on its own (with the request as a curl command)."""

    rule_id = "shape.response_conformance"

    def __init__(self, detail: str, response: requests.Response, *, about_total: bool = False):
        self.detail, self.response = detail, response
        # only `total` disagrees with the page: what another tester's write between the server's count and its
        # select looks like (the items, `count` and `offset` of one select always agree with each other)
        self.about_total = about_total
        redactor = redactor_of(response)
        answer = response.text[:400]
        answer = redactor.scrub(answer) if redactor is not None else answer
        super().__init__(f"CONTRACT VIOLATION [{self.rule_id}]: {detail}\n"
                         f"Request (reproduce with):\n  {curl_command(response.request)}\n"
                         f"Answer: HTTP {response.status_code} {answer}")


def check_list_envelope(data: Any, offset: int, limit: int, response: requests.Response,
                        path: str) -> tuple[list[Any], int | None, bool | None]:
    """(items, total, has_more) of one page, or ListingContradiction. Missing `count`, `total` or
    `has_more` are left to the schema check; values that are there must agree with each other."""
    what = f"GET {path} (offset {offset}, limit {limit})"
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ListingContradiction(f"{what}: the answer is not a list envelope with an `items` array", response)
    page = data["items"]
    count, total, has_more = data.get("count"), data.get("total"), data.get("has_more")
    listed_offset, listed_limit = data.get("offset"), data.get("limit")
    problems: list[str] = []
    total_problems: list[str] = []  # those a total counted apart from the select explains
    if count is not None and count != len(page):
        problems.append(f"count is {count!r} but {len(page)} item(s) are listed")
    if listed_offset is not None and listed_offset != offset:
        problems.append(f"offset is {listed_offset!r} but offset {offset} was asked for")
    if isinstance(listed_limit, int) and len(page) > listed_limit:
        problems.append(f"{len(page)} item(s) listed with limit {listed_limit}")
    if len(page) > limit:
        problems.append(f"{len(page)} item(s) listed where at most {limit} were asked for")
    if total is not None and not (isinstance(total, int) and not isinstance(total, bool) and total >= 0):
        problems.append(f"total is {total!r}, not a count")
        total = None
    if has_more is not None and not isinstance(has_more, bool):
        problems.append(f"has_more is {has_more!r}, not a boolean")
        has_more = None
    end = offset + len(page)
    if total is not None:
        if end > total and page:  # (an empty page at or past the end is consistent: the list is shorter than asked)
            total_problems.append(f"offset {offset} + {len(page)} item(s) is more than total {total}")
        if has_more is True and end >= total:
            total_problems.append(f"has_more is true but offset + count ({end}) reaches total {total}")
        if has_more is False and end < total:
            total_problems.append(f"has_more is false but offset + count ({end}) is below total {total}")
        if not page and end < total:
            total_problems.append(f"an empty page at offset {offset} though total is {total}")
    if has_more is True and not page:
        problems.append("has_more is true on an empty page")
    if problems or total_problems:
        raise ListingContradiction(f"{what}: the list envelope contradicts itself: " + "; ".join(problems + total_problems),
                                   response, about_total=not problems)
    return page, total, has_more


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def _deleted_after_gateway_error(response: requests.Response) -> requests.Response:
    """A DELETE answered by a gateway whose room is gone: the deletion happened (a 204 stand-in)."""
    done = requests.Response()
    done.status_code, done.request, done.url = 204, response.request, response.url
    done._content = b""
    done.headers["X-Contract-Note"] = f"gateway answered {response.status_code}; the room was gone when read back"
    return done


def _json_body(body: Any) -> Any:
    """A request body as the object it encodes (bytes/text/chunks parsed as JSON); as given when it is no JSON."""
    if isinstance(body, Chunked):
        body = bytes(body)
    if not isinstance(body, (str, bytes)):
        return body
    try:
        return json.loads(body)
    except ValueError:
        return body


DELETES_AT_ONCE = 4  # the end-of-run cleanup sends this many DELETEs at a time (each bounded as every request)


def delete_rooms(rooms: Iterable[tuple[str, ConferenceClient]]) -> list[str]:
    """Delete rooms (best effort, each with its owner's login, a few at a time: on a remote target the
    cleanup would otherwise wait one round trip per room); returns the sids that remain."""
    def delete(sid: str, owner: ConferenceClient) -> str | None:
        try:
            status = owner.delete_room(sid).status_code
        except (requests.RequestException, UnsafeTargetError, TargetUnavailable):
            status = None
        if status not in (200, 204, 404):
            return sid
        owner.registry.record_deleted(sid, gone=status == 404)
        return None

    rooms = list(rooms)
    if len(rooms) <= 1:
        outcomes = [delete(sid, owner) for sid, owner in rooms]
    else:
        with ThreadPoolExecutor(max_workers=min(DELETES_AT_ONCE, len(rooms)), thread_name_prefix="contract-cleanup") as pool:
            outcomes = list(pool.map(lambda room: delete(*room), rooms))
    return [sid for sid in outcomes if sid is not None]
