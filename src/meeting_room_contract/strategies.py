"""Hypothesis strategies for meeting-room request bodies.

Two tiers of values:
* *plain* values are ordinary input every conforming server must accept: names of plain
  characters, property values in the forms the docs show for that kind of key (the spec's
  `x-value-forms`), 6-digit access codes like the docs' samples;
* *edge* values (unicode, surrounding whitespace, long strings, undocumented property value
  forms, codes of other lengths or with `*`/`#`) may be refused with a 4xx (contract A), but
  when accepted they must come back exactly as sent.

Access codes avoid the codes the target's rooms already hold (`CODES_IN_USE`, read from the
target at the start of the run and extended whenever a refusal is proven by another room).
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any, Sequence

from hypothesis import strategies as st

from . import model, spec

CODES_IN_USE: set[str] = set()
# What generators avoid during one test: a snapshot of CODES_IN_USE taken before each test, so
# that a code learnt in the middle of a test does not change how hypothesis replays an example.
_AVOIDED: frozenset[str] = frozenset()


def refresh_avoided_codes() -> None:
    global _AVOIDED
    _AVOIDED = frozenset(CODES_IN_USE)

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


# -- properties --------------------------------------------------------------------------------------

def _value_forms() -> list[tuple[list[str], str]]:
    """(documented keys, value regex) for each kind of key the spec's `x-value-forms` lists."""
    return [(list(form.get("keys-documented", [])), form["values"]) for form in spec.property_value_forms()]


def property_keys() -> list[str]:
    return [key for keys, _ in _value_forms() for key in keys]


def plain_property_value(key: str) -> st.SearchStrategy[str]:
    """A value in the form the docs show for this kind of key."""
    for form in spec.property_value_forms():
        if re.search(form["keys"], key):
            return st.from_regex(form["values"], fullmatch=True)
    raise KeyError(f"no documented value form for property key {key!r}")


def edge_property_values() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["007", "-1", "1.50", "1e3", "", " 360 ", "٣٦٠", "on", "hplx", "*"]),
                     st.text(_UNICODE, max_size=20))


def properties(*, edge: bool = False, min_size: int = 0, max_size: int = 4) -> st.SearchStrategy[dict[str, str]]:
    """A properties object with documented keys; plain values in their documented form, or (edge)
    sometimes a value of another form."""
    def build(keys: list[str]) -> st.SearchStrategy[dict[str, str]]:
        values = {key: st.one_of(plain_property_value(key), edge_property_values()) if edge else plain_property_value(key)
                  for key in keys}
        return st.fixed_dictionaries(values)

    return st.lists(st.sampled_from(property_keys()), min_size=min_size, max_size=max_size, unique=True).flatmap(build)


# -- access codes ------------------------------------------------------------------------------------

def _not_in_use(code: str) -> bool:
    return code not in _AVOIDED


def access_code_values() -> st.SearchStrategy[str]:
    """6 digits, like the docs' samples, not held by a room of the target."""
    return st.text(string.digits, min_size=6, max_size=6).filter(_not_in_use)


def edge_access_code_values() -> st.SearchStrategy[str]:
    """DTMF codes a server may refuse: other lengths, `*` and `#`."""
    return st.one_of(st.text(string.digits, min_size=1, max_size=5), st.text(string.digits, min_size=7, max_size=12),
                     st.text("0123456789*#", min_size=1, max_size=10).filter(lambda c: "*" in c or "#" in c)
                     ).filter(_not_in_use)


def access_codes(*, edge: bool = False, max_size: int = 4, exclude: frozenset[str] = frozenset()
                 ) -> st.SearchStrategy[list[dict[str, str]]]:
    """An access-code list with unique codes and documented roles (edge: codes of other forms too)."""
    values = st.one_of(access_code_values(), edge_access_code_values()) if edge else access_code_values()
    entry = st.tuples(values.filter(lambda code: code not in exclude), st.sampled_from(model.ROLES))
    return st.lists(entry, max_size=max_size, unique_by=lambda pair: pair[0]).map(
        lambda pairs: [{"access_code": code, "role": role} for code, role in pairs])


