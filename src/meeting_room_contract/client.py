"""HTTP access to the target: polite sessions, the registry of rooms we own, curl reproductions."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import os
import secrets
import shlex
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .redaction import Credentials, Redactor, redactor_of
from .stories import StoryBook



class RoomJournal(Protocol):
    """Where the registry writes each room at once (journal.CleanupJournal on a real target)."""

    def created(self, sid: str, base_url: str, login: str) -> None: ...

    def deleted(self, sid: str, *, gone: bool = False) -> None: ...

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GATEWAY_STATUSES = (502, 503, 504)
GATEWAY_GIVE_UPS = 3
QUIET_MAX_WAIT_S = 30.0  # the longest a worker's request waits for another worker's quiet moment
QUIET_SETTLE_S = 1.0  # after asking for quiet: the others' requests already on the way get their answers
DEFAULT_MAX_RETRY_WAIT_S = 30.0


class TargetUnavailable(RuntimeError):
    """The target could not be tested: a request ended without an answer that can be judged.

    Raised after the one retry layer of its kind is spent: 429s whose Retry-After would make the
    wait for one request exceed --max-retry-wait (or the run deadline), connection errors and
    timeouts after urllib3's retries, or the run deadline itself. Never a contract violation and
    never a pass: the run's status is "could not test". `reason` is one line without credentials.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


CLEANUP_GRACE_S = 60.0  # the end-of-run cleanup after --max-duration: bounded, like every wait


class Deadline:
    """The run's time budget (--max-duration), consulted before each request and each retry wait."""

    def __init__(self, seconds: float | None, *, clock: Any = time.monotonic, shared: bool = False):
        self.clock = clock
        self.seconds = seconds
        self.ends = clock() + seconds if seconds and math.isfinite(seconds) else math.inf
        self.gave_up: str | None = None  # why the target could not be tested (then every later request ends at once)
        self._shared = shared  # NO_DEADLINE: the default of stand-alone clients, which keeps no run state

    def remaining(self) -> float:
        return self.ends - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def give_up(self, reason: str) -> None:
        """The run could not test the target: later requests of the run end at once (a 429 wall or a
        silent target is not waited out again and again, so "could not test" comes within the cap)."""
        if not self._shared and self.gave_up is None:
            self.gave_up = reason

    def try_again(self, grace_s: float = CLEANUP_GRACE_S) -> None:
        """Send again after giving up (the end-of-run cleanup: one more try, which gives up as before).
        A run that reached --max-duration gets `grace_s` more for it: its rooms are deleted, not left."""
        self.gave_up = None
        if self.expired():
            self.ends = self.clock() + grace_s

    def check(self, what: str = "") -> None:
        if self.gave_up is not None:
            raise TargetUnavailable(f"{self.gave_up} (earlier in this run; not sent: {what})" if what else self.gave_up)
        if self.expired():
            raise TargetUnavailable(f"run deadline: --max-duration {self.seconds:g} s reached"
                                    + (f" before {what}" if what else ""))


NO_DEADLINE = Deadline(None, shared=True)


