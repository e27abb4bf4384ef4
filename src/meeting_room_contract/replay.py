"""Replay a recorded failure against a target and judge it by the same rule.

    python -m meeting_room_contract.replay REPORT_DIR [--failure ID] --base-url URL --username U [--password P]

Reads `REPORT_DIR/failures/<ID>.json` (without --failure: the first failure of the run, the one
the terminal and contract-report.html show first), creates the story's rooms with their exact
bodies, sends its updates and the failing request (steps sent together in the run are sent
together again), gathers the same evidence the suite gathers and judges it with the suite's
pure judges; deletes every room it created. Each check records which judge ran on which answers
(the failing answer's status, shape, error body; the answers two compared room states were read
from); the replay runs that judge again on the answers it gathers. Exit 1: the violation
reproduces; 0: it does not; 2: a usage error (one line); 3: the target could not be reached, or the
evidence could not be gathered ("CANNOT JUDGE": neither reproduced nor refuted; one
line); 4: the story cannot be replayed faithfully (one line: why; e.g. the run recorded no judge to
re-run, or a request carried a credential the replay cannot rebuild). The password comes
from --password or $CONFERENCE_PASSWORD (the second login's from $CONFERENCE_SECOND_PASSWORD); against the
standalone mock, --mock-logins takes its sample logins' passwords.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests

from . import actions, ownership, preflight, spec, stories
from .journal import DEFAULT_STATE_DIR, STATE_DIR_ENV, CleanupJournal
from .redaction import Credentials
from .registry import UnsafeTargetError
from .transport import Chunked, Politeness, TargetUnavailable
from .judges import answers, base, updates
from .mock import default_accounts
from .model import PropertiesMode
from .run import Run
from .stories import SID, Step
from .target import Target, TargetSettings

REPRODUCED, NOT_REPRODUCED, USAGE, UNREACHABLE, UNREPLAYABLE = 1, 0, 2, 3, 4


class UsageError(Exception):
    pass


class EvidenceError(Exception):
    """The evidence a judge needs could not be gathered (the target did not answer, a listing contradicted
    itself, a read failed): the violation is neither reproduced nor refuted (exit 3, one line)."""


class Unreplayable(Exception):
    """The story cannot be replayed and judged faithfully (said in one line; exit 4)."""


RECORDED_RUN_PREFIX = re.compile(r"(\S+-(?:[0-9a-z]{6,7}-[0-9a-f]{3}|[0-9]{14}-[0-9a-f]{6})) ")  # rooms.RUN_ID


def recorded_run_prefix(doc: dict[str, Any]) -> str | None:
    """The recorded run's `<prefix>-<run id>` (its room names start with it), from the story's target, else
    from the names its bodies carry."""
    known = (doc.get("target") or {}).get("room_name_prefix")
    if isinstance(known, str) and known:
        return known
    for step in doc.get("steps", []):
        match = RECORDED_RUN_PREFIX.search(step.get("body") or "")
        if match:
            return match.group(1).split('"')[-1]
    return None


def load_failure(report_dir: Path, failure_id: str | None) -> dict[str, Any]:
    folder = report_dir / "failures"
    if not report_dir.is_dir():
        raise UsageError(f"{report_dir}: no such report directory")
    if failure_id is None:
        summary = report_dir / "contract-summary.json"
        groups = json.loads(summary.read_text(encoding="utf-8")).get("failure_groups", []) if summary.exists() else []
        failure_id = next((g["example"].get("failure_id") for g in groups if g.get("example", {}).get("failure_id")), None)
        if failure_id is None:
            found = sorted(folder.glob("*.json")) if folder.is_dir() else []
            if not found:
                raise UsageError(f"{report_dir}: no recorded failure (no {folder}/*.json)")
            failure_id = found[0].stem
    path = folder / f"{failure_id}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.json"))[:10]) if folder.is_dir() else ""
        raise UsageError(f"--failure {failure_id}: no {path}" + (f" (recorded: {known})" if known else ""))
    return json.loads(path.read_text(encoding="utf-8"))


class Replayer:
    """Sends a story's steps again, sids of the rooms it creates mapped to the new ones."""

    def __init__(self, run: Run, out: Any = sys.stdout, secrets: Mapping[str, str | None] | None = None,
                 run_prefix: str | None = None):
        self.run, self.out = run, out
        self.secrets = dict(secrets or {})  # environment variable name -> value (the logins given to the replay)
        self.sids: dict[str, str] = {}
        self.unknown: dict[str, str] = {}  # rooms the story did not create -> fresh unknown sids
        self.rekeyed: set[str] = set()  # sids the server's answers gave this replay's rooms (and that are its own)
        self.codes: dict[str, str] = {}  # the story's access codes -> fresh codes of the same form
        # the recorded run's `<prefix>-<run id>` -> this replay's own (same length): its room names are its own
        self.run_prefix = run_prefix
        self.steps: list[Step] = []
        self.fresh: dict[int, requests.Response] = {}  # the answers gathered again, by step
        self._print_lock = threading.Lock()
        target = run.target
        self.clients = {"primary": target.client("primary"), "second": target.client("second"),
                        "none": target.client("anonymous"), "header": target.client("anonymous")}

    @property
    def registry(self) -> Any:
        return self.run.target.registry

    def mapped(self, text: str) -> str:
        """A recorded text as this replay sends it: a sid the story created is the replay's room; a room
        the story did not create (a 404 probe's) is a fresh unknown sid; any other sid (a DID group, an
        account) is sent as recorded. The recorded run's room names carry this replay's own prefix, and
        every access code is a fresh code of the same form (`prepare`): the replay creates, finds and
        deletes only rooms of its own, never one holding a days-old code or the recorded run's name."""
        def swap(match: Any) -> str:
            return self.sids.get(match.group(0), self.unknown.get(match.group(0), match.group(0)))

        for made_up in self._made_up_room_ids(text):  # a room id the run made up (not one of its rooms): a fresh one
            if made_up not in self.sids and made_up not in self.unknown:
                self.unknown[made_up] = self.registry.unknown_sid()
        text = SID.sub(swap, text)
        if self.run_prefix and self.run_prefix in text:
            text = text.replace(self.run_prefix, self.registry.room_name_prefix)
        if self.codes:
            text = self._code_pattern().sub(lambda m: m.group(1) + self._fresh_code_text(m.group(2)) + m.group(3), text)
        return text

    def _made_up_room_ids(self, text: str) -> list[str]:
        """Sids a recorded body sends as the room id field (`"meeting_room_sid": "..."`) that no room of the
        story holds: the run made them up (a read-only value it tried to smuggle in)."""
        pattern = re.compile(r'"' + re.escape(stories.ID_FIELD) + r'"\s*:\s*"(' + SID.pattern + r')"')
        return [match.group(1) for match in pattern.finditer(text)]

    def mapped_code(self, code: Any) -> Any:
        return self.codes.get(code, code) if isinstance(code, str) else code

    def _code_pattern(self) -> Any:
        field = self.run.model.UNIQUE[0].item_field if self.run.model.UNIQUE else "access_code"
        return re.compile(r'("' + re.escape(field) + r'"\s*:\s*")((?:[^"\\]|\\.)*)(")')

    def _fresh_code_text(self, quoted: str) -> str:
        try:
            code = json.loads(f'"{quoted}"')
        except ValueError:
            return quoted
        fresh = self.codes.get(code)
        return quoted if fresh is None else json.dumps(fresh)[1:-1]

    def prepare(self, steps: list[Step], recorded_codes: Any = ()) -> None:
        """Draw a fresh code of the same form for every access code the story sends (and the judge's
        recorded codes): digits drawn anew (leading zeros and `*`/`#` kept where they were), none held
        by a room of the account now, the same recorded code always the same fresh one."""
        if not self.run.model.UNIQUE:
            return
        pattern = self._code_pattern()
        found: list[str] = [str(code) for code in recorded_codes or ()]
        for step in steps:
            for match in pattern.finditer(step.body or ""):
                try:
                    found.append(json.loads(f'"{match.group(2)}"'))
                except ValueError:
                    continue
        if not found:
            return
        for room in self.clients["primary"].list_all("/meeting_rooms"):  # codes held now are not fresh
            self.run.codes.add(str(code) for code in self.run.model.unique_values(room))
        for code in dict.fromkeys(found):
            try:
                self.codes[code] = self.run.codes.fresh_like(code)
            except ValueError:  # no code of that form is free (no digit to draw): sent as recorded
                self.codes[code] = code

    def client_for(self, step: Step):
        if step.login == "mixed":  # one login's user (or a made-up one) with a known login's password
            user = self.secrets.get(step.user_env) if step.user_env else step.user
            if user is None or not self.secrets.get(step.password_env or ""):
                raise UsageError(f"the story sends {step.method} {step.path.split('?')[0]} with "
                                 f"{'$' + step.user_env if step.user_env else repr(step.user)}:${step.password_env}: give that "
                                 "login (--second-username and $CONFERENCE_SECOND_PASSWORD)")
            return self.clients["none"]
        if step.login == "hidden":
            raise Unreplayable(f"the story sends {step.method} {step.path.split('?')[0]} with credentials the run did not "
                               "record (an Authorization header carrying a secret the replay cannot rebuild)")
        client = self.clients.get(step.login)
        if client is None:
            raise UsageError(f"the story sends {step.method} {step.path.split('?')[0]} as the {step.login} login: "
                             + ("give --second-username (password in $CONFERENCE_SECOND_PASSWORD)" if step.login == "second"
                                else "its credentials were not recorded"))
        return client

    def send(self, step: Step) -> requests.Response:
        client = self.client_for(step)
        headers = dict(step.headers)
        if step.login == "header" and step.auth_header is not None:
            headers["Authorization"] = step.auth_header
        if step.room and step.room not in self.sids and step.room not in self.unknown:
            self.unknown[step.room] = self.run.target.registry.unknown_sid()
        body = step.body_bytes()
        data = self.mapped(step.body).encode("utf-8") if step.body is not None else body
        encoding = next((name for name in headers if name.lower() == "transfer-encoding"), None)
        if encoding is not None and "chunked" in headers.pop(encoding).lower() and data is not None:
            data = Chunked.of(data, step.chunk_cuts or ())  # chunked again, cut where the run cut it (sids keep their length)
        auth = None
        if step.login == "mixed":
            auth = (self.secrets.get(step.user_env) if step.user_env else step.user, self.secrets[step.password_env])
        response = client.request(step.method, self.mapped(step.path), data=data, headers=headers, auth=auth)
        if step.method == "POST":
            try:
                sent = json.loads(data) if data else None
            except (TypeError, ValueError):
                sent = None
            client.record_if_created(response, sent)
        if step.created:
            try:
                self.sids[step.created] = response.json()[stories.ID_FIELD]
            except (ValueError, KeyError, TypeError):
                pass
        if step.role == "create" and 200 <= step.status < 300 and not 200 <= response.status_code < 300:
            # the story's set-up did not happen: what follows would judge something else
            raise Unreplayable(f"a set-up step ({step.method} {self.mapped(step.path).split('?')[0]}) answered HTTP "
                               f"{response.status_code} where the run got {step.status}: the story cannot be set up again "
                               f"({response.text[:160]!r})")
        if step.room in self.unknown and step.method == "PUT" and 200 <= response.status_code < 300:
            client.registry.record_created(self.unknown[step.room], client)  # a PUT created the replay's made-up sid
        sent_to = self.mapped(step.room) if step.room in self.sids else None
        if step.method in ("PATCH", "PUT") and sent_to and 200 <= response.status_code < 300:
            try:
                answered = response.json().get(stories.ID_FIELD)
            except (ValueError, AttributeError):
                answered = None
            if isinstance(answered, str) and answered != sent_to:  # re-keyed by the server: its own only if it says so
                room = response.json()
                if ownership.moved_room_is_ours(client.registry, answered) \
                        or ownership.carries_a_name_of_the_run(client.registry, room):
                    self.rekeyed.add(answered)
                    client.registry.record_created(answered, client)
                else:
                    client.registry.report_foreign(answered, f"was named by the answer to this replay's {step.method} "
                                                   "(re-keyed?) without this replay's room name")
        with self._print_lock:  # steps sent together print whole lines
            self.out.write(f"  {step.method} {self.mapped(step.path).split('?')[0]} -> HTTP {response.status_code} (recorded: {step.status})\n")
        return response

    def sweep(self) -> None:
        """This replay's rooms that its primary login no longer finds (moved to the other account by a
        server that applied `account_sid`): deleted with the second login, where it finds them."""
        primary, second = self.clients["primary"], self.clients["second"]
        if second is None or primary is None:
            return
        for sid in set(self.sids.values()) | self.rekeyed:
            if not self.registry.owns(sid):  # only what this replay's own POSTs created (ownership)
                continue
            try:
                if primary.get_room(sid).status_code == 404 and second.get_room(sid).status_code == 200:
                    second.delete_room(sid)
            except requests.RequestException:
                pass

    def send_all(self, steps: list[Step]) -> dict[int, requests.Response]:
        """Send steps in order; steps marked concurrent are sent together (threads)."""
        answers_by_step: dict[int, requests.Response] = {}
        index = 0
        while index < len(steps):
            group = steps[index].concurrent
            batch = [index]
            while group is not None and index + len(batch) < len(steps) and steps[index + len(batch)].concurrent == group:
                batch.append(index + len(batch))
            if len(batch) == 1:
                answers_by_step[index] = self.send(steps[index])
            else:
                barrier = threading.Barrier(len(batch))
                errors: list[BaseException] = []

                def one(i: int) -> None:
                    try:
                        barrier.wait(timeout=10)
                        answers_by_step[i] = self.send(steps[i])
                    except BaseException as error:  # re-raised below
                        errors.append(error)

                threads = [threading.Thread(target=one, args=(i,)) for i in batch]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                if errors:
                    raise errors[0]
            index += len(batch)
        return answers_by_step