def fresh_access_codes(count: int) -> list[dict[str, str]]:
    """`count` 6-digit codes from the OS random source (not hypothesis), not in use, one per role."""
    codes: list[str] = []
    while len(codes) < count:
        code = f"{secrets.randbelow(10**6):06d}"
        if code not in CODES_IN_USE and code not in codes:
            codes.append(code)
    CODES_IN_USE.update(codes)
    return [{"access_code": code, "role": model.ROLES[index % len(model.ROLES)]} for index, code in enumerate(codes)]


# -- bodies ------------------------------------------------------------------------------------------

def did_group_values(valid_sids: Sequence[str]) -> st.SearchStrategy[str | None]:
    """null, or a DID group of the account (read from the target's DID group list)."""
    return st.one_of(st.none(), st.sampled_from(list(valid_sids))) if valid_sids else st.none()


def field_values(valid_did_groups: Sequence[str], *, edge: bool = False,
                 exclude_codes: frozenset[str] = frozenset()) -> dict[str, st.SearchStrategy[Any]]:
    """One strategy per modifiable field."""
    return {
        "access_codes": access_codes(exclude=exclude_codes),
        "properties": properties(edge=edge),
        "did_group_sid": did_group_values(valid_did_groups),
        "name": names() if edge else plain_names(),
    }


def patch_bodies(valid_did_groups: Sequence[str], *, edge: bool = False,
                 exclude_codes: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the modifiable fields, `{}` included."""
    return st.fixed_dictionaries({}, optional=field_values(valid_did_groups, edge=edge, exclude_codes=exclude_codes))


def put_bodies(valid_did_groups: Sequence[str], *, edge: bool = False,
               exclude_codes: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """All four modifiable fields."""
    return st.fixed_dictionaries(field_values(valid_did_groups, edge=edge, exclude_codes=exclude_codes))


def initial_rooms(valid_did_groups: Sequence[str], *, exclude_codes: frozenset[str] = frozenset()
                  ) -> st.SearchStrategy[dict[str, Any]]:
    """Creation bodies (any subset of fields, plain values): the state an update starts from."""
    fields = field_values(valid_did_groups, exclude_codes=exclude_codes)
    fields.pop("name")  # the room factory sets a recognisable name
    return st.fixed_dictionaries({}, optional=fields)


def is_plain_code(code: str) -> bool:
    """6 digits, like the docs' samples: a code every server must accept."""
    return bool(model.PLAIN_CODE.fullmatch(code))


def codes_of(body: dict[str, Any]) -> frozenset[str]:
    return frozenset(entry["access_code"] for entry in body.get("access_codes") or [])


def invalid_field_values() -> st.SearchStrategy[dict[str, Any]]:
    """One modifiable field with a value the contract's value rules reject."""
    not_string = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({}))
    bad_entry = st.one_of(
        st.fixed_dictionaries({"access_code": access_code_values(), "role": st.sampled_from(["admin", "HOST", "", "moderator"])}),
        st.fixed_dictionaries({"access_code": st.sampled_from(["12a4", "", "12 34", "١٢٣٤", "abcdef"]), "role": st.just("host")}),
        st.fixed_dictionaries({"access_code": st.integers(0, 999999), "role": st.just("host")}),
        st.fixed_dictionaries({"role": st.just("host")}),
        st.fixed_dictionaries({"access_code": access_code_values()}),
    )
    return st.one_of(
        st.fixed_dictionaries({"name": not_string}),
        st.fixed_dictionaries({"properties": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=3), max_size=2),
                                                       st.dictionaries(st.sampled_from(property_keys()), not_string,
                                                                       min_size=1, max_size=2))}),
        st.fixed_dictionaries({"did_group_sid": st.one_of(st.integers(), st.booleans(), st.just([]))}),
        st.fixed_dictionaries({"access_codes": st.one_of(st.text(max_size=4), st.just({}),
                                                         st.lists(bad_entry, min_size=1, max_size=2))}),
    )
