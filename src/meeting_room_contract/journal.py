"""A crash-proof journal of the rooms a run creates, and the cleanup of dead runs' rooms.

Every process of a run (the controller and each xdist worker) appends to its own file
`<state dir>/journal/<run id>.<pid>.jsonl`, one JSON object per line, written and fsync'd at once
(a `deleted` line too: lost to a power cut, the next cleanup would delete that sid again, and a server
that reuses sids could have given it to another room by then):

- `start`: run id, pid, host;
- `created`: a room the run created: sid, base URL (never with credentials), login, time;
- `deleted` / `gone`: the room was deleted (or was already gone).

The process holds an exclusive `flock` on its file while it lives; the kernel drops it when the
process ends in any way, SIGKILL included. A file whose lock can be taken therefore belongs to a
dead (or finished) run: `cleanup_journalled` deletes every room journalled there as created and
not deleted, by sid, whatever it was renamed to and whatever its age, with the login that created
it. A room that is not in a journal is never deleted. While deleting, SIGINT and SIGTERM are held
back (delivered when the cleanup is done), so a signal does not abort a cleanup half way.

A file goes when its process ends with none of its rooms left, except an xdist worker's: the
controller's end-of-run cleanup reads it (what the worker created counts toward the run's
`rooms_created` even when an interrupt kept the worker from reporting) and removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import requests

from .registry import UnsafeTargetError
from .transport import TargetUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from .client import ConferenceClient

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, every journal counts as alive but our own
    fcntl = None  # type: ignore[assignment]

DEFAULT_STATE_DIR = ".contract-state"
STATE_DIR_ENV = "CONFERENCE_STATE_DIR"
JOURNAL_SUBDIR = "journal"


def public_base_url(base_url: str) -> str:
    """The base URL as journalled and compared: no userinfo, lower-case scheme and host, no trailing '/'."""
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def journal_dir(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / JOURNAL_SUBDIR


class CleanupJournal:
    """This process's journal file of one run (see the module's docstring)."""

    def __init__(self, state_dir: str | os.PathLike[str], run_id: str, *, keep: bool = False):
        self.state_dir = Path(state_dir)
        self.run_id = run_id
        self.keep = keep  # an xdist worker's: kept when closed, so the controller counts what it created
        directory = journal_dir(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{run_id}.{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._live: dict[str, dict[str, Any]] = {}
        self.created_sids: set[str] = set()  # every room this process journalled (the preflight's included)
        _fsync_dir(directory)
        self._write({"event": "start", "run": run_id, "pid": os.getpid(), "host": socket.gethostname()})

    def _write(self, entry: dict[str, Any]) -> None:
        line = (json.dumps({**entry, "time": _now()}, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                raise RuntimeError(f"cleanup journal {self.path} is closed")
            os.write(self._fd, line)  # in the kernel's hands: a killed process loses nothing
            os.fsync(self._fd)  # on the disk: a machine that loses power loses nothing either

    def created(self, sid: str, base_url: str, login: str) -> None:
        entry = {"event": "created", "run": self.run_id, "sid": sid, "base_url": public_base_url(base_url), "login": login}
        self._write(entry)
        with self._lock:
            self._live[sid] = entry
            self.created_sids.add(sid)

    def deleted(self, sid: str, *, gone: bool = False) -> None:
        with self._lock:
            entry = self._live.pop(sid, None)
        if entry is not None:
            self._write({**{k: entry[k] for k in ("run", "sid", "base_url", "login")}, "event": "gone" if gone else "deleted"})

    def live(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def close(self) -> None:
        """Release the lock; the file goes when none of its rooms is left (else the next cleanup needs it).
        A worker's file is kept: the controller's end-of-run cleanup reads and removes it."""
        with self._lock:
            fd, self._fd = self._fd, None
            live = bool(self._live)
        if fd is None:
            return
        if not live and not self.keep:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(fd)


# -- reading dead runs' journals --------------------------------------------------------------------

@dataclass
class Pending:
    """A room a dead run journalled as created and not as deleted."""

    sid: str
    run: str
    base_url: str
    login: str
    created: str
    file: Path


@dataclass
class CleanupResult:
    deleted: list[Pending] = field(default_factory=list)
    already_gone: list[Pending] = field(default_factory=list)
    failed: list[tuple[Pending, str]] = field(default_factory=list)
    other_logins: list[Pending] = field(default_factory=list)  # journalled for another login or base URL: kept
    busy_journals: int = 0  # journals of runs still alive (their lock is held): not touched
    created: set[str] = field(default_factory=set)  # every sid the journals read were told was created
    interrupted_by: list[str] = field(default_factory=list)  # signals held back during the cleanup

    def lines(self) -> list[str]:
        out = [f"deleted {len(self.deleted)} room(s) journalled by dead runs" +
               (f": {', '.join(f'{p.sid} (run {p.run})' for p in self.deleted)}" if self.deleted else ""),
               f"already gone: {len(self.already_gone)}" +
               (f": {', '.join(p.sid for p in self.already_gone)}" if self.already_gone else "")]
        for pending, why in self.failed:
            out.append(f"NOT deleted {pending.sid} (run {pending.run}): {why}; it stays in the journal for the next cleanup")
        if self.other_logins:
            keys = sorted({f"{p.login} at {p.base_url}" for p in self.other_logins})
            out.append(f"{len(self.other_logins)} journalled room(s) of other logins/targets kept for their cleanup: "
                       + "; ".join(keys))
        if self.busy_journals:
            out.append(f"{self.busy_journals} journal(s) belong to runs still going: not touched")
        return out


def read_journal(path: Path) -> list[dict[str, Any]]:
    entries = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def pending_rooms(entries: list[dict[str, Any]], path: Path) -> list[Pending]:
    live: dict[str, Pending] = {}
    for entry in entries:
        sid = entry.get("sid")
        if not isinstance(sid, str):
            continue
        if entry.get("event") == "created":
            live[sid] = Pending(sid, str(entry.get("run")), str(entry.get("base_url")), str(entry.get("login")),
                                str(entry.get("time")), path)
        elif entry.get("event") in ("deleted", "gone"):
            live.pop(sid, None)
    return list(live.values())


@contextlib.contextmanager
def _locked_if_dead(path: Path) -> Iterator[int | None]:
    """An fd holding the file's lock if its run is dead; None if the run still holds it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        yield None
        return
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield None
                return
        yield fd
    finally:
        os.close(fd)


