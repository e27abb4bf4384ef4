"""Room lifecycle actions: rooms the suite creates for itself (recognisable names, recorded at
once, deleted after use), the account's codes in use, the one-time probe of the target's PUT style,
and the leftovers of earlier runs."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from hypothesis import currently_in_test_context, reject

from . import actions, ownership, strategies
from .actions import CREATE, NAME_KEY
from .client import ConferenceClient
from .registry import RoomRegistry, new_run_id
from .journal import CleanupResult, cleanup_journalled
from .model import Model
from .rules import UpdateOutcome
from .run import PutStyle, Run


class ProvenConflict(Exception):
    """A room could not be created because another room of the account really holds a code."""


def load_codes_in_use(run: Run, client: ConferenceClient) -> int:
    """Remember every access code the account's rooms hold: generated codes avoid them."""
    return len(actions.account_rooms(run, client))


PREFLIGHT_LABEL = "preflight"
GENERATED_LABEL = "gen"  # rooms created by schemathesis (generation.send): `gen <8 hex>`


def name_schema(model: Model) -> dict[str, Any]:
    """The schema of the name the suite sends when creating a room (its `x-plain-pattern`)."""
    return model.spec.resolved("MeetingRoomCreate").get("properties", {}).get(NAME_KEY, {})


def is_plain_name(model: Model, name: str) -> bool:
    """A name every conforming server must accept (the spec's `x-plain-pattern`)."""
    return model.is_plain(name_schema(model), name)


def preflight_name(registry: RoomRegistry) -> str:
    return registry.room_name(PREFLIGHT_LABEL)


def generated_name(registry: RoomRegistry, token: str) -> str:
    return f"{registry.room_name(GENERATED_LABEL)} {token}"


def check_room_prefix(model: Model, prefix: str) -> None:
    """ValueError (one line) unless every name the suite builds with `prefix` is a plain name."""
    def longest(candidate: str) -> str:
        registry = RoomRegistry(new_run_id(), candidate)
        return max(registry.longest_room_name(), generated_name(registry, "0" * 8), key=len)

    if not prefix or any(char.isspace() for char in prefix):
        raise ValueError(f"--room-prefix {prefix!r} must be non-empty and without spaces")
    if is_plain_name(model, longest(prefix)):
        return
    fitting = [n for n in range(1, 41) if is_plain_name(model, longest("a" * n))]
    pattern = name_schema(model).get("x-plain-pattern", "?")
    hint = (f"use at most {max(fitting)} characters of letters, digits, '_', '.', '-', starting with a letter or digit"
            if fitting else "the spec's name pattern leaves no room for a prefix")
    raise ValueError(f"--room-prefix {prefix!r} cannot make plain room names: the suite's longest name "
                     f"{longest(prefix)!r} does not match the spec's x-plain-pattern {pattern}; {hint}")


@dataclass
class KeptRoom:
    """A room `RoomFactory.reused` keeps between uses: its sid, its creation values, and the put-back
    started when its last user let it go (None: nothing to put back, or not started)."""

    sid: str
    baseline: dict[str, Any]
    restoring: Future | None = None

    def ready(self) -> bool:
        return self.restoring is None or self.restoring.done()


ROOMS_PER_KIND = 2  # kept rooms per (login, label): one is used while the other is put back
_NOT_PUT_BACK = object()  # a put-back that raised (no answer, ...): the room is as it was, the next user puts it back


