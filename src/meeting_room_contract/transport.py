"""Polite HTTP sessions to the target: a timeout on every request, the run deadline, the run's
rate limit, urllib3's retries (429 with Retry-After, connection errors) and the run's request count."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .redaction import Credentials, Redactor

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Sent again after a read error (a connection closed before any answer byte, a timeout): sending one of
# these twice leaves the state of sending it once. PATCH too: the suite's PATCHes set values (a merge of
# the same keys, or a replacement, again). POST is not here: a POST is sent again only when the client
# can prove what the first one did (`ConferenceClient`, `ownership`).
RESENDABLE_METHODS = IDEMPOTENT_METHODS | {"PATCH"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GATEWAY_STATUSES = (502, 503, 504)
GATEWAY_GIVE_UPS = 3
DEFAULT_MAX_RETRY_WAIT_S = 30.0
NO_ANSWER_STREAK = 3  # requests in a row without an answer: the target is gone (one alone is one request's bad luck)


class TargetUnavailable(RuntimeError):
    """The target could not be tested: a request ended without an answer that can be judged.

    Raised after the one retry layer of its kind is spent: 429s whose Retry-After would make the
    wait for one request exceed --max-retry-wait (or the run deadline), a gateway's Retry-After
    beyond it, connection errors and timeouts after urllib3's retries, or the run deadline itself.
    Never a contract violation and never a pass. `run_wide`: the run cannot test the target any more
    (the deadline, a 429 wall, NO_ANSWER_STREAK requests in a row without an answer): it stops;
    otherwise only the test that sent the request could not be tested, and the run goes on.
    `reason` is one line without credentials.
    """

    def __init__(self, reason: str, run_wide: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.run_wide = run_wide


CLEANUP_GRACE_S = 60.0  # the end-of-run cleanup after --max-duration: bounded, like every wait


class Deadline:
    """The run's time budget (--max-duration), consulted before each request and each retry wait."""

    def __init__(self, seconds: float | None, *, clock: Any = time.monotonic, shared: bool = False):
        self.clock = clock
        self.seconds = seconds
        self.ends = clock() + seconds if seconds and math.isfinite(seconds) else math.inf
        self.gave_up: str | None = None  # why the target could not be tested (then every later request ends at once)
        self.no_answer_streak = 0  # requests in a row that got no answer (NO_ANSWER_STREAK of them: give up)
        self.stopping = False  # an interrupt waits for a request in flight: no more retries for it
        self._shared = shared  # NO_DEADLINE: the default of stand-alone clients, which keeps no run state

    def remaining(self) -> float:
        return self.ends - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def resume(self) -> None:
        """Send again after one request gave up, within the run's time (a test that proved the target
        still answers: only that request's form could not be tested)."""
        if not self.expired():
            self.gave_up = None

    def answered(self) -> None:
        """A request got an answer: the streak of requests without one is over."""
        self.no_answer_streak = 0

    def no_answer(self, reason: str) -> bool:
        """A request got no answer after its retries: that request could not be tested. A streak of
        NO_ANSWER_STREAK such requests means the target is gone: the run gives up (True)."""
        self.no_answer_streak += 1
        if self.no_answer_streak >= NO_ANSWER_STREAK:
            self.give_up(f"{reason} ({self.no_answer_streak} requests in a row got no answer)")
            return True
        return False

    def give_up(self, reason: str) -> None:
        """The run could not test the target: later requests of the run end at once (a 429 wall or a
        silent target is not waited out again and again, so "could not test" comes within the cap)."""
        if not self._shared and self.gave_up is None:
            self.gave_up = reason

    def try_again(self, grace_s: float = CLEANUP_GRACE_S) -> None:
        """Send again after giving up (the end-of-run cleanup: one more try, which gives up as before).
        A run that reached --max-duration gets `grace_s` more for it: its rooms are deleted, not left.
        The cleanup's requests get their retries again, also after an interrupt stopped them."""
        self.gave_up = None
        self.stopping = False
        if self.expired():
            self.ends = self.clock() + grace_s

    def check(self, what: str = "") -> None:
        if self.gave_up is not None:
            raise TargetUnavailable(f"{self.gave_up} (earlier in this run; not sent: {what})" if what else self.gave_up,
                                    run_wide=True)
        if self.expired():
            raise TargetUnavailable(f"run deadline: --max-duration {self.seconds:g} s reached"
                                    + (f" before {what}" if what else ""), run_wide=True)


NO_DEADLINE = Deadline(None, shared=True)