class _Noted:
    """The handler of a held signal: notes its name (see `signals_held`)."""

    def __init__(self) -> None:
        self.arrived: list[str] = []

    def __call__(self, signum: int, frame: Any) -> None:
        self.arrived.append(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_held(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM), *,
                 redeliver: bool = True) -> Iterator[list[str]]:
    """Hold back SIGINT/SIGTERM for the block; yields the names of those that arrive meanwhile. With
    `redeliver`, they are raised again when the block ends, to the handlers the process had (a signal
    the process ignores is left alone); without, they are only noted.

    The hold is a Python handler, not the thread's signal mask: the kernel gives a signal sent to the
    process to any thread that does not block it (the run's read-back and put-back threads too), and
    Python runs the handler in the main thread whichever thread got it, so a mask set in the main
    thread held nothing once another thread existed. Within a hold, another hold shares it (its block
    ends first, and the signal is the outer block's). Outside the main thread a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    current = [signal.getsignal(signum) for signum in signals]
    outer = next((handler for handler in current if isinstance(handler, _Noted)), None)
    if outer is not None:
        yield outer.arrived
        return
    noted = _Noted()
    held = {signum: signal.signal(signum, noted) for signum, handler in zip(signals, current)
            if handler not in (signal.SIG_IGN, None)}  # ignored on purpose (or not Python's to change): left alone
    try:
        yield noted.arrived
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        if redeliver:
            for name in dict.fromkeys(noted.arrived):
                signal.raise_signal(signal.Signals[name])


def cleanup_journalled(state_dir: str | os.PathLike[str], client: "ConferenceClient",
                       *, own: CleanupJournal | None = None, log: Callable[[str], None] | None = None,
                       run: str | None = None) -> CleanupResult:
    """Delete every room that a dead run journalled as created (and not deleted) for this client's
    login and base URL, by sid; record each outcome in that run's journal. SIGINT/SIGTERM wait until
    it is done. Rooms of runs still alive, of other logins or other targets are not touched.
    `run`: only the journals of that run id (the run's own ended workers, at its end)."""
    result = CleanupResult()
    directory = journal_dir(state_dir)
    if not directory.is_dir() or client.credentials is None:
        return result
    base_url, login = public_base_url(client.base_url), client.credentials.username
    with signals_held() as arrived:
        for path in sorted(directory.glob(f"{run}.*.jsonl" if run else "*.jsonl")):
            if own is not None and path == own.path:
                continue
            with _locked_if_dead(path) as fd:
                if fd is None:
                    result.busy_journals += 1
                    continue
                entries = read_journal(path)
                result.created.update(e["sid"] for e in entries if e.get("event") == "created" and isinstance(e.get("sid"), str))
                pending = pending_rooms(entries, path)
                for room in pending:
                    if (room.base_url, room.login) != (base_url, login):
                        result.other_logins.append(room)
                        continue
                    client.registry.allow_journalled(room.sid)
                    try:
                        status = client.delete_room(room.sid).status_code
                    except (requests.RequestException, TargetUnavailable, UnsafeTargetError) as error:
                        result.failed.append((room, f"{type(error).__name__}: {error}"))
                        continue
                    if status in (200, 204, 404):
                        event = "deleted" if status != 404 else "gone"
                        (result.deleted if status != 404 else result.already_gone).append(room)
                        _append(fd, {"event": event, "run": room.run, "sid": room.sid, "base_url": room.base_url,
                                     "login": room.login, "by": "cleanup"})
                    else:
                        result.failed.append((room, f"DELETE answered {status}"))
                if not pending_rooms(read_journal(path), path):
                    with contextlib.suppress(OSError):
                        path.unlink()  # nothing of that run is left anywhere
        remove_side_files_of_ended_runs(directory)
        if log is not None:  # said before a held-back signal is delivered
            for line in result.lines():
                log(line)
        result.interrupted_by = list(dict.fromkeys(arrived))
    return result


RUN_SIDE_FILES = ("{run}.codes.*", "{run}.names.*", "{run}.wrong-password-*.claim", "{run}.quiet", "{run}.done.*")  # plugin/xdist.py, target.py, registry.py


def remove_side_files_of_ended_runs(directory: Path) -> list[Path]:
    """The files a multi-worker run keeps next to its journals (worker code notes, the names its workers
    POSTed, wrong-password claims, the quiet flag) for runs that have no journal left: a run killed before
    its controller removed them. A run still going always has its journals (each opens its own at the start)."""
    alive = {path.name.split(".", 1)[0] for path in directory.glob("*.jsonl")}
    removed = []
    for path in directory.iterdir():
        run = path.name.split(".", 1)[0]
        if path.suffix == ".jsonl" or run in alive:
            continue
        if any(path.match(pattern.format(run=run)) for pattern in RUN_SIDE_FILES):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _append(fd: int, entry: dict[str, Any]) -> None:
    os.write(fd, (json.dumps({**entry, "time": _now()}, ensure_ascii=False) + "\n").encode("utf-8"))
    os.fsync(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
