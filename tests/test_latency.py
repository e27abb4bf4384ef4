"""Issue 14: fewer requests per verdict and workers by default for a remote target, with the run
still one run (rate limit shared, one wrong-password probe per login, read-backs that prove things)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from meeting_room_contract import actions, strategies
from meeting_room_contract.registry import UnsafeTargetError
from meeting_room_contract.plugin import xdist as xdist_plugin
from meeting_room_contract.rooms import RoomFactory
from meeting_room_contract.target import Target, TargetSettings
from meeting_room_contract.transport import RateLimiter


def test_workers_by_round_trip_and_cores():
    assert xdist_plugin.remote_workers(None) == 0  # no answer: serial, the preflight says why
    assert xdist_plugin.remote_workers(0.0005, cores=2) == 2  # loopback: CPU-bound, one worker per core
    assert xdist_plugin.remote_workers(0.0005, cores=1) == 0  # ... and serial on one core
    assert xdist_plugin.remote_workers(0.020, cores=2) == xdist_plugin.REMOTE_WORKERS
    assert xdist_plugin.remote_workers(0.020, cores=8) == 16
    assert xdist_plugin.remote_workers(0.080, cores=2) == 2 * xdist_plugin.REMOTE_WORKERS  # another region


def test_each_worker_keeps_to_its_share_of_the_rate_limit():
    config = SimpleNamespace(option=SimpleNamespace(rate_limit=30.0), stash=pytest.Stash())
    config.getoption = lambda name, default=None: getattr(config.option, name, default)
    xdist_plugin.share_rate_limit(config, 6)
    assert config.option.rate_limit == pytest.approx(5.0)
    assert config.stash[xdist_plugin.RUN_RATE] == 30.0  # the whole, for the share that grows
    unlimited = SimpleNamespace(option=SimpleNamespace(rate_limit=0.0), stash=pytest.Stash())
    unlimited.getoption = lambda name, default=None: getattr(unlimited.option, name, default)
    xdist_plugin.share_rate_limit(unlimited, 6)
    assert unlimited.option.rate_limit == 0.0


def test_a_workers_share_of_the_rate_limit_grows_as_the_others_finish(tmp_path):
    """R8-3: with a static 1/N share the last tests of a run crawled (12 workers at 1.67 requests/s each
    under --rate-limit 20). The workers still testing share the whole rate; a worker that finished (its
    `done` file) no longer counts, one that died without it still does (never above the limit)."""
    sharers = xdist_plugin.WorkersStillTesting(tmp_path, "t8run-abc", 4, fresh_for_s=0)
    limiter = RateLimiter(20.0, sharers)
    assert sharers() == 4 and limiter.interval == pytest.approx(4 / 20)
    (tmp_path / "t8run-abc.done.101").touch()
    (tmp_path / "t8run-abc.done.102").touch()
    (tmp_path / "t0other-abc.done.103").touch()  # another run's
    assert sharers() == 2 and limiter.interval == pytest.approx(2 / 20)
    for pid in (104, 105, 106):
        (tmp_path / f"t8run-abc.done.{pid}").touch()
    assert sharers() == 1  # never less than this process
    assert RateLimiter(0, sharers).interval == 0.0


def test_a_rate_limit_caps_the_default_workers():
    """More workers than the rate keeps busy only wait for their share (and each costs a start)."""
    assert xdist_plugin.rate_limited_workers(20, 0.053) == 3
    assert xdist_plugin.rate_limited_workers(1, 0.020) == 2
    assert xdist_plugin.rate_limited_workers(200, 0.080) == 32  # above the default: the default stands


def test_the_last_read_stands_for_a_get_only_until_something_goes_to_the_room(make_run):
    run = make_run()
    client, second = run.target.client("primary"), run.target.client("second")
    room = RoomFactory(run, client).create(label="lastread")
    sid = room["meeting_room_sid"]
    registry = client.registry
    assert registry.last_read(sid, client) is None  # the POST answer is no read
    client.get_room(sid)
    assert registry.last_read(sid, client)["meeting_room_sid"] == sid
    assert registry.last_read(sid, second) is None  # only for the room's owner
    second.get_room(sid)  # another account's read (404) changes nothing
    assert registry.last_read(sid, client) is not None
    second.request("PATCH", client.room_path(sid), json_body={"name": "x"})  # refused, but it went to the room
    assert registry.last_read(sid, client) is None
    client.get_room(sid)
    client.patch_room(sid, {})
    assert registry.last_read(sid, client) is None
    sent_before = run.target.counter.value
    before, response, _ = actions.send_update(run, client, sid, "PATCH", {})
    assert run.target.counter.value - sent_before == 4  # GET before, PATCH, GET after and the list item
    sent_before = run.target.counter.value
    again, response, _ = actions.send_update(run, client, sid, "PATCH", {})
    assert run.target.counter.value - sent_before == 3  # the read-back of the first PATCH is the room before
    assert again == registry.last_read(sid, client) or again["meeting_room_sid"] == sid


def test_a_kept_room_is_handed_out_as_created(make_run):
    run = make_run()
    client = run.target.client("primary")
    rooms = RoomFactory(run, client)
    with rooms.reused(label="kept") as first:
        sid = first["meeting_room_sid"]
        created_name = first["name"]
        actions.send_update(run, client, sid, "PATCH", {"name": "changed by a test"})
    rooms.put_backs_done()
    with rooms.reused(label="kept", free=("name",)) as second:  # put back with one PUT (in the background)
        assert second["meeting_room_sid"] == sid and second["name"] == created_name
        actions.send_update(run, client, sid, "PATCH", {"name": "changed again"})  # in a field it frees: kept so
    rooms.put_backs_done()
    with rooms.reused(label="kept", free=("name",)) as third:  # the caller overwrites the name: not put back
        assert third["meeting_room_sid"] == sid and third["name"] == "changed again"
    with rooms.reused(label="kept") as outer, rooms.reused(label="kept") as inner:  # one user at a time
        assert outer["meeting_room_sid"] != inner["meeting_room_sid"]
    client.delete_room(sid)
    with rooms.reused(label="kept") as fourth:  # gone: another room is created
        assert fourth["meeting_room_sid"] != sid


def test_a_kept_room_is_put_back_while_the_next_user_works_unless_it_held_codes(make_run):
    """A room that drifted in a field without unique values is put back in the background: its next
    user meanwhile gets a second room, every room is handed out as created, and once the put-back is
    done the room is handed out without a request. A drift in access codes is put back by the next
    user, before it sends anything (a background put-back that frees a code could meet a request
    asking for it: a 409 that no room explains once looked into)."""
    run = make_run()
    client = run.target.client("primary")
    rooms = RoomFactory(run, client)
    with rooms.reused(label="kept") as first:
        sid, created = first["meeting_room_sid"], dict(first)
        actions.send_update(run, client, sid, "PATCH", {"name": "changed by a test"})
    entry = rooms._kept[(id(client), "kept")][0]
    assert entry.restoring is not None  # started when the test let the room go
    with rooms.reused(label="kept") as second:
        assert second["name"] == created["name"] if second["meeting_room_sid"] == sid else second["meeting_room_sid"] != sid
    rooms.put_backs_done()
    sent = run.target.counter.value
    with rooms.reused(label="kept") as again:  # a ready room, as read by its put-back: no request
        assert run.target.counter.value == sent
        assert again["name"] in (created["name"], second["name"])
        sid = again["meeting_room_sid"]
        actions.send_update(run, client, sid, "PATCH", {"access_codes": strategies.fresh_access_codes(run, 1)})
    held = next(e for e in rooms._kept[(id(client), "kept")] if e.sid == sid)
    assert held.restoring is None  # codes drifted: its next user puts it back
    with rooms.reused(label="solo", free=("access_codes",)) as taken:  # a user that overwrites the codes itself
        actions.send_update(run, client, taken["meeting_room_sid"], "PATCH",
                            {"access_codes": strategies.fresh_access_codes(run, 1), "name": "and a name"})
    assert rooms._kept[(id(client), "solo")][0].restoring is None  # its PUT would put the codes back too: not now
    rooms.close()


def test_a_background_put_back_is_in_the_story_of_the_rooms_next_use(make_run):
    """A kept room put back in the background: its PUT is a step of the story, before the room's next
    use, so that a replay restores the room as the run did. Without it a replay applied every earlier
    example's changes to the room and none of the put-backs between them (review of CI: the failing
    PATCH of `rejected_patch_partially_applied` found the room already changed and did not reproduce)."""
    run = make_run()
    client = run.target.client("primary")
    rooms = RoomFactory(run, client)
    with rooms.reused(label="kept") as room:
        sid = room["meeting_room_sid"]
        actions.send_update(run, client, sid, "PATCH", {"name": "changed by a test"})
    rooms.put_backs_done()
    assert rooms._kept[(id(client), "kept")][0].restoring.result() is not None  # it was put back
    steps = [step for _, step in run.target.registry.stories.steps]
    put_back = [index for index, step in enumerate(steps) if step.method == "PUT" and step.room == sid]
    assert put_back, [(step.method, step.path) for step in steps]
    change = max(index for index, step in enumerate(steps) if step.method == "PATCH" and step.room == sid)
    assert put_back[0] > change  # after the change it undoes
    rooms.close()


def test_one_wrong_password_probe_per_login_and_run_across_workers(tmp_path):
    settings = TargetSettings(base_url="https://staging.invalid/conference/v2", username="qa_user", password="secret")

    def worker(run_id: str, pid: int) -> Target:  # an xdist worker: its own Target, the run's state dir
        target = Target(settings, run_id=run_id)
        target.registry.attach_journal(SimpleNamespace(path=tmp_path / "journal" / f"{run_id}.{pid}.jsonl"))
        return target

    (tmp_path / "journal").mkdir()
    first, second = worker("tpa3om-abc", 1), worker("tpa3om-abc", 2)
    assert first.wrong_password("primary")[0] == "qa_user"
    with pytest.raises(UnsafeTargetError, match="another worker"):
        second.wrong_password("primary")
    with pytest.raises(UnsafeTargetError):
        first.wrong_password("primary")
    from meeting_room_contract.target import ProbeNotDue

    with pytest.raises(ProbeNotDue, match="wrong-password-window"):  # the next run, within the login's window
        worker("tpa3om-def", 3).wrong_password("primary")
    settings = TargetSettings(base_url=settings.base_url, username="qa_user", password="secret", wrong_password_window_s=0)
    assert worker("tpa3om-ghi", 4).wrong_password("primary")[0] == "qa_user"  # no window: the next run has its own probe


def test_a_conflict_with_a_room_another_worker_deleted_is_still_proven(tmp_path):
    from meeting_room_contract import spec
    from meeting_room_contract.model import Model
    from meeting_room_contract.worker_codes import WorkerCodes

    model = Model(spec.default())
    mine, other = WorkerCodes(tmp_path, "tpa3om-abc", model), WorkerCodes(tmp_path, "tpa3om-abc", model)
    other.path = tmp_path / "tpa3om-abc.codes.other-worker"
    other.sent("POST", "/meeting_rooms", '{"name": "x", "access_codes": [{"access_code": "000000", "role": "host"}], '
                                         '"did_group_sid": null}')
    mine.sent("PATCH", "/meeting_rooms/abc", '{"access_codes": [{"access_code": "111111", "role": "host"}]}')
    candidate = {"access_codes": [{"access_code": "000000", "role": "host"}, {"access_code": "111111", "role": "host"}],
                 "did_group_sid": None}
    holders = mine.holders(candidate, set())
    assert [h["codes"] for h in holders] == [["000000"]]  # its own codes are no other worker's
    assert holders[0]["same_scope"] and holders[0]["other_worker"]
    assert mine.holders(candidate, {"000000"}) == []  # a listed room holds it: nothing to add
    assert WorkerCodes(tmp_path, "tpa3om-def", model).holders(candidate, set()) == []  # another run's workers: nothing


def test_another_workers_codes_are_read_incrementally_whole_lines_only(tmp_path):
    """A lookup reads each other worker's notes from where the previous one stopped (not the whole file
    again): new whole lines count, a line still being written counts once it is whole, old notes go."""
    import json as json_module

    from meeting_room_contract import spec
    from meeting_room_contract import worker_codes
    from meeting_room_contract.model import Model

    mine = worker_codes.WorkerCodes(tmp_path, "tpa3om-abc", Model(spec.default()))
    notes = tmp_path / "tpa3om-abc.codes.other-worker"
    now = time.time()
    notes.write_text(json_module.dumps([now - 2 * worker_codes.RECENT_S, "old", None]) + "\n"
                     + json_module.dumps([now, "111111", None]) + "\n")
    assert set(mine.recent()) == {"111111"}
    whole, partial = json_module.dumps([now, "222222", None]) + "\n", json_module.dumps([now, "333333", None])
    with open(notes, "a", encoding="utf-8") as out:
        out.write(whole + partial[:10])
    assert set(mine.recent()) == {"111111", "222222"}
    with open(notes, "a", encoding="utf-8") as out:
        out.write(partial[10:] + "\n")
    assert set(mine.recent()) == {"111111", "222222", "333333"}
    assert mine._read[notes][0] == notes.stat().st_size  # nothing is read twice


def test_workers_draw_disjoint_access_codes():
    """Each worker knows only the codes it holds: fresh and drawn codes are split by worker, so no
    worker's room can hold a code another worker draws as free."""
    from meeting_room_contract.run import CodeBook
    from meeting_room_contract.strategies import fresh_value

    books = [CodeBook(partition=(index, 6)) for index in range(6)]
    drawn = [{fresh_value(r"^\d{6}$", book.in_share) for _ in range(200)} for book in books]
    assert all(len(code) == 6 and code.isdigit() for codes in drawn for code in codes)
    assert all(not (drawn[a] & drawn[b]) for a in range(6) for b in range(a + 1, 6))
    for value in ("000000", "007", "999999", "123456", "0", "0000123456789"):
        moved = [book.to_share(value) for book in books]
        assert all(len(m) == len(value) and book.in_share(m) for m, book in zip(moved, books))
        assert len(set(moved)) == 6
    assert books[3].to_share("007").startswith("00")  # only the last digit moves: the form stays
    assert books[3].to_share("12a") == "12a" and CodeBook().to_share("123456") == "123456"


