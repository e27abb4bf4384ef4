"""Reproductions: a request exactly as it was sent, as a curl command (credentials by place, as
environment variables)."""

from __future__ import annotations

import base64
import binascii
import shlex
from typing import Iterable

import requests

from .redaction import Redactor, redactor_of


# Headers curl sends on its own (Host/Content-Length are computed exactly as requests does).
_CURL_COMPUTED = {"host", "content-length", "authorization"}
_CURL_DEFAULTS = ("User-Agent", "Accept")


def curl_command(request: requests.PreparedRequest, redactor: Redactor | None = None) -> str:
    """The request exactly as sent, as a curl command; credentials appear only as environment variables.

    Built by place: the Authorization header becomes `-u` with the variables of the run's logins
    (`redactor`, by default the one of the client that sent it); nothing is scrubbed afterwards,
    so a short or common password cannot garble the command.

    Every header is shown as sent; a header curl would add on its own but the request lacked is
    removed (`-H 'Content-Type:'`), so curl sends the same request. Bodies that are not UTF-8
    text are piped in through printf.
    """
    method = request.method or "GET"
    parts = ["curl", "--head" if method == "HEAD" else f"-X {method}", shlex.quote(request.url or "")]
    headers = request.headers
    auth = headers.get("Authorization")
    if auth is not None:
        parts.append(_curl_auth(auth, redactor or redactor_of(request)))
    for name, value in headers.items():
        if name.lower() not in _CURL_COMPUTED:
            parts.append("-H " + shlex.quote(f"{name}: {value}" if value else f"{name};"))
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    if body is not None and not isinstance(body, bytes) and hasattr(body, "__bytes__"):
        body = bytes(body)  # a chunked body (transport.Chunked): the whole of it
    if body is None and headers.get("Content-Length") == "0":
        body = b""  # an empty body that was still sent (PUT/PATCH/POST)
    absent = [name for name in _CURL_DEFAULTS if name not in headers]
    if body is not None and "Content-Type" not in headers:
        absent.append("Content-Type")  # else curl sends application/x-www-form-urlencoded
    parts += ["-H " + shlex.quote(f"{name}:") for name in absent]
    if any(token in headers.get("Accept-Encoding", "") for token in ("gzip", "deflate")):
        parts.append("--compressed")  # decode what the header asked for (the header itself is kept)
    command = " ".join(parts)
    if isinstance(body, bytes):
        text = _printable(body)
        if text is not None:
            command += " --data-binary " + shlex.quote(text)
        else:
            escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\0{b:03o}" for b in body)
            command = f"printf %b {shlex.quote(escaped)} | {command} --data-binary @-"
    elif body is not None and not isinstance(body, bytes):  # a generator: sent chunked, content unknown here
        command += " --data-binary '<streamed body, not recorded>'"
    return command


def _curl_auth(value: str, redactor: Redactor | None) -> str:
    """`-u` with environment variables for a configured login (or a probe that pairs a login with
    another login's password); other Basic logins (wrong-password probes) as sent. Without the
    run's redactor nothing of the header is shown."""
    if redactor is None:
        return "-H 'Authorization: <not shown: credentials>'"
    known = redactor.credentials_for_header(value)
    if known is not None:
        return f'-u "${known.username_env}:${known.password_env}"'
    if value.startswith("Basic "):
        try:
            decoded = base64.b64decode(value[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = None
        if decoded is not None and ":" in decoded:
            return redactor.curl_user(*decoded.split(":", 1))
    if redactor.scrub(f"Authorization: {value}") != f"Authorization: {value}":
        return "-H 'Authorization: <redacted: carries a credential>'"
    return "-H " + shlex.quote(f"Authorization: {value}")


def _printable(body: bytes) -> str | None:
    """The body as text when a shell argument can carry it unchanged (UTF-8, no NUL)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def curl_commands(sent: Iterable[requests.PreparedRequest], redactor: Redactor | None = None) -> str:
    """Several requests sent at once (concurrent updates): each command in the background, then `wait`."""
    return "\n".join(f"{curl_command(request, redactor)} &" for request in sent) + "\nwait"

