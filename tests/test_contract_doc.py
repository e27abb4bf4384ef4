"""CONTRACT.md and the code name exactly the same rules, behaviours, faults and variants."""

from __future__ import annotations

import re
from pathlib import Path

from meeting_room_contract.mock import FAULTS, VARIANTS
from meeting_room_contract.rules import BEHAVIOURS, RULES

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "CONTRACT.md").read_text(encoding="utf-8")
SECTION = re.compile(r"^### `([a-z_]+\.[a-z_0-9]+)` — ([DA])$(.*?)(?=^### |^## |\Z)", re.M | re.S)
RULE_ID = re.compile(r"""["']([a-z_]+\.[a-z_0-9]+)["']""")


def _sections() -> dict[str, tuple[str, str]]:
    return {match.group(1): (match.group(2), match.group(3)) for match in SECTION.finditer(DOC)}


def _names(section: str, label: str) -> set[str]:
    line = next((line for line in section.splitlines() if line.startswith(label + ":")), "")
    return set(re.findall(r"`([a-z0-9_]+)`", line))


def test_contract_md_lists_exactly_the_registered_rules():
    assert set(_sections()) == set(RULES)


def test_each_rule_is_documented_with_its_kind():
    assert {rule_id: kind for rule_id, (kind, _) in _sections().items()} == {r.id: r.kind.value for r in RULES.values()}


def test_each_rule_lists_exactly_the_faults_and_variants_that_prove_it():
    for rule_id, (_, text) in _sections().items():
        assert _names(text, "Faults") == {n for n, f in FAULTS.items() if f.rule == rule_id}, rule_id
        assert _names(text, "Variants") == {n for n, v in VARIANTS.items() if v.rule == rule_id}, rule_id


def test_every_fault_and_variant_names_a_rule_of_the_registry():
    assert [n for n, f in FAULTS.items() if f.rule not in RULES] == []
    assert [n for n, v in VARIANTS.items() if v.rule not in RULES and v.rule != "resilience"] == []


def test_the_pins_table_lists_exactly_the_behaviours():
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \| `([a-z_.0-9]+)` \|", DOC, re.M)
    documented = {name: (tuple(a.strip() for a in alternatives.split(",")), rule) for name, alternatives, rule in rows}
    assert documented == {b.name: (b.alternatives, b.rule) for b in BEHAVIOURS.values()}


def test_the_code_uses_exactly_the_registered_rule_ids():
    """Every rule-id-like string in the suite is registered, and every registered rule is checked somewhere."""
    sources = [p for p in (ROOT / "src").rglob("*.py") if p.name not in ("rules.py", "behaviours.py")]
    sources += list((ROOT / "contracts").glob("*.py"))
    used: set[str] = set()
    for path in sources:
        used |= {rule_id for rule_id in RULE_ID.findall(path.read_text(encoding="utf-8"))
                 if rule_id.split(".")[0] in {r.split(".")[0] for r in RULES}}
    behaviour_rules = {b.rule for b in BEHAVIOURS.values()}
    assert used - set(RULES) == set()
    assert set(RULES) - used - behaviour_rules == set()