def test_workers_build_no_same_room_name():
    """A room is found again by its name after a gateway lost its POST's answer: no two workers of a
    run may build the same name."""
    from meeting_room_contract.registry import RoomRegistry

    names = []
    for index in range(6):
        registry = RoomRegistry("tpa000-abc", "contract-test")
        registry.worker_share = (index, 6)
        names += [registry.room_name("holder", serial) for serial in range(1, 50)]
    assert len(names) == len(set(names))
    assert RoomRegistry("tpa000-abc", "contract-test").room_name("holder", 7) == "contract-test-tpa000-abc holder 7"


def test_a_quiet_moment_holds_the_other_workers_back(tmp_path):
    import threading
    import time

    from meeting_room_contract.registry import RoomRegistry

    holder, other = RoomRegistry("r", "p"), RoomRegistry("r", "p")
    holder.quiet_path = other.quiet_path = tmp_path / "r.quiet"
    sent: list[float] = []

    def other_worker() -> None:
        time.sleep(0.1)
        other.wait_for_quiet()
        sent.append(time.monotonic())

    thread = threading.Thread(target=other_worker)
    thread.start()
    with holder.quiet(settle_s=0.5):
        holder.wait_for_quiet()  # the holder itself is not held back
        ended = time.monotonic()
    thread.join()
    assert sent and sent[0] >= ended and not holder.quiet_path.exists()
    RoomRegistry("r", "p").wait_for_quiet()  # serial: no quiet file, nothing waits


