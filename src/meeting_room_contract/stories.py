"""Failure stories: the requests that led to a failure, recorded so it can be read and replayed.

Every request a client of the run sends is noted in the run's `StoryBook` (the current test's
steps, bounded; and, run-wide, the POST that created each room). When a failure is raised,
`story_of` picks the requests that matter: the creation of every room the failing request touched
or that was alive when it was sent (with its exact body), the updates of those rooms before it,
the GET just before it, the failing request itself, and the reads after it that showed the
violation. The story is written to `reports/failures/<id>.json` and printed as a short curl
sequence that creates its own rooms (capturing each sid from the POST answer in a shell
variable), sends the same requests and deletes the rooms at the end. Credentials appear only as
environment variables (`$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD`), by place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

SID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ID_FIELD = "meeting_room_sid"
STEPS_PER_TEST = 400  # a test's steps kept (hypothesis runs many examples: the last ones matter)
CREATIONS_KEPT = 5000  # run-wide: the POST that created each room (session rooms used by later tests)
ANSWER_KEPT = 20000  # characters of an answer kept (a replay finds the answer a failure's values came from)
SHOWN_STEPS = 14  # steps printed with a failure (all of them are in the JSON)
_SKIPPED_HEADERS = {"authorization", "host", "content-length", "user-agent", "accept-encoding", "connection", "accept"}


@dataclass
class Step:
    """One request as sent and what it answered."""

    method: str
    path: str  # below the base URL, query included
    headers: dict[str, str]  # as sent, except Authorization and what curl computes
    body: str | None = None  # the body as UTF-8 text
    body_base64: str | None = None  # a body that is not UTF-8 text
    login: str = "primary"  # primary | second | none | header (a literal Authorization header) | mixed | hidden
    user_env: str | None = None  # the login's environment variables (primary/second; mixed: the user's, if a known login)
    password_env: str | None = None
    user: str | None = None  # mixed: the user as sent when it is no known login (no secret: a made-up one)
    auth_header: str | None = None  # login == "header": the header as sent (no secret in it)
    status: int = 0
    answer: str = ""
    created: str | None = None  # the sid a POST created
    started: float = 0.0
    ended: float = 0.0
    thread: int = 0
    concurrent: int | None = None  # steps sent at the same time share a number (replayed together)
    role: str = ""  # create | update | before | failing | read-back | delete
    chunk_cuts: list[int] | None = None  # a body sent chunked: where its chunks met (the replay cuts it there again)

    def body_bytes(self) -> bytes | None:
        if self.body_base64 is not None:
            return base64.b64decode(self.body_base64)
        return None if self.body is None else self.body.encode("utf-8")

    def sids(self) -> set[str]:
        return set(SID.findall(self.path)) | set(SID.findall(self.body or ""))

    @property
    def room(self) -> str | None:
        """The sid in the path of a request to one room."""
        parts = urlsplit(self.path).path.split("/")
        return parts[2] if len(parts) >= 3 and parts[1] == "meeting_rooms" and SID.fullmatch(parts[2] or "") else None

    @property
    def changes(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


class StoryBook:
    """The run's record of requests (one per run, on its room registry)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.test: str | None = None
        self.steps: deque[tuple[int, Step]] = deque(maxlen=STEPS_PER_TEST)  # (id of the response, step)
        self.creations: dict[str, Step] = {}

    def begin(self, test: str | None) -> None:
        with self._lock:
            self.test = test
            self.steps.clear()

    def record(self, client: Any, response: Any, started: float) -> None:
        """Note one answered request (called by the client; never raises)."""
        try:
            step = _step(client, response, started)
        except Exception:  # pragma: no cover - a story is a help, never a reason to fail a request
            return
        with self._lock:
            self.steps.append((id(response), step))
            if step.created:
                if len(self.creations) >= CREATIONS_KEPT:
                    self.creations.pop(next(iter(self.creations)))
                self.creations[step.created] = step

    def story(self, response: Any = None, client: Any = None) -> list[Step]:
        """The steps that led to the failure found in `response` (else the test's last request). A
        response the run's clients did not send (a test's own probe) is added as the last step."""
        if response is not None and client is not None and getattr(response, "request", None) is not None:
            with self._lock:
                known = any(rid == id(response) for rid, _ in self.steps)
            if not known:
                self.record(client, response, time.monotonic())
        with self._lock:
            recorded = list(self.steps)
            creations = dict(self.creations)
        if not recorded:
            return []
        failing = next((i for i, (rid, _) in reversed(list(enumerate(recorded))) if response is not None and rid == id(response)),
                       None)
        if failing is None:
            failing = max((i for i, (_, s) in enumerate(recorded) if not s.path.startswith("/meeting_rooms?")),
                          default=len(recorded) - 1)
        steps = [step for _, step in recorded]
        return select(steps, failing, creations)


