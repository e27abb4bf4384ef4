"""The registry of the rooms this run owns (created, deleted, last read, names it POSTed), the
run id and the room names built from it, and the quiet moments xdist workers ask each other for."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Iterator, Protocol

import requests

from . import ownership
from .redaction import Credentials
from .stories import StoryBook


class RoomOwner(Protocol):
    """The login a room was created with (a `client.ConferenceClient`): the registry keeps it per room,
    so that the room is deleted, and read back, through the login that owns it."""

    base_url: str
    credentials: Credentials | None


class RoomJournal(Protocol):
    """Where the registry writes each room at once (journal.CleanupJournal on a real target)."""

    def created(self, sid: str, base_url: str, login: str) -> None: ...

    def deleted(self, sid: str, *, gone: bool = False) -> None: ...

QUIET_MAX_WAIT_S = 30.0  # the longest a worker's request waits for another worker's quiet moment
QUIET_SETTLE_S = 1.0  # after asking for quiet: the others' requests already on the way get their answers


class UnsafeTargetError(RuntimeError):
    """The suite tried to change a room it did not create: a bug in the suite, never allowed."""


def _held(path: Any) -> bool:
    """A quiet file that exists and is recent (one left by a killed worker holds nobody up)."""
    try:
        return time.time() - path.stat().st_mtime < QUIET_MAX_WAIT_S
    except OSError:
        return False


class RoomRegistry:
    """Every room this run created (and not yet deleted), shared by all clients of the run."""

    def __init__(self, run_id: str, name_prefix: str):
        self.run_id, self.name_prefix = run_id, name_prefix
        self._created: dict[str, "RoomOwner"] = {}
        self._deleted: set[str] = set()
        self._unknown: set[str] = set()
        self._journalled: set[str] = set()  # rooms of dead runs, found in the cleanup journal (deletable)
        self._posted_names: set[str] = set()  # names this run sent in a POST (a room created behind a lost answer)
        self._lock = threading.Lock()
        self.journal: list[str] = []  # sids in creation order (this process)
        self.cleanup_journal: "RoomJournal | None" = None  # the crash-proof journal on disk (real targets)
        self.foreign: list[tuple[str, str]] = []  # (sid, why): rooms seen but not ours: reported, never deleted
        self.seen_elsewhere: set[str] = set()  # sids listed while not the run's: a creation answer naming one is not ours
        self.stories = StoryBook()  # every request of the run, for failure stories (stories.py)
        self._read: dict[str, dict[str, Any]] = {}  # sid: the room as its owner's last GET read it, nothing sent since
        self.on_send: Callable[[str, str, Any], None] | None = None  # notes each request's body before it is sent (xdist)
        self.quiet_path: Any = None  # xdist workers on one target: while this file exists, only its holder sends
        # xdist workers on one target: (this worker's index, workers). Serials are spread so that no
        # two workers build the same room name: a room is found again by its name after a gateway
        # lost the answer of its POST, and must never be another worker's room.
        self.worker_share: tuple[int, int] | None = None
        self.holding_quiet = False  # this process holds the quiet file
        # xdist: the names this process POSTs are also written here (`<run id>.names.<pid>` next to the
        # journal), so that the controller's end-of-run sweep knows every name the run sent
        self.shared_names_path: Any = None
        self.listed_at_the_end: set[Any] | None = None  # the rooms still on the target after the end-of-run sweep (None: no sweep)
        # whether a room is what a POST body creates (set by the run from its model; ownership.attribute_creation)
        self.creation_matches: Callable[[Any, Any], bool] | None = None
        self.creation_resembles: Callable[[Any, Any], bool] | None = None
        self._creating = 0  # room creations in flight in the main thread (an interrupt waits for their answers)
        self._deferred: str | None = None  # the signal that came during one

    @contextlib.contextmanager
    def creating(self) -> Iterator[None]:
        """A room creation, from sending the POST to recording the room its answer names: a Ctrl-C or
        SIGTERM that comes meanwhile (`defer_interrupt`) is raised when it is over. Raised mid-way, the
        target could create a room whose answer is never read: no journal would name it, and a room
        named with an edge value (not the run's prefix) is no room the end-of-run sweep may delete."""
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._creating += 1
        try:
            yield
        finally:
            if main:
                self._creating -= 1
                if not self._creating and self._deferred is not None:
                    name, self._deferred = self._deferred, None
                    raise KeyboardInterrupt(name)

    def defer_interrupt(self, name: str) -> bool:
        """True while a room creation is in flight in the main thread: the interrupt is raised when it is over."""
        if self._creating:
            self._deferred = name
            return True
        return False

    def wait_for_quiet(self) -> None:
        """Under xdist: while another worker of the run holds the quiet file (`quiet`), wait (bounded)."""
        path = self.quiet_path
        if path is None or self.holding_quiet:
            return
        give_up = time.monotonic() + QUIET_MAX_WAIT_S
        while time.monotonic() < give_up and _held(path):
            time.sleep(0.05)

    @contextlib.contextmanager
    def quiet(self, settle_s: float = QUIET_SETTLE_S) -> Iterator[None]:
        """The run's other xdist workers send nothing while the block runs (they wait before their
        next request; bounded by QUIET_MAX_WAIT_S): for the one request that must not meet a rate
        limit the others caused (the wrong-password probe is never repeated). No-op when serial."""
        path = self.quiet_path
        if path is None:
            yield
            return
        give_up = time.monotonic() + QUIET_MAX_WAIT_S
        while True:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                break
            except FileExistsError:  # another worker's quiet moment first
                if time.monotonic() >= give_up:
                    yield
                    return
                time.sleep(0.05)
        self.holding_quiet = True
        try:
            time.sleep(settle_s)
            yield
        finally:
            self.holding_quiet = False
            path.unlink(missing_ok=True)

    def attach_journal(self, journal: RoomJournal) -> None:
        """Journal every room created from now on to disk (fsync'd) before anything else happens."""
        self.cleanup_journal = journal

    @property
    def room_name_prefix(self) -> str:
        return f"{self.name_prefix}-{self.run_id}"

    def room_name(self, label: str, serial: int | None = None) -> str:
        """A name for a room of this run: `<prefix>-<run id> <label>[ <serial>]`.

        Every name the suite builds for itself is a plain name of the spec (`x-plain-pattern`,
        at most 40 characters with the default spec): labels are at most MAX_LABEL_CHARS, serials
        wrap at SERIAL_WRAP, and `--room-prefix` is checked against the longest such name.
        """
        longest = MAX_LABEL_CHARS if serial is not None else MAX_LABEL_CHARS + len(f" {SERIAL_WRAP - 1}")
        if not (0 < len(label) <= longest) or " " in label:
            raise ValueError(f"room label {label!r}: 1 to {longest} characters, no space (a bug in the suite)")
        if serial is not None and self.worker_share is not None:
            index, workers = self.worker_share
            serial = serial * workers + index
        return f"{self.room_name_prefix} {label}" + ("" if serial is None else f" {serial % SERIAL_WRAP}")

    def longest_room_name(self) -> str:
        """The longest name `room_name` can build with this prefix and run id."""
        return self.room_name("x" * MAX_LABEL_CHARS, SERIAL_WRAP - 1)

    def record_created(self, sid: str, owner: "RoomOwner") -> None:
        """A room this run's own request created (its sid from the creating answer, or a sid the
        suite chose itself): journalled to disk first, then deleted at the end of the run."""
        if self.cleanup_journal is not None:
            self.cleanup_journal.created(sid, owner.base_url, owner.credentials.username if owner.credentials else "")
        with self._lock:
            self._created[sid] = owner
            self.journal.append(sid)

    def record_deleted(self, sid: str, *, gone: bool = False) -> None:
        with self._lock:
            self._deleted.add(sid)
        if self.cleanup_journal is not None:
            self.cleanup_journal.deleted(sid, gone=gone)

    def note_listed(self, sids: Iterable[Any]) -> None:
        """Sids an account listing showed: those that are not the run's are known not to be its rooms."""
        with self._lock:
            self.seen_elsewhere.update(sid for sid in sids if isinstance(sid, str) and sid not in self._created)

    def report_foreign(self, sid: str, why: str) -> None:
        """A room the suite saw but cannot prove it created (re-keyed by the server, found holding
        our code, ...): never deleted; listed in the end-of-run warning for a human to check."""
        with self._lock:
            if sid in self._created or any(known == sid for known, _ in self.foreign):
                return
            self.foreign.append((sid, why))

    def foreign_rooms(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.foreign)

    def foreign_warning(self) -> list[str]:
        """One line per room for the end-of-run warning."""
        return [f"room {sid} {why}: not deleted, check it by hand" for sid, why in self.foreign_rooms()]

    def note_exchange(self, method: str, path: str, client: "RoomOwner", response: requests.Response | None) -> None:
        """Keep the room as its owner last read it (a 200 GET by sid); any other request to the room
        forgets it (also before it is sent: a change in flight makes the last read stale)."""
        bare = path.split("?", 1)[0]
        if not bare.startswith("/meeting_rooms/") or "?" in path:
            return
        sid = bare.split("/", 2)[2]
        with self._lock:
            if method == "GET" and self._created.get(sid) is not client:
                return  # another login's read changes nothing
            if method != "GET" or response is None or response.status_code != 200 or self._created.get(sid) is not client \
                    or sid in self._deleted:
                self._read.pop(sid, None)
                return
        try:
            room = response.json()
        except ValueError:
            room = None
        with self._lock:
            if isinstance(room, dict):
                self._read[sid] = room
            else:
                self._read.pop(sid, None)

    def last_read(self, sid: str, client: "RoomOwner") -> dict[str, Any] | None:
        """The room as its owner `client` last read it by sid, if no request has gone to it since."""
        with self._lock:
            room = self._read.get(sid) if self._created.get(sid) is client else None
            return dict(room) if room is not None else None

    def allow_journalled(self, sid: str) -> None:
        """A sid a dead run of this suite journalled as created: the cleanup may delete it."""
        with self._lock:
            self._journalled.add(sid)

    def record_posted_name(self, name: str) -> None:
        """Before a POST with this name is sent: a room holding it was created by this run (also by
        another process of the run: workers write their names where the controller reads them)."""
        with self._lock:
            self._posted_names.add(name)
            if self.shared_names_path is not None:
                with open(self.shared_names_path, "a", encoding="utf-8") as shared:
                    shared.write(json.dumps(name) + "\n")

    def posted_any_name(self) -> bool:
        """Whether any request of this run (any of its processes) POSTed a room named with the run's prefix:
        else no room can hold a name of this run, and the end-of-run sweep has nothing to look for."""
        with self._lock:
            if self._posted_names:
                return True
        return bool(self._names_of_the_other_processes())

    def posted_this_name(self, name: str) -> bool:
        """Whether a request of this run (this process, or another process of the run) POSTed `name`."""
        with self._lock:
            if name in self._posted_names:
                return True
        return name in self._names_of_the_other_processes()

    def _names_of_the_other_processes(self) -> set[str]:
        journal_path = getattr(self.cleanup_journal, "path", None)
        if journal_path is None:
            return set()
        names: set[str] = set()
        for path in journal_path.parent.glob(f"{self.run_id}.names.*"):
            with contextlib.suppress(OSError, ValueError):
                names.update(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        return names

    def owns(self, sid: str) -> bool:
        with self._lock:
            return sid in self._created

    def unknown_sid(self) -> str:
        """A fresh random sid that names no room; mutating requests to it are allowed (404)."""
        sid = str(uuid.uuid4())
        with self._lock:
            self._unknown.add(sid)
        return sid

    def is_unknown_sid(self, sid: str) -> bool:
        """A random sid this run made up for a 404 probe (`unknown_sid`)."""
        with self._lock:
            return sid in self._unknown

    def is_journalled(self, sid: str) -> bool:
        """A sid a dead run of this suite journalled as created (`allow_journalled`)."""
        with self._lock:
            return sid in self._journalled

    def may_change(self, sid: str) -> bool:
        """The ownership policy's answer (`ownership.may_change`)."""
        return ownership.may_change(self, sid)

    def live_rooms(self) -> list[tuple[str, "RoomOwner"]]:
        with self._lock:
            return [(sid, owner) for sid, owner in self._created.items() if sid not in self._deleted]

    def created_count(self) -> int:
        with self._lock:
            return len(self._created)



NAME_KEY = "name"  # where the suite writes recognisable room names (when the spec's creation body has it)
MAX_LABEL_CHARS = 8  # room labels ("neighbor", "holder", ...)
SERIAL_WRAP = 100_000  # room serials have at most 5 digits
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_run_id(now: float | None = None) -> str:
    """`<start time: seconds since the epoch in base 36>-<3 random hex digits>`, e.g. `t6a1b2-4f3`.

    Short, because room names are at most 40 plain characters; the start time is in it so that
    `--delete-leftovers` can tell an old run's rooms (`rooms.run_started`).
    """
    seconds, digits = int(time.time() if now is None else now), ""
    while True:
        seconds, digit = divmod(seconds, 36)
        digits = BASE36[digit] + digits
        if not seconds:
            break
    return f"{digits}-{secrets.token_hex(2)[:3]}"


