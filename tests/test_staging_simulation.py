"""A staging deployment is more than the API: the suite against infrastructure and another tester.

Each scenario runs the whole contract suite as a user would (`pytest contracts --base-url ...`, the
default worker choice) against a correct API behind infrastructure: the standalone mock with a
staging variant (a rolling deploy's 503 window with Retry-After, a load balancer's idle closes and a
dropped request, a web application firewall, a colleague creating and deleting rooms in the account
while lists are counted before they are selected, a gateway losing the answers of applied POSTs), all
of them at once, and a real nginx in front of the mock (a 1 s keep-alive timeout, a body size limit,
502 while the upstream restarts). Each must pass (exit 0: no false violation, no could-not-test),
leave no room of the run on the target (checked in the mock's store, not by the suite's word), and
leave every room of the colleague as the colleague left it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from meeting_room_contract.mock import MeetingRoomMock

from .stubs import live_rooms
from meeting_room_contract.mock.behaviours import STAGING_VARIANTS

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "conference_user_123", "qwerty123"
SECOND_USER, SECOND_PASSWORD = "conference_user_456", "qwerty456"


def _run_suite(base_url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    env.update(CONFERENCE_PASSWORD=PASSWORD, CONFERENCE_SECOND_PASSWORD=SECOND_PASSWORD)
    command = [sys.executable, "-m", "pytest", str(ROOT / "contracts"), "-q", "-p", "no:cacheprovider",
               "--base-url", base_url, "--username", USER, "--second-username", SECOND_USER,
               "--report-dir", str(tmp_path / "reports"), "--state-dir", str(tmp_path / "state"), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=900)


def _assert_clean(completed: subprocess.CompletedProcess, mock: MeetingRoomMock, before: set[str]) -> None:
    out = completed.stdout + completed.stderr
    tail = "\n".join(line for line in out.splitlines() if "contract target" in line or "CONTRACT VIOLATION" in line
                     or line.startswith(("FAILED", "ERROR", "COULD NOT", "NOT CHECKED", "ROOMS LEFT")))
    assert completed.returncode == 0, (tail or out[-3000:])[:6000]
    colleague = getattr(mock.api, "colleague", None)
    theirs = set(colleague["rooms"]) if colleague else set()
    left = {sid: room.get("name") for sid, room in live_rooms(mock).items() if sid not in before and sid not in theirs}
    assert not left, f"rooms left on the target: {left}"
    assert PASSWORD not in out and SECOND_PASSWORD not in out
    if colleague:
        assert colleague["touched"] == [], f"the suite changed a colleague's room: {colleague['touched']}"
        live = live_rooms(mock)
        for sid, room in colleague["rooms"].items():
            if sid in colleague["deleted"]:
                continue
            assert sid in live and live[sid] == room, f"the colleague's room {sid} is not as they left it"
        assert len(colleague["rooms"]) >= 20, "the colleague hardly worked: the scenario tested little"


@pytest.mark.parametrize("variants", [*[(name,) for name in STAGING_VARIANTS], STAGING_VARIANTS],
                         ids=[*STAGING_VARIANTS, "all-at-once"])
def test_the_suite_passes_a_correct_api_behind_staging_infrastructure_and_touches_nothing_else(variants, tmp_path):
    with MeetingRoomMock(variants=variants) as mock:
        before = set(live_rooms(mock))
        completed = _run_suite(mock.base_url, tmp_path)
        _assert_clean(completed, mock, before)


# -- a real proxy in front of the mock ----------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 1s;            # idle kept-alive connections are closed after a second
    client_max_body_size 4k;         # a larger body is refused 413 with nginx's HTML page
    upstream api {{ server 127.0.0.1:{upstream}; }}  # a connection per request: a restart refuses them all
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://api;
            proxy_next_upstream off;  # a change is never sent twice by the proxy
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx; .ci/run installs it)")
def test_the_suite_passes_through_nginx_with_idle_closes_a_body_limit_and_an_upstream_restart(tmp_path):
    """nginx in front of the mock: keep-alive connections closed after 1 s idle, bodies over 4 KB refused
    413 (the edge corpus has longer ones: not tested, never a violation), and the upstream restarted
    mid-run (nginx answers 502 for the 2 s it is down; the store survives, as a real backend's database
    does)."""
    upstream = _free_port()
    port = _free_port()
    work = tmp_path / "nginx"
    work.mkdir()
    (work / "nginx.conf").write_text(textwrap.dedent(NGINX_CONF.format(dir=work, upstream=upstream, port=port)))
    mock = MeetingRoomMock(port=upstream).start()
    nginx = subprocess.Popen([NGINX, "-p", str(work), "-c", str(work / "nginx.conf")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def restart_upstream() -> None:
        while mock.requests_served < 600:  # mid-run: the tests are under way (not the preflight, not the workers' start)
            if stop.wait(0.1):
                return
        mock.stop()
        time.sleep(2.0)
        mock.start()

    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        before = set(live_rooms(mock))
        restarter = threading.Thread(target=restart_upstream, daemon=True)
        restarter.start()
        completed = _run_suite(f"http://127.0.0.1:{port}/conference/v2", tmp_path)
        stop.set()
        restarter.join(timeout=10)
        _assert_clean(completed, mock, before)
        assert "connect() failed" in (work / "error.log").read_text(), "nginx never met the upstream down: no 502 tested"
        assert "413" in json.dumps(json.loads((tmp_path / "reports" / "contract-summary.json").read_text())["not_checked"]), \
            "no body met nginx's limit: the scenario did not test it"
    finally:
        stop.set()
        nginx.terminate()
        nginx.wait(timeout=10)
        mock.stop()