def _step(client: Any, response: Any, started: float) -> Step:
    request = response.request
    base = urlsplit(client.base_url)
    url = urlsplit(request.url or "")
    path = url.path[len(base.path.rstrip("/")):] if url.path.startswith(base.path.rstrip("/")) else url.path
    if url.query:
        path += "?" + url.query
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIPPED_HEADERS}
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    cuts = getattr(body, "cuts", None)  # a chunked body (transport.Chunked): the whole of it, and where it was cut
    if body is not None and not isinstance(body, bytes) and hasattr(body, "__bytes__"):
        body = bytes(body)
    step = Step(request.method or "GET", path, headers, started=started, ended=time.monotonic(),
                thread=threading.get_ident(), status=response.status_code, answer=(response.text or "")[:ANSWER_KEPT],
                chunk_cuts=list(cuts) if cuts is not None else None)
    if isinstance(body, bytes):
        try:
            step.body = body.decode("utf-8")
        except UnicodeDecodeError:
            step.body_base64 = base64.b64encode(body).decode("ascii")
    auth = request.headers.get("Authorization")
    if auth is None:
        step.login = "none"
    else:
        known = client.redactor.credentials_for_header(auth) if client.redactor else None
        if known is not None:
            step.login = "second" if "SECOND" in known.username_env else "primary"
            step.user_env, step.password_env = known.username_env, known.password_env
        elif client.redactor is not None and client.redactor.scrub(f"Authorization: {auth}") == f"Authorization: {auth}" \
                and not _carries_known_password(client.redactor, auth):
            step.login, step.auth_header = "header", auth
        elif client.redactor is not None and _mixed(client.redactor, auth, step):
            step.login = "mixed"  # one login's user (or a made-up one) with a known login's password: rebuilt from env vars
        else:
            step.login = "hidden"
    if step.method == "POST" and urlsplit(path).path == "/meeting_rooms" and 200 <= step.status < 300:
        try:
            sid = response.json().get(ID_FIELD)
        except (ValueError, AttributeError):
            sid = None
        step.created = sid if isinstance(sid, str) else None
    return step


def _mixed(redactor: Any, auth: str, step: Step) -> bool:
    """A Basic header `user:password` whose password is a known login's (and whose user is a known
    login or a made-up name without a secret in it): noted as environment variables, never as text."""
    if not auth.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(auth[6:], validate=True).decode("utf-8").partition(":")
    except Exception:
        return False
    owner = next((k for k in redactor.credentials if k.password and k.password == password), None)
    if owner is None or any(k.password and k.password in user for k in redactor.credentials):
        return False
    known_user = next((k for k in redactor.credentials if k.username == user), None)
    step.password_env = owner.password_env
    if known_user is not None:
        step.user_env = known_user.username_env
    else:
        step.user = user
    return True


def _carries_known_password(redactor: Any, auth: str) -> bool:
    if not auth.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(auth[6:], validate=True).decode("utf-8")
    except Exception:
        return False
    return any(known.password and known.password in decoded for known in redactor.credentials)