class PoliteRetry(Retry):
    """urllib3's retries, the only layer for 429s and connection errors (gateway answers: see
    `ConferenceClient.send`).

    - 429 means the request was not processed, so it is retried for every method, after the
      Retry-After the target asks for (seconds or an HTTP date) or a backoff. The waits for one
      request add up to at most `max_wait` seconds (--max-retry-wait) and never pass the run
      deadline: a Retry-After that would go beyond ends the retries at once and the 429 is
      returned (the client raises TargetUnavailable). At most `status` retries.
    - Connection errors (nothing was sent) are retried for every method, read errors and timeouts
      for idempotent methods only (`allowed_methods`).
    - 502/503/504 are not retried here: after one of those a change may or may not have
      happened, so the client reads the room back before sending again.
    """

    def __init__(self, *args: Any, max_wait: float = DEFAULT_MAX_RETRY_WAIT_S, waited: float = 0.0,
                 deadline: Deadline = NO_DEADLINE, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_wait, self.waited, self.deadline = max_wait, waited, deadline

    def new(self, **kwargs: Any) -> "PoliteRetry":
        retry = super().new(**kwargs)
        retry.max_wait, retry.waited, retry.deadline = self.max_wait, self.waited, self.deadline
        return retry

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.deadline.expired()  # no retry after the run deadline

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return bool(self.status)  # 0 or None: no 429 retries left
        return super().is_retry(method, status_code, has_retry_after)

    @staticmethod
    def wait_for(response: Any, retry: Retry) -> float:
        """What the next retry waits: the Retry-After asked for (uncapped here), else `retry`'s backoff."""
        value = response.headers.get("Retry-After") if response is not None else None
        if value is not None:
            try:
                return Retry(retry_after_max=10**9).parse_retry_after(value)
            except Exception:  # an unreadable Retry-After: the backoff
                pass
        return retry.get_backoff_time()

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> "PoliteRetry":
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None and response.status == 429:
            wait = self.wait_for(response, retry)
            if self.waited + wait > self.max_wait or wait >= self.deadline.remaining():
                raise MaxRetryError(_pool, url, ResponseError(f"429: waiting {wait:.0f} s is over the cap"))  # type: ignore[arg-type]
            retry.waited = self.waited + wait
        return retry


class RateLimiter:
    """At most `per_second` requests per second across threads (0 = unlimited)."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class _PoliteAdapter(HTTPAdapter):
    def __init__(self, limiter: RateLimiter, counter: "RequestCounter", *, redactor: Redactor | None = None,
                 deadline: Deadline = NO_DEADLINE, **kwargs: Any):
        self.limiter, self.counter, self.redactor, self.deadline = limiter, counter, redactor, deadline
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.deadline.check(f"{request.method} {urlpath(request.url)}")
        self.limiter.wait()
        self.counter.add()
        request.contract_redactor = self.redactor  # type: ignore[attr-defined]  # reproductions know the run's secrets
        remaining = self.deadline.remaining()
        if math.isfinite(remaining):  # a request never outlives the run deadline
            timeout = kwargs.get("timeout")
            connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            kwargs["timeout"] = (min(connect or remaining, remaining), min(read or remaining, remaining))
        return super().send(request, **kwargs)


def urlpath(url: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url or "").path


class RequestCounter:
    """Requests sent by the run, and how often a gateway error outlived its retries (shared by all clients)."""

    def __init__(self) -> None:
        self.value = 0
        self.gateway_give_ups = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


class PoliteSession(requests.Session):
    """A requests session with a default timeout on every call."""

    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = timeout
        self._environment_settings: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        """requests' own merge (proxies, CA bundle from the environment), computed once per origin:
        requests reads every environment variable for each request otherwise (~0.5 ms each)."""
        parts = urlsplit(str(url))
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        settings = self._environment_settings.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment_settings[key] = settings
        return {name: (dict(value) if isinstance(value, dict) else value) for name, value in settings.items()}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True)
class Politeness:
    timeout: float = 15.0
    rate_limit: float = 0.0
    max_429_retries: int = 8
    error_retries: int = 3
    gateway_backoff: float = 0.5
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT_S  # --max-retry-wait: all 429 waits of one request together


def build_session(credentials: Credentials | None, politeness: Politeness, limiter: RateLimiter,
                  counter: RequestCounter, *, redactor: Redactor | None = None,
                  deadline: Deadline = NO_DEADLINE) -> PoliteSession:
    session = PoliteSession(politeness.timeout)
    if credentials is not None:
        session.auth = (credentials.username, credentials.password)
    retry = PoliteRetry(
        total=None,
        connect=politeness.error_retries,
        read=politeness.error_retries,
        status=politeness.max_429_retries,
        other=0,
        redirect=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=(429,),
        backoff_factor=0.3,
        respect_retry_after_header=True,
        retry_after_max=max(0, int(math.ceil(politeness.max_retry_wait))),
        raise_on_status=False,
        raise_on_redirect=False,
        max_wait=politeness.max_retry_wait,
        deadline=deadline,
    )
    adapter = _PoliteAdapter(limiter, counter, redactor=redactor, deadline=deadline, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# Headers curl sends on its own (Host/Content-Length are computed exactly as requests does).
_CURL_COMPUTED = {"host", "content-length", "authorization"}
_CURL_DEFAULTS = ("User-Agent", "Accept")


def curl_command(request: requests.PreparedRequest, redactor: Redactor | None = None) -> str:
    """The request exactly as sent, as a curl command; credentials appear only as environment variables.

    Built by place: the Authorization header becomes `-u` with the variables of the run's logins
    (`redactor`, by default the one of the client that sent it); nothing is scrubbed afterwards,
    so a short or common password cannot garble the command.

    Every header is shown as sent; a header curl would add on its own but the request lacked is
    removed (`-H 'Content-Type:'`), so curl sends the same request. Bodies that are not UTF-8
    text are piped in through printf.
    """
    method = request.method or "GET"
    parts = ["curl", "--head" if method == "HEAD" else f"-X {method}", shlex.quote(request.url or "")]
    headers = request.headers
    auth = headers.get("Authorization")
    if auth is not None:
        parts.append(_curl_auth(auth, redactor or redactor_of(request)))
    for name, value in headers.items():
        if name.lower() not in _CURL_COMPUTED:
            parts.append("-H " + shlex.quote(f"{name}: {value}" if value else f"{name};"))
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    if body is None and headers.get("Content-Length") == "0":
        body = b""  # an empty body that was still sent (PUT/PATCH/POST)
    absent = [name for name in _CURL_DEFAULTS if name not in headers]
    if body is not None and "Content-Type" not in headers:
        absent.append("Content-Type")  # else curl sends application/x-www-form-urlencoded
    parts += ["-H " + shlex.quote(f"{name}:") for name in absent]
    if any(token in headers.get("Accept-Encoding", "") for token in ("gzip", "deflate")):
        parts.append("--compressed")  # decode what the header asked for (the header itself is kept)
    command = " ".join(parts)
    if isinstance(body, bytes):
        text = _printable(body)
        if text is not None:
            command += " --data-binary " + shlex.quote(text)
        else:
            escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\0{b:03o}" for b in body)
            command = f"printf %b {shlex.quote(escaped)} | {command} --data-binary @-"
    elif body is not None and not isinstance(body, bytes):  # a generator: sent chunked, content unknown here
        command += " --data-binary '<streamed body, not recorded>'"
    return command


def _curl_auth(value: str, redactor: Redactor | None) -> str:
    """`-u` with environment variables for a configured login (or a probe that pairs a login with
    another login's password); other Basic logins (wrong-password probes) as sent. Without the
    run's redactor nothing of the header is shown."""
    if redactor is None:
        return "-H 'Authorization: <not shown: credentials>'"
    known = redactor.credentials_for_header(value)
    if known is not None:
        return f'-u "${known.username_env}:${known.password_env}"'
    if value.startswith("Basic "):
        try:
            decoded = base64.b64decode(value[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = None
        if decoded is not None and ":" in decoded:
            return redactor.curl_user(*decoded.split(":", 1))
    if redactor.scrub(f"Authorization: {value}") != f"Authorization: {value}":
        return "-H 'Authorization: <redacted: carries a credential>'"
    return "-H " + shlex.quote(f"Authorization: {value}")


def _printable(body: bytes) -> str | None:
    """The body as text when a shell argument can carry it unchanged (UTF-8, no NUL)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def curl_commands(sent: Iterable[requests.PreparedRequest], redactor: Redactor | None = None) -> str:
    """Several requests sent at once (concurrent updates): each command in the background, then `wait`."""
    return "\n".join(f"{curl_command(request, redactor)} &" for request in sent) + "\nwait"


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
        self._created: dict[str, "ConferenceClient"] = {}
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

    def record_created(self, sid: str, owner: "ConferenceClient") -> None:
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

    def note_exchange(self, method: str, path: str, client: "ConferenceClient", response: requests.Response | None) -> None:
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

    def last_read(self, sid: str, client: "ConferenceClient") -> dict[str, Any] | None:
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

    def may_change(self, sid: str) -> bool:
        with self._lock:
            return sid in self._created or sid in self._unknown or sid in self._journalled

    def live_rooms(self) -> list[tuple[str, "ConferenceClient"]]:
        with self._lock:
            return [(sid, owner) for sid, owner in self._created.items() if sid not in self._deleted]

    def created_count(self) -> int:
        with self._lock:
            return len(self._created)


LIST_PAGE_SIZE = 1000  # the documented maximum: most listings are one page, read at one moment
LIST_ATTEMPTS = 3
LIST_KEYS = {"/meeting_rooms": "meeting_room_sid", "/did_groups": "did_group_sid"}
_UNSET = object()


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

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
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
        """Send through the polite session (timeouts, 429s and safe retries are the session's).

        A gateway answer (502/503/504) to a change leaves the state unknown, so the state is read
        before anything is sent again: a PATCH or PUT of a room is read back and sent again
        (sending one twice leaves the state of sending it once); a DELETE whose room is gone by
        then is done; a POST of a room named by this run is looked up by its name and adopted if
        it was created. (A POST without such a name is one whose name is the invalid part of a
        generated case: a correct server creates nothing.) Other requests are sent again as they
        are. The last answer carries `gateway_attempts`.

        This loop is the only retry layer for gateway answers; 429s and connection errors are
        retried by the session (`PoliteRetry`) only. What is left after those retries raises
        `TargetUnavailable` (could not test): a 429, a connection error or timeout, the run deadline.
        """
        method = method.upper()
        self.refuse_unsafe(method, path)
        self.registry.wait_for_quiet()
        if method != "GET":
            self.registry.note_exchange(method, path, self, None)  # a change in flight: the last read is stale
            # a body given as `json=` (schemathesis's cases) or as bytes/text (`data=`), parsed once
            body = _json_body(kwargs["json"] if kwargs.get("json") is not None else kwargs.get("data"))
            if method == "POST" and path.split("?")[0] == "/meeting_rooms":
                self._note_posted_name(body)
            if self.registry.on_send is not None:
                self.registry.on_send(method, path, body)
        url = url or self.url(path)
        started = time.monotonic()
        response = self._send_once(method, path, url, kwargs)
        attempts = 1
        # After GATEWAY_GIVE_UPS errors that outlived their retries the run is red already: later
        # gateway errors are reported at once instead of being waited out again and again.
        while (response.status_code in GATEWAY_STATUSES and attempts <= self.politeness.error_retries
               and self.counter.gateway_give_ups < GATEWAY_GIVE_UPS):
            pause = self.politeness.gateway_backoff * attempts
            if pause >= self.deadline.remaining():
                self.deadline.check(f"{method} {path}")
                break
            time.sleep(pause)
            recovered = self._state_after_gateway_error(method, path, url, kwargs, response)
            if recovered is not None:
                response = recovered
                break
            response = self._send_once(method, path, url, kwargs)
            attempts += 1
        response.gateway_attempts = attempts  # type: ignore[attr-defined]
        if response.status_code in GATEWAY_STATUSES and attempts > 1:
            self.counter.gateway_give_ups += 1
        if self.on_response is not None and "X-Contract-Note" not in response.headers:  # a stand-in is not observed
            self.on_response(method, path, response)
        self.registry.stories.record(self, response, started)
        self.registry.note_exchange(method, path, self, response)
        if method == "DELETE" and response.status_code in (200, 204):
            self.registry.record_deleted(path.split("/", 2)[2].split("?")[0])
        return response

    def _send_once(self, method: str, path: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """One request through the session's retries; what they could not turn into an answer that
        can be judged raises TargetUnavailable."""
        what = f"{method} {path.split('?')[0]}"
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as error:
            self.deadline.check(what)  # a timeout cut short by the run deadline is the deadline's
            reason = (f"{what}: no answer from the target after the retries "
                      f"({type(error).__name__}: {self.redactor.scrub(_first_line(error))})")
            self.deadline.give_up(reason)
            raise TargetUnavailable(reason) from None
        if response.status_code == 429:
            retries = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
            asked = response.headers.get("Retry-After")
            reason = (f"{what}: the target still answers 429 (rate limited) after {len(retries)} retr"
                      f"{'y' if len(retries) == 1 else 'ies'}" + (f"; it asks to wait {asked!r} (Retry-After), beyond "
                      f"--max-retry-wait {self.politeness.max_retry_wait:g} s or the run deadline" if asked else "")
                      + ": try later, or lower --rate-limit")
            self.deadline.give_up(reason)
            raise TargetUnavailable(reason)
        return response

    def refuse_unsafe(self, method: str, path: str) -> None:
        """Changes go only to POST /meeting_rooms and to rooms this run created (or fresh unknown
        sids): anything else raises UnsafeTargetError before a byte is sent."""
        if method in SAFE_METHODS:
            return
        bare = path.split("?")[0]
        if method == "POST" and bare == "/meeting_rooms":
            return
        if method in ("PATCH", "PUT", "DELETE") and bare.startswith("/meeting_rooms/"):
            sid = bare.split("/", 2)[2]
            if self.registry.may_change(sid):
                return
            raise UnsafeTargetError(f"refusing {method} {bare}: this run did not create that room")
        raise UnsafeTargetError(f"refusing {method} {bare}: the suite changes nothing but its own rooms")

    def _our_room_name(self, kwargs: dict[str, Any]) -> str | None:
        try:
            name = json.loads(kwargs.get("data") or kwargs.get("json") and json.dumps(kwargs["json"]) or "null").get("name")
        except (ValueError, AttributeError, TypeError):
            return None
        return name if isinstance(name, str) and name.startswith(self.registry.room_name_prefix + " ") else None

    def _state_after_gateway_error(self, method: str, path: str, url: str, kwargs: dict[str, Any],
                                   response: requests.Response) -> requests.Response | None:
        """What the gateway error hid: an answer standing in for the request if it took effect
        and sending it again would do harm (DELETE done, POST created); None to send it again."""
        name = self._our_room_name(kwargs) if method == "POST" else None
        if name is not None:  # a name this run built and sent: a room holding it was created by this POST
            created = [room for room in self.list_all("/meeting_rooms") if room.get("name") == name]
            if not created:
                return None
            for extra in created[1:]:
                self.registry.report_foreign(extra.get("meeting_room_sid"), f"also holds this run's name {name!r}")
            self.registry.record_created(created[0]["meeting_room_sid"], self)
            # the GET standing for the lost answer is a safe request: gateway errors of its own are retried
            return self.send("GET", self.room_path(created[0]["meeting_room_sid"]))
        if method in ("PATCH", "PUT", "DELETE") and path.startswith("/meeting_rooms/"):
            read_back = self._send_once("GET", path.split("?")[0], url.split("?")[0], {})
            if method == "DELETE" and read_back.status_code == 404:
                return _deleted_after_gateway_error(response)
        return None

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

    def _note_posted_name(self, body: Any) -> None:
        """Before any POST of a room (ours, schemathesis's, raw bytes; `body` as `_json_body` gives it): the
        name it carries is this run's (the end-of-run sweep deletes a room holding it: its POST's answer
        was lost, refused or wrong)."""
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str) and name.startswith(self.registry.room_name_prefix + " "):
            self.registry.record_posted_name(name)

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
        if not isinstance(sid, str):
            return
        if sid in self.registry.seen_elsewhere and not self.registry.owns(sid):
            self.registry.report_foreign(sid, "was named by a creation answer, but the run had listed it before as not its own")
        else:
            self.registry.record_created(sid, self)

    def list_all(self, path: str, page_size: int = LIST_PAGE_SIZE, max_items: int = 20000) -> list[dict[str, Any]]:
        """Every item of a list endpoint, complete or not at all.

        Pages are read in a stable order (`order=<sid field> asc`, the documented `order`
        parameter) with the largest documented page, the offset advancing by what each page
        returned (a server may cap the page size), until `offset + count` reaches `total` (or,
        where `total` is null, until `has_more` is false; where both are missing, until an empty
        page). Each envelope is cross-checked: `count` against the items, `offset` against the
        one asked for, `has_more` against `total`; a contradiction raises ListingContradiction (a
        violation of shape.response_conformance). If `total` changes between pages (others
        create or delete rooms meanwhile) the listing starts again; if it keeps changing,
        TargetUnavailable. More than `max_items` raises: the suite never works on a partial list.
        """
        key = LIST_KEYS.get(path.split("?")[0], "")
        for _ in range(LIST_ATTEMPTS):
            items, stable = self._list_pass(path, page_size, max_items, key)
            if stable:
                if path.split("?")[0] == "/meeting_rooms":
                    self.registry.note_listed(item.get(key) for item in items)
                return items
        raise TargetUnavailable(f"GET {path}: the list kept changing while it was read ({LIST_ATTEMPTS} attempts): "
                                "another client is creating or deleting many items; try later")

    def _list_pass(self, path: str, page_size: int, max_items: int, key: str) -> tuple[list[dict[str, Any]], bool]:
        items: list[dict[str, Any]] = []
        seen: set[Any] = set()
        first_total: Any = _UNSET
        order = f"&order={key}+asc" if key else ""
        while True:
            offset = len(items)
            response = self.request("GET", f"{path}?limit={page_size}&offset={offset}{order}")
            response.raise_for_status()
            data = _json_or_none(response)
            page, total, has_more = check_list_envelope(data, offset, page_size, response, path)
            if first_total is _UNSET:
                first_total = total
            elif total != first_total:
                return items, False  # the list changed under us: read it again
            for item in page:
                ident = item.get(key) if key and isinstance(item, dict) else None
                if ident is not None and ident in seen:
                    return items, False  # shifted by an insertion: read it again
                if ident is not None:
                    seen.add(ident)
                items.append(item)
            if total is not None:
                done = len(items) >= total
            elif has_more is not None:
                done = not has_more
            else:
                done = not page  # neither total nor has_more (a shape violation of its own): read to an empty page
            if done:
                return items, True
            if len(items) >= max_items:
                raise RuntimeError(f"GET {path} lists more than {max_items} items: too many to read in a contract run")

    def did_group_sids(self) -> list[str]:
        return [group["did_group_sid"] for group in self.list_all("/did_groups") if group.get("did_group_sid")]


class ListingContradiction(AssertionError):
    """A list envelope that contradicts itself or the request (rule `shape.response_conformance`).

    `rule_id`, `detail` (what was contradictory, one line) and `response` (the page's answer) are
    for the judge; the message is complete on its own (with the request as a curl command)."""

    rule_id = "shape.response_conformance"

    def __init__(self, detail: str, response: requests.Response):
        self.detail, self.response = detail, response
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
    problems = []
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
        if end > total:
            problems.append(f"offset {offset} + {len(page)} item(s) is more than total {total}")
        if has_more is True and end >= total:
            problems.append(f"has_more is true but offset + count ({end}) reaches total {total}")
        if has_more is False and end < total:
            problems.append(f"has_more is false but offset + count ({end}) is below total {total}")
        if not page and end < total:
            problems.append(f"an empty page at offset {offset} though total is {total}")
    if has_more is True and not page:
        problems.append("has_more is true on an empty page")
    if problems:
        raise ListingContradiction(f"{what}: the list envelope contradicts itself: " + "; ".join(problems), response)
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
    """A request body as the object it encodes (bytes/text parsed as JSON); as given when it is no JSON."""
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