def judge(doc: dict[str, Any], replayer: Replayer) -> tuple[bool, str]:
    """Replay the story and judge it with the judge the run recorded at the check that failed, on the
    answers gathered again: (reproduced, one line on what was seen). Raises Unreplayable when the
    story cannot be judged faithfully."""
    run, rule = replayer.run, doc["rule"]
    steps = stories.steps_of(doc)
    failing = next((i for i, s in enumerate(steps) if s.role == "failing"), len(steps) - 1)
    step = steps[failing]
    recorded = doc.get("judge") or {}
    kind = recorded.get("kind")
    for sent in steps:
        replayer.client_for(sent)  # a login the replay cannot rebuild: said before anything is sent
    replayer.prepare(steps, recorded.get("codes") or ())
    if kind == "update" and step.method in ("PATCH", "PUT") and step.room and step.body is not None:
        before_steps = [s for s in steps[:failing] if s.role != "before"]
        replayer.send_all(before_steps)
        client = replayer.client_for(step)
        sid = replayer.mapped(step.room)
        before_answer = client.get_room(sid)
        before = actions._json(before_answer) if before_answer.status_code == 200 else None
        if not isinstance(before, dict):
            raise EvidenceError(f"GET of the replay's room before the {step.method} answered HTTP {before_answer.status_code}: "
                                "the room before the update is not known")
        response = replayer.send(step)
        try:
            body = json.loads(replayer.mapped(step.body))
        except ValueError:
            body = step.body
        evidence = actions.update_evidence(run, client, sid, before, step.method, body, response,
                                           state_rule=recorded.get("state_rule"))
        verdict = updates.judge_update(run.context(), evidence).verdict
        found = [f for f in verdict.failures if f.rule == rule]
        if found:
            return True, f"{found[0].rule} on {found[0].operation}: {found[0].summary}" + _why(found[0].expected, found[0].observed)
        others = "; ".join(f"[{f.rule}] {f.summary}" for f in verdict.failures)
        return False, f"{step.method} answered HTTP {response.status_code}; no {rule} failure" + (f" (other: {others})" if others else "")
    if kind not in ("answer", "state") or (kind == "answer" and recorded.get("judge") not in ANSWER_JUDGES):
        raise Unreplayable(f"the run recorded no judge a replay can re-run for this {rule} failure "
                           f"({recorded.get('judge') or kind or 'none'}; found by {doc.get('test')}'s own logic)")
    if kind == "state" and "observed" not in recorded:
        raise Unreplayable(f"the answer the {rule} failure's observed state was read from is not in the story")
    fresh = replayer.send_all(steps)
    replayer.steps, replayer.fresh = steps, fresh
    if kind == "answer":
        return ANSWER_JUDGES[recorded["judge"]](run, doc, recorded, fresh[failing], replayer)
    return _judge_state(run, doc, recorded, steps, fresh, replayer)


