"""Issue 16: every failure carries its story; one reading order in the terminal, the page and the summaries."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from meeting_room_contract import stories
from meeting_room_contract.judges import Failure
from meeting_room_contract.stories import Step

ROOT = Path(__file__).resolve().parents[1]
A, B = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"


def _step(method, path, status=200, body=None, created=None, t=0.0):
    return Step(method, path, {"Content-Type": "application/json"} if body is not None else {}, body=body, status=status,
                created=created, user_env="CONFERENCE_USERNAME", password_env="CONFERENCE_PASSWORD", started=t, ended=t + 0.01)


def test_a_story_keeps_the_rooms_creation_updates_failing_request_and_read_back_and_drops_the_rest():
    steps = [_step("POST", "/meeting_rooms", body='{"name": "old"}', created=B, t=0), _step("DELETE", f"/meeting_rooms/{B}", 204, t=1),
             _step("POST", "/meeting_rooms", body='{"name": "x"}', created=A, t=2), _step("PATCH", f"/meeting_rooms/{A}", body='{"name": "y"}', t=3),
             _step("GET", f"/meeting_rooms/{A}", t=4), _step("PATCH", f"/meeting_rooms/{A}", body="{}", t=5),
             _step("GET", f"/meeting_rooms/{A}", t=6)]
    story = stories.select(steps, 5, {})
    assert [(s.method, s.role) for s in story] == [("POST", "create"), ("PATCH", "update"), ("GET", "before"),
                                                   ("PATCH", "failing"), ("GET", "read-back")]
    doc = stories.document(story, Failure("patch.partial_update", "PATCH /meeting_rooms/{sid}", "s", "d"), "t", None, {})
    script = stories.curl_script(stories.steps_of(doc), "http://h/conference/v2")
    assert ('SID1=$(curl -s ' + stories.SHOW_STATUS + ' -X POST "$BASE"/meeting_rooms -u "$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD"'
            in script)
    assert A not in script and '"$SID1"' in script  # the room's sid comes from the POST answer
    assert script.splitlines()[-1].startswith(f'curl -s {stories.SHOW_STATUS} -X DELETE "$BASE"/meeting_rooms/"$SID1"')


def test_the_printed_story_shows_every_answer_and_status_and_still_captures_the_sid():
    """Issue 26 item 5: the curl sequence is evidence to paste into a ticket: each request prints its
    answer and `HTTP <status>` (the POST's through tee, its sid still captured), also a refused POST."""
    import shutil

    from meeting_room_contract.mock import MeetingRoomMock

    if shutil.which("bash") is None or shutil.which("curl") is None:
        pytest.skip("needs bash and curl")
    env = {"CONFERENCE_USERNAME": "conference_user_123", "CONFERENCE_PASSWORD": "qwerty123", "PATH": os.environ["PATH"]}
    steps = [_step("POST", "/meeting_rooms", body='{"name": "story room"}', created=A, t=0),
             _step("PATCH", f"/meeting_rooms/{A}", body='{"name": "patched"}', t=1),
             _step("GET", f"/meeting_rooms/{A}", t=2),
             _step("POST", "/meeting_rooms", 400, body='{"name": 5}', t=3)]
    for step, role in zip(steps, ("create", "failing", "read-back", "update")):
        step.role = role
    steps[0].answer = json.dumps({"meeting_room_sid": A})
    with MeetingRoomMock() as mock:
        script = stories.curl_script(steps, mock.base_url)
        completed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    shown = completed.stdout + completed.stderr
    assert shown.count("HTTP 200") == 3 and "HTTP 204" in shown, shown  # POST, PATCH, GET; the DELETE of $SID1
    assert '"name": "patched"' in shown and '"name": "story room"' in shown
    assert re.search(r"^HTTP 4\d\d$", shown, re.M) and "errors" in shown, shown  # a refusal shows its status and error body


def test_replay_usage_errors_are_one_line_and_exit_2(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "meeting_room_contract.replay", str(tmp_path), "--base-url",
                                "http://127.0.0.1:9/x", "--username", "u", "--password", "p"],
                               capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 2 and len(completed.stderr.strip().splitlines()) == 1, completed.stderr


FIRST_VIOLATION = re.compile(r"^CONTRACT VIOLATION \[([\w.]+)\]", re.M)


@pytest.mark.parametrize("fault,rule", [("patch_resets_omitted_fields", "patch.partial_update"),
                                        ("uniqueness_not_enforced", "uniqueness.across_rooms")])
def test_the_page_and_the_terminal_start_with_the_same_rule(fault, rule, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider", "--mock-fault", fault,
                                "--stop-on-rule", rule, "--report-dir", str(tmp_path)], capture_output=True, text=True,
                               cwd=ROOT, env={**env, "COLUMNS": "80"}, timeout=600)
    out = completed.stdout
    assert completed.returncode == 1, out[-3000:]
    assert "Traceback" not in out and "Failed to reproduce exception" not in out
    terminal_first = FIRST_VIOLATION.search(out)[1]
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    page = (tmp_path / "contract-report.html").read_text()
    page_first = re.search(r'id="group-1"><h3>1\. .*?<span class="rid">([\w.]+)</span>', page)[1]
    assert terminal_first == page_first == summary["failure_groups"][0]["rule"] == rule
    tally = out[out.index("CONTRACT FAILURES, in reading order"):]
    assert tally.splitlines()[1].strip().startswith(f"1. {rule} on ")
    assert f"contract report: {tmp_path}/contract-report.html" in out
    story = summary["failure_groups"][0]["example"]["failure_id"]
    assert (tmp_path / "failures" / f"{story}.json").exists()
    for line in out.splitlines():  # never a rule id cut by the short summary
        if line.startswith("FAILED ") and " - " in line:
            assert re.search(r" - [\w.]+[:]", line) or not line.rstrip().endswith("...") or rule in line


