"""Every room name the suite builds for itself is a plain name of the spec (F1 of review 2).

A server may refuse names it cannot store (e.g. longer than 40 characters); the suite's own
bookkeeping names (preflight, fixtures, factory rooms, generated rooms) must never be such names.
The pattern is read from the spec, never written here.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest

from meeting_room_contract import rooms, spec
from meeting_room_contract.model import Model
from meeting_room_contract.plugin import options
from meeting_room_contract.registry import MAX_LABEL_CHARS, SERIAL_WRAP, RoomRegistry, new_run_id

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PREFIX = "contract-test"
MODEL = Model(spec.default())  # the default spec: its names allow 40 characters


def _labels_in_source() -> set[str]:
    """Every `label=` given to RoomFactory.create/fresh in the suite (plus the default label)."""
    labels = {"room"}
    paths = [ROOT / "conftest.py", *(ROOT / "contracts").glob("*.py"), *(ROOT / "src").rglob("*.py")]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("create", "fresh"):
                labels |= {kw.value.value for kw in node.keywords
                           if kw.arg == "label" and isinstance(kw.value, ast.Constant)}
    return labels


def _all_names(registry: RoomRegistry) -> list[str]:
    serials = [1, 67, SERIAL_WRAP - 1, SERIAL_WRAP * 3 + 12]
    names = [registry.room_name(label, serial) for label in _labels_in_source() for serial in serials]
    return names + [rooms.preflight_name(registry), rooms.generated_name(registry, "f" * 8), registry.longest_room_name()]


def test_the_spec_has_a_plain_pattern_for_names():
    assert rooms.name_schema(MODEL).get("x-plain-pattern"), "the test would prove nothing"
    assert not rooms.is_plain_name(MODEL, "x" * 41) and rooms.is_plain_name(MODEL, "x" * 40)  # the default spec: 40 characters


def test_the_source_labels_are_found():
    assert {"second", "neighbor", "holder", "other"} <= _labels_in_source()


@pytest.mark.parametrize("run_id", [new_run_id(), new_run_id(4_102_444_800)], ids=["now", "year-2100"])
def test_every_bookkeeping_name_is_plain(run_id):
    registry = RoomRegistry(run_id, DEFAULT_PREFIX)
    bad = [name for name in _all_names(registry) if not rooms.is_plain_name(MODEL, name)]
    assert bad == []


def test_every_label_fits():
    assert [label for label in _labels_in_source() if len(label) > MAX_LABEL_CHARS] == []


def test_the_longest_allowed_prefix_still_makes_plain_names():
    longest = max(n for n in range(1, 41) if _prefix_ok("p" * n))
    registry = RoomRegistry(new_run_id(), "p" * longest)
    assert all(rooms.is_plain_name(MODEL, name) for name in _all_names(registry))
    assert len(DEFAULT_PREFIX) <= longest


def _prefix_ok(prefix: str) -> bool:
    try:
        rooms.check_room_prefix(MODEL, prefix)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("prefix,expected", [
    ("p" * 30, "use at most"),
    ("-dash", "x-plain-pattern"),
    ("has space", "without spaces"),
    ("", "non-empty"),
    ("ümlaut", "x-plain-pattern"),
])
def test_a_prefix_that_cannot_make_plain_names_is_an_option_error(prefix, expected):
    with pytest.raises(ValueError) as error:
        rooms.check_room_prefix(MODEL, prefix)
    assert expected in str(error.value) and "--room-prefix" in str(error.value)
    assert "\n" not in str(error.value)
    with pytest.raises(pytest.UsageError) as usage:  # as the plugin checks the options: a usage error, the same line
        options.check_options(_Config(room_prefix=prefix), spec.default())
    assert expected in str(usage.value) and "--room-prefix" in str(usage.value) and "\n" not in str(usage.value)
    options.check_options(_Config(room_prefix=DEFAULT_PREFIX), spec.default())  # the default is fine


class _Config:
    """The options `plugin.options.check_options` reads, at their defaults (no pytest session)."""

    def __init__(self, **changes):
        self.values = dict(base_url=None, username=None, password=None, second_username=None, second_password=None,
                           mock_fault=[], mock_variant=[], request_timeout=15.0, rate_limit=0.0,
                           room_prefix=DEFAULT_PREFIX, hypothesis_profile=None, stop_on_rule=None, max_duration=None)
        self.values.update(changes)
        self.args = ["contracts"]  # a contract run

    def getoption(self, name, default=None):
        return self.values.get(name, default)


def test_run_ids_are_short_unique_and_dated():
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) > 40 and all(len(run_id) <= 11 for run_id in ids)
    started = rooms.run_started(new_run_id())
    assert started is not None and abs(started - time.time()) < 5


def test_run_started_reads_both_forms_and_nothing_else():
    assert rooms.run_started(new_run_id(1_700_000_000)) == 1_700_000_000
    assert rooms.run_started("20200101000000-abcdef") == time.mktime((2020, 1, 1, 0, 0, 0, 0, 0, -1))  # earlier versions
    for word in ("manual", "manual-abc", "zzzzzz-abc", "000001-abc", "room", ""):
        assert rooms.run_started(word) is None, word


def test_the_name_pattern_comes_from_the_run_spec():
    pattern = spec.default().resolved(spec.CREATE_SCHEMA)["properties"]["name"]["x-plain-pattern"]
    assert rooms.name_schema(MODEL)["x-plain-pattern"] == pattern
    assert re.search(pattern, rooms.preflight_name(RoomRegistry(new_run_id(), DEFAULT_PREFIX)))