def _verdict(rule: str, found: list[Any] | None, response: requests.Response) -> tuple[bool, str]:
    found = [f for f in found or [] if f.rule == rule]
    if found:
        return True, f"{rule} on {found[0].operation}: {found[0].summary}" + _why(found[0].expected, found[0].observed)
    return False, f"HTTP {response.status_code}: no {rule} failure"


def _why(expected: Any, observed: Any) -> str:
    """The `    ≠ <explanation>` lines (one each, after the verdict's line) for strings that differ,
    e.g. by their Unicode normalisation: printed, they may look alike."""
    return "".join(f"\n{line}" for line in base.why_different(expected, observed))


def _never_5xx(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
               replayer: Replayer) -> tuple[bool, str]:
    return _verdict(doc["rule"], answers.never_5xx(response, doc.get("operation", ""), doc.get("situation", "")), response)


def _status_in(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
               replayer: Replayer) -> tuple[bool, str]:
    allowed = frozenset(int(code) for code in recorded.get("allowed", []))
    return _verdict(doc["rule"], answers.status_in(doc["rule"], response, allowed, doc.get("operation", ""),
                                                   doc.get("situation", "")), response)


def _error_body_is_json(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
                        replayer: Replayer) -> tuple[bool, str]:
    if not 400 <= response.status_code < 500 or response.status_code == 401:  # the run judges a 4xx error body only
        return False, f"HTTP {response.status_code}: not an error answer the rule judges"
    return _verdict(doc["rule"], answers.error_body_is_json(response, doc.get("operation", "")), response)