def test_a_json_body_sent_by_schemathesis_is_noted_for_the_other_workers(make_run, tmp_path):
    """schemathesis's cases go out as `json=` (not `data=`): their codes must reach the other workers,
    or a 409 one of them causes on another worker reads as an unexplained refusal (seen with -n 4)."""
    from meeting_room_contract import spec
    from meeting_room_contract.model import Model
    from meeting_room_contract.worker_codes import WorkerCodes

    model = Model(spec.default())
    run = make_run()
    client = run.target.client("primary")
    sid = RoomFactory(run, client).create(label="jsonbody")["meeting_room_sid"]
    mine, other = WorkerCodes(tmp_path, "tpa3om-abc", model), WorkerCodes(tmp_path, "tpa3om-abc", model)
    other.path = tmp_path / "tpa3om-abc.codes.other-worker"
    client.registry.on_send = other.sent
    try:
        client.send("PATCH", client.room_path(sid), json={"access_codes": [{"access_code": "0", "role": "host"}]})
    finally:
        client.registry.on_send = None
    candidate = {"access_codes": [{"access_code": "0", "role": "host"}], "did_group_sid": None}
    assert [holder["codes"] for holder in mine.holders(candidate, set())] == [["0"]]


def _xdist_config(**options):
    defaults = dict(numprocesses=None, dist="no", maxschedchunk=None, collectonly=False, usepdb=False,
                    base_url=None, mock_fault=None, mock_variant=None)
    config = SimpleNamespace(option=SimpleNamespace(**{**defaults, **options}), args=["contracts"], stash={})
    config.getoption = lambda name, default=None: getattr(config.option, name, default)
    return config