def test_a_mixed_login_is_recorded_as_environment_variables_and_rebuilt_by_the_replay():
    """The wrong-password probe (the primary user with the second login's password) is neither shown
    nor hidden: the story names the two environment variables, the replay sends the same pair."""
    import base64
    import types

    from meeting_room_contract.redaction import Credentials, Redactor
    from meeting_room_contract.replay import Replayer

    redactor = Redactor()
    redactor.add(Credentials("user-one", "secret-one"))
    redactor.add(Credentials("user-two", "secret-two", "CONFERENCE_SECOND_USERNAME", "CONFERENCE_SECOND_PASSWORD"))
    header = "Basic " + base64.b64encode(b"user-one:secret-two").decode()
    step = Step("PATCH", f"/meeting_rooms/{A}", {})
    assert stories._mixed(redactor, header, step)
    assert (step.user_env, step.password_env) == ("CONFERENCE_USERNAME", "CONFERENCE_SECOND_PASSWORD")
    step.login = "mixed"
    assert stories._auth(step) == ' -u "$CONFERENCE_USERNAME:$CONFERENCE_SECOND_PASSWORD"'
    assert "secret" not in json.dumps(stories.asdict(step))
    replayer = Replayer.__new__(Replayer)
    replayer.secrets = {"CONFERENCE_USERNAME": "user-one", "CONFERENCE_SECOND_PASSWORD": "secret-two"}
    replayer.clients = {"none": types.SimpleNamespace()}
    assert replayer.client_for(step) is replayer.clients["none"]


def test_the_replay_keeps_sids_it_did_not_create_and_maps_the_rooms_it_did():
    """A DID group's sid in a body is sent as recorded; a room the story created is the replay's room."""
    from meeting_room_contract.replay import Replayer

    replayer = Replayer.__new__(Replayer)
    replayer.sids, replayer.unknown = {A: "aaaaaaaa-0000-0000-0000-000000000000"}, {}
    replayer.run_prefix, replayer.codes = None, {}
    assert replayer.mapped(f'{{"did_group_sid": "{B}", "room": "{A}"}}') == \
        f'{{"did_group_sid": "{B}", "room": "aaaaaaaa-0000-0000-0000-000000000000"}}'


