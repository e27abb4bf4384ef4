"""Hypothesis strategies for meeting-room request bodies.

Two tiers of values:
* *plain* values are ordinary input every conforming server must accept;
* *edge* values (unicode, surrounding whitespace, long or numeric-looking strings) may be
  refused with a 4xx (contract A), but when accepted they must come back exactly as sent.

Access codes end in a per-run random salt so that they do not collide with rooms the suite
does not know on a shared staging deployment; the leading digits are drawn by hypothesis, so
shrinking and deterministic runs still work.
"""

from __future__ import annotations

import secrets
import string
from typing import Any, Sequence

from hypothesis import strategies as st

from . import model

RUN_CODE_SALT = "".join(secrets.choice(string.digits) for _ in range(5))

# [DOC, PROPS] documented call-flow property keys (a subset is enough to exercise merging).
PROPERTY_KEYS = (
    "conference_start_wait", "conference_start_how", "conference_stop_how", "conference_stop_wait",
    "conference_moh", "conference_moh_enabled", "conference_mute_policy", "conference_entrytones_enabled",
    "conference_exittones_enabled", "conference_welcomeprompt_enabled", "did_language", "call_mute_dtmf_binding",
)
# [DOC, PROPS] value forms seen in the docs: numbers as strings, policies, switches, DTMF bindings.
PLAIN_PROPERTY_VALUES = ("360", "0", "hpl", "hp", "on", "off", "*6", "#", "en", "true", "false")

_PLAIN_TEXT = string.ascii_letters + string.digits + " -_."
_UNICODE = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"))


def plain_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,38}[A-Za-z0-9]", fullmatch=True)


def edge_names() -> st.SearchStrategy[str]:
    """Names a server may refuse but must never alter: unicode, padding, long, empty."""
    return st.one_of(
        st.text(_UNICODE, min_size=1, max_size=40),
        st.builds(lambda pad_left, core, pad_right: pad_left + core + pad_right,
                  st.sampled_from([" ", "  ", "\t", ""]), plain_names(), st.sampled_from([" ", "  ", "\t "])),
        st.text(st.sampled_from(_PLAIN_TEXT + "éß漢字🎉"), min_size=101, max_size=300),
        st.sampled_from(["", "0", "007", "1e3", "null", "Zoë's ☎ room", "会議室 🎉", "  spaced  "]),
    )


def names() -> st.SearchStrategy[str]:
    return st.one_of(plain_names(), edge_names())


def plain_property_values() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(PLAIN_PROPERTY_VALUES), st.text(_PLAIN_TEXT, min_size=1, max_size=12))


def edge_property_values() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["007", "-1", "1.50", "1e3", "", " 360 ", "٣٦٠"]), st.text(_UNICODE, max_size=20))


def properties(values: st.SearchStrategy[str] | None = None, max_size: int = 4) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(PROPERTY_KEYS), values if values is not None else plain_property_values(), max_size=max_size)


def access_code_values() -> st.SearchStrategy[str]:
    """6 to 8 digits: 1-3 drawn digits (leading zeros included), then the run's salt."""
    return st.text(string.digits, min_size=1, max_size=3).map(lambda head: head + RUN_CODE_SALT)


def access_codes(max_size: int = 4) -> st.SearchStrategy[list[dict[str, str]]]:
    """A valid access-code list: unique codes, documented roles."""
    entry = st.tuples(access_code_values(), st.sampled_from(model.ROLES))
    return st.lists(entry, max_size=max_size, unique_by=lambda pair: pair[0]).map(
        lambda pairs: [{"access_code": code, "role": role} for code, role in pairs])


def did_group_values(valid_sids: Sequence[str]) -> st.SearchStrategy[str | None]:
    """null, or a DID group of the account (read from the target's DID group list)."""
    return st.one_of(st.none(), st.sampled_from(list(valid_sids))) if valid_sids else st.none()


def field_values(valid_did_groups: Sequence[str], *, edge: bool = True) -> dict[str, st.SearchStrategy[Any]]:
    """One strategy per modifiable field."""
    return {
        "access_codes": access_codes(),
        "properties": properties(st.one_of(plain_property_values(), edge_property_values()) if edge else None),
        "did_group_sid": did_group_values(valid_did_groups),
        "name": names() if edge else plain_names(),
    }


def patch_bodies(valid_did_groups: Sequence[str], *, edge: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the modifiable fields, `{}` included."""
    return st.fixed_dictionaries({}, optional=field_values(valid_did_groups, edge=edge))


def put_bodies(valid_did_groups: Sequence[str], *, edge: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """All four modifiable fields."""
    return st.fixed_dictionaries(field_values(valid_did_groups, edge=edge))


def initial_rooms(valid_did_groups: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Creation bodies (any subset of fields, plain values): the state an update starts from."""
    fields = field_values(valid_did_groups, edge=False)
    fields.pop("name")  # the room factory sets a recognisable name
    return st.fixed_dictionaries({}, optional=fields)


def invalid_field_values() -> st.SearchStrategy[dict[str, Any]]:
    """One modifiable field with a value the contract's value rules reject."""
    not_string = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({}))
    bad_entry = st.one_of(
        st.fixed_dictionaries({"access_code": access_code_values(), "role": st.sampled_from(["admin", "HOST", "", "moderator"])}),
        st.fixed_dictionaries({"access_code": st.sampled_from(["12a4", "", "12 34", "١٢٣٤", "*6"]), "role": st.just("host")}),
        st.fixed_dictionaries({"access_code": st.integers(0, 999999), "role": st.just("host")}),
        st.fixed_dictionaries({"role": st.just("host")}),
        st.fixed_dictionaries({"access_code": access_code_values()}),
    )
    return st.one_of(
        st.fixed_dictionaries({"name": not_string}),
        st.fixed_dictionaries({"properties": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=3), max_size=2),
                                                       st.dictionaries(st.sampled_from(PROPERTY_KEYS), not_string, min_size=1, max_size=2))}),
        st.fixed_dictionaries({"did_group_sid": st.one_of(st.integers(), st.booleans(), st.just([]))}),
        st.fixed_dictionaries({"access_codes": st.one_of(st.text(max_size=4), st.just({}),
                                                         st.lists(bad_entry, min_size=1, max_size=2))}),
    )
