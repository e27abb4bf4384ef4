"""Replay a recorded failure against a target and judge it by the same rule.

    python -m meeting_room_contract.replay REPORT_DIR [--failure ID] --base-url URL --username U [--password P]

Reads `REPORT_DIR/failures/<ID>.json` (without --failure: the first failure of the run, the one
the terminal and contract-report.html show first), creates the story's rooms with their exact
bodies, sends its updates and the failing request (steps sent together in the run are sent
together again), gathers the same evidence the suite gathers and judges it with the suite's
pure judges; deletes every room it created. Exit 1: the violation reproduces; 0: it does not;
2: a usage error (one line); 3: the target could not be reached (one line). The password comes
from --password or $CONFERENCE_PASSWORD (the second login's from $CONFERENCE_SECOND_PASSWORD).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Mapping

import requests

from . import actions, spec, stories
from .client import Politeness, TargetUnavailable, UnsafeTargetError
from .judges import answers, updates
from .judges.base import MISSING
from .run import Run
from .stories import SID, Step
from .target import Target, TargetSettings

REPRODUCED, NOT_REPRODUCED, USAGE, UNREACHABLE = 1, 0, 2, 3


class UsageError(Exception):
    pass


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

    def __init__(self, run: Run, out: Any = sys.stdout):
        self.run, self.out = run, out
        self.sids: dict[str, str] = {}
        target = run.target
        self.clients = {"primary": target.client("primary"), "second": target.client("second"),
                        "none": target.client("anonymous"), "header": target.client("anonymous")}

    def mapped(self, text: str) -> str:
        def swap(match: Any) -> str:
            # A sid the story created is the replay's room; any other (a DID group, an account, a 404
            # probe's unknown room) is sent as recorded.
            return self.sids.get(match.group(0), match.group(0))

        return SID.sub(swap, text)

    def client_for(self, step: Step):
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
        body = step.body_bytes()
        data = self.mapped(step.body).encode("utf-8") if step.body is not None else body
        response = client.request(step.method, self.mapped(step.path), data=data, headers=headers)
        if step.method == "POST":
            client.record_if_created(response)
        if step.created:
            try:
                self.sids[step.created] = response.json()[stories.ID_FIELD]
            except (ValueError, KeyError, TypeError):
                pass
        print(f"  {step.method} {step.path.split('?')[0]} -> HTTP {response.status_code} (recorded: {step.status})", file=self.out)
        return response

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
    """Replay the story and judge it by the recorded rule: (reproduced, one line on what was seen)."""
    run, rule = replayer.run, doc["rule"]
    steps = stories.steps_of(doc)
    failing = next((i for i, s in enumerate(steps) if s.role == "failing"), len(steps) - 1)
    step = steps[failing]
    kind = (doc.get("judge") or {}).get("kind")
    if kind == "update" and step.method in ("PATCH", "PUT") and step.room and step.body is not None:
        before_steps = [s for s in steps[:failing] if s.role != "before"]
        replayer.send_all(before_steps)
        client = replayer.client_for(step)
        sid = replayer.mapped(step.room)
        before_answer = client.get_room(sid)
        before = before_answer.json() if before_answer.status_code == 200 else {}
        response = replayer.send(step)
        try:
            body = json.loads(replayer.mapped(step.body))
        except ValueError:
            body = step.body
        evidence = actions.update_evidence(run, client, sid, before, step.method, body, response,
                                           state_rule=(doc.get("judge") or {}).get("state_rule"))
        verdict = updates.judge_update(run.context(), evidence).verdict
        found = [f for f in verdict.failures if f.rule == rule]
        if found:
            return True, f"{found[0].rule} on {found[0].operation}: {found[0].summary}"
        others = "; ".join(f"[{f.rule}] {f.summary}" for f in verdict.failures)
        return False, f"{step.method} answered HTTP {response.status_code}; no {rule} failure" + (f" (other: {others})" if others else "")
    sent = replayer.send_all([s for s in steps if s.role != "before" or s is step])
    position = [s for s in steps if s.role != "before" or s is step].index(step)
    response = sent[position]
    return _judge_answer(run, doc, step, response, replayer)


def _judge_answer(run: Run, doc: dict[str, Any], step: Step, response: requests.Response,
                  replayer: Replayer) -> tuple[bool, str]:
    rule, operation, situation = doc["rule"], doc.get("operation", ""), doc.get("situation", "")
    if rule == "server.never_5xx":
        found = answers.never_5xx(response, operation, situation)
    elif rule == "shape.meeting_room_schema" and step.status == 200:
        found = answers.room_shape(run.context(), response, operation, situation) if response.status_code == 200 else []
    elif rule == "status.error_body_is_json" and 400 <= step.status < 500:
        found = answers.error_body_is_json(response, operation) if 400 <= response.status_code < 500 else []
    else:
        found = None
    if found is not None:
        return bool(found), (f"{rule}: {found[0].summary}" if found else f"HTTP {response.status_code}: no {rule} failure")
    # A failure a test's own logic found: the same answer again (status), still not what the rule expects.
    if response.status_code != step.status:
        return False, f"{step.method} answered HTTP {response.status_code}, the failure was seen with HTTP {step.status}"
    expected = doc.get("expected")
    if isinstance(expected, Mapping) and isinstance(doc.get("observed"), Mapping):
        differing = [k for k in expected if expected.get(k, MISSING) != doc["observed"].get(k, MISSING)]
        try:
            now = response.json()
        except ValueError:
            now = None
        if isinstance(now, Mapping) and differing:
            wanted = json.loads(replayer.mapped(json.dumps(expected)))
            still = [k for k in differing if now.get(k) != wanted.get(k)]
            if not still:
                return False, f"HTTP {response.status_code} as recorded, but {', '.join(differing)} now as the rule expects"
            return True, f"{rule}: HTTP {response.status_code} as recorded; {', '.join(still)} still not as expected"
    return True, f"{rule}: HTTP {response.status_code} as recorded ({doc.get('detail', '')[:160]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meeting_room_contract.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir")
    parser.add_argument("--failure", default=None, help="the failure id (reports/failures/<id>.json); default: the run's first")
    parser.add_argument("--base-url", default=os.environ.get("CONFERENCE_BASE_URL"))
    parser.add_argument("--username", default=os.environ.get("CONFERENCE_USERNAME"))
    parser.add_argument("--password", default=None, help="default: $CONFERENCE_PASSWORD")
    parser.add_argument("--second-username", default=os.environ.get("CONFERENCE_SECOND_USERNAME"))
    parser.add_argument("--second-password", default=None, help="default: $CONFERENCE_SECOND_PASSWORD")
    parser.add_argument("--request-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    password = args.password or os.environ.get("CONFERENCE_PASSWORD")
    second_password = args.second_password or os.environ.get("CONFERENCE_SECOND_PASSWORD")
    try:
        if not args.base_url or not args.username or not password:
            raise UsageError("give --base-url, --username and a password (--password or $CONFERENCE_PASSWORD)")
        if args.second_username and not second_password:
            raise UsageError("--second-username needs a password (--second-password or $CONFERENCE_SECOND_PASSWORD)")
        doc = load_failure(Path(args.report_dir), args.failure)
        recorded_spec = doc.get("target", {}).get("spec")
        api_spec = spec.Spec(recorded_spec) if recorded_spec and Path(recorded_spec).exists() else spec.default()
    except (UsageError, ValueError, OSError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return USAGE
    settings = TargetSettings(base_url=args.base_url, username=args.username, password=password,
                              second_username=args.second_username, second_password=second_password,
                              politeness=Politeness(timeout=args.request_timeout), name_prefix="contract-replay")
    target = Target(settings)
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
        reproduced, what = judge(doc, Replayer(run))
    except (TargetUnavailable, requests.ConnectionError) as error:
        print(f"replay: the target could not be reached: {str(error).splitlines()[0][:300]}", file=sys.stderr)
        return UNREACHABLE
    except (UsageError, UnsafeTargetError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return USAGE
    except AssertionError as error:  # a listing that contradicts itself while gathering evidence
        reproduced, what = doc["rule"] == "shape.response_conformance", str(error).splitlines()[0]
    finally:
        left = target.close()
        if left:
            print(f"replay: WARNING: could not delete rooms {left}", file=sys.stderr)
    print(("REPRODUCED " if reproduced else "NOT REPRODUCED ") + what)
    return REPRODUCED if reproduced else NOT_REPRODUCED


if __name__ == "__main__":
    sys.exit(main())
