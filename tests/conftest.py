"""Fixtures of the project's own tests: contract runs on embedded mocks, made and closed here."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from meeting_room_contract import spec
from meeting_room_contract.run import Run
from meeting_room_contract.target import Target, TargetSettings

MakeRun = Callable[..., Run]


@pytest.fixture
def make_run() -> Iterator[MakeRun]:
    """`make_run(faults=(), variants=(), pins=None)`: a Run on its own embedded mock (the default
    spec), closed (rooms deleted, mock stopped) when the test ends."""
    made: list[Run] = []

    def make(faults: tuple[str, ...] = (), variants: tuple[str, ...] = (), pins: dict[str, str] | None = None,
             name_prefix: str = "contract-test") -> Run:
        target = Target(TargetSettings(mock_faults=tuple(faults), mock_variants=tuple(variants), name_prefix=name_prefix),
                        spec_path=str(spec.DEFAULT_SPEC_PATH))
        run = Run(target, spec.default(), pins)
        target.on_response = run.recorder.observe_response
        made.append(run)
        return run

    yield make
    for run in made:
        run.target.close()
