"""Which deployment the suite talks to: a base URL with logins, or the embedded mock."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable
from dataclasses import dataclass, field

import requests

from .client import ConferenceClient, delete_rooms
from .registry import RoomRegistry, UnsafeTargetError, new_run_id
from .transport import Deadline, Politeness, RateLimiter, RequestCounter
from .journal import public_base_url, signals_held
from .mock import MeetingRoomMock, default_accounts
from .redaction import Credentials, Redactor

PRIMARY_ENV = ("CONFERENCE_USERNAME", "CONFERENCE_PASSWORD", "--password")
SECOND_ENV = ("CONFERENCE_SECOND_USERNAME", "CONFERENCE_SECOND_PASSWORD", "--second-password")


class MockProcess:
    """The embedded mock in a process of its own (`python -m meeting_room_contract.mock`): the run's
    requests are served on another core while the suite computes. It has the embedded mock's accounts
    (the mock's sample logins), gets no terminal signal (its own session: a Ctrl-C reaches the suite,
    which still deletes its rooms there), and ends when the suite closes it or the suite's process ends
    in any way (its standard input closes)."""

    STARTUP_S = 30.0

    def __init__(self, faults: tuple[str, ...] | list[str] = (), variants: tuple[str, ...] | list[str] = (), *,
                 spec_path: str | None = None, latency_ms: float = 0):
        self.faults, self.variants, self.spec_path, self.latency_ms = tuple(faults), tuple(variants), spec_path, latency_ms
        self.accounts = default_accounts()
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._errors: Any = None

    def start(self) -> "MockProcess":
        command = [sys.executable, "-m", "meeting_room_contract.mock", "--port", "0", "--exit-with-parent",
                   "--latency-ms", f"{self.latency_ms:g}"]
        command += [f"--fault={name}" for name in self.faults] + [f"--variant={name}" for name in self.variants]
        if self.spec_path:
            command.append(f"--spec={self.spec_path}")
        self._errors = tempfile.TemporaryFile(mode="w+", prefix="contract-mock-")  # never a pipe a chatty mock fills
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                                         text=True, start_new_session=True)
        ready = threading.Event()
        first: list[str] = []

        def read_first_line() -> None:
            first.append(self._process.stdout.readline() if self._process and self._process.stdout else "")
            ready.set()

        threading.Thread(target=read_first_line, daemon=True).start()
        if not ready.wait(self.STARTUP_S) or "listening on " not in (first[0] if first else ""):
            self.stop()
            self._errors.seek(0)
            why = (self._errors.read().strip().splitlines() or ["no answer"])[-1]
            raise RuntimeError(f"the embedded mock did not start: {why}")
        self.base_url = first[0].split("listening on ", 1)[1].strip()
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        stream = self._process.stdout if self._process else None
        while stream is not None and stream.readline():
            pass

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin:
                process.stdin.close()  # the mock's end-of-file: it stops
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if self._errors is not None:
            self._errors.close()


class ProbeNotDue(UnsafeTargetError):
    """A login's wrong-password probe inside its window (`Target.wrong_password`): reported, not sent."""


@dataclass(frozen=True)
class TargetSettings:
    base_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    second_username: str | None = None
    second_password: str | None = field(default=None, repr=False)
    mock_faults: tuple[str, ...] = ()
    mock_variants: tuple[str, ...] = ()
    # per-answer delay of the embedded mock (a remote-like target without a network)
    mock_latency_ms: float = field(default_factory=lambda: float(os.environ.get("CONFERENCE_MOCK_LATENCY_MS") or 0))
    politeness: Politeness = Politeness()
    name_prefix: str = "contract-test"
    # a login's one wrong-password probe is not repeated within this many seconds, across runs and pipelines
    # (remembered in the state dir): repeated failures can lock a real account (--wrong-password-window)
    wrong_password_window_s: float = 900.0
    # the embedded mock in the suite's own process (the project's tests look into its store), or in a process of
    # its own (contract runs: the mock's work runs on another core, outside the suite's GIL)
    mock_in_process: bool = True
    # send a real login's password under a made-up user or under the other login's name (--cross-login-probes):
    # catches a server that checks a password against any account, and looks like a password spray to an IdP
    cross_login_probes: bool = False

    @property
    def uses_mock(self) -> bool:
        return not self.base_url


