"""Run the contract suite against the mock with one fault or variant: the fault-detection matrix.

Each entry is a real `pytest contracts` run in a subprocess, over HTTP to the embedded mock
started with that behaviour. A fault must make a test fail with a violation of the rule the
fault declares (a failure under another rule, or a fixture error, does not count); the run
stops there (`--stop-on-rule`). Variants (allowed behaviours, slow, rate-limited and flaky
servers) and the correct mock must let the suite pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .mock import FAULTS, VARIANTS
from .mock.behaviours import SPEC_FAULTS, STAGING_VARIANTS
from .rules import RULES

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class MatrixEntry:
    kind: str  # "baseline", "fault" or "variant"
    name: str
    spec: str | None = None  # run the suite and the mock with this spec (`--spec`)
    rule: str | None = None  # the rule a fault must be caught under, when not the fault's own (spec faults)
    paths: tuple[str, ...] = ("contracts",)

    @property
    def must_fail(self) -> bool:
        return self.kind == "fault"

    @property
    def declared_rule(self) -> str | None:
        if self.kind != "fault":
            return None
        return self.rule or {**FAULTS, **SPEC_FAULTS}[self.name].rule

    def pytest_args(self, stop_on_rule: bool = True) -> list[str]:
        args = ["--spec", self.spec] if self.spec else []
        if self.kind == "fault":
            return args + ["--mock-fault", self.name] + (["--stop-on-rule", self.declared_rule] if stop_on_rule else [])
        if self.kind == "variant":
            return args + ["--mock-variant", self.name]
        return args


@dataclass
class MatrixResult:
    entry: MatrixEntry
    exit_code: int
    failed_tests: list[str] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    output_tail: str = ""
    call_failures: list[dict] = field(default_factory=list)
    first_failure: dict | None = None  # the story of the run's first failure (failures/<id>.json)
    replays: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # "fault"/"correct" -> (exit, output, rooms left)

    @property
    def suite_failed(self) -> bool:
        return self.exit_code == 1 and bool(self.failed_tests)

    @property
    def rules_failed(self) -> list[str]:
        """Rules that tests (their calls, not fixtures) failed with, in the order they failed."""
        seen: list[str] = []
        for failure in self.call_failures:
            seen += [rule for rule in failure["rules"] if rule not in seen]
        return seen

    @property
    def caught_by_rule(self) -> bool:
        return self.suite_failed and self.entry.declared_rule in self.rules_failed

    @property
    def as_expected(self) -> bool:
        return self.caught_by_rule if self.entry.must_fail else self.exit_code == 0

    @property
    def verdict(self) -> str:
        if self.entry.must_fail:
            if self.caught_by_rule:
                return "caught"
            return "WRONG RULE" if self.suite_failed else "MISSED"
        return "passed" if self.as_expected else "FALSE ALARM"


def matrix(faults: Iterable[str] | None = None, variants: Iterable[str] | None = None,
           baseline: bool = True) -> list[MatrixEntry]:
    entries = [MatrixEntry("baseline", "correct mock")] if baseline else []
    # the staging variants run over HTTP in tests/test_staging_simulation.py, where the mock's store is
    # checked too (no room left, no colleague's room touched): not again here, with the embedded mock
    chosen = [name for name in VARIANTS if name not in STAGING_VARIANTS] if variants is None else variants
    entries += [MatrixEntry("variant", name) for name in chosen]
    entries += [MatrixEntry("fault", name) for name in (FAULTS if faults is None else faults)]
    return entries


def run_entry(entry: MatrixEntry, *, profile: str = "gate", stop_at_first_failure: bool = True,
              timeout: float = 900, replay: bool = False, keep_reports: Path | None = None) -> MatrixResult:
    """One real run of the contract suite against the embedded mock with the entry's behaviour
    (`keep_reports`: write the run's reports there instead of a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="contract-selfcheck-") as tmp:
        report_dir = Path(tmp) if keep_reports is None else keep_reports
        report_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pytest", *(str(PROJECT_ROOT / path) for path in entry.paths), "-q",
                   "-p", "no:cacheprovider",
                   "-p", "no:randomly", "--hypothesis-profile", profile, "--report-dir", str(report_dir),
                   "--no-contract-strict",  # the matrix asks "violation or not"; a run's completeness is not its question
                   "--junitxml", str(report_dir / "junit.xml"), *entry.pytest_args(stop_at_first_failure)]

        env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
        env["PYTHONHASHSEED"] = "0"
        started = time.monotonic()
        try:
            completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
            exit_code, output = completed.returncode, completed.stdout + completed.stderr
        except subprocess.TimeoutExpired as expired:
            exit_code, output = -1, f"timed out after {timeout} s\n{expired.stdout or ''}"
        seconds = time.monotonic() - started
        summary = _summary(report_dir / "contract-summary.json")
        result = MatrixResult(entry, exit_code, _failed_tests(report_dir / "junit.xml"), seconds,
                              int(summary.get("requests_sent", 0)), "\n".join(output.splitlines()[-60:]),
                              list(summary.get("call_failures", [])))
        if replay and entry.must_fail:
            replay_first_failure(result, report_dir, summary)
        return result


