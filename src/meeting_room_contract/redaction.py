"""Credentials that never print, and scrubbing of any text that leaves the run."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field

_KNOWN: dict[str, "Credentials"] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    """A login; the password never shows in repr, logs or reproductions."""

    username: str
    password: str = field(repr=False)
    username_env: str = "CONFERENCE_USERNAME"
    password_env: str = "CONFERENCE_PASSWORD"
    password_option: str = "--password"  # the option a user fixes when this login is refused

    def authorization_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


def remember_credentials(credentials: Credentials) -> None:
    with _LOCK:
        _KNOWN[credentials.authorization_header()] = credentials


def credentials_for_header(value: str) -> Credentials | None:
    with _LOCK:
        return _KNOWN.get(value)


def redact(text: str) -> str:
    """Replace every known password (and its Basic token) in `text`."""
    with _LOCK:
        known = list(_KNOWN.items())
    for header, credentials in known:
        text = text.replace(header.split(" ", 1)[1], "<redacted>")
        if credentials.password:
            text = text.replace(credentials.password, f"${credentials.password_env}")
    return text


class Redactor:
    """Scrubs text that leaves the run (the run's own: `Target.redactor`)."""

    def scrub(self, text: str) -> str:
        return redact(text)
