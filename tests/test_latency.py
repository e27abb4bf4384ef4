"""Issue 14: fewer requests per verdict and workers by default for a remote target, with the run
still one run (rate limit shared, one wrong-password probe per login, read-backs that prove things)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from meeting_room_contract import actions
from meeting_room_contract.client import UnsafeTargetError
from meeting_room_contract.plugin import xdist as xdist_plugin
from meeting_room_contract.rooms import RoomFactory
from meeting_room_contract.target import Target, TargetSettings


def test_workers_only_where_answers_take_long_enough():
    assert xdist_plugin.remote_workers(None) == 0  # no answer: serial, the preflight says why
    assert xdist_plugin.remote_workers(0.0005) == 0  # loopback: workers cost more CPU than they save
    assert xdist_plugin.remote_workers(0.020, cores=2) == xdist_plugin.REMOTE_WORKERS
    assert xdist_plugin.remote_workers(0.020, cores=8) == 16


def test_each_worker_keeps_to_its_share_of_the_rate_limit():
    config = SimpleNamespace(option=SimpleNamespace(rate_limit=30.0))
    config.getoption = lambda name, default=None: getattr(config.option, name, default)
    xdist_plugin.share_rate_limit(config, 6)
    assert config.option.rate_limit == pytest.approx(5.0)
    unlimited = SimpleNamespace(option=SimpleNamespace(rate_limit=0.0))
    unlimited.getoption = lambda name, default=None: getattr(unlimited.option, name, default)
    xdist_plugin.share_rate_limit(unlimited, 6)
    assert unlimited.option.rate_limit == 0.0


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
    with rooms.reused(label="kept") as second:  # put back with one PUT
        assert second["meeting_room_sid"] == sid and second["name"] == created_name
        actions.send_update(run, client, sid, "PATCH", {"name": "changed again"})
    with rooms.reused(label="kept", free=("name",)) as third:  # the caller overwrites the name: not put back
        assert third["meeting_room_sid"] == sid and third["name"] == "changed again"
    with rooms.reused(label="kept") as outer, rooms.reused(label="kept") as inner:  # one user at a time
        assert outer["meeting_room_sid"] != inner["meeting_room_sid"]
    client.delete_room(sid)
    with rooms.reused(label="kept") as fourth:  # gone: another room is created
        assert fourth["meeting_room_sid"] != sid


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
    assert worker("tpa3om-def", 3).wrong_password("primary")[0] == "qa_user"  # the next run has its own probe


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