def replay_first_failure(result: MatrixResult, report_dir: Path, summary: dict) -> None:
    """Replay the run's first recorded failure with the replay command, against the standalone mock
    with the entry's fault and against the correct mock (each started for this; rooms counted after)."""
    groups = summary.get("failure_groups", [])
    failure_id = next((g["example"].get("failure_id") for g in groups if g.get("example", {}).get("failure_id")), None)
    path = report_dir / "failures" / f"{failure_id}.json"
    if failure_id is None or not path.exists():
        return
    result.first_failure = json.loads(path.read_text(encoding="utf-8"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
    from .mock import MeetingRoomMock

    accounts = MeetingRoomMock().accounts  # the standalone mock's logins (not started)
    primary, second = accounts[0], accounts[1]
    for which, faults in (("fault", [result.entry.name]), ("correct", [])):
        command = [sys.executable, "-m", "meeting_room_contract.mock", "--port", "0"]
        command += [arg for name in faults for arg in ("--fault", name)] + (["--spec", result.entry.spec] if result.entry.spec else [])
        mock = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            first = mock.stdout.readline() if mock.stdout else ""
            base_url = first.rsplit(" ", 1)[-1].strip()
            replay = [sys.executable, "-m", "meeting_room_contract.replay", str(report_dir), "--failure", failure_id,
                      "--base-url", base_url, "--username", primary.login, "--second-username", second.login]
            completed = subprocess.run(replay, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                                       env={**env, "CONFERENCE_PASSWORD": primary.password,
                                            "CONFERENCE_SECOND_PASSWORD": second.password})
            rooms = sum(len(mock_rooms(base_url, account)) for account in (primary, second))
            result.replays[which] = (completed.returncode, completed.stdout + completed.stderr, rooms)
        finally:
            mock.terminate()
            mock.wait(timeout=10)


def mock_rooms(base_url: str, account) -> list:
    import requests

    answer = requests.get(f"{base_url}/meeting_rooms?limit=1000", auth=(account.login, account.password), timeout=10)
    return answer.json().get("items", [])


def run_matrix(entries: list[MatrixEntry], *, workers: int = 2, **kwargs: object) -> list[MatrixResult]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda entry: run_entry(entry, **kwargs), entries))


def _failed_tests(junit: Path) -> list[str]:
    if not junit.exists():
        return []
    failed = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}")
    return failed


def _summary(path: Path) -> dict:
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def undeclared_rules() -> list[str]:
    """Faults whose declared rule is not in the registry (a bug in the mock's catalogue)."""
    return [name for name, fault in FAULTS.items() if fault.rule not in RULES]