def _room_shape(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
                replayer: Replayer) -> tuple[bool, str]:
    if response.status_code != 200:  # the run judges the shape of a 200 answer only
        return False, f"HTTP {response.status_code}: not a 200 answer whose shape the rule judges"
    return _verdict(doc["rule"], answers.room_shape(run.context(), response, doc.get("operation", ""),
                                                    doc.get("situation", "")), response)


def _accepted(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
              replayer: Replayer) -> tuple[bool, str]:
    refusals = recorded.get("refusals")

    def is_refused(answer: requests.Response) -> bool:
        return answer.status_code in refusals if refusals else not 200 <= answer.status_code < 300

    refused = is_refused(response)
    if refused and recorded.get("every_update"):  # the rule: no form of the update was accepted (each was refused)
        failing = next(s for s in replayer.steps if s.role == "failing")
        tried = [i for i, s in enumerate(replayer.steps) if s.role in ("update", "failing") and s.room == failing.room
                 and s.method == failing.method]
        accepted = [replayer.fresh[i].status_code for i in tried if not is_refused(replayer.fresh[i])]
        if accepted:
            return False, f"HTTP {accepted[0]}: one of the {len(tried)} {failing.method}s was accepted, no {doc['rule']} failure"
        refused = True
    if refused:
        return True, f"{doc['rule']}: {doc.get('situation') or doc.get('operation', '')} refused again with HTTP {response.status_code}"
    return False, f"HTTP {response.status_code}: accepted, no {doc['rule']} failure"


