"""textdiff: two strings that differ, explained in one short line: the transformation named when
it is one of the known ones, the code points when they look alike (invisible and whitespace
characters by name), nothing made up for unrelated strings, and a bounded length."""

from __future__ import annotations

import ast
import unicodedata
from pathlib import Path

import pytest

from meeting_room_contract import textdiff
from meeting_room_contract.judges.base import ContractViolation, Failure, field_diff
from meeting_room_contract.textdiff import explain, explain_values, transformation

NAME = "Café Müller Ñandú"
NFD_NAME = unicodedata.normalize("NFD", NAME)
NFC_NAME = unicodedata.normalize("NFC", NAME)


@pytest.mark.parametrize(("expected", "observed", "named"), [
    (NFD_NAME, NFC_NAME, "NFC(expected)"),
    (NFC_NAME, NFD_NAME, "NFD(expected)"),
    ("ﬁle №5", "file No5", "NFKC(expected)"),
    ("ﬁle ①", unicodedata.normalize("NFKD", "ﬁle ①"), "NFKC(expected)"),  # NFKD = NFKC here: the first is named
    ("ﬁancé", unicodedata.normalize("NFKD", "ﬁancé"), "NFKD(expected)"),
    ("Room One", "room one", "expected.lower()"),
    ("Room One", "ROOM ONE", "expected.upper()"),
    ("Straße", "strasse", "expected.casefold()"),
    ("  Room\t", "Room", "without its leading and trailing whitespace (SPACE, TAB)"),
    ("  Room", "Room", "without its leading whitespace (SPACE)"),
    ("Room\u00a0", "Room", "without its trailing whitespace (NO-BREAK SPACE)"),
    ("Conference room 1", "Conference", "truncated to 10 of 17 characters"),
    ("Zoë", "Zo", "truncated to 2 of 3 characters"),
    ("Café Ñ", "Caf? ?", "non-ASCII characters replaced by '?'"),
    ("Zoë 😀", "Zoë ?", "non-Latin-1 characters replaced by '?'"),
    ("Café", "Caf??", "each UTF-8 byte of its non-ASCII characters replaced by '?'"),
    ("Tom & <Jerry>", "Tom &amp; &lt;Jerry&gt;", "HTML-escaped"),
    ("a\u200bb\u2060c\ufeff", "abc", "without its invisible characters (ZERO WIDTH SPACE, WORD JOINER, ZERO WIDTH NO-BREAK SPACE)"),
    ("room 🎉 one 𝔘", "room  one ", "without its 2 astral character(s) (outside the BMP)"),
    ("a\u00a0b\tc", "a b c", "whitespace converted to spaces (NO-BREAK SPACE, TAB -> SPACE)"),
    ("a \t b  c", "a b c", "runs of whitespace collapsed to single spaces"),
])
def test_each_transformation_is_named(expected, observed, named):
    assert named in transformation(expected, observed)
    assert named in explain(expected, observed)


def test_nfc_and_nfd_show_the_code_points_of_each_difference():
    nfc = explain(NFD_NAME, NFC_NAME)
    assert nfc.startswith("observed is NFC(expected); at 3 after 'Caf': U+0065 U+0301 vs U+00E9")
    assert "U+0075 U+0308 vs U+00FC" in nfc and "U+004E U+0303 vs U+00D1" in nfc
    nfd = explain("Café", unicodedata.normalize("NFD", "Café"))
    assert nfd == "observed is NFD(expected); at 3 after 'Caf': U+00E9 vs U+0065 U+0301"
    hangul = explain("회의", unicodedata.normalize("NFD", "회의"))
    assert "NFD(expected)" in hangul and "U+D68C U+C758 vs U+1112 U+116C U+110B U+1174" in hangul


def test_reordered_combining_marks_keep_their_base_character():
    expected = "\u05d1\u05bc\u05b0"  # bet, dagesh, sheva: NFC reorders the marks
    observed = unicodedata.normalize("NFC", expected)
    assert observed != expected
    assert explain(expected, observed) == ("observed is NFC(expected); at 0 (start): U+05D1 U+05BC U+05B0 vs "
                                           "U+05D1 U+05B0 U+05BC")


def test_invisible_characters_are_named():
    why = explain("Room\u200bOne", "RoomOne")
    assert why == ("observed is expected without its invisible characters (ZERO WIDTH SPACE); "
                   "at 4 after '…oom': ⟨U+200B ZERO WIDTH SPACE⟩ vs (nothing)")
    # an invisible character added is not a named transformation, but the code points show it
    assert explain("RoomOne", "Room\u200dOne") == "at 4 after '…oom': (nothing) vs ⟨U+200D ZERO WIDTH JOINER⟩"