def select(steps: list[Step], failing: int, creations: dict[str, Step]) -> list[Step]:
    """The failing step, the rooms it touched (or that were alive when it was sent) from their
    creation on, their updates before it, the read just before it and the reads after it."""
    target = steps[failing]
    created_here = {s.created: i for i, s in enumerate(steps[:failing + 1]) if s.created}
    deleted = {s.room for s in steps[:failing] if s.method == "DELETE" and 200 <= s.status < 300}
    rooms = (target.sids() | {sid for sid in created_here if sid not in deleted}) & (set(created_here) | set(creations))
    for step in steps[failing + 1:]:  # rooms the reads after it looked at (a created-behind-a-refusal room)
        rooms |= step.sids() & set(created_here)
    chosen: list[Step] = []
    for sid in sorted(rooms - set(created_here), key=lambda s: creations[s].started):
        chosen.append(_as(creations[sid], "create"))  # created by an earlier test (a session room)
    last_before = max((i for i, s in enumerate(steps[:failing]) if s.method == "GET" and s.room in rooms), default=None)
    for index, step in enumerate(steps):
        if index < failing:
            if step.created in rooms:
                chosen.append(_as(step, "create"))
            elif step.room in rooms and step.method in ("PATCH", "PUT", "DELETE"):
                chosen.append(_as(step, "update" if step.method != "DELETE" else "delete"))
            elif index == last_before:
                chosen.append(_as(step, "before"))
        elif index == failing:
            chosen.append(_as(step, "failing"))
        elif step.room in rooms and step.changes and step.thread != target.thread \
                and step.started < target.ended and target.started < step.ended:
            chosen.append(_as(step, "update"))  # sent at the same time as the failing request (answered after it)
        elif step.method == "GET" and (step.room in rooms or (step.sids() & rooms)):
            chosen.append(_as(step, "read-back"))
    _mark_concurrent(chosen)
    return chosen


def _as(step: Step, role: str) -> Step:
    return Step(**{**asdict(step), "role": role})


def _mark_concurrent(steps: list[Step]) -> None:
    """Changes whose send times overlap, from different threads, were sent together."""
    changes = [s for s in steps if s.changes and s.role in ("update", "failing")]
    group = 0
    for i, step in enumerate(changes):
        for other in changes[i + 1:]:
            if other.thread != step.thread and other.started < step.ended and step.started < other.ended:
                if step.concurrent is None:
                    group += 1
                    step.concurrent = group
                other.concurrent = step.concurrent


# -- the story as a document and as curl ------------------------------------------------------------

def document(steps: list[Step], failure: Any, test: str | None, judge: dict[str, Any] | None,
             target: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one failure (`reports/failures/<id>.json`). List answers keep only the items of the
    rooms the story touches: on a shared account the others are other people's data."""
    steps = only_the_story_rooms(steps)
    doc = {"rule": failure.rule, "operation": failure.operation, "situation": failure.situation, "detail": failure.detail,
           "expected": _plain(failure.expected), "observed": _plain(failure.observed), "test": test,
           "judge": judge or {"kind": "answer"}, "target": target, "steps": [asdict(s) for s in steps]}
    digest = hashlib.sha1(json.dumps([doc["rule"], doc["operation"], test, [(s.method, s.path, s.body) for s in steps]],
                                     default=str).encode()).hexdigest()[:10]
    doc["id"] = f"{failure.rule.split('.')[0]}-{digest}"
    return doc


OTHER_ROOMS_LEFT_OUT = "contract_note"


def only_the_story_rooms(steps: list[Step]) -> list[Step]:
    """The steps with every list answer cut down to the items of the rooms the story creates or sends
    a request to (a note says how many others were left out); an answer too long to parse is left out."""
    rooms = {s.created for s in steps if s.created} | {sid for s in steps for sid in s.sids()}
    kept = []
    for step in steps:
        if step.method == "GET" and urlsplit(step.path).path == "/meeting_rooms" and step.answer:
            try:
                data = json.loads(step.answer)
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("items"), list):
                items = [item for item in data["items"] if isinstance(item, dict) and item.get(ID_FIELD) in rooms]
                others = len(data["items"]) - len(items)
                if others:
                    data = {**data, "items": items, OTHER_ROOMS_LEFT_OUT: f"{others} item(s) of other rooms left out"}
                answer = json.dumps(data, ensure_ascii=False)
            else:
                answer = json.dumps({OTHER_ROOMS_LEFT_OUT: "the list answer is left out (not parsed: it may hold other "
                                                           "people's rooms)"})
            step = Step(**{**asdict(step), "answer": answer})
        kept.append(step)
    return kept