def _refused(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
             replayer: Replayer) -> tuple[bool, str]:
    if 200 <= response.status_code < 300:
        return True, f"{doc['rule']}: accepted again with HTTP {response.status_code} where a refusal is due ({doc.get('detail', '')[:160]})"
    return False, f"HTTP {response.status_code}: refused, no {doc['rule']} failure"


def _reveals(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
             replayer: Replayer) -> tuple[bool, str]:
    texts = [response.text, *response.headers.values()]
    hidden = {label: replayer.mapped_code(replayer.mapped(value)) for label, value in (recorded.get("hidden") or {}).items()
              if value}
    leaked = [label for label, value in hidden.items() if any(value in text for text in texts)]
    if leaked:
        return True, f"{doc['rule']}: the answer (HTTP {response.status_code}) reveals another account's room: {', '.join(leaked)}"
    return False, f"HTTP {response.status_code}: reveals none of {', '.join(hidden) or 'nothing recorded'}"


def _created_anyway(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
                    replayer: Replayer) -> tuple[bool, str]:
    """A refused POST that created a room all the same: a room of the account (not one the story
    created) carries the POST's name or code, as this replay sent them (its own name, fresh codes).
    A room holding this replay's name is its own and is deleted with its other rooms; one found by a
    fresh code only is reported, never adopted (a code is no proof of who created a room)."""
    if 200 <= response.status_code < 300:
        return False, f"HTTP {response.status_code}: the POST was accepted this time, no {doc['rule']} failure"
    name = replayer.mapped(recorded["name"]) if isinstance(recorded.get("name"), str) else None
    codes = {str(replayer.mapped_code(str(code))) for code in recorded.get("codes") or []}
    client = replayer.clients["primary"]
    ours = set(replayer.sids.values())
    found = [room for room in client.list_all("/meeting_rooms") if room.get(run.model.ID_FIELD) not in ours
             and ((name and room.get("name") == name) or (codes and {str(v) for v in run.model.unique_values(room)} & codes))]
    for room in found:
        if ownership.carries_a_name_of_the_run(client.registry, room):
            client.registry.record_created(room[run.model.ID_FIELD], client)  # holds this replay's name: deleted at the end
        else:
            client.registry.report_foreign(room[run.model.ID_FIELD], "holds a fresh code of this replay's refused POST "
                                           "(found by it; not deleted: a code is no proof)")
    if found:
        return True, f"{doc['rule']}: POST refused with HTTP {response.status_code}, but room(s) were created all the same"
    return False, f"HTTP {response.status_code}: refused and nothing created, no {doc['rule']} failure"