def test_whitespace_forms_are_named():
    assert "⟨U+00A0 NO-BREAK SPACE⟩ vs ⟨SPACE⟩" in explain("a\u00a0b", "a b")
    assert "⟨TAB⟩ vs ⟨SPACE⟩" in explain("a\tb", "a b")
    assert "⟨U+3000 IDEOGRAPHIC SPACE⟩ vs ⟨SPACE⟩" in explain("a\u3000b", "a b")
    assert "⟨LF⟩ vs ⟨SPACE⟩" in explain("a\nb", "a b")
    stripped = explain(" Room\u00a0", "Room")
    assert "at 0 (start): ⟨SPACE⟩ vs (nothing)" in stripped and "⟨U+00A0 NO-BREAK SPACE⟩ vs (nothing)" in stripped


@pytest.mark.parametrize(("expected", "observed"), [
    ("Room One", "Board room"), ("host", "listener"), ("123456", "654321"), ("abc", "abd"), ("", "x"),
    ("Café", "Cafe"),  # an accent lost: visible, and no known transformation
])
def test_unrelated_strings_are_not_given_a_name(expected, observed):
    assert transformation(expected, observed) is None
    assert explain(expected, observed) is None  # short and visibly different: their text shows it


def test_equal_strings_and_other_values_are_not_explained():
    assert explain("Room", "Room") is None and transformation("Room", "Room") is None
    assert explain(1, 2) is None and explain(None, "a") is None
    assert explain_values({"a": 1}, {"a": 2}) == []


def test_long_strings_give_a_bounded_line():
    long_nfd = unicodedata.normalize("NFD", "é") * 1000
    why = explain(long_nfd, "é" * 1000)
    assert why.startswith("observed is NFC(expected); ")
    assert len(why) <= len("observed is NFC(expected); ") + textdiff.CODE_POINTS_MAX
    many = "".join(f"{i % 10}é" for i in range(300))
    why = explain(unicodedata.normalize("NFD", many), many)
    assert why.endswith("more") and len(why) <= 240
    unrelated = explain("x" * 5000 + "a" + "y" * 5000, "x" * 5000 + "b" + "y" * 5000)
    assert unrelated == "first difference at character 5000 after '…xxx': 'ayyyyyyyyyyy' vs 'byyyyyyyyyyy'"
    hidden = explain("x" * 3000 + "\u200b" + "y" * 3000, "x" * 3000 + "y" * 3000)
    assert "ZERO WIDTH SPACE" in hidden and len(hidden) <= 300


def test_nested_strings_are_explained_with_their_path():
    expected = {"properties": {"greeting": NFD_NAME}, "access_codes": [{"access_code": "123456", "role": "host"}],
                "name": "x"}
    observed = {"properties": {"greeting": NFC_NAME}, "access_codes": [{"access_code": "123456\u200b", "role": "host"}],
                "name": "y"}
    found = explain_values(expected, observed)
    assert found[0].startswith("properties.greeting: observed is NFC(expected); at 3 after 'Caf': U+0065 U+0301")
    assert found[1].startswith("access_codes[0].access_code: at 6 after '…456': (nothing) vs ⟨U+200B ZERO WIDTH SPACE⟩")
    assert len(found) == 2  # "x" vs "y": nothing to add


def test_the_module_is_pure():
    tree = ast.parse(Path(textdiff.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "difflib", "html", "re", "unicodedata", "typing"}, imported
    assert "open(" not in Path(textdiff.__file__).read_text(encoding="utf-8")


def test_a_violation_for_an_nfd_name_read_back_in_nfc_names_nfc_and_the_code_points():
    failure = Failure("round_trip.exact_values", "PATCH /meeting_rooms/{sid}", "accepted PATCH, room read back",
                      f"name: expected {NFD_NAME!r}, observed {NFC_NAME!r}",
                      expected={"name": NFD_NAME, "properties": {"k": NFD_NAME}},
                      observed={"name": NFC_NAME, "properties": {"k": NFC_NAME}})
    text = str(ContractViolation(failure))
    lines = text.splitlines()
    at = lines.index(f'  + name: "{NFC_NAME}"')
    assert lines[at + 1].startswith("    ≠ observed is NFC(expected); ") and "U+0301" in lines[at + 1]
    assert any(line.startswith("    ≠ observed is NFC(expected)") for line in lines[at + 2:])  # properties.k too
    assert "NFC" in text and "U+0301" in text
    assert field_diff("a", "b") == ['  - (value): "a"', '  + (value): "b"']  # nothing to add to a visible difference