def _plain(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def failing_step(doc: Any) -> dict[str, Any] | None:
    """The failing request of a story document (its step whose role is "failing"), as recorded."""
    return next((step for step in doc.get("steps") or [] if step.get("role") == "failing"), None)


def steps_of(doc: dict[str, Any]) -> list[Step]:
    return [Step(**{k: v for k, v in raw.items() if k in Step.__dataclass_fields__}) for raw in doc.get("steps", [])]


def variables(steps: Iterable[Step]) -> dict[str, str]:
    """A shell variable per room the story creates: SID1, SID2, ..."""
    names: dict[str, str] = {}
    for step in steps:
        if step.created and step.created not in names:
            names[step.created] = f"SID{len(names) + 1}"
    return names


def _quoted(text: str, names: dict[str, str]) -> str:
    """`text` as one shell word, each known sid replaced by its variable."""
    pieces, last = [], 0
    for match in SID.finditer(text):
        if match.group(0) in names:
            pieces += [shlex.quote(text[last:match.start()]) if text[last:match.start()] else "",
                       f'"${names[match.group(0)]}"']
            last = match.end()
    pieces.append(shlex.quote(text[last:]) if text[last:] or not pieces else "")
    return "".join(pieces)


def _auth(step: Step) -> str:
    if step.login in ("primary", "second") and step.user_env:
        return f' -u "${step.user_env}:${step.password_env}"'
    if step.login == "mixed":
        user = f"${step.user_env}" if step.user_env else (step.user or "").replace("\\", "\\\\").replace('"', '\\"') \
            .replace("$", "\\$").replace("`", "\\`")
        return f' -u "{user}:${step.password_env}"'
    if step.login == "header" and step.auth_header is not None:
        return " -H " + shlex.quote(f"Authorization: {step.auth_header}")
    if step.login == "hidden":
        return " -H 'Authorization: <not shown: carries a credential>'"
    return ""


SHOW_STATUS = "-w '\\nHTTP %{http_code}\\n'"  # every answer printed, then its status on a line of its own


def curl_line(step: Step, names: dict[str, str]) -> str:
    method = "" if step.method == "GET" else f" -X {step.method}"
    line = f"curl -s {SHOW_STATUS}{method} \"$BASE\"{_quoted(step.path, names)}{_auth(step)}"
    for name, value in step.headers.items():
        line += " -H " + shlex.quote(f"{name}: {value}" if value else f"{name};")
    body = step.body_bytes()
    if body is not None and "Content-Type" not in step.headers:
        line += " -H 'Content-Type:'"
    if step.body is not None:
        line += " --data-binary " + _quoted(step.body, names)
    elif body is not None:
        escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\0{b:03o}" for b in body)
        line = f"printf %b {shlex.quote(escaped)} | {line} --data-binary @-"
    return line


def curl_script(steps: list[Step], base_url: str, *, shown: int = SHOWN_STEPS, where: str = "",
                mock_logins: bool = False) -> str:
    """A shell sequence that creates the story's rooms, sends its requests and deletes the rooms."""
    names = variables(steps)
    lines = [f"BASE={shlex.quote(base_url)}  # each request prints its answer, then HTTP <status>"]
    if mock_logins:
        lines.append("# against the standalone mock: export its sample logins first (README: CONFERENCE_USERNAME="
                     "conference_user_123, CONFERENCE_SECOND_USERNAME=conference_user_456, and their passwords)")
    kept = steps if len(steps) <= shown else [s for s in steps if s.role in ("create", "failing")] + \
        [s for s in steps if s.role not in ("create", "failing")][-max(0, shown - 2):]
    kept = [s for s in steps if s in kept]
    if len(kept) < len(steps):
        lines.append(f"# {len(steps) - len(kept)} of {len(steps)} steps left out here{(': all in ' + where) if where else ''}")
    group = None
    for step in kept:
        if group is not None and step.concurrent != group:
            lines.append("wait")
        group = step.concurrent
        comment = {"failing": "  # the failing request", "read-back": "  # read back", "before": "  # read before"}.get(step.role, "")
        line = curl_line(step, names)
        if step.created:  # the answer and its status are shown (stderr), the sid captured from the answer
            line = f"{names[step.created]}=$({line} | tee /dev/stderr | {SID_FROM_ANSWER})"
            comment = f"  # creates the room (answered HTTP {step.status})"
        else:
            comment = comment or f"  # answered HTTP {step.status}"
            if step.role == "failing":
                comment += f" (answered HTTP {step.status})"
        if step.chunk_cuts:
            comment += f"; the run sent it chunked, cut at bytes {', '.join(map(str, step.chunk_cuts))}: curl sends one chunk " \
                       "(the replay cuts it as the run did)"
        lines.append(line + (" &" if step.concurrent is not None else "") + comment)
    if group is not None:
        lines.append("wait")
    for sid, name in names.items():
        creator = next(s for s in steps if s.created == sid)
        lines.append(f"curl -s {SHOW_STATUS} -X DELETE \"$BASE\"/meeting_rooms/\"${name}\"{_auth(creator)}  # clean up")
    return "\n".join(lines)


# the created room's sid, from a POST answer printed with its status line (nothing when the POST created none)
SID_FROM_ANSWER = ("python3 -c 'import json,sys; a=sys.stdin.read().rsplit(\"\\nHTTP \", 1)[0].strip(); "
                   f"print((json.loads(a) if a.startswith(\"{{\") else {{}}).get(\"{ID_FIELD}\", \"\"))'")

MOCK_PORT = 8080
MOCK_BASE = f"http://127.0.0.1:{MOCK_PORT}/conference/v2"


def mock_command(target: dict[str, Any]) -> str | None:
    """The command that starts the standalone mock as the run's embedded one was (None: not a mock run)."""
    if not target.get("embedded_mock"):
        return None
    parts = ["python -m meeting_room_contract.mock", f"--port {MOCK_PORT}"]
    parts += [f"--fault {shlex.quote(name)}" for name in target.get("mock_faults", [])]
    parts += [f"--variant {shlex.quote(name)}" for name in target.get("mock_variants", [])]
    if target.get("spec") and not str(target["spec"]).endswith("openapi/conference-v2-meeting-rooms.yaml"):
        parts.append(f"--spec {shlex.quote(str(target['spec']))}")
    return " ".join(parts)


def replay_command(doc: dict[str, Any], report_dir: str) -> str:
    target = doc.get("target", {})
    base = MOCK_BASE if target.get("embedded_mock") else target.get("base_url") or "URL"
    logins = target.get("logins", {})
    command = (f"python -m meeting_room_contract.replay {shlex.quote(str(report_dir))} --failure {doc['id']} "
               f"--base-url {shlex.quote(base)} --username {shlex.quote(logins.get('primary', 'USER'))}")
    command += _second_login(doc)
    if target.get("embedded_mock"):  # replayed against the standalone mock: its sample logins' passwords
        command += " --mock-logins"
    else:  # what it reads from the environment, said on the line (a second login needs its password too)
        command += "  # reads " + " and ".join(f"${name}" for name in password_variables(doc))
    return command


def password_variables(doc: dict[str, Any]) -> list[str]:
    """The environment variables holding the passwords a replay of this story needs."""
    needed = ["CONFERENCE_PASSWORD"]
    if "--second-username" in _second_login(doc):
        needed.append("CONFERENCE_SECOND_PASSWORD")
    return needed


def _second_login(doc: dict[str, Any]) -> str:
    logins = (doc.get("target") or {}).get("logins", {})
    if "second" in logins and any(s.get("login") == "second" or "SECOND" in f"{s.get('user_env')}{s.get('password_env')}"
                                  for s in doc.get("steps", [])):
        return f" --second-username {shlex.quote(logins['second'])}"
    return ""


def story_text(doc: dict[str, Any], report_dir: str) -> str:
    """What a failure prints after its violation: the story as curl, then how to replay and judge it."""
    target = doc.get("target", {})
    base = MOCK_BASE if target.get("embedded_mock") else target.get("base_url") or "URL"
    where = f"{report_dir}/failures/{doc['id']}.json"
    script = curl_script(steps_of(doc), base, where=where, mock_logins=bool(target.get("embedded_mock")))
    lines = [f"Story ({where}): the requests that led to it; creates its own rooms and deletes them at the end:",
             *(f"  {line}" for line in script.splitlines()),
             "Replay and judge it by the same rule (exit 1: reproduced, 0: not; "
             + ("the mock's sample passwords):" if target.get("embedded_mock") else
                "passwords from " + " and ".join(f"${name}" for name in password_variables(doc)) + "):")]
    mock = mock_command(target)
    if mock:
        lines.append(f"  {mock} &   # the standalone mock as this run's embedded one; stop it with: kill %1")
    lines.append(f"  {replay_command(doc, report_dir)}")
    return "\n".join(lines)