class RoomFactory:
    """Creates the rooms a test needs, each named with the run's prefix and recorded at once."""

    def __init__(self, run: Run, client: ConferenceClient):
        self.run = run
        self.client = client
        self._serial = itertools.count(1)
        self._kept: dict[tuple[int, str], list[KeptRoom]] = {}  # (owner, label): rooms not in use
        self._counts: dict[tuple[int, str], int] = {}  # (owner, label): rooms kept, in use or not
        self._kept_lock = threading.Lock()
        self._restorers: ThreadPoolExecutor | None = None
        self._closed = False  # the run deletes its rooms: no put-back starts any more

    def name(self, label: str = "room") -> str:
        return self.client.registry.room_name(label, next(self._serial))

    def create(self, body: dict[str, Any] | None = None, *, client: ConferenceClient | None = None,
               label: str = "room") -> dict[str, Any]:
        """Create a room (default: sample values, three fresh 6-digit codes, and a name); returns it.

        A refusal is proven before anything else: a room of the account that holds one of the
        codes explains it (the default codes are drawn again; drawn test data is rejected as
        proven harmless), and a 409 that no room explains is a violation.
        """
        owner = client or self.client
        run = self.run
        for _ in range(3):
            drawn = body if body is not None else strategies.sample_values(run, fresh_codes=3)
            sent = {**drawn, NAME_KEY: self.name(label)} if NAME_KEY in run.model.CREATABLE_FIELDS else dict(drawn)
            response = owner.create_room(sent)  # gateway errors: the client finds the room by its name
            if response.status_code not in (400, 409, 422) or not run.model.unique_values(sent):
                break
            holders = actions.conflict_explained(run, owner, None, None, "POST", sent, response)
            if not holders:
                break
            if body is not None:
                if currently_in_test_context():
                    reject()  # proven: another room holds a drawn code; the example says nothing
                raise ProvenConflict(f"room not created: POST answered {response.status_code} "
                                     f"{response.text[:300]!r}; codes held by {holders}")
        room = actions.room_answer(run, "status.documented_codes", response, CREATE, "creating a room for the test")
        sid = room.get(run.model.ID_FIELD)
        if not owner.registry.owns(sid):  # not adopted: the account held this room before the POST (client.record_if_created)
            with actions.rule(run, "round_trip.exact_values", CREATE):
                raise actions.violated(run, "round_trip.exact_values", f"POST answered with room {sid}, which the account "
                                       "held before this POST: the answer is not the room the POST created (that room, "
                                       "named as sent, is deleted by the end-of-run sweep)", response=response,
                                       expected={NAME_KEY: sent.get(NAME_KEY)}, observed={NAME_KEY: room.get(NAME_KEY)},
                                       operation=CREATE, situation="creating a room for the test")
        return room

    @contextlib.contextmanager
    def fresh(self, body: dict[str, Any] | None = None, *, client: ConferenceClient | None = None,
              label: str = "room") -> Iterator[dict[str, Any]]:
        """A room that exists for the `with` block and is deleted when it ends (pass or fail)."""
        room = self.create(body, client=client, label=label)
        try:
            yield room
        finally:
            owner = client or self.client
            owner.delete_room(room[self.run.model.ID_FIELD])


    @contextlib.contextmanager
    def reused(self, *, client: ConferenceClient | None = None, label: str = "room",
               free: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """A room of the run in the state `fresh()` gives (sample values, as created), kept between
        uses instead of being created and deleted each time: the cheaper way to the same start.

        It is handed out as read by sid (the read-back of its last use, when no request went to it
        since, else a GET), every modifiable field as at its creation except those in `free` (the
        fields the caller overwrites anyway). A room that drifted is put back with one PUT of its
        creation values and read again; if that does not restore it, it is deleted and a new room
        created. The put-back starts in the background when a user lets the room go, and up to
        ROOMS_PER_KIND rooms are kept per login and label: the next user takes a room that is ready
        (its put-back is waited for only when every room is busy), so that a remote target's two round
        trips of putting a room back overlap with the next use. The room handed out is checked as
        before, whatever the background did. Rooms still kept at the end are deleted with the run's
        other rooms."""
        owner = client or self.client
        key = (id(owner), label)
        entry = self._take(key)
        room = None
        while entry is not None and room is None:
            if entry.restoring is not None:
                wait([entry.restoring])
                if entry.restoring.result() is None:  # put back failed: the background deleted the room
                    entry = self._forget_and_take(key)
                    continue
            room = self._restored(owner, entry.sid, entry.baseline, free)
            if room is None:
                entry = self._forget_and_take(key)
        if room is None:
            room = self.create(client=owner, label=label)
            entry = KeptRoom(room[self.run.model.ID_FIELD], self._baseline(room))
            with self._kept_lock:
                self._counts[key] = self._counts.get(key, 0) + 1
        assert entry is not None
        try:
            yield room
        finally:
            entry.restoring = self._put_back_later(owner, entry, free)
            with self._kept_lock:
                self._kept.setdefault(key, []).append(entry)

    def _take(self, key: tuple[int, str]) -> KeptRoom | None:
        """A kept room that is ready; else None when fewer than ROOMS_PER_KIND exist (a new one is created);
        else the one whose put-back started first (waited for)."""
        with self._kept_lock:
            kept = self._kept.get(key, [])
            ready = next((entry for entry in kept if entry.ready()), None)
            if ready is None and kept and self._counts.get(key, 0) >= ROOMS_PER_KIND:
                ready = kept[0]
            if ready is not None:
                kept.remove(ready)
            return ready

    def _forget_and_take(self, key: tuple[int, str]) -> KeptRoom | None:
        """The room just taken is gone (deleted as not restorable): take another."""
        with self._kept_lock:
            self._counts[key] = max(0, self._counts.get(key, 0) - 1)
        return self._take(key)

    def _put_back_later(self, owner: ConferenceClient, entry: KeptRoom, free: Sequence[str]) -> Future | None:
        """Start putting the room back (its last user's `free` fields aside) when its last read shows it
        drifted in fields that hold no unique value; None: it is as created, or its next user puts it
        back first (its state is not known, or the put-back would free access codes or move them to
        another scope: a request sent meanwhile that asks for a code it frees would be refused by a
        room that, once the refusal is looked into, no longer holds the code)."""
        known = owner.registry.last_read(entry.sid, owner)
        if known is None or self._closed:
            return None
        model = self.run.model
        want, got = model.comparable(entry.baseline), model.comparable(known)
        drifted = {f for f in model.MODIFIABLE_FIELDS if want.get(f) != got.get(f)}
        unique_fields = {rule.array_field for rule in model.UNIQUE} | {f for rule in model.UNIQUE for f in rule.scope}
        if not drifted - set(free) or unique_fields & drifted:  # the PUT puts back every field, `free` ones too
            return None

        def put_back() -> Any:
            try:
                # its PUT is a step of the story (whichever test runs now): a replay restores the room
                # before its next use as the run did (the next use waits for it)
                return self._restored(owner, entry.sid, entry.baseline, free)
            except Exception:  # noqa: BLE001 - no answer, a refused login: the next user meets it again, in its test
                return _NOT_PUT_BACK

        with self._kept_lock:  # never after close(): the run's cleanup deletes the room as it is
            if self._closed:
                return None
            if self._restorers is None:
                self._restorers = ThreadPoolExecutor(max_workers=ROOMS_PER_KIND, thread_name_prefix="contract-put-back")
            return self._restorers.submit(put_back)

    def put_backs_done(self) -> None:
        """Wait for the put-backs started so far (each request is bounded by --request-timeout)."""
        with self._kept_lock:
            pending = [entry.restoring for kept in self._kept.values() for entry in kept if entry.restoring is not None]
        wait(pending)

    def close(self) -> None:
        """Before the run deletes its rooms (also after an early stop, when pytest tears the session's
        fixtures down only after the cleanup): no put-back starts any more, and none is left running, so
        that none reaches the target after the cleanup (a PUT to a deleted room; a server whose PUT
        creates missing rooms would bring it back). A room kept as its last user left it is deleted
        with the run's other rooms."""
        with self._kept_lock:
            self._closed = True
        self.put_backs_done()
        if self._restorers is not None:
            self._restorers.shutdown(wait=True)

    def _baseline(self, room: dict[str, Any]) -> dict[str, Any]:
        return {f: room.get(f) for f in self.run.model.MODIFIABLE_FIELDS}

    def _restored(self, owner: ConferenceClient, sid: str, baseline: dict[str, Any], free: Sequence[str]) -> dict[str, Any] | None:
        """The kept room as read now, put back to `baseline` (except `free`) if it drifted; None: not usable."""
        model, run = self.run.model, self.run
        fields = [f for f in model.MODIFIABLE_FIELDS if f not in free]
        for attempt in range(2):
            room = owner.registry.last_read(sid, owner)
            if room is None:
                response = owner.get_room(sid)
                room = response.json() if response.status_code == 200 and isinstance(actions._json(response), dict) else None
            if room is None:
                break
            if not model.differences(baseline, room, fields):
                return room
            if attempt:
                break
            restore = actions.complete_put_body(run, dict(baseline), room)
            if owner.put_room(sid, restore).status_code != 200:
                break
        if owner.registry.owns(sid):
            owner.delete_room(sid)
        return None


PUT_OPERATION = "PUT /meeting_rooms/{sid}"


def probe_put_style(run: Run, client: ConferenceClient, factory: RoomFactory, did_groups: Sequence[str]) -> PutStyle:
    """Whether the target's PUT needs the current read-only values (contract A): a valid PUT without
    them; if refused, the same PUT with their current values. One of the two must be accepted.

    A refusal proven by another room holding a drawn code (a busy shared account) says nothing about
    the style: the probe draws fresh codes and tries again (3 times), else records it as not checked."""
    with factory.fresh(label="putstyle") as room:
        sid = room[run.model.ID_FIELD]
        for _ in range(PROBE_ATTEMPTS):
            body = {**strategies.simplest_body(run, did_groups), **strategies.sample_values(run, did_groups)}
            _, response, outcome = actions.send_update(run, client, sid, "PUT", body, complete_put=False)
            if outcome is UpdateOutcome.APPLIED:  # the rule held: a PUT without them was accepted
                run.recorder.checked("put.read_only_fields", PUT_OPERATION, True)
                actions.observe(run, "put_read_only_fields", "optional", PUT_OPERATION, response)
                return PutStyle(read_only_required=False)
            if outcome is UpdateOutcome.CONFLICT:
                continue
            completed = {**{f: room.get(f) for f in run.model.READ_ONLY_FIELDS}, **body}
            _, response, outcome = actions.send_update(run, client, sid, "PUT", completed, complete_put=False)
            if outcome is UpdateOutcome.CONFLICT:
                continue
            with actions.rule(run, "put.read_only_fields", PUT_OPERATION):
                if outcome is not UpdateOutcome.APPLIED:
                    raise actions.fail(run, "put.read_only_fields", PUT_OPERATION, "PUT style probe",
                                       "a valid PUT was refused both without the read-only fields and with their "
                                       f"current values (HTTP {response.status_code}): the target accepts no PUT", response,
                                       judge=actions.answer_judge("accepted", every_update=True))
            actions.observe(run, "put_read_only_fields", "required", PUT_OPERATION, response)
            return PutStyle(read_only_required=True)
    run.recorder.unchecked("put.read_only_fields", PUT_OPERATION, f"every probe PUT ({PROBE_ATTEMPTS}) was refused as a "
                           "proven conflict (other rooms hold the drawn codes): style not known, PUTs sent without them")
    return PutStyle()


PROBE_ATTEMPTS = 3


RUN_ID = re.compile(r"([0-9a-z]{6,7})-[0-9a-f]{3}")  # registry.new_run_id: base-36 seconds, 3 hex digits
OLD_RUN_ID = re.compile(r"([0-9]{14})-[0-9a-f]{6}")  # earlier versions: `YYYYmmddHHMMSS-hex`, local time
EARLIEST_RUN = 1_577_836_800  # 2020-01-01: an older "start" is a word that looks like base 36, not a run id


def run_started(run_id: str) -> float | None:
    """When a run started, from its id; None if it is not a run id of the suite."""
    if match := RUN_ID.fullmatch(run_id):
        started = int(match.group(1), 36)
        return float(started) if EARLIEST_RUN <= started <= time.time() + 86400 else None
    if match := OLD_RUN_ID.fullmatch(run_id):
        try:
            return time.mktime(time.strptime(match.group(1), "%Y%m%d%H%M%S"))
        except ValueError:
            return None
    return None


@dataclass
class LeftoverReport:
    """What `--delete-leftovers` did: the journal's cleanup, and prefixed rooms no journal here knows."""

    cleanup: CleanupResult
    unjournalled: list[tuple[str, str]]  # (sid, name): named like an earlier run's room, not deleted

    def lines(self) -> list[str]:
        out = [f"--delete-leftovers ({self.cleanup_login}): " + line for line in self.cleanup.lines()]
        if self.unjournalled:
            out.append(f"--delete-leftovers ({self.cleanup_login}): {len(self.unjournalled)} room(s) named like an "
                       "earlier run's but in no journal here (another machine, or a run before the journal): not "
                       "deleted; " + ", ".join(f"{sid} ({name!r})" for sid, name in self.unjournalled[:20])
                       + (" ..." if len(self.unjournalled) > 20 else ""))
        return out

    cleanup_login: str = ""


def delete_leftover_rooms(client: ConferenceClient, registry: RoomRegistry,
                          state_dir: str | None = None) -> LeftoverReport:
    """Before the run (opt-in): delete every room a dead run of the suite journalled on this machine
    (`journal.cleanup_journalled`: by sid, any age, whatever it was renamed to), then report the
    rooms still named like an earlier run's (`<prefix>-<run id> ...`) that no journal here knows:
    those are never deleted (a name is no proof of who created a room)."""
    journal = registry.cleanup_journal
    directory = state_dir or (str(journal.state_dir) if journal is not None else None)
    result = cleanup_journalled(directory, client, own=journal) if directory else CleanupResult()
    handled = {p.sid for p in result.deleted + result.already_gone} | {p.sid for p, _ in result.failed}
    prefix = f"{registry.name_prefix}-"
    unjournalled = []
    for room in client.list_all("/meeting_rooms"):
        name, sid = room.get("name") or "", room.get("meeting_room_sid")
        if not sid or sid in handled or not isinstance(name, str) or not name.startswith(prefix) \
                or name.startswith(registry.room_name_prefix + " "):
            continue
        if run_started(name[len(prefix):].split(" ", 1)[0]) is not None:
            unjournalled.append((sid, name))
    user = client.credentials.username if client.credentials else "anonymous"
    return LeftoverReport(result, unjournalled, cleanup_login=user)


def sweep_run_rooms(clients: list[ConferenceClient], registry: RoomRegistry) -> list[str]:
    """At the end of a run: delete every listed room holding exactly a name that this run sent in a
    POST (a room created behind a refusal or a lost answer: this run's request created it); rooms
    merely starting with the run's prefix are reported, never deleted. Returns the sids left."""
    remaining = []
    still_there: set[Any] = set()  # what the sweep listed and did not delete (registry.listed_at_the_end)
    for client in clients:
        for room in client.list_all("/meeting_rooms"):
            sid, name = room.get("meeting_room_sid"), room.get("name") or ""
            still_there.add(sid)
            if not sid or not ownership.named_like_the_run(registry, room):
                continue
            if registry.owns(sid) or ownership.carries_a_name_of_the_run(registry, room):
                if not registry.owns(sid):
                    registry.record_created(sid, client)  # created by this run's POST, its answer lost or a refusal
                if client.delete_room(sid).status_code not in (200, 204, 404):
                    remaining.append(sid)
                else:
                    still_there.discard(sid)
            else:
                registry.report_foreign(sid, f"is named {name!r} (this run's prefix) but no request of this run sent that name")
    registry.listed_at_the_end = still_there
    return remaining
