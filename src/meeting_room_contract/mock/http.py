"""HTTP for the mock: the standard library's threading server, body reading, routing, auth header and JSON parsing, latency."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .semantics import Answer, ApiError, Call, Credentials, GatewayError, Semantics

API_PREFIX = "/conference/v2"
ROOM_PATH = re.compile(r"^/meeting_rooms/([^/]+)$")
ROUTES = {"collection": ("GET", "POST"), "room": ("GET", "PATCH", "PUT", "DELETE"), "did_groups": ("GET",)}
BODY_METHODS = ("POST", "PATCH", "PUT")
MAX_BODY_BYTES = 1 << 20  # a larger body is answered 413
MAX_DRAIN_BYTES = 16 << 20  # an oversized body up to this size is read and dropped, so the client sees the 413
MAX_JSON_DEPTH = 64  # nested arrays/objects
MAX_NUMBER_CHARS = 1000  # digits of a JSON number


# -- parsing the request ---------------------------------------------------------------------------------

def route(path: str) -> tuple[str, str | None]:
    """(route, sid) of a path below the API prefix; ApiError 404 for any other path."""
    if path == "/meeting_rooms":
        return "collection", None
    if path == "/did_groups":
        return "did_groups", None
    match = ROOM_PATH.match(path)
    if match:
        return "room", match.group(1)
    raise ApiError(404, "Not Found")


def credentials(header: str | None) -> Credentials:
    """What an Authorization header says (http.server hands header bytes over as Latin-1 text)."""
    if header is None:
        return Credentials("none")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not header.isascii():
        return Credentials("malformed")
    try:
        login, colon, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return Credentials("malformed")
    return Credentials("basic", login, password) if colon else Credentials("malformed")


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, parameters dropped, in lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def parse_json(text: str) -> Any:
    """A JSON document within the mock's limits; ApiError 400 otherwise (ValueError: not JSON at all)."""
    try:
        value = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except RecursionError:  # deeper than the parser goes
        raise ApiError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _too_deep(value):
        raise ApiError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ApiError(400, f"JSON number longer than {MAX_NUMBER_CHARS} digits")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value):
        raise ApiError(400, f"JSON number out of range: {text[:40]}")
    return value