def test_workers_take_two_tests_at_a_time_unless_the_user_chose():
    """With the long tests first, `-n N` without `--dist` hands out two tests at a time (xdist's
    default `load` gave the first worker every long test: 60 s instead of 32 s with -n 4 at 20 ms)."""
    given = _xdist_config(numprocesses=4)
    xdist_plugin.choose_workers(given)
    assert (given.option.dist, given.option.maxschedchunk) == ("load", 2)
    chosen = _xdist_config(numprocesses=4, dist="worksteal")
    xdist_plugin.choose_workers(chosen)
    assert (chosen.option.dist, chosen.option.maxschedchunk) == ("worksteal", None)
    serial = _xdist_config(numprocesses=0)
    xdist_plugin.choose_workers(serial)
    assert serial.option.dist == "no"
    embedded = _xdist_config()  # no --base-url: the embedded mock, serial
    xdist_plugin.choose_workers(embedded)
    assert (embedded.option.numprocesses, embedded.option.dist) == (None, "no")


def test_a_worker_trusts_the_spec_its_controller_checked_only_if_it_is_the_same_file(tmp_path):
    from meeting_room_contract import spec

    copy = tmp_path / "api.yaml"
    copy.write_text(spec.DEFAULT_SPEC_PATH.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    checked = spec.checked(copy)
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.3\ninfo: {}\npaths: {}\n", encoding="utf-8")
    with pytest.raises(ValueError):
        spec.checked(broken, checked_sha256=checked.sha256)  # another file's hash: checked in full
    assert spec.checked(copy, checked_sha256=checked.sha256).sha256 == checked.sha256


def test_the_session_reads_proxy_settings_from_the_environment_once_per_origin(monkeypatch):
    from meeting_room_contract.transport import PoliteSession

    session = PoliteSession(5.0)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    first = session.merge_environment_settings("https://staging.example/conference/v2/meeting_rooms", {}, None, None, None)
    assert first["proxies"].get("https") == "http://proxy.example:3128"  # as requests itself would
    first["proxies"]["https"] = "changed by a caller"
    again = session.merge_environment_settings("https://staging.example/conference/v2/meeting_rooms/x", {}, None, None, None)
    assert again["proxies"].get("https") == "http://proxy.example:3128"  # a copy each time


def test_a_cold_start_is_measured_warm_and_a_silent_target_counts_as_remote():
    """A probe that gets no answer in time (a cold start): the next probes meet the target awake and
    measure it (a remote one gets workers, not a serial run: a review saw a 5 s cold start run serially,
    302 s instead of ~90 s; a loopback one that woke up slowly is near: not 12 workers on 2 cores). A
    target that never answers is waited for twice at most (the second time as long as --request-timeout):
    silent, one line at once; a target slower than a probe's wait but within the second is slow, no mistake."""
    from .stubs import Stub

    server = Stub([(401, {}, b"", 0.6), (401, {}, b"", 0.02)])  # a cold first answer, then quick ones
    try:
        round_trip = xdist_plugin.measure_round_trip(server.base_url, 0.3)
    finally:
        server.stop()
    assert 0.02 <= round_trip < 0.3 and len(server.seen) == xdist_plugin.PROBES
    assert xdist_plugin.remote_workers(round_trip) > 0  # 20 ms: remote, workers
    silent = Stub([(401, {}, b"", 2.0)])
    try:
        started = time.monotonic()
        with pytest.raises(xdist_plugin.SilentTarget):  # twice no answer: the caller's one line
            xdist_plugin.measure_round_trip(silent.base_url, 0.3)
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        with pytest.raises(xdist_plugin.SilentTarget):  # the second probe waits `then` (all of --request-timeout)
            xdist_plugin.measure_round_trip(silent.base_url, 0.3, then=0.6)
        assert 0.9 <= time.monotonic() - started < 2.0
    finally:
        silent.stop()
    slow = Stub([(401, {}, b"", 0.5)])  # every answer takes 0.5 s: slower than a probe's wait, within `then`
    try:
        assert 0.5 <= xdist_plugin.measure_round_trip(slow.base_url, 0.3, then=0.8) < 0.8  # slow is no mistake
    finally:
        slow.stop()
    assert xdist_plugin.remote_workers(0.3) > 0  # a target this slow to answer is remote: workers
    assert xdist_plugin.measure_round_trip("http://127.0.0.1:9/conference/v2", 0.3) is None  # refused: serial at once


def test_body_strategies_are_built_once_per_run_and_context_and_draw_the_same(make_run):
    """Tests draw bodies inside each example: the strategy is built once per run and context (a new
    tree per example costs hypothesis ~6 ms of validation), and the cached tree draws exactly what a
    new one would."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from meeting_room_contract import spec, strategies

    run, other = make_run(), make_run()
    assert strategies.patch_bodies(run, ["g1"]) is strategies.patch_bodies(run, ("g1",))
    assert strategies.patch_bodies(run, ["g1"]) is not strategies.patch_bodies(run, ["g2"])
    assert strategies.put_bodies(run, ["g1"], exclude_codes=frozenset({"123456"})) is not strategies.put_bodies(run, ["g1"])
    assert strategies.patch_bodies(run, ["g1"]) is not strategies.patch_bodies(other, ["g1"])  # per run
    before = strategies.patch_bodies(run, ["g1"])
    run.codes.add(["654321"])
    run.codes.snapshot()  # the codes to avoid changed (before each test): another tree
    assert strategies.patch_bodies(run, ["g1"]) is not before

    def drawn(fresh: bool) -> list[str]:
        seen: list[str] = []

        @settings(max_examples=30, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.data())
        def draw(data):
            ctx = strategies._context(run, ["g1"], False, frozenset())
            new = strategies._object(strategies._body_schema(run, spec.PATCH_SCHEMA), ctx)
            seen.append(repr(data.draw(new if fresh else strategies.patch_bodies(run, ["g1"]))))

        draw()
        return seen

    assert drawn(fresh=True) == drawn(fresh=False)


def test_cores_are_the_usable_ones_and_a_picked_test_on_a_near_target_runs_serially(monkeypatch, tmp_path):
    """Workers follow the CPUs the run may use (affinity, a cgroup quota), not the host's; a near target
    with a few picked tests (-k, -m, a file or an id) runs serially."""
    monkeypatch.setattr(xdist_plugin.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(xdist_plugin, "_cgroup_cpu_quota", lambda: None)
    assert xdist_plugin.usable_cores() == 1  # taskset -c 0 on a 2-core host
    assert xdist_plugin.remote_workers(0.0005) == 0  # ... so a near target runs serially
    monkeypatch.setattr(xdist_plugin.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(xdist_plugin, "_cgroup_cpu_quota", lambda: 2)
    assert xdist_plugin.usable_cores() == 2  # a container with a 2-CPU quota on a 64-core host

    def config(args=("contracts",), keyword="", markexpr=""):
        return SimpleNamespace(args=list(args), option=SimpleNamespace(keyword=keyword, markexpr=markexpr))

    assert not xdist_plugin.narrowed_selection(config())
    assert xdist_plugin.narrowed_selection(config(keyword="test_patch"))
    assert xdist_plugin.narrowed_selection(config(markexpr="needs_second_account"))
    assert xdist_plugin.narrowed_selection(config(args=["contracts/test_patch.py"]))
    assert xdist_plugin.narrowed_selection(config(args=["contracts/test_patch.py::test_empty_patch_is_accepted_and_changes_nothing"]))


def test_the_run_records_the_workers_it_started_also_when_interrupted():
    """The summary's `workers` (and `contract_workers`) say how the run ran: the workers started, also
    when an interrupt kept them from reporting back; 0 for a serial run."""
    from meeting_room_contract.plugin.session import _workers_started

    def config(**option):
        return SimpleNamespace(option=SimpleNamespace(**option))

    assert _workers_started(config(numprocesses=2, dist="load"), reported=0) == 2  # interrupted: none reported
    assert _workers_started(config(numprocesses=6, dist="load"), reported=6) == 6
    assert _workers_started(config(numprocesses=0, dist="no"), reported=0) == 0
    assert _workers_started(config(), reported=0) == 0  # no xdist


def test_the_list_item_is_read_back_for_the_first_accepted_updates_of_a_test(make_run):
    """`--list-readbacks N`: the list item is read after the first N accepted updates of each test (the GET
    by sid after every one); a new test starts again; None reads every one (the nightly)."""
    run = make_run()
    client = run.target.client("primary")
    sid = RoomFactory(run, client).create(label="listed")["meeting_room_sid"]
    run.list_readbacks = 2
    run.recorder.current_test = "contracts/test_a.py::test_one"
    actions.read_room(run, client, sid, "the room before")  # the room before the first PATCH (then: each read-back)

    def requests_of(name: str) -> int:
        sent = run.target.counter.value
        actions.send_update(run, client, sid, "PATCH", {"name": name})
        return run.target.counter.value - sent

    assert [requests_of(name) for name in ("one", "two", "three")] == [3, 3, 2]  # PATCH, GET by sid (, the list)
    run.recorder.current_test = "contracts/test_a.py::test_two"
    assert requests_of("four") == 3
    run.list_readbacks = None
    run.recorder.current_test = "contracts/test_a.py::test_one"
    assert requests_of("five") == 3


def test_a_test_that_failed_reads_every_list_item_from_then_on(make_run):
    """Once a test failed, its list read-backs are not capped: hypothesis replays the failing example
    (and shrinks it), and each replay must meet the read path that failed it, or hypothesis would call
    the failure flaky (as if the target had answered differently)."""
    run = make_run(faults=("list_item_stale_after_update",))
    client = run.target.client("primary")
    sid = RoomFactory(run, client).create(label="listed")["meeting_room_sid"]
    run.list_readbacks = 1
    run.recorder.current_test = "contracts/test_a.py::test_one"
    for name in ("one", "two", "three"):  # past the cap of 1, the stale list item is still read, and caught
        with pytest.raises(Exception, match="list"):
            actions.send_update(run, client, sid, "PATCH", {"name": name})


def test_list_readbacks_option():
    from meeting_room_contract.plugin.options import LIST_READBACKS_GATE, list_readbacks_per_test

    def config(value):
        return SimpleNamespace(getoption=lambda name, default=None: value if name == "list_readbacks" else default)

    assert list_readbacks_per_test(config(None), "gate") == LIST_READBACKS_GATE
    assert list_readbacks_per_test(config(None), "nightly") is None
    assert list_readbacks_per_test(config("all"), "gate") is None
    assert list_readbacks_per_test(config("3"), "nightly") == 3
    for wrong in ("0", "-1", "some"):
        with pytest.raises(ValueError, match="--list-readbacks"):
            list_readbacks_per_test(config(wrong), "gate")
