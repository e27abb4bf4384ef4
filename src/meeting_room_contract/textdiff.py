"""Why two strings differ when they look alike: the transformation's name and the code points.

A pure module (standard library only, no I/O) for the places that print an expected and an
observed string: `explain(expected, observed)` is one short line that NAMES what turned one into
the other when it is exactly one known transformation (Unicode normalisation, case, stripping,
truncation, replacement by `?`, HTML escaping, invisible, astral or whitespace characters
removed or converted), and, when the two render alike or differ only in invisible or
whitespace characters, shows the code points of the differing regions with a little context,
invisible and whitespace characters by name (`⟨U+200B ZERO WIDTH SPACE⟩`, `⟨TAB⟩`).

    explain("Cafe\\u0301", "Caf\\u00e9")  # (an NFD name read back in NFC)
    == "observed is NFC(expected); at 3 after 'Caf': U+0065 U+0301 vs U+00E9"
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from typing import Any, Callable

CODE_POINTS_MAX = 200  # characters of the code-point part of an explanation
CONTEXT = 3  # characters shown before a differing region
REGION_MAX = 8  # code points listed per side of one region
COMPARE_MAX = 1000  # longer strings are compared by their common prefix and suffix only (difflib is quadratic)
POSITION_FROM = 40  # unrelated strings at least this long get the position of their first difference
SHORT_NAMES = {"\t": "TAB", "\n": "LF", "\r": "CR", " ": "SPACE"}
_WHITESPACE_RUN = re.compile(r"\s+")


def _is_invisible(char: str) -> bool:
    """A format character (category Cf: zero-width space/joiners, bidi marks, BOM, soft hyphen)."""
    return unicodedata.category(char) == "Cf"


def _is_blank(char: str) -> bool:
    return char.isspace() or _is_invisible(char)


def _to_spaces(text: str) -> str:
    return "".join(" " if char.isspace() else char for char in text)


def _names(chars: str) -> str:
    """`NO-BREAK SPACE, TAB`: the distinct characters of `chars`, by name."""
    return ", ".join(SHORT_NAMES.get(c) or unicodedata.name(c, f"U+{ord(c):04X}") for c in dict.fromkeys(chars))


def _replaced(text: str, keep: Callable[[str], bool], by: str) -> str:
    return "".join(char if keep(char) else by for char in text)


def transformation(expected: str, observed: str) -> str | None:
    """The name of the one known transformation that gives `observed` from `expected`, or None."""
    if expected == observed:
        return None
    for form in ("NFC", "NFD"):
        if unicodedata.normalize(form, expected) == observed:
            return f"observed is {form}(expected)"
    for name in ("lower", "upper", "casefold"):
        if getattr(expected, name)() == observed:
            return f"observed is expected.{name}()"
    leading, trailing = expected[:len(expected) - len(expected.lstrip())], expected[len(expected.rstrip()):]
    for text, where, removed in ((expected.lstrip(), "leading", leading), (expected.rstrip(), "trailing", trailing),
                                 (expected.strip(), "leading and trailing", leading + trailing)):
        if text == observed:
            return f"observed is expected without its {where} whitespace ({_names(removed)})"
    if len(observed) < len(expected) and expected.startswith(observed):
        return f"observed is expected truncated to {len(observed)} of {len(expected)} characters"
    encoded = expected.encode("utf-8")
    if len(observed) < len(encoded) and encoded.startswith(observed.encode("utf-8")):
        return f"observed is expected truncated to {len(observed.encode('utf-8'))} of {len(encoded)} UTF-8 bytes"
    for label, limit in (("non-ASCII", 0x7F), ("non-Latin-1", 0xFF), ("astral (outside the BMP)", 0xFFFF)):
        if not any(ord(char) > limit for char in expected):
            continue
        for by in ("?", "\ufffd"):
            if _replaced(expected, lambda char: ord(char) <= limit, by) == observed:
                return f"observed is expected with {label} characters replaced by {by!r}"
        if "".join("?" * len(c.encode("utf-8")) if ord(c) > limit else c for c in expected) == observed:
            return f"observed is expected with each UTF-8 byte of its {label} characters replaced by '?'"
    if html.escape(expected) == observed or html.escape(expected, quote=False) == observed:
        return "observed is expected HTML-escaped (html.escape)"
    if html.unescape(expected) == observed:
        return "observed is expected HTML-unescaped"
    invisible = "".join(char for char in expected if _is_invisible(char))
    if invisible and "".join(char for char in expected if not _is_invisible(char)) == observed:
        return f"observed is expected without its invisible characters ({_names(invisible)})"
    astral = "".join(char for char in expected if ord(char) > 0xFFFF)
    if astral and "".join(char for char in expected if ord(char) <= 0xFFFF) == observed:
        return f"observed is expected without its {len(astral)} astral character(s) (outside the BMP)"
    unusual = "".join(char for char in expected if char.isspace() and char != " ")
    if unusual and _to_spaces(expected) == observed:
        return f"observed is expected with whitespace converted to spaces ({_names(unusual)} -> SPACE)"
    for collapsed, how in ((_WHITESPACE_RUN.sub(" ", expected), "collapsed to single spaces"),
                           (_WHITESPACE_RUN.sub(" ", expected).strip(), "collapsed to single spaces and stripped")):
        if collapsed == observed:
            return f"observed is expected with runs of whitespace {how}"
    for form in ("NFKC", "NFKD"):  # after the whitespace forms: NFKC also turns a NO-BREAK SPACE into a space
        if unicodedata.normalize(form, expected) == observed:
            return f"observed is {form}(expected)"
    return None


def _alike(expected: str, observed: str) -> bool:
    """The two would render alike: the same after NFKC, without invisible characters and with
    every whitespace character a space."""
    def key(text: str) -> str:
        return _to_spaces("".join(c for c in unicodedata.normalize("NFKC", text) if not _is_invisible(c)))
    return key(expected) == key(observed)


def _regions(expected: str, observed: str) -> list[tuple[int, int, int, int]]:
    """The differing regions (i1, i2, j1, j2), widened so that no combining mark is cut from its base."""
    if len(expected) + len(observed) > 2 * COMPARE_MAX:
        prefix = len(_common_prefix(expected, observed))
        suffix = len(_common_prefix(expected[prefix:][::-1], observed[prefix:][::-1]))
        found = [(prefix, len(expected) - suffix, prefix, len(observed) - suffix)]
    else:
        matcher = difflib.SequenceMatcher(None, expected, observed, autojunk=False)
        found = [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    widened: list[tuple[int, int, int, int]] = []
    for i1, i2, j1, j2 in found:
        while i1 > 0 and j1 > 0 and (_combining_at(expected, i1) or _combining_at(observed, j1)):
            i1, j1 = i1 - 1, j1 - 1
        while i2 < len(expected) and j2 < len(observed) and _combining_at(expected, i2):
            i2, j2 = i2 + 1, j2 + 1
        if widened and i1 <= widened[-1][1]:
            last = widened.pop()
            i1, j1 = last[0], last[2]
        widened.append((i1, i2, j1, j2))
    return widened


def _combining_at(text: str, index: int) -> bool:
    return index < len(text) and unicodedata.combining(text[index]) != 0


def _common_prefix(a: str, b: str) -> str:
    end = 0
    while end < min(len(a), len(b)) and a[end] == b[end]:
        end += 1
    return a[:end]


def char_label(char: str) -> str:
    """`U+00E9`; whitespace and invisible characters by name: `⟨TAB⟩`, `⟨U+200B ZERO WIDTH SPACE⟩`."""
    if char in SHORT_NAMES:
        return f"⟨{SHORT_NAMES[char]}⟩"
    if _is_blank(char):
        return f"⟨U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}⟩"
    return f"U+{ord(char):04X}"


def _side(text: str) -> str:
    if not text:
        return "(nothing)"
    shown = " ".join(char_label(char) for char in text[:REGION_MAX])
    return shown + (f" …(+{len(text) - REGION_MAX})" if len(text) > REGION_MAX else "")


def _context(text: str) -> str:
    """A few characters before a region, whitespace and invisible characters by name."""
    before = text[-CONTEXT:]
    while before and unicodedata.combining(before[0]):
        before = before[1:]
    if not before:
        return "(start)"
    shown = "".join(char if char == " " or not _is_blank(char) else f"⟨U+{ord(char):04X}⟩" for char in before)
    return f"after {shown!r}" if len(before) == len(text) else f"after '…{shown}'"


def code_points(expected: str, observed: str, limit: int = CODE_POINTS_MAX,
                regions: list[tuple[int, int, int, int]] | None = None) -> str | None:
    """`at 3 after 'Caf': U+0065 U+0301 vs U+00E9; …`: the differing regions by code point, at most
    `limit` characters (then `+N more`). None when the strings are equal."""
    if expected == observed:
        return None
    parts: list[str] = []
    regions = _regions(expected, observed) if regions is None else regions
    for number, (i1, i2, j1, j2) in enumerate(regions):
        part = f"at {i1} {_context(expected[:i1])}: {_side(expected[i1:i2])} vs {_side(observed[j1:j2])}"
        if len("; ".join([*parts, part])) + len(f"; +{len(regions)} more") > limit:
            if not parts:  # one long region: cut it
                return part[:limit - 1] + "…"
            return "; ".join(parts) + f"; +{len(regions) - number} more"
        parts.append(part)
    return "; ".join(parts)


def _only_blank(expected: str, observed: str, regions: list[tuple[int, int, int, int]]) -> bool:
    return all(all(_is_blank(c) for c in expected[i1:i2] + observed[j1:j2]) for i1, i2, j1, j2 in regions)


def explain(expected: str, observed: str) -> str | None:
    """One short line on how `observed` differs from `expected` (None when equal, or when the two
    differ visibly, in no known way, and are short: their text shows the difference)."""
    if not isinstance(expected, str) or not isinstance(observed, str) or expected == observed:
        return None
    named = transformation(expected, observed)
    points = None
    regions = _regions(expected, observed)
    if _alike(expected, observed) or _only_blank(expected, observed, regions):
        points = code_points(expected, observed, regions=regions)
    elif named is None and min(len(expected), len(observed)) >= POSITION_FROM:
        i1, _, j1, _ = regions[0]
        points = (f"first difference at character {i1} {_context(expected[:i1])}: "
                  f"{expected[i1:i1 + 12]!r} vs {observed[j1:j1 + 12]!r}")
    if named and points:
        return f"{named}; {points}"
    return named or points


def explain_values(expected: Any, observed: Any, limit: int = 3) -> list[str]:
    """`explain` for every pair of differing strings in two values (nested dicts by key, lists of
    the same length by position), each prefixed with its path (`[0].role: …`); at most `limit`."""
    found: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if len(found) > limit or a == b:
            return
        if isinstance(a, str) and isinstance(b, str):
            why = explain(a, b)
            if why:
                found.append(f"{path}: {why}" if path else why)
        elif isinstance(a, dict) and isinstance(b, dict):
            for key in a:
                if key in b:
                    walk(a[key], b[key], f"{path}.{key}" if path else str(key))
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
            for index, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{index}]")

    walk(expected, observed, "")
    if len(found) > limit:
        return [*found[:limit], f"+{len(found) - limit} more differing string(s)"]
    return found