def _json_constant(name: str) -> Any:
    raise ApiError(400, f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def error_payload(error: ApiError) -> dict[str, Any]:
    """The API's JSON error body."""
    return {"message": error.message,
            "errors": [{"field": error.field_name, "message": error.message, "reference_sid": None}], **error.details}


# -- from request to answer ------------------------------------------------------------------------------

class Front:
    """Turns one HTTP request into the API's answer: hooks around the request, routing, credentials,
    the body, then the semantics."""

    def __init__(self, api: Semantics, hooks: Callable[..., Any]):
        self.api, self.hooks = api, hooks
        self.requests_served = 0
        self._count_lock = threading.Lock()

    def respond(self, method: str, target: str, headers: Any, raw: bytes) -> Answer:
        with self._count_lock:
            self.requests_served += 1
            count = self.requests_served
        call = Call(method, api=self.api)
        early = self.hooks("before_request", None, call, count=count, target=target, raw=raw)
        if early is not None:
            return early
        try:
            answer = self._answer(method, target, headers, raw)
        except GatewayError as error:
            answer = Answer(error.status, f"<html><body><h1>{error.status}</h1></body></html>".encode(),
                            {"Content-Type": "text/html"})
        except ApiError as error:
            answer = Answer(error.status, error_payload(error), dict(error.headers), error)
        return self.hooks("final_answer", answer, call, count=count, target=target, raw=raw)

    def _answer(self, method: str, target: str, headers: Any, raw: bytes) -> Answer:
        url = urlsplit(target)
        if not url.path.startswith(API_PREFIX + "/"):
            raise ApiError(404, "Not Found")
        name, sid = route(url.path[len(API_PREFIX):].rstrip("/") or "/")
        if method not in ROUTES[name]:
            raise ApiError(405, f"Method {method} not allowed", headers={"Allow": ", ".join(ROUTES[name])})
        call = self.api.call(method, name, sid, parse_qs(url.query, keep_blank_values=True))
        self.api.authenticate(call, credentials(headers.get("Authorization")))
        if method in BODY_METHODS:
            chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
            call.body = self.body(call, headers.get("Content-Type") or "", raw, chunked=chunked)
        return self.api.handle(call)

    def body(self, call: Call, content_type: str, raw: bytes, *, chunked: bool = False) -> Any:
        if not raw:
            raise ApiError(400, f"{call.method} needs a JSON body; send {{}} for an empty one")
        if not self.hooks("media_type_ok", media_type(content_type) == "application/json", call, content_type=content_type):
            raise ApiError(415, "Unsupported media type: send Content-Type: application/json")
        try:
            return parse_json(raw.decode(self.hooks("body_encoding", "utf-8", call, chunked=chunked)))
        except (UnicodeDecodeError, ValueError):
            raise self.hooks("malformed_json", ApiError(400, "No JSON object could be decoded"), call) from None


# -- the standard library's server ----------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024  # headers and body leave in one write...
    disable_nagle_algorithm = True  # ...and without waiting for a delayed ACK
    server: "Server"

    def log_message(self, format: str, *args: Any) -> None:  # quiet unless verbose
        if self.server.verbose:
            super().log_message(format, *args)

    def setup(self) -> None:
        # an idle kept-alive connection is closed after this long (None: as long as the client keeps it), as a
        # load balancer's idle timeout does
        self.timeout = self.server.front.hooks("idle_timeout", None, Call("CONNECT", api=self.server.front.api))
        self.answered_on_connection = 0
        super().setup()

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()  # always drained first (keep-alive)
        except ApiError as error:  # the body's framing is broken or too large
            self._send(Answer(error.status, error_payload(error), dict(error.headers)))
            return
        if self.server.front.hooks("drop_unanswered", False, Call(self.command, api=self.server.front.api),
                                   reused=self.answered_on_connection > 0):
            self.close_connection = True  # read, never handled, never answered: the connection just closes
            return
        self.answered_on_connection += 1
        try:
            answer = self.server.front.respond(self.command, self.path, self.headers, raw)
        except Exception as exc:  # an injected 500, or a bug of the mock: answer, never hang
            answer = Answer(500, {"message": f"Internal server error: {type(exc).__name__}"})
        self._send(answer)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = _dispatch

    def _send(self, answer: Answer) -> None:
        headers = dict(answer.headers)
        if isinstance(answer.payload, bytes):
            data, content_type = answer.payload, headers.pop("Content-Type", "text/html")
        elif answer.payload is None:
            data, content_type = b"", None
        else:
            data, content_type = json.dumps(answer.payload).encode("utf-8"), "application/json"
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        self.send_response(answer.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors of the HTTP layer itself (request line, headers, unknown method) as JSON 4xx."""
        self.close_connection = True
        if code == 501:  # a method http.server has no do_ handler for
            code, message = 405, f"Method {self.command} not allowed"
        self._send(Answer(code, error_payload(ApiError(code, message or "Bad request")), {"Connection": "close"}))

    # -- the body: Content-Length, or chunked (what clients stream) -----------------------------------------------
    def _read_body(self) -> bytes:
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise self._lost(400, f"Unsupported Transfer-Encoding {encoding!r}: send chunked or a Content-Length")
            return self._read_chunked()
        value = (self.headers.get("Content-Length") or "0").strip()
        if not (value.isdecimal() and value.isascii()):
            raise self._lost(400, "Content-Length must be a non-negative integer")
        length = int(value)
        if length > MAX_BODY_BYTES:
            if length > MAX_DRAIN_BYTES:
                raise self._lost(413, f"Request body too large: at most {MAX_BODY_BYTES} bytes")
            while length > 0 and (piece := self.rfile.read(min(length, 1 << 16))):  # drop it, answer on a clean connection
                length -= len(piece)
            raise ApiError(413, f"Request body too large: at most {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = self.rfile.readline(1024).split(b";", 1)[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size):
                raise self._lost(400, "Malformed chunked body: bad chunk size")
            if int(size, 16) == 0:
                break
            if len(body) + int(size, 16) > MAX_BODY_BYTES:
                raise self._lost(413, f"Request body too large: at most {MAX_BODY_BYTES} bytes")
            chunk = self.rfile.read(int(size, 16))
            if len(chunk) != int(size, 16) or self.rfile.readline(3).strip():
                raise self._lost(400, "Malformed chunked body: chunk shorter than its size")
            body += chunk
        for _ in range(100):  # trailer fields up to the blank line, dropped
            if not self.rfile.readline(65537).strip():
                return bytes(body)
        raise self._lost(400, "Malformed chunked body: too many trailer fields")

    def _lost(self, status: int, message: str) -> ApiError:
        """An error after which the connection's framing is unknown: answer, then close."""
        self.close_connection = True
        return ApiError(status, message, headers={"Connection": "close"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], front: Front, latency_ms: float = 0, verbose: bool = False):
        super().__init__(address, Handler)
        self.front, self.latency_s, self.verbose = front, max(0.0, latency_ms) / 1000.0, verbose
