"""Credentials that never print: redaction by place, never by substring.

The suite never puts a credential into a string it builds (curl reproductions name the
environment variables, messages name the login and the option to fix). Text that comes from
outside (an answer that echoes a header, an exception's text, a URL a user typed) is scrubbed by a
`Redactor` only where a credential can be:

- the value of an `Authorization` header (`Authorization: ...`, `'Authorization': '...'`, JSON),
  when it carries a known login's password or token;
- the Basic token (base64 of `user:password`) of a known login, as a whole base64 word;
- the password part of a URL's userinfo (`https://user:<redacted>@host`);
- a quoted value (JSON or Python repr) that is exactly a known password;
- `login:password` of a known login, as a whole word.

A short or common password (`e`, `check`) therefore neither garbles a message nor shows through
it: the bare password is never replaced as a substring of other text.

The run owns one `Redactor` (it knows every login of the run); nothing here is global.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

REDACTED = "<redacted>"


@dataclass(frozen=True)
class Credentials:
    """A login; the password never shows in repr, logs or reproductions."""

    username: str
    password: str = field(repr=False)
    username_env: str = "CONFERENCE_USERNAME"
    password_env: str = "CONFERENCE_PASSWORD"
    password_option: str = "--password"  # the option a user fixes when this login is refused

    def authorization_header(self) -> str:
        return f"Basic {self.token()}"

    def token(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


# `Authorization` followed by `:` or `=` (a header line, a dict repr, JSON), then its value up to a quote or line end.
_AUTHORIZATION = re.compile(r"""(?i)(\bauthorization\b["']?\s*[:=]\s*["']?)([^"'\r\n]+)""")
_USERINFO = re.compile(r"""\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^/\s@:'"]+):([^/\s@'"]*)@""")
_QUOTED = re.compile(r""""(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'""")
_B64_CHARS = "A-Za-z0-9+/="


class Redactor:
    """The run's secrets, and scrubbing of outside text where a credential can be."""

    def __init__(self, credentials: Iterable[Credentials | None] = ()):
        self._lock = threading.Lock()
        self._credentials: list[Credentials] = []
        self._headers: dict[str, Credentials] | None = None  # Authorization header -> its login (credentials_for_header)
        for item in credentials:
            if item is not None:
                self.add(item)

    def add(self, credentials: Credentials) -> None:
        with self._lock:
            if credentials not in self._credentials:
                self._credentials.append(credentials)
                self._headers = None

    @property
    def credentials(self) -> list[Credentials]:
        with self._lock:
            return list(self._credentials)

    def _passwords(self) -> dict[str, str]:
        """password -> its environment variable (the first login with that password wins)."""
        found: dict[str, str] = {}
        for known in self.credentials:
            if known.password:
                found.setdefault(known.password, known.password_env)
        return found

    # -- building reproductions -------------------------------------------------------------
    def credentials_for_header(self, value: str) -> Credentials | None:
        """The known login whose exact Authorization header this is (asked for every request a story
        records: the headers are computed once per login)."""
        with self._lock:
            headers = self._headers
            if headers is None:
                headers = self._headers = {}
                for known in self._credentials:  # the first login with a header wins, as before
                    headers.setdefault(known.authorization_header(), known)
        return headers.get(value)

    def curl_user(self, username: str, password: str) -> str:
        """`-u` for a Basic login: each part that is a known secret or login as its environment
        variable, the rest as sent (a probe's wrong password is no secret)."""
        password_env = self._passwords().get(password) if password else None
        if password_env is None:
            return "-u " + _single_quote(f"{username}:{password}")
        user_env = next((k.username_env for k in self.credentials if k.username == username), None)
        user_part = f"${user_env}" if user_env else _double_quoted_literal(username)
        return f'-u "{user_part}:${password_env}"'

    # -- scrubbing outside text ---------------------------------------------------------------
    def scrub(self, text: str) -> str:
        known = self.credentials
        if not known or not text:
            return text
        passwords = self._passwords()
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + (REDACTED if self._is_secret_authorization(m.group(2))
                                                          else m.group(2)), text)
        for credential in known:
            if not credential.password:
                continue
            text = re.sub(rf"(?<![{_B64_CHARS}]){re.escape(credential.token())}(?![{_B64_CHARS}])", REDACTED, text)
            text = re.sub(rf"(?<![\w.@-]){re.escape(credential.username)}:{re.escape(credential.password)}(?![\w])",
                          f"{credential.username}:${credential.password_env}", text)
        text = _USERINFO.sub(lambda m: m.group(0) if not m.group(3) else f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
        text = _QUOTED.sub(lambda m: self._quoted(m.group(0), passwords), text)
        return text

    def _is_secret_authorization(self, value: str) -> bool:
        value = value.strip()
        passwords = self._passwords()
        tokens = {k.token() for k in self.credentials if k.password}
        parts = value.split()
        if any(part.strip(",;") in tokens for part in parts):
            return True
        for part in parts:
            decoded = _b64_text(part)
            if decoded is not None and ":" in decoded and decoded.split(":", 1)[1] in passwords:
                return True
        # A malformed header the suite or a server made: hidden only if a password is part of it.
        return any(password in value or password in (_b64_text(p) or "") for password in passwords for p in parts)

    @staticmethod
    def _quoted(token: str, passwords: dict[str, str]) -> str:
        quote, inner = token[0], token[1:-1]
        if quote == '"':
            try:
                inner = json.loads(token)
            except ValueError:
                pass
        if isinstance(inner, str) and inner in passwords:
            return f"{quote}{REDACTED}{quote}"
        return token


def redact(text: str, redactor: Redactor | None) -> str:
    """`redactor.scrub(text)`; text passes unchanged when no redactor is known (nothing to hide)."""
    return redactor.scrub(text) if redactor is not None else text


def scrub_document(value: Any, redactor: Redactor | None) -> Any:
    """A copy of a document (what becomes JSON, Markdown or HTML) with every string scrubbed, at every
    depth, keys included, BEFORE it is serialised: once written, a password echoed inside a recorded
    answer is an escaped substring of a JSON string (`\\"qwerty\\"`) or an HTML entity, where no
    scrubbing by place finds it."""
    if redactor is None or not redactor.credentials:
        return value
    if isinstance(value, str):
        return redactor.scrub(value)
    if isinstance(value, dict):
        return {scrub_document(key, redactor) if isinstance(key, str) else key: scrub_document(item, redactor)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_document(item, redactor) for item in value]
    return value


def redactor_of(thing: Any) -> Redactor | None:
    """The redactor of the client that sent a request (set on the PreparedRequest), or of a response's request."""
    request = getattr(thing, "request", thing)
    found = getattr(request, "contract_redactor", None)
    return found if isinstance(found, Redactor) else None


def _b64_text(part: str) -> str | None:
    try:
        return base64.b64decode(part, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _single_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _double_quoted_literal(text: str) -> str:
    """`text` inside a double-quoted shell word, taken literally."""
    return re.sub(r'([\\"$`])', r"\\\1", text)