class Target:
    """The run's target; the embedded mock is started on first use when no base URL is given."""

    def __init__(self, settings: TargetSettings, run_id: str | None = None,
                 on_response: Callable[[str, str, requests.Response], None] | None = None,
                 spec_path: str | None = None):
        if settings.base_url and not (settings.username and settings.password):
            raise ValueError("a --base-url needs --username and --password (or CONFERENCE_USERNAME/CONFERENCE_PASSWORD)")
        self.settings = settings
        self.registry = RoomRegistry(run_id or new_run_id(), settings.name_prefix)
        self.counter = RequestCounter()
        self.limiter = RateLimiter(settings.politeness.rate_limit)
        self.mock: MeetingRoomMock | None = None
        self._lock = threading.Lock()
        self._clients: dict[str, ConferenceClient] = {}
        self._wrong_password_probes: set[str] = set()
        self.on_response = on_response
        self.spec_path = spec_path  # the spec the embedded mock implements
        self.redactor = Redactor()  # every login of the run (scrubs outside text by place)
        self.deadline = Deadline(None)  # --max-duration (set by the session before the first request); shared by the run's clients

    def _ensure_started(self) -> None:
        with self._lock:
            if self.settings.uses_mock and self.mock is None:
                kind = MeetingRoomMock if self.settings.mock_in_process else MockProcess
                self.mock = kind(self.settings.mock_faults, self.settings.mock_variants,
                                 spec_path=self.spec_path,  # the run's spec (--spec)
                                 latency_ms=self.settings.mock_latency_ms).start()

    @property
    def base_url(self) -> str:
        self._ensure_started()
        return self.mock.base_url if self.mock else str(self.settings.base_url).rstrip("/")

    @property
    def description(self) -> str:
        if self.settings.uses_mock:
            extras = list(self.settings.mock_faults) + list(self.settings.mock_variants)
            return "embedded mock" + (f" ({', '.join(extras)})" if extras else "")
        return self.base_url

    def credentials(self, which: str = "primary") -> Credentials | None:
        found = self._credentials(which)
        if found is not None:
            self.redactor.add(found)
        return found

    def _credentials(self, which: str = "primary") -> Credentials | None:
        self._ensure_started()
        if self.mock is not None:
            account = self.mock.accounts[0 if which == "primary" else 1]
            env = PRIMARY_ENV if which == "primary" else SECOND_ENV
            return Credentials(account.login, account.password, *env)
        s = self.settings
        if which == "primary":
            return Credentials(s.username or "", s.password or "", *PRIMARY_ENV)
        if s.second_username and s.second_password:
            return Credentials(s.second_username, s.second_password, *SECOND_ENV)
        return None

    def client(self, which: str = "primary") -> ConferenceClient | None:
        """A client for the primary or second login, or an `anonymous` one without credentials."""
        with self._lock:
            cached = self._clients.get(which)
        if cached is not None:
            return cached
        credentials = None if which == "anonymous" else self.credentials(which)
        if credentials is None and which != "anonymous":
            return None
        for other in ("primary", "second"):  # the redactor knows every login before the first request
            self.credentials(other)
        client = ConferenceClient(self.base_url, credentials, self.registry, self.settings.politeness,
                                  self.limiter, self.counter, redactor=self.redactor, deadline=self.deadline,
                                  on_response=self.on_response)
        with self._lock:
            return self._clients.setdefault(which, client)

    @property
    def cross_login_probes(self) -> bool:
        """Whether a real password may be sent under another user name: always for the embedded mock (its
        logins are public samples), else only when asked (--cross-login-probes)."""
        return self.settings.uses_mock or self.settings.cross_login_probes

    def wrong_password(self, which: str = "primary") -> tuple[str, str]:
        """Basic-auth credentials with the real login and a wrong password: at most once per login
        and run, and not again within --wrong-password-window of the last probe of this login by any
        run on this machine (remembered in the state dir: parallel pipelines share one login), since
        repeated failures can lock a real account. UnsafeTargetError for a second probe in the run;
        ProbeNotDue inside the window (the probe is reported as not checked)."""
        credentials = self.credentials(which)
        if credentials is None:
            raise UnsafeTargetError(f"no {which} login configured")
        with self._lock:
            if credentials.username in self._wrong_password_probes:
                raise UnsafeTargetError(f"refusing a second wrong-password probe of login {credentials.username!r} in this run")
            self._wrong_password_probes.add(credentials.username)
        self._claim_for_the_run(credentials.username)
        self._claim_for_the_window(credentials.username)
        return credentials.username, "contract-test-wrong-password"

    def _claim_for_the_window(self, login: str) -> None:
        """The login's last wrong-password probe (any run on this machine sharing the state dir) is
        remembered in `<state dir>/wrong-password/<digest>.last`; within the window: ProbeNotDue."""
        journal = self.registry.cleanup_journal
        window = self.settings.wrong_password_window_s
        if journal is None or not window > 0:  # the embedded mock (no state), or no window asked for
            return
        state_dir = getattr(journal, "state_dir", None) or journal.path.parent.parent  # <state dir>/journal/<file>
        folder = state_dir / "wrong-password"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(f"{public_base_url(self.base_url)} {login}".encode("utf-8")).hexdigest()[:16]
        last = folder / f"{digest}.last"
        with contextlib.suppress(OSError, ValueError):
            ago = time.time() - float(last.read_text(encoding="utf-8").strip() or 0)
            if -60 <= ago < window:  # (a clock a little behind another machine's sharing the state dir: still recent)
                raise ProbeNotDue(f"the last wrong-password probe of login {login!r} was {ago / 60:.0f} min ago (this or "
                                  f"another run sharing {state_dir}): not repeated within --wrong-password-window "
                                  f"{window / 60:g} min, to keep the login from being locked")
        temporary = folder / f"{digest}.{os.getpid()}.tmp"
        temporary.write_text(f"{time.time():.3f}\n", encoding="utf-8")
        os.replace(temporary, last)

    def _claim_for_the_run(self, login: str) -> None:
        """Under xdist every worker has its own Target: the probe is claimed once per run, across the
        run's processes, by creating a claim file next to the run's journal (O_EXCL)."""
        journal = self.registry.cleanup_journal
        if journal is None:  # the embedded mock: every worker has a mock of its own
            return
        digest = hashlib.sha256(login.encode("utf-8")).hexdigest()[:16]
        claim = journal.path.parent / f"{self.registry.run_id}.wrong-password-{digest}.claim"
        try:
            os.close(os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise UnsafeTargetError(f"refusing a second wrong-password probe of login {login!r} in this run "
                                    "(another worker of the run made it)") from None

    def cleanup(self) -> list[str]:
        """Delete every room this run created and has not deleted; returns sids that remain."""
        return delete_rooms(self.registry.live_rooms())

    def close(self) -> list[str]:
        """Delete the run's rooms (SIGINT/SIGTERM wait until they are deleted) and stop the embedded
        mock; returns the sids that remain."""
        with signals_held():
            remaining = self.cleanup() if (self.mock is not None or not self.settings.uses_mock) else []
        if self.registry.cleanup_journal is not None:
            self.registry.cleanup_journal.close()  # kept on disk while a room of it is left
        if self.mock is not None:
            self.mock.stop()
        return remaining