def _conformance(run: Run, doc: dict[str, Any], recorded: dict[str, Any], response: requests.Response,
                 replayer: Replayer) -> tuple[bool, str]:
    """schemathesis's response checks on the fresh answer, the same ones the run left out left out."""
    from . import generation

    if doc["rule"] == "lifecycle.delete_then_404":  # schemathesis's use-after-free: the room deleted earlier in the story
        failing = next(s for s in replayer.steps if s.role == "failing")
        deleted = [i for i, s in enumerate(replayer.steps) if s.method == "DELETE" and s.room == failing.room
                   and s.role != "failing" and 200 <= replayer.fresh[i].status_code < 300]
        if not deleted:
            return False, f"the DELETE of the room did not succeed this time: no {doc['rule']} failure"
        if response.status_code != 404:
            return True, (f"{doc['rule']} on {doc.get('operation', '')}: {failing.method} of the room deleted with HTTP "
                          f"{replayer.fresh[deleted[0]].status_code} answered HTTP {response.status_code}, not 404")
        return False, f"HTTP 404 after the DELETE: no {doc['rule']} failure"
    failing_step = next(s for s in replayer.steps if s.role == "failing")
    if doc["rule"] == "auth.required" and failing_step.login == "none":  # schemathesis sent it without Authorization
        if response.status_code != 401:
            return True, f"{doc['rule']} on {doc.get('operation', '')}: sent without credentials, answered HTTP {response.status_code}, not 401"
        return False, f"HTTP 401 without credentials: no {doc['rule']} failure"
    if doc["rule"] not in (generation.CONFORMANCE_RULE, "status.documented_codes", "server.never_5xx"):
        raise Unreplayable(f"a {doc['rule']} failure schemathesis found depends on its generated case "
                           "(negative data, a missing header, a stateful link): not judged again without it")
    found = generation.conformance_failures(str(run.spec.path), recorded["method"], recorded["path"], response,
                                            recorded.get("excluded") or [])
    if found and generation.failure_rule(found) == doc["rule"]:
        return True, f"{doc['rule']} on {doc.get('operation', '')}: " + "; ".join(f"{f.title}: {f.message}" for f in found)[:400]
    return False, f"HTTP {response.status_code}: no {doc['rule']} failure" + (
        f" (other: {'; '.join(f.title for f in found)})" if found else "")


ANSWER_JUDGES = {"conformance": _conformance, "created_anyway": _created_anyway, "never_5xx": _never_5xx, "status_in": _status_in, "error_body_is_json": _error_body_is_json,
                 "room_shape": _room_shape, "accepted": _accepted, "refused": _refused, "reveals": _reveals}


def _room_of(run: Run, response: requests.Response | None, item: str | None, replayer: Replayer) -> dict[str, Any] | None:
    """The room a fresh answer shows (a room answer, or the list item with the mapped sid)."""
    try:
        data = response.json() if response is not None else None
    except ValueError:
        return None
    if item is None:
        return data if isinstance(data, dict) and run.model.ID_FIELD in data else None
    sid = replayer.mapped(item)
    items = data.get("items") if isinstance(data, dict) else None
    return next((i for i in items or [] if isinstance(i, dict) and i.get(run.model.ID_FIELD) == sid), None)


