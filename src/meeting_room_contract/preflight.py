"""Before any contract test runs: are the options sane, does the target answer, do the logins work?

Every problem becomes ONE line that says what is wrong and what to do (`PreflightError`); the
suite's conftest turns it into a pytest usage error (exit code 4). Passwords are never printed.
The network checks use short connect timeouts and no retries (one short wait on a 429), so a
wrong host or port (connection refused, DNS) is reported in seconds, not after thousands of failed
requests. Every answer, the first one included, may take up to --request-timeout: a deployment
that wakes up from idling (scaled to zero) takes several seconds to answer its first request, and
that is neither a contract violation nor a user mistake; a server that accepts connections and
never answers is therefore reported after --request-timeout. The
one exception is the DELETE of the preflight's own room: it is idempotent and leaving the room
behind is worse than a slow answer, so it is retried on 502/503/504 and timeouts (urllib3 `Retry`,
bounded by the budget, of which it always gets at least DELETE_RESERVE_S); if it still fails, the
one line says how to delete the room by hand.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import time
from typing import Any, Callable, ContextManager, Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from .redaction import Credentials, Redactor

BUDGET_S = 6.0  # all preflight requests together, beyond what --request-timeout allows each answer
CONNECT_TIMEOUT_S = 3.0
DELETE_RESERVE_S = 4.0  # the preflight room's DELETE (with its retries) gets at least this, whatever the budget
DELETE_RETRIES = 3  # at most, after the first attempt; the deadline ends them sooner
DELETE_RETRY_STATUSES = (429, 502, 503, 504)
BODY_EXCERPT_CHARS = 120
PREFIX_EXAMPLE = "https://api.carrierx.com/conference/v2"


class PreflightError(Exception):
    """One line: what is wrong with the options or the target, and what to do about it.

    `room_may_exist`: the preflight's own room may be on the target (its POST got no clear answer,
    or its DELETE failed); the caller then sweeps the run's rooms by name before giving up.
    `could_not_test`: nothing is wrong with the options; the target is there but cannot be tested now
    (a gateway answers 502/503/504 for longer than the run may wait: a deploy, an outage)."""

    def __init__(self, message: str, *, room_may_exist: bool = False, could_not_test: bool = False):
        super().__init__(message)
        self.room_may_exist = room_may_exist
        self.could_not_test = could_not_test


GATEWAY_STATUSES = (502, 503, 504)
GATEWAY_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # as the run's client waits where the gateway asks for nothing


Login = Credentials  # a login to check, with the option and variable a user would fix


# -- options ---------------------------------------------------------------------------------------

def no_credentials_in(base_url: str) -> None:
    """PreflightError (one line, never echoing the URL) when a base URL carries userinfo (`user:password@host`)."""
    netloc = urlsplit(base_url.strip()).netloc
    if "@" in netloc:  # the userinfo may be a password, and the line goes to CI logs: the URL is not repeated
        raise PreflightError("--base-url carries credentials (user:password@host): give the URL without them, and the "
                             "login with --username and CONFERENCE_PASSWORD (never in a URL: URLs are logged)")


def check_options(*, base_url: str | None, username: str | None, password: str | None,
                  second_username: str | None, second_password: str | None, mock_faults: Iterable[str],
                  mock_variants: Iterable[str], request_timeout: float, rate_limit: float, room_prefix: str,
                  profile: str | None, known_profile: Callable[[str], bool],
                  check_mock_names: Callable[[list[str], list[str]], None]) -> None:
    """Raise PreflightError for the first bad option (checked without any network traffic)."""
    faults, variants = list(mock_faults), list(mock_variants)
    if profile is not None and not known_profile(profile):
        raise PreflightError(f"unknown hypothesis profile {profile!r}: use gate, nightly or dev")
    if base_url and (faults or variants):
        raise PreflightError("--mock-fault/--mock-variant apply only to the embedded mock: drop them or drop --base-url")
    try:
        check_mock_names(faults, variants)
    except ValueError as error:
        raise PreflightError(str(error)) from None
    if base_url:
        url = urlsplit(base_url)
        no_credentials_in(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise PreflightError(f"--base-url {base_url!r} is not an http(s) URL: use e.g. {PREFIX_EXAMPLE}")
        if not (username and password):
            raise PreflightError("a --base-url needs --username and --password "
                                 "(or CONFERENCE_USERNAME/CONFERENCE_PASSWORD)")
    if bool(second_username) != bool(second_password):
        raise PreflightError("--second-username and --second-password go together "
                             "(or CONFERENCE_SECOND_USERNAME/CONFERENCE_SECOND_PASSWORD): give both or neither")
    if not (math.isfinite(request_timeout) and request_timeout > 0):
        raise PreflightError(f"--request-timeout must be a positive number of seconds, not {request_timeout:g}")
    if not (math.isfinite(rate_limit) and rate_limit >= 0):
        raise PreflightError(f"--rate-limit must be 0 (unlimited) or a positive number, not {rate_limit:g}")


# -- network checks --------------------------------------------------------------------------------

class DeadlineRetry(Retry):
    """urllib3's Retry that also stops once a deadline (time.monotonic) has passed."""

    def __init__(self, *args: Any, deadline: float = math.inf, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def new(self, **kwargs: Any) -> "DeadlineRetry":
        retry = super().new(**kwargs)
        retry.deadline = self.deadline
        return retry

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or time.monotonic() >= self.deadline - 0.2


class Probe:
    """A session for the preflight: no retries but one short 429 wait, timeouts within a budget.

    `send(..., retry=True)` (idempotent cleanup only) retries 502/503/504 and timeouts as well."""

    def __init__(self, base_url: str, request_timeout: float, budget: float = BUDGET_S, max_gateway_wait: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.request_timeout = request_timeout
        self.max_gateway_wait = max_gateway_wait  # --max-retry-wait: a deploy's gateway answers to a read are waited out
        self.deadline = time.monotonic() + budget + request_timeout  # a cold start may take the whole first answer
        self.answered = 0  # answers received so far (a later timeout is the request's, not the URL's)
        self.session = requests.Session()
        retry = Retry(total=1, connect=0, read=0, redirect=0, other=0, status=1, status_forcelist=(429,),
                      allowed_methods=None, respect_retry_after_header=True, retry_after_max=2, raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    @property
    def read_timeout(self) -> float:
        return self.request_timeout  # the first answer too: a cold start is not a wrong URL

    def send(self, method: str, path: str, login: Login, json_body: Any = None, *,
             retry: bool = False) -> requests.Response:
        """One request (a GET answered 502/503/504 by a gateway is sent again after the Retry-After it asks
        for, else a backoff, within --max-retry-wait: a rolling deploy is no wrong URL)."""
        response = self._send(method, path, login, json_body, retry=retry)
        waited, attempt = 0.0, 0
        while method == "GET" and response.status_code in GATEWAY_STATUSES:
            asked = retry_after(response)
            pause = asked if asked is not None else GATEWAY_BACKOFF_S[min(attempt, len(GATEWAY_BACKOFF_S) - 1)]
            if attempt >= len(GATEWAY_BACKOFF_S) and asked is None or waited + pause > self.max_gateway_wait:
                raise PreflightError(
                    f"{method} {path.split('?')[0]}: a gateway answers {response.status_code}"
                    + (f" and asks to wait {asked:g} s (Retry-After)" if asked is not None else "")
                    + f" after {waited:g} s of waiting (a deploy or an outage in front of the API): could not test, try "
                    "later or raise --max-retry-wait", could_not_test=True)
            time.sleep(pause)
            waited, attempt = waited + pause, attempt + 1
            self.deadline = max(self.deadline, time.monotonic() + CONNECT_TIMEOUT_S + self.request_timeout)
            response = self._send(method, path, login, json_body, retry=retry)
        return response

    def _send(self, method: str, path: str, login: Login, json_body: Any = None, *,
              retry: bool = False) -> requests.Response:
        what = f"{method} {path.split('?')[0]}"
        if self.answered:  # the URL is right: each request may take --request-timeout
            self.deadline = max(self.deadline, time.monotonic() + CONNECT_TIMEOUT_S + self.request_timeout)
        if retry:
            self.deadline = max(self.deadline, time.monotonic() + DELETE_RESERVE_S)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.2:
            raise PreflightError(f"{self.base_url} answers too slowly (preflight over {BUDGET_S:g} s, "
                                 f"before {what}): check the target's health, or try later")
        attempts = 2 if retry else 1  # each attempt's timeouts: at least two attempts fit
        timeout = (min(CONNECT_TIMEOUT_S, remaining / attempts), min(self.read_timeout, remaining / attempts))
        if not self.answered:  # the first answer may take all of --request-timeout (cold start)
            timeout = (min(CONNECT_TIMEOUT_S, remaining), min(self.request_timeout, remaining))
        session = self._retrying_session() if retry else self.session
        try:
            response = session.request(method, self.base_url + path, json=json_body, timeout=timeout,
                                       auth=(login.username, login.password), allow_redirects=False)
        except requests.RequestException as error:
            raise PreflightError(describe_error(error, self.base_url, timeout[1], what=what,
                                                answered=self.answered)) from None
        finally:
            if session is not self.session:
                session.close()
        self.answered += 1
        return response

    def _retrying_session(self) -> requests.Session:
        """A session retrying 429/502/503/504 and connection errors and timeouts, until the deadline."""
        session = requests.Session()
        retry = DeadlineRetry(total=DELETE_RETRIES, connect=2, read=2, redirect=0, other=0, status=2,
                              status_forcelist=DELETE_RETRY_STATUSES, allowed_methods=frozenset({"DELETE"}),
                              backoff_factor=0.2, respect_retry_after_header=True, retry_after_max=1,
                              raise_on_status=False, deadline=self.deadline)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return session


def retry_after(response: requests.Response) -> float | None:
    """The seconds a `Retry-After` asks for (seconds or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(Retry(retry_after_max=10**9).parse_retry_after(value)))
    except Exception:  # urllib3 raises its own errors for an unreadable header: no wait was asked for
        return None


def retried(response: requests.Response) -> bool:
    """Whether urllib3 sent the request more than once before this answer."""
    retries = getattr(response.raw, "retries", None)
    return bool(getattr(retries, "history", ()))


def describe_error(error: requests.RequestException, base_url: str, timeout: float, *, what: str | None = None,
                   answered: int = 0) -> str:
    """One line for a connection-level failure: refused, DNS, TLS, timeout.

    After the target has answered (`answered` > 0), a timeout is the request's (`what`), not a
    sign that --base-url names something other than the API."""
    url = urlsplit(base_url)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    reason = _root_cause(error)
    timed_out = isinstance(error, requests.exceptions.Timeout) or isinstance(reason, (ReadTimeoutError, TimeoutError))
    if answered and timed_out:
        return (f"{what or 'a request'} got no answer within {round(timeout, 1):g} s, though {host}:{port} answered the "
                f"preflight's {answered} earlier request(s): the target is slow or stuck; try later, or raise --request-timeout")
    if isinstance(error, requests.exceptions.SSLError):
        return (f"TLS handshake with {host}:{port} failed ({_short(reason)}): check http vs https and the port "
                "in --base-url, or the CA bundle (REQUESTS_CA_BUNDLE)")
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return (f"could not connect to {host}:{port} within {CONNECT_TIMEOUT_S:g} s: check --base-url's host and "
                "port, VPN or firewall")
    if isinstance(error, requests.exceptions.Timeout) or isinstance(reason, (ReadTimeoutError, TimeoutError)):
        return (f"{host}:{port} accepted the connection but sent no answer within {timeout:g} s: "
                "is it the API? check --base-url, or raise --request-timeout")
    if isinstance(error, requests.exceptions.ProxyError):
        return f"the HTTP proxy refused the connection to {host}:{port} ({_short(reason)}): check HTTPS_PROXY/NO_PROXY"
    if isinstance(reason, NameResolutionError) or "Name or service not known" in str(reason):
        return f"cannot resolve host {host!r} (DNS): check the spelling of --base-url"
    if isinstance(reason, (ConnectionRefusedError, NewConnectionError)) and "refused" in str(reason).lower():
        return (f"connection refused at {host}:{port}: nothing listens there; check --base-url's host and port, "
                "and that the service is up")
    return f"cannot talk to {host}:{port} ({_short(reason)}): check --base-url and the network"


def _root_cause(error: BaseException) -> BaseException:
    """The innermost exception (requests wraps urllib3's, which wraps the socket's)."""
    for _ in range(10):
        inner = getattr(error, "reason", None) or error.__cause__ or error.__context__
        if inner is None and error.args and isinstance(error.args[0], BaseException):
            inner = error.args[0]
        if not isinstance(inner, BaseException) or inner is error:
            break
        error = inner
    return error


def _short(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:120]


def status_problem(response: requests.Response, what: str, login: Login) -> str | None:
    """One line for an answer that means the suite cannot run, or None if it can."""
    status = response.status_code
    url = response.request.url or ""
    if 200 <= status < 300:
        return None
    if status == 401:
        return (f"login {login.username!r} was refused (401) on {what}: check {login.password_option} "
                f"(or {login.password_env}) and the username")
    if status == 403:
        return f"login {login.username!r} may not {what} (403 Forbidden): use an account with access to meeting rooms"
    if status == 404:
        return (f"{url.split('?')[0]} is 404 Not Found: --base-url must end with the API prefix, "
                f"e.g. {PREFIX_EXAMPLE}")
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        return f"{url} redirects ({status}) to {location}: use the final URL as --base-url"
    if status == 429:
        return f"the target is rate limiting (429) already on {what}: try later, or pass --rate-limit"
    if status >= 500:
        return f"the target answered {status} to {what}: the service is failing or down; try later"
    excerpt = body_excerpt(response)
    return f"the target answered {status} to {what}{f' ({excerpt})' if excerpt else ''}; the suite cannot run against it"


def body_excerpt(response: requests.Response, limit: int = BODY_EXCERPT_CHARS) -> str:
    """The start of an answer's body on one line (the caller scrubs credentials)."""
    try:
        text = response.content[: limit * 4].decode("utf-8", errors="replace")
    except Exception:  # a body that cannot be read says nothing more
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _require(response: requests.Response, what: str, login: Login) -> Any:
    problem = status_problem(response, what, login)
    if problem:
        raise PreflightError(problem)
    try:
        return response.json()
    except ValueError:
        raise PreflightError(f"{what} answered {response.status_code} without JSON "
                             f"({response.headers.get('Content-Type', 'no content type')}): "
                             f"is --base-url the API prefix, e.g. {PREFIX_EXAMPLE}?") from None


def check_login(probe: Probe, login: Login) -> None:
    """The base URL answers and the login works: one GET of the room list."""
    data = _require(probe.send("GET", "/meeting_rooms?limit=1", login), "GET /meeting_rooms", login)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise PreflightError(f"GET {probe.base_url}/meeting_rooms is not a room list: "
                             f"is --base-url the API prefix, e.g. {PREFIX_EXAMPLE}?")


def check_did_groups(probe: Probe, login: Login) -> None:
    """The DID group list (the source of valid `did_group_sid` values) is readable."""
    data = _require(probe.send("GET", "/did_groups?limit=1", login), "GET /did_groups", login)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise PreflightError(f"GET {probe.base_url}/did_groups is not a list: the suite needs it for valid did_group_sid values")


def check_create_and_delete(probe: Probe, login: Login, room_name: str, journal: Any = None,
                            creating: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> None:
    """One room can be created and deleted (only the room created here is deleted). `creating`: the
    run's room-creation bracket (an interrupt meanwhile is raised once the room is journalled)."""
    with creating():
        sid = _create(probe, login, room_name, journal)
    _delete(probe, login, room_name, sid, journal)


def _create(probe: Probe, login: Login, room_name: str, journal: Any) -> str:
    try:
        response = probe.send("POST", "/meeting_rooms", login, json_body={"name": room_name})
    except PreflightError as error:
        raise PreflightError(f"{error} (if a room named {room_name!r} was created all the same, delete it by hand)",
                             room_may_exist=True) from None
    try:
        created = _require(response, "POST /meeting_rooms", login)
    except PreflightError as error:  # a 5xx may come after the room was stored (a gateway error)
        raise PreflightError(str(error), room_may_exist=response.status_code >= 500) from None
    sid = created.get("meeting_room_sid") if isinstance(created, dict) else None
    if not isinstance(sid, str) or not sid:
        raise PreflightError("POST /meeting_rooms answered without a meeting_room_sid: the suite cannot track its rooms")
    if created.get("name") != room_name:  # not provably the room this POST created: never deleted by the suite
        raise PreflightError(f"POST /meeting_rooms answered with room {sid} named {created.get('name')!r}, not the room it "
                             f"created ({room_name!r}): the suite deletes only rooms it can prove are its own",
                             room_may_exist=True)
    if journal is not None:  # crash-proof: a run killed before the DELETE leaves a journalled sid
        journal.created(sid, probe.base_url, login.username)
    return sid


def _delete(probe: Probe, login: Login, room_name: str, sid: str, journal: Any) -> None:
    what = f"DELETE /meeting_rooms/{sid}"
    by_hand = (f"delete it by hand: curl -X DELETE -u \"${login.username_env}:${login.password_env}\" "
               f"{shlex.quote(f'{probe.base_url}/meeting_rooms/{sid}')}")
    try:
        response = probe.send("DELETE", f"/meeting_rooms/{sid}", login, retry=True)
    except PreflightError as error:
        raise PreflightError(f"could not delete the preflight room {sid} ({room_name!r}): {error}; {by_hand}",
                             room_may_exist=True) from None
    if response.status_code in (200, 204) or (response.status_code == 404 and retried(response)):
        if journal is not None:
            journal.deleted(sid)
        return  # a 404 after a retry: an earlier attempt deleted it
    problem = status_problem(response, what, login) or f"{what} answered {response.status_code}"
    raise PreflightError(f"could not delete the preflight room {sid} ({room_name!r}): {problem}; {by_hand}",
                         room_may_exist=True)


def run(base_url: str, logins: list[Login], room_name: str, request_timeout: float, *, journal: Any = None,
        creating: Callable[[], ContextManager[Any]] = contextlib.nullcontext, max_gateway_wait: float = 30.0) -> None:
    """All network checks in order; raises PreflightError (credentials scrubbed by place) on the first
    problem. `journal` (a CleanupJournal): the preflight's room is journalled like every room;
    `creating`: the bracket of its creation (see `check_create_and_delete`)."""
    probe = Probe(base_url, request_timeout, max_gateway_wait=max_gateway_wait)
    try:
        for login in logins:
            check_login(probe, login)
        check_did_groups(probe, logins[0])
        check_create_and_delete(probe, logins[0], room_name, journal, creating)
    except PreflightError as error:
        raise PreflightError(_scrub(f"preflight: {error}", logins), room_may_exist=error.room_may_exist,
                             could_not_test=error.could_not_test) from None
    finally:
        probe.session.close()


def _scrub(text: str, logins: list[Login]) -> str:
    """One line, whatever a server put in a reason; credentials scrubbed where they can be (the
    suite's own words are never touched, so `--password e` or `check` leaves the line readable)."""
    return " ".join(Redactor(logins).scrub(text).split())
