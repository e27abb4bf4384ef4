"""Issue 26 item 7: the plugin (a `pytest11` entry point, loaded by every pytest run of the environment)
is passive outside contract runs: an unrelated project's run keeps its files, reads no spec and sets no
CONFERENCE_* variable; bare `pytest` at the repository root is the contract gate (testpaths)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from meeting_room_contract.selfcheck import PROJECT_ROOT


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}


def test_an_unrelated_project_keeps_its_files_and_environment(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "junit.xml").write_text("keep")
    (tmp_path / "reports" / "report.html").write_text("keep too")
    (tmp_path / "test_other.py").write_text(
        "import os, sys\n"
        "def test_other():\n"
        "    assert not [k for k in os.environ if k.startswith('CONFERENCE_')]\n"
        "    assert 'openapi_spec_validator' not in sys.modules  # no spec validated\n")
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_other.py"],
                               cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["junit.xml", "report.html"]
    assert (tmp_path / "reports" / "junit.xml").read_text() == "keep"
    assert (tmp_path / "reports" / "report.html").read_text() == "keep too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "test_other.py"]  # no state dir, no .hypothesis
    assert "contract" not in output, output
    assert took < 20, took


def test_a_conference_base_url_in_the_environment_does_not_touch_an_unrelated_run(tmp_path):
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_other.py"],
                               cwd=tmp_path, env={**_env(), "CONFERENCE_BASE_URL": "https://staging.example/conference/v2"},
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert not (tmp_path / "reports").exists()


def test_bare_pytest_at_the_root_is_the_contract_gate(tmp_path):
    """testpaths is `contracts`: `pytest` with no path collects the contract suite (and the plugin acts)."""
    completed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                f"--report-dir={tmp_path}"],
                               cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-2000:]
    collected = [line for line in output.splitlines() if "::" in line]
    assert collected and all(line.startswith("contracts/") for line in collected), output[-2000:]
