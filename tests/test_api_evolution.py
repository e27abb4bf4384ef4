"""API evolution: QA edits the spec and nothing else; the unchanged suite follows.

For each change QA would make (`evolution.EVOLUTIONS`: a new integer field with bounds, a new
`role` value, a `maxLength` on `name`, `name` turned read-only) a copy of the spec is written and
the real suite is run with `--spec` on it, over HTTP, against the embedded mock started from the
same spec: it must pass against the correct mock, and fail with a violation of the declared rule
when the mock mishandles the change (a fault keyed to the spec, not to a field name).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meeting_room_contract import evolution, model, spec, strategies
from meeting_room_contract.selfcheck import MatrixEntry, run_entry

CASES = [(evo, kind) for evo in evolution.EVOLUTIONS for kind in ("correct mock", "fault")]
# The passing runs use the dev profile (10 examples per property, deterministic): the point is that
# the suite follows the spec; the gate profile's depth is the fault matrix's business.
PASS_PROFILE = "dev"


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("evolved-specs")


@pytest.mark.parametrize("evo, kind", CASES, ids=[f"{evo.name}:{kind}" for evo, kind in CASES])
def test_suite_follows_the_evolved_spec(evo, kind, spec_dir):
    path = str(evo.write(spec_dir))
    if kind == "correct mock":
        result = run_entry(MatrixEntry("baseline", "correct mock", spec=path), profile=PASS_PROFILE, timeout=600)
        assert result.exit_code == 0, (f"{evo.name}: the suite failed against the correct mock started from the evolved "
                                       f"spec: {result.failed_tests}\n{result.output_tail}")
    else:
        result = run_entry(MatrixEntry("fault", evo.fault, spec=path, rule=evo.rule), timeout=600)
        assert result.caught_by_rule, (f"{evo.name}: fault {evo.fault} was not caught under {evo.rule} (exit "
                                       f"{result.exit_code}, rules that failed: {result.rules_failed}):\n{result.output_tail}")


def test_evolved_specs_are_valid_openapi(spec_dir):
    from openapi_spec_validator import validate

    for evo in evolution.EVOLUTIONS:
        validate(yaml.safe_load(evo.write(spec_dir).read_text(encoding="utf-8")))


def test_model_and_generators_follow_another_spec(spec_dir):
    """In-process: the model and the strategies of a run on an evolved spec see the new field and rules."""
    from types import SimpleNamespace

    from hypothesis import given, settings

    from meeting_room_contract.run import CodeBook

    evolved = spec.checked(evolution.EVOLUTIONS[0].write(spec_dir))
    m = model.Model(evolved)
    run = SimpleNamespace(model=m, spec=evolved, codes=CodeBook(), strategies={})  # what the strategies use of a run
    assert "max_participants" in m.MODIFIABLE_FIELDS and "max_participants" in m.PUT_REQUIRED_FIELDS
    seen: list[dict] = []

    @settings(max_examples=30, derandomize=True, database=None)
    @given(strategies.put_bodies(run, ["g1"]))
    def draw(body):
        assert not m.invalid_value_reasons(body), body
        seen.append(body)

    draw()
    assert {body["max_participants"] for body in seen} - {100}, "the new field is generated, not just defaulted"
    assert all(2 <= body["max_participants"] <= 500 for body in seen)
    assert m.invalid_value_reasons({"max_participants": 501}) and m.invalid_value_reasons({"max_participants": "9"})
    assert "max_participants" not in model.Model(spec.default()).MODIFIABLE_FIELDS
