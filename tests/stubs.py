"""Small HTTP servers on loopback that the project's tests script (not the mock: answers a test needs
to control exactly, e.g. a 429 wall, a cold start, a gateway error after a room was stored)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any, Callable, Iterator


class LoopbackServer(http.server.ThreadingHTTPServer):
    """A threading server on a free loopback port, serving from a daemon thread as soon as it is made."""

    daemon_threads = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/conference/v2"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        """Send one answer (JSON unless `headers` say otherwise), with its length."""
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serving(factory: Callable[..., LoopbackServer]) -> Iterator[Callable[..., Any]]:
    """The body of a fixture that starts servers made by `factory` and stops them after the test."""
    servers: list[LoopbackServer] = []

    def start(*args: Any, **kwargs: Any) -> Any:
        servers.append(factory(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class Stub(LoopbackServer):
    """Answers each request with the next scripted answer: (status, headers, body, delay); the last repeats."""

    def __init__(self, script: list[tuple[int, dict[str, str], Any, float]], lists: Callable[[dict], Any] | None = None):
        self.script, self.lists, self.seen = list(script), lists, []
        super().__init__(StubHandler)


class StubHandler(QuietHandler):
    server: Stub

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path, time.monotonic()))
        if self.server.lists is not None and self.command == "GET":
            from urllib.parse import parse_qs, urlsplit

            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            status, headers, body, delay = 200, {}, self.server.lists(query), 0.0
        else:
            script = self.server.script
            status, headers, body, delay = script.pop(0) if len(script) > 1 else script[0]
        time.sleep(delay)
        self.answer(status, headers, body if isinstance(body, bytes) else json.dumps(body).encode())

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any


Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


class Proxy(LoopbackServer):
    """A proxy in front of a mock (`upstream`: the mock's base URL): `intercept(handler)` answers a request
    itself, (status, headers, body), or returns None to have it forwarded (redirects are not followed)."""

    FORWARDED_HEADERS = ("content-type", "retry-after", "www-authenticate")

    def __init__(self, upstream: str, intercept: Callable[[http.server.BaseHTTPRequestHandler], Answer | None]):
        self.upstream, self.intercept = upstream, intercept
        super().__init__(ProxyHandler)


class ProxyHandler(QuietHandler):
    server: Proxy

    def _any(self) -> None:
        import requests

        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        answer = self.server.intercept(self)
        if answer is None:
            upstream = requests.request(self.command, self.server.upstream + self.path.removeprefix("/conference/v2"),
                                        data=body, headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                                        timeout=10, allow_redirects=False)
            answer = (upstream.status_code, {k: v for k, v in upstream.headers.items()
                                             if k.lower() in Proxy.FORWARDED_HEADERS}, upstream.content)
        self.answer(*answer)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any


def live_rooms(mock: Any) -> dict[str, dict]:
    """A `MeetingRoomMock`'s rooms that are not deleted, by sid (its store is SQLite; soft-deleted rows stay)."""
    with mock.store.lock:
        rows = mock.store.db.execute("SELECT meeting_room_sid, document FROM rooms WHERE deleted = 0").fetchall()
    return {sid: json.loads(document) for sid, document in rows}