def _uncompared(run: Run, view: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded comparable view back as a room (its set fields' items parsed again)."""
    room = dict(view)
    for name in run.model.SET_FIELDS:
        if isinstance(room.get(name), list):
            room[name] = [json.loads(item) if isinstance(item, str) else item for item in room[name]]
    return room


def _judge_state(run: Run, doc: dict[str, Any], recorded: dict[str, Any], steps: list[Step],
                 fresh: dict[int, requests.Response], replayer: Replayer) -> tuple[bool, str]:
    """Two room states compared as the run compared them: each read from the same (fresh) answer."""
    rule = doc["rule"]
    source = recorded["observed"]
    observed = _room_of(run, fresh.get(source["step"]), source.get("item"), replayer)
    if observed is None:
        answer = fresh.get(source["step"])
        return False, (f"{steps[source['step']].method} {steps[source['step']].path.split('?')[0]} answered HTTP "
                       f"{answer.status_code if answer is not None else '-'}: no room state to compare, no {rule} failure")
    wanted = recorded.get("expected")
    if wanted is not None:
        expected = _room_of(run, fresh.get(wanted["step"]), wanted.get("item"), replayer)
        if expected is None:
            return False, f"the answer the expected state was read from shows no room now: no {rule} failure"
        if wanted.get("overlay") is not None:
            overlay = json.loads(replayer.mapped(steps[wanted["overlay"]].body or "{}"))
            expected = {**expected, **(overlay if isinstance(overlay, dict) else {})}
    elif isinstance(doc.get("expected"), Mapping):
        # the recorded value: its set items parsed back first, so that their codes are mapped as the replay sent them
        expected = json.loads(replayer.mapped(json.dumps(_uncompared(run, doc["expected"]))))
    else:
        raise Unreplayable(f"the {rule} failure's expected state was not recorded")
    fields = recorded.get("fields")
    diffs = run.model.differences(expected, observed, tuple(fields) if fields else None)
    if diffs:
        want, got = run.model.comparable(expected), run.model.comparable(observed)
        differing = [name for name in (fields or run.model.DOCUMENTED_FIELDS) if want.get(name) != got.get(name)]
        return True, (f"{rule} on {doc.get('operation', '')}: {doc.get('situation', '')}: " + "; ".join(diffs)[:400]
                      + _why({name: want.get(name) for name in differing}, {name: got.get(name) for name in differing}))
    return False, f"the states compare equal now: no {rule} failure"


def _mock_passwords(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """--mock-logins: the standalone mock's sample passwords (public, README) for the usernames given, and
    nothing else: never a password from the environment (it may be a real one), only on this machine."""
    if args.password or args.second_password:
        raise UsageError("--mock-logins takes the mock's sample passwords: drop --password/--second-password")
    host = (urlsplit(args.base_url or "").hostname or "").lower()
    if host != "localhost" and not _loopback(host):
        raise UsageError(f"--mock-logins is for the standalone mock on this machine, not {host or args.base_url!r}")
    known = {account.login: account.password for account in default_accounts()}
    for username in filter(None, (args.username, args.second_username)):
        if username not in known:
            raise UsageError(f"--mock-logins: {username!r} is not a login of the mock ({', '.join(known)})")
    return known.get(args.username or ""), known.get(args.second_username or "")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _login_refused(base_url: str, login: Credentials, timeout: float) -> tuple[int, str] | None:
    """Before anything is created: one GET with the login, sent once (no retries). (exit status, the
    preflight's one line) when the target is not reached (nothing listens, DNS, TLS, no answer within
    the timeout) or refuses the login; None when it answers."""
    url = base_url.rstrip("/") + "/meeting_rooms?limit=1"
    try:
        answer = requests.get(url, headers={"Authorization": login.authorization_header()},
                              timeout=(preflight.CONNECT_TIMEOUT_S, timeout), allow_redirects=False)
    except requests.RequestException as error:
        return UNREACHABLE, "the target could not be reached: " + preflight.describe_error(error, base_url, timeout)
    if answer.status_code == 401:
        return USAGE, f"the login {login.username!r} was refused (401): check --password (or $CONFERENCE_PASSWORD)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meeting_room_contract.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir")
    parser.add_argument("--failure", default=None, help="the failure id (reports/failures/<id>.json); default: the run's first")
    parser.add_argument("--base-url", default=None, help="default: $CONFERENCE_BASE_URL")
    parser.add_argument("--username", default=None, help="default: $CONFERENCE_USERNAME")
    parser.add_argument("--password", default=None, help="default: $CONFERENCE_PASSWORD")
    parser.add_argument("--second-username", default=None, help="default: $CONFERENCE_SECOND_USERNAME")
    parser.add_argument("--second-password", default=None, help="default: $CONFERENCE_SECOND_PASSWORD")
    parser.add_argument("--request-timeout", type=float, default=15.0)
    parser.add_argument("--state-dir", default=os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR,
                        help=f"where the replay journals the rooms it creates (env {STATE_DIR_ENV}; default {DEFAULT_STATE_DIR})")
    parser.add_argument("--mock-logins", action="store_true",
                        help="the target is the standalone mock on this machine (python -m meeting_room_contract.mock): "
                             "the passwords of its sample logins (README) for the usernames given; no CONFERENCE_* "
                             "variable is read")
    args = parser.parse_args(argv)
    try:
        if args.mock_logins:
            password, second_password = _mock_passwords(args)
        else:
            for name in ("base_url", "username", "second_username"):
                setattr(args, name, getattr(args, name) or os.environ.get(f"CONFERENCE_{name.upper()}"))
            password = args.password or os.environ.get("CONFERENCE_PASSWORD")
            second_password = args.second_password or os.environ.get("CONFERENCE_SECOND_PASSWORD")
        if not args.base_url or not args.username or not password:
            raise UsageError("give --base-url, --username and a password (--password or $CONFERENCE_PASSWORD)")
        try:
            preflight.no_credentials_in(args.base_url)
        except preflight.PreflightError as error:
            raise UsageError(str(error)) from None
        if args.second_username and not second_password:
            raise UsageError("--second-username needs a password (--second-password or $CONFERENCE_SECOND_PASSWORD)")
        if not args.request_timeout > 0:
            raise UsageError(f"--request-timeout {args.request_timeout:g}: give a number of seconds above 0")
        doc = load_failure(Path(args.report_dir), args.failure)
        recorded_spec = doc.get("target", {}).get("spec")
        api_spec = spec.Spec(recorded_spec) if recorded_spec and Path(recorded_spec).exists() else spec.default()
    except (UsageError, ValueError, OSError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return USAGE
    refused = _login_refused(args.base_url, Credentials(args.username, password), args.request_timeout)
    if refused is not None:
        print(f"replay: {refused[1]}", file=sys.stderr)
        return refused[0]
    recorded_prefix = recorded_run_prefix(doc)
    settings = TargetSettings(base_url=args.base_url, username=args.username, password=password,
                              second_username=args.second_username, second_password=second_password,
                              politeness=Politeness(timeout=args.request_timeout),
                              name_prefix=recorded_prefix.rsplit("-", 2)[0] if recorded_prefix else "contract-replay")
    target = Target(settings)
    try:  # the replay's rooms are journalled like a run's: a killed replay's rooms are deleted by --delete-leftovers
        target.registry.attach_journal(CleanupJournal(args.state_dir, target.registry.run_id))
    except OSError as error:
        print(f"replay: --state-dir {args.state_dir}: {error.strerror or error}", file=sys.stderr)
        return USAGE
    run = Run(target, api_spec, doc.get("target", {}).get("pins") or {})
    print(f"replaying failure {doc['id']} [{doc['rule']}] {doc.get('operation', '')}: {doc.get('situation', '')} "
          f"(from {doc.get('test')}) against {args.base_url}")
    try:
        primary = target.client("primary")
        probe = primary.request("GET", "/meeting_rooms?limit=1")
        if probe.status_code in (401, 403, 404):
            print(f"replay: GET {args.base_url}/meeting_rooms answered HTTP {probe.status_code}: check the base URL and login",
                  file=sys.stderr)
            return USAGE
        try:
            run.did_groups = frozenset(primary.did_group_sids())
        except (requests.RequestException, RuntimeError, AssertionError):
            pass
        known = (doc.get("judge") or {}).get("context") or {}
        if known.get("properties_settled"):  # the run's knowledge when it judged: the replay judges with it too
            run.properties_settled = PropertiesMode(known["properties_settled"])
            run.properties_evidence = known.get("properties_evidence")
        if known.get("codes_across_did_groups"):
            run.codes_across_did_groups = lambda: known["codes_across_did_groups"]  # type: ignore[method-assign]
        secrets = {"CONFERENCE_USERNAME": args.username, "CONFERENCE_PASSWORD": password,
                   "CONFERENCE_SECOND_USERNAME": args.second_username, "CONFERENCE_SECOND_PASSWORD": second_password}
        replayer = Replayer(run, secrets=secrets, run_prefix=recorded_prefix)
        try:
            reproduced, what = judge(doc, replayer)
        finally:
            replayer.sweep()
    except (TargetUnavailable, requests.ConnectionError) as error:
        print(f"replay: the target could not be reached: {str(error).splitlines()[0][:300]}", file=sys.stderr)
        return UNREACHABLE
    except EvidenceError as error:
        print(f"CANNOT JUDGE [{doc['rule']}]: {error} (neither reproduced nor refuted; try again)")
        return UNREACHABLE
    except (UsageError, UnsafeTargetError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return USAGE
    except Unreplayable as error:
        print(f"CANNOT REPLAY [{doc['rule']}]: {error}")
        return UNREPLAYABLE
    except AssertionError as error:  # a listing that contradicts itself (again and again) while gathering evidence
        if doc["rule"] != "shape.response_conformance":  # evidence that could not be gathered refutes nothing
            print(f"CANNOT JUDGE [{doc['rule']}]: gathering the evidence met another failure: "
                  f"{str(error).splitlines()[0][:300]} (neither reproduced nor refuted)")
            return UNREACHABLE
        reproduced, what = True, str(error).splitlines()[0]
    finally:
        left = target.close()
        if left:
            print(f"replay: WARNING: could not delete rooms {left}", file=sys.stderr)
        for line in target.registry.foreign_warning():  # found, never adopted (ownership): for a human to check
            print(f"replay: {line}", file=sys.stderr)
    print(("REPRODUCED " if reproduced else "NOT REPRODUCED ") + what)
    return REPRODUCED if reproduced else NOT_REPRODUCED


if __name__ == "__main__":
    sys.exit(main())
