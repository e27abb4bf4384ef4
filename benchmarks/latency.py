"""The gate against the standalone mock with 0, 20 and 80 ms per answer, with the default concurrency (and serially).

    python benchmarks/latency.py [--latency-ms 0 20 80] [--modes default serial] [--profile gate] [-- PYTEST ARGS]

Each run gets a fresh standalone mock (`python -m meeting_room_contract.mock --latency-ms N`) on a
free loopback port, reached with `--base-url` and the mock's logins as a real deployment would be
(preflight, cleanup, journal included). "serial" passes `-n 0`; "default" passes nothing, so the
run uses whatever concurrency the suite picks for a remote target. Runs use Python's default of
cached bytecode (PYTHONDONTWRITEBYTECODE is dropped for them), as a CI job or a developer's shell has. Requests per gate are the
summary's `requests_sent` (reports/contract-summary.json of the run, xdist workers merged).

The last line is exactly `gate: L s loopback, W s at 20 ms, X s at 80 ms, R requests, C ms CPU per
request` (L, W, X: the default concurrency; R: requests of the default run at the highest latency; C:
the CPU time of the suite's processes — the pytest controller and its xdist workers, user + system,
not the mock — over the requests they sent, the mean of the default runs). "cpu s" is that CPU time
per run: on a shared machine wall time depends on the load, CPU time much less. Exit status 1 if a
run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meeting_room_contract.selfcheck import PROJECT_ROOT

LOGINS = ["--username", "conference_user_123", "--password", "qwerty123",
          "--second-username", "conference_user_456", "--second-password", "qwerty456"]
MODES = {"serial": ["-n", "0"], "default": []}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_gate(latency_ms: float, extra: list[str], profile: str) -> tuple[float, int, int | None, str, float]:
    """(wall seconds, exit code, requests sent, last line, CPU seconds of the suite's processes) of one
    `pytest contracts` run against a fresh mock (still running while the suite's CPU is read: its own
    CPU is not counted)."""
    mock = subprocess.Popen([sys.executable, "-m", "meeting_room_contract.mock", "--port", "0",
                             "--latency-ms", f"{latency_ms:g}"], stdout=subprocess.PIPE, text=True)
    try:
        base_url = mock.stdout.readline().split("listening on ", 1)[1].strip()
        with tempfile.TemporaryDirectory(prefix="contract-latency-") as scratch:
            report_dir, state_dir = Path(scratch) / "reports", Path(scratch) / "state"
            command = [sys.executable, "-m", "pytest", "contracts", "-p", "no:cacheprovider",
                       "--hypothesis-profile", profile, "--base-url", base_url, *LOGINS,
                       "--report-dir", str(report_dir), "--state-dir", str(state_dir), *extra]
            env = {**os.environ, "CONFERENCE_HYPOTHESIS_PROFILE": profile}
            # Python's default: workers load cached bytecode (~2 s of CPU each instead of ~4 s)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            started, cpu_started = time.monotonic(), _cpu()
            completed = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
            seconds, cpu = time.monotonic() - started, _cpu() - cpu_started
            try:
                summary = json.loads((report_dir / "contract-summary.json").read_text())
                requests_sent = int(summary.get("requests_sent"))
            except (OSError, ValueError, TypeError):
                requests_sent = None
        lines = (completed.stdout + completed.stderr).strip().splitlines()
        if completed.returncode != 0:  # keep what the failing run printed
            log = Path(tempfile.gettempdir()) / f"contract-latency-{latency_ms:g}ms-{int(time.time())}.log"
            log.write_text(completed.stdout + completed.stderr)
            print(f"  (run failed: its output is in {log})", flush=True)
        workers = next((line.split(": ", 1)[1].split(" xdist workers", 1)[0] for line in lines
                        if line.startswith("contract concurrency:")), "-")
        last = lines[-1] if lines else ""
        if extra[:2] == ["-n", "0"] or "-n" not in extra:
            last = f"[workers: {workers if '-n' not in extra else 0}] {last}"
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    return seconds, completed.returncode, requests_sent, last, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0, 80.0])
    parser.add_argument("--modes", nargs="+", default=["default"], choices=list(MODES))
    parser.add_argument("--profile", default="gate")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    results: dict[tuple[float, str], tuple[float, int | None]] = {}
    per_request: list[float] = []  # ms of the suite's CPU per request, default runs
    failed = False
    print(f"{'latency':>8} {'mode':8} {'wall s':>7} {'cpu s':>6} {'requests':>8}  exit  last line")
    for latency in args.latency_ms:
        for mode in args.modes:
            seconds, code, sent, last, cpu = run_gate(latency, MODES[mode] + list(args.pytest_args), args.profile)
            results[(latency, mode)] = (seconds, sent)
            failed |= code != 0
            if mode == "default" and sent:
                per_request.append(1000.0 * cpu / sent)
            print(f"{latency:6g}ms {mode:8} {seconds:7.1f} {cpu:6.1f} {sent if sent is not None else '?':>8}  {code:4}  {last}",
                  flush=True)

    def wall(latency: float) -> str:
        for mode in ("default", "serial"):
            if (latency, mode) in results:
                return f"{results[(latency, mode)][0]:.1f}"
        return "?"

    last_latency = max(args.latency_ms)
    sent = next((results[(last_latency, m)][1] for m in ("default", "serial") if (last_latency, m) in results), None)
    cpu_ms = f"{sum(per_request) / len(per_request):.2f}" if per_request else "?"
    print(f"gate: {wall(0.0)} s loopback, {wall(20.0)} s at 20 ms, {wall(80.0)} s at 80 ms, "
          f"{sent if sent is not None else '?'} requests, {cpu_ms} ms CPU per request")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
