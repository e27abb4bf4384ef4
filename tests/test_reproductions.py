"""curl reproductions: the request exactly as sent, credentials only as environment variables."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading

import pytest
import requests

from meeting_room_contract.curl import curl_command, curl_commands
from meeting_room_contract.redaction import Credentials, Redactor

USER, PASSWORD = "conference_user_123", "s3cr3t-Pa55"


REDACTOR = Redactor([Credentials(USER, PASSWORD)])


def _session() -> requests.Session:
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    return session


def _capture(send) -> tuple[bytes, list[bytes], bytes]:
    """Request line, sorted header lines (without Host) and body of one request received on a loopback port."""
    received = []

    def serve(listener: socket.socket) -> None:
        connection, _ = listener.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += connection.recv(65536)
            headers = sorted(line.rstrip() for line in lines[1:] if not line.lower().startswith(b"host:"))  # OWS aside
            received.append((lines[0], headers, body))
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        thread = threading.Thread(target=serve, args=(listener,))
        thread.start()
        send(f"http://127.0.0.1:{listener.getsockname()[1]}/conference/v2/meeting_rooms/1")
        thread.join(10)
    return received[0]


@pytest.mark.parametrize("kwargs", [
    {"json": {"name": "é'\"$HOME`x`"}}, {"data": b'{"name": "no content type"}'}, {"data": b"\xff\x00\\{"},
    {"data": b""}, {}, {"auth": (USER, "wrong-password")}, {"headers": {"Content-Type": "text/plain", "X-Empty": ""},
                                                             "data": b"{}"},
], ids=["json", "no-content-type", "binary", "empty", "no-body", "wrong-password", "extra-headers"])
def test_curl_sends_exactly_the_same_request(kwargs):
    assert shutil.which("curl"), "curl is needed to check that reproductions reproduce"
    session, holder = _session(), {}
    sent = _capture(lambda url: holder.setdefault("response", session.patch(url, timeout=5, **kwargs)))
    command = curl_command(holder["response"].request, REDACTOR)
    assert PASSWORD not in command
    env = {**os.environ, "CONFERENCE_USERNAME": USER, "CONFERENCE_PASSWORD": PASSWORD}
    replayed = _capture(lambda url: subprocess.run(
        ["sh", "-c", command.replace(holder["response"].request.url, url) + " -s -o /dev/null"], env=env, timeout=10))
    assert replayed == sent, command


def test_absent_content_type_is_removed_and_credentials_are_variables():
    request = _session().prepare_request(requests.Request("PATCH", "http://h/x", data=b'{"name": "x"}'))
    command = curl_command(request, REDACTOR)
    assert "-H Content-Type:" in command and '-u "$CONFERENCE_USERNAME:$CONFERENCE_PASSWORD"' in command
    assert PASSWORD not in command and "Authorization" not in command


def test_several_requests_are_sent_together():
    session = _session()
    prepared = [session.prepare_request(requests.Request("PATCH", "http://h/x", json={"name": str(i)})) for i in range(2)]
    script = curl_commands(prepared, REDACTOR).splitlines()
    assert len(script) == 3 and all(line.endswith(" &") for line in script[:2]) and script[2] == "wait"