class PoliteRetry(Retry):
    """urllib3's retries, the only layer for 429s and connection errors (gateway answers: see
    `ConferenceClient.send`).

    - 429 means the request was not processed, so it is retried for every method, after the
      Retry-After the target asks for (seconds or an HTTP date) or a backoff. The waits for one
      request add up to at most `max_wait` seconds (--max-retry-wait) and never pass the run
      deadline: a Retry-After that would go beyond ends the retries at once and the 429 is
      returned (the client raises TargetUnavailable). At most `status` retries.
    - Connection errors (nothing was sent) are retried for every method, read errors (a kept-alive
      connection closed before any answer byte, a timeout) for the methods that may be sent twice
      (`RESENDABLE_METHODS`, `allowed_methods`): urllib3 sends them again on another connection.
    - 502/503/504 are not retried here: after one of those a change may or may not have
      happened, so the client reads the room back before sending again (`gateway_pause`: the
      Retry-After a gateway asks for, within the same --max-retry-wait).
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
        # no retry after the run deadline, nor once an interrupt waits for this request
        return super().is_exhausted() or self.deadline.expired() or self.deadline.stopping

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return bool(self.status)  # 0 or None: no 429 retries left
        return super().is_retry(method, status_code, has_retry_after)

    @staticmethod
    def wait_for(response: Any, retry: Retry) -> float:
        """What the next retry waits: the Retry-After asked for (uncapped here), else `retry`'s backoff."""
        asked = retry_after_seconds(response)
        return asked if asked is not None else retry.get_backoff_time()

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
    """At most `per_second` requests per second across threads (0 = unlimited). Shared with other
    processes (`sharers()`: how many still send, e.g. xdist workers still testing), this process keeps
    to its share of it, and a share grows as the others finish."""

    def __init__(self, per_second: float, sharers: Callable[[], int] | None = None):
        self.per_second = per_second
        self.sharers = sharers
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def interval(self) -> float:
        if not self.per_second > 0:
            return 0.0
        return max(1, self.sharers() if self.sharers is not None else 1) / self.per_second

    def wait(self) -> None:
        interval = self.interval
        if not interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + interval
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
        # (Server, Via) of the target's 2xx answers: the API's own signature (a proxy answering itself signs otherwise)
        self.api_signatures: set[tuple[str | None, str | None]] = set()
        self._lock = threading.Lock()

    def note_api_answer(self, response: Any) -> None:
        """A 2xx answer comes from the API (a proxy or firewall refuses, it does not answer 2xx): its signature."""
        if 200 <= response.status_code < 300 and len(self.api_signatures) < 16:
            signature = (response.headers.get("Server"), response.headers.get("Via"))
            if signature not in self.api_signatures:
                with self._lock:
                    self.api_signatures.add(signature)

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
        """A redirect is an answer to judge, never followed: requests would turn a PATCH answered 302/303
        into a GET and report that GET's answer (the preflight tells a base URL that redirects)."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


class Chunked:
    """A request body sent with `Transfer-Encoding: chunked`, one chunk per piece (requests streams an
    iterable without a length that way; it can be sent again). `bytes(body)` is the whole body."""

    def __init__(self, pieces: Iterable[bytes]):
        self.pieces = tuple(pieces)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.pieces)

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    @property
    def cuts(self) -> list[int]:
        """Where the chunks meet (offsets into the whole body): a story keeps them for the replay."""
        offsets, at = [], 0
        for piece in self.pieces[:-1]:
            at += len(piece)
            offsets.append(at)
        return offsets

    @classmethod
    def of(cls, data: bytes, cuts: Iterable[int] = ()) -> "Chunked":
        """`data` cut at the given offsets (default: in two halves)."""
        points = [0, *sorted({cut for cut in cuts if 0 < cut < len(data)} or {len(data) // 2} - {0}), len(data)]
        return cls(data[a:b] for a, b in zip(points, points[1:]))


@dataclass(frozen=True)
class Politeness:
    timeout: float = 15.0
    rate_limit: float = 0.0
    max_429_retries: int = 8
    error_retries: int = 3
    gateway_retries: int = 4  # waits of 0.5, 1, 2, 4 s (7.5 s) without a Retry-After: a short rolling deploy
    gateway_backoff: float = 0.5
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT_S  # --max-retry-wait: the 429 (and gateway) waits of one request together


def retry_after_seconds(response: Any) -> float | None:
    """The wait a `Retry-After` header asks for (seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After") if response is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(Retry(retry_after_max=10**9).parse_retry_after(value)))
    except Exception:  # an unreadable Retry-After is no request to wait (urllib3 raises its own error types)
        return None


def gateway_pause(response: Any, attempt: int, politeness: Politeness) -> tuple[float, bool]:
    """What to wait before sending again after the `attempt`-th gateway answer (502/503/504): the
    Retry-After it asks for, else an exponential backoff from `gateway_backoff`. Second item: whether
    the target asked for it (a Retry-After beyond the budget means the target could not be tested)."""
    asked = retry_after_seconds(response)
    if asked is not None:
        return asked, True
    return politeness.gateway_backoff * 2 ** (attempt - 1), False


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
        allowed_methods=RESENDABLE_METHODS,
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