def test_the_printed_replay_of_an_embedded_mock_failure_runs_as_printed(tmp_path):
    """U-1: after a gate against the embedded mock, the two printed lines (the standalone mock with the
    run's fault, then the replay) reproduce the failure as they stand: no password to find and export
    (`--mock-logins`: the mock's public sample logins), also where a real login is exported (it is
    neither read nor sent)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider", "--mock-fault",
                                "patch_resets_omitted_fields", "--stop-on-rule", "patch.partial_update", "--report-dir",
                                str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    out = completed.stdout
    assert completed.returncode == 1, out[-3000:]
    tally = out[out.index("first failure's story:"):].splitlines()
    mock_line = next(line.strip() for line in tally if line.strip().startswith("python -m meeting_room_contract.mock "))
    replay_line = next(line.strip() for line in tally if line.strip().startswith("python -m meeting_room_contract.replay "))
    assert "--mock-logins" in replay_line and "qwerty" not in out
    with socket.socket() as probe:  # the printed port (8080) may be taken where the tests run
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    mock_args = shlex.split(mock_line.split("&")[0].replace("--port 8080", f"--port {port}"))
    mock = subprocess.Popen([sys.executable, *mock_args[1:]], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in (mock.stdout.readline() if mock.stdout else "")
        exported = {**env, "CONFERENCE_PASSWORD": "a-real-secret", "CONFERENCE_SECOND_USERNAME": "someone-real"}  # R7-2
        replay = subprocess.run([sys.executable, *shlex.split(replay_line.replace(":8080/", f":{port}/"))[1:]],
                                capture_output=True, text=True, cwd=ROOT, env=exported, timeout=120)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    assert replay.returncode == 1 and "REPRODUCED patch.partial_update" in replay.stdout, replay.stdout + replay.stderr


@pytest.mark.parametrize("args,says", [
    (["--base-url", "https://api.carrierx.com/conference/v2", "--username", "conference_user_123"], "on this machine"),
    (["--base-url", "http://127.0.0.1:9/conference/v2", "--username", "conference_user_123", "--password", "x"],
     "drop --password"),
    (["--base-url", "http://[::1]:9/conference/v2", "--username", "someone"], "not a login of the mock"),
])
def test_mock_logins_is_for_the_mocks_logins_on_this_machine_only(args, says, tmp_path):
    """R7-3: `--mock-logins` never sends the mock's sample passwords to a remote target, nor takes a
    password beside them: a usage error in one line (exit 2) before anything is sent."""
    completed = subprocess.run([sys.executable, "-m", "meeting_room_contract.replay", str(tmp_path), *args, "--mock-logins"],
                               capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert completed.returncode == 2 and says in completed.stderr, completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_the_printed_replay_line_names_every_password_it_reads():
    """Issue 26 item 5: a story that used the second login replays with it: the line carries
    --second-username and says which environment variables hold the passwords (the replay read
    $CONFERENCE_SECOND_PASSWORD without a word of it on the line, and ended as a usage error)."""
    step = _step("GET", f"/meeting_rooms/{A}", 404)
    step.login, step.user_env, step.password_env = "second", "CONFERENCE_SECOND_USERNAME", "CONFERENCE_SECOND_PASSWORD"
    doc = stories.document([step], Failure("isolation.accounts", "GET /meeting_rooms/{sid}", "s", "d"), "t", None,
                           {"base_url": "https://staging.example/conference/v2", "embedded_mock": False,
                            "logins": {"primary": "qa-one", "second": "qa-two"}})
    line = stories.replay_command(doc, "reports")
    assert "--username qa-one --second-username qa-two" in line
    assert line.endswith("# reads $CONFERENCE_PASSWORD and $CONFERENCE_SECOND_PASSWORD")
    assert "$CONFERENCE_SECOND_PASSWORD" in stories.story_text(doc, "reports")
    doc["steps"][0]["login"], doc["steps"][0]["user_env"], doc["steps"][0]["password_env"] = \
        "primary", "CONFERENCE_USERNAME", "CONFERENCE_PASSWORD"
    assert stories.replay_command(doc, "reports").endswith("# reads $CONFERENCE_PASSWORD")


def test_a_post_answers_expected_state_is_the_answer_with_the_sent_body_laid_over_it():
    """A state failure read from a POST's own answer (`expected` = the answer with the body laid over
    it): the replay rebuilds `expected` from the fresh answer and the body as it sends it (codes and
    names mapped), not from the recorded value, whose access codes it cannot map."""
    from types import SimpleNamespace

    from meeting_room_contract import actions, model, spec

    run = SimpleNamespace(model=model.Model(spec.default()))
    body = {"name": "", "access_codes": [{"access_code": "351569", "role": "host"}]}
    answer = {"access_codes": body["access_codes"], "properties": {}, "did_group_sid": None, "name": None,
              "account_sid": B, "meeting_room_sid": A}
    steps = [Step("POST", "/meeting_rooms", {"Content-Type": "application/json"}, body=json.dumps(body), status=200,
                  answer=json.dumps(answer), created=A, role="failing")]
    failure = Failure("round_trip.exact_values", "POST /meeting_rooms", "s", "d",
                      expected=run.model.comparable({**answer, **body}), observed=run.model.comparable(answer))
    assert actions.evidence_sources(run, steps, failure) == {"observed": {"step": 0, "item": None},
                                                             "expected": {"step": 0, "item": None, "overlay": 0}}
