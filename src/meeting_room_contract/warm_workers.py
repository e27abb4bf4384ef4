"""xdist workers forked from a warm interpreter: the run's workers skip the ~0.6 CPU-s of importing
pytest, hypothesis, schemathesis, requests and this package that each one paid at its start.

A remote target gets more workers than cores (they mostly wait), and started together on two cores
they queued for the CPU: at 20 ms per answer the first test began ~4 s after the run, at 80 ms (12
workers) ~7 s. The controller starts one server (`python -m meeting_room_contract.warm_workers
SOCKET`) that imports what a worker imports and waits; each worker's command is the small
`warm_launcher` (standard library, no `site`), which hands its stdin, stdout and stderr to the
server over a Unix socket. The server forks a child that takes them over and runs the worker's
code as `python -c` would; the launcher stays as its stand-in (xdist's process: its exit status,
SIGTERM passed on, and killing it kills the worker). See `warm_launcher`.

The server forks from one thread (it starts none) and before any run state exists: the children
start as a fresh interpreter with the imports done. Each child gets the launcher's environment,
working directory and SIGINT disposition. The server ends when the controller closes its stdin
(or dies) and its children have ended; it waits for each (their CPU time counts as the run's).
When anything of this fails, a worker starts the usual way: the launcher execs the interpreter.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path
from typing import Any, NoReturn

LAUNCHER = Path(__file__).with_name("warm_launcher.py")
READY = "listening"
START_TIMEOUT_S = 10.0  # the server binds its socket before importing anything: this is seconds too many
STOP_TIMEOUT_S = 30.0  # after the controller: every worker has ended by then (xdist waited for them)

# Imported by the server before it forks: what every worker of a contract run imports anyway.
PRELOAD = ("_pytest.config", "_pytest.main", "_pytest.python", "_pytest.runner", "_pytest.fixtures",
           "xdist.remote", "xdist.plugin", "execnet", "hypothesis", "schemathesis", "schemathesis.pytest",
           "requests", "jsonschema", "yaml", "pytest_html.plugin",
           "meeting_room_contract.plugin.options", "meeting_room_contract.plugin.activation",
           "meeting_room_contract.plugin.session", "meeting_room_contract.plugin.fixtures",
           "meeting_room_contract.plugin.reporting", "meeting_room_contract.plugin.xdist",
           "meeting_room_contract.plugin.junit", "meeting_room_contract.actions", "meeting_room_contract.rooms",
           "meeting_room_contract.strategies", "meeting_room_contract.target", "meeting_room_contract.transitions",
           "meeting_room_contract.stories", "meeting_room_contract.replay")


class WarmWorkers:
    """The controller's handle on the server (`start`, `python`, `stop`)."""

    def __init__(self, process: subprocess.Popen[bytes], directory: str):
        self.process = process
        self.directory = directory
        self.socket_path = os.path.join(directory, "s")

    @classmethod
    def start(cls) -> WarmWorkers | None:
        """The server, listening; None where it cannot run (no fork, no Unix sockets) or did not start."""
        if not hasattr(os, "fork") or not hasattr(socket, "AF_UNIX") or not hasattr(socket, "recv_fds"):
            return None
        directory = tempfile.mkdtemp(prefix="contract-warm-")  # 0700: only this user reaches the socket
        handler = signal.getsignal(signal.SIGINT)
        try:  # started with SIGINT ignored (kept across exec): a Ctrl-C while it imports is the workers' to act on
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            process = subprocess.Popen([sys.executable, "-u", "-m", __name__, os.path.join(directory, "s")],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
            return None
        finally:
            signal.signal(signal.SIGINT, handler if handler is not None else signal.SIG_DFL)
        warm = cls(process, directory)
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(START_TIMEOUT_S) and process.stdout.readline().decode().strip() == READY
        process.stdout.close()
        if not ready:
            warm.stop()
            return None
        return warm

    def python(self) -> str:
        """The `python=` of an xdist `popen` spec that starts a worker from this server."""
        return shlex.join([sys.executable, "-I", "-S", str(LAUNCHER), self.socket_path])

    def stop(self) -> None:
        """Tell the server to end (it waits for its children), and wait for it (bounded)."""
        try:
            if self.process.stdin is not None and not self.process.stdin.closed:
                try:
                    self.process.stdin.close()
                except OSError:
                    pass
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module a worker may not need: it imports it itself if it does
            pass


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    conn.settimeout(10.0)
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    while not data.endswith(b"\n"):
        more = conn.recv(1 << 16)
        if not more:
            for fd in fds:
                os.close(fd)
            raise ValueError("the launcher's request ended early")
        data += more
    conn.settimeout(None)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("the launcher did not hand over stdin, stdout and stderr")
    return json.loads(data), fds


def serve(socket_path: str) -> None:
    """The server's loop (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the workers' and the controller's to act on
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(128)
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    _preload()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "reap")
    selector.register(0, selectors.EVENT_READ, "controller")
    children: dict[int, socket.socket] = {}
    listening = True
    while listening or children:
        for key, _ in selector.select(timeout=1.0):
            if key.data == "accept":
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                _fork_worker(conn, children, selector, listener, [wake_r, wake_w])
            elif key.data == "controller":
                if not os.read(0, 4096):  # the controller closed it, or died: no new worker
                    selector.unregister(0)
                    selector.unregister(listener)
                    listener.close()
                    os.unlink(socket_path)
                    try:
                        os.rmdir(os.path.dirname(socket_path))  # also when the controller was killed
                    except OSError:
                        pass
                    listening = False
            elif key.data == "reap":
                while True:
                    try:
                        if not os.read(wake_r, 4096):
                            break
                    except BlockingIOError:
                        break
            elif isinstance(key.data, int):  # a launcher's connection: readable only when it died
                pid = key.data
                selector.unregister(key.fileobj)
                try:
                    os.kill(pid, signal.SIGKILL)  # xdist killed the worker's stand-in: the worker goes too
                except ProcessLookupError:
                    pass
        _reap(children, selector)


def _reap(children: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        if os.WIFSIGNALED(status):
            message = f"signal {os.WTERMSIG(status)}\n"
        else:
            message = f"exit {os.WEXITSTATUS(status)}\n"
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            conn.sendall(message.encode())
        except OSError:
            pass
        conn.close()


def _fork_worker(conn: socket.socket, children: dict[int, socket.socket], selector: selectors.BaseSelector,
                 listener: socket.socket, own_fds: list[int]) -> None:
    try:
        request, fds = _read_request(conn)
    except (OSError, ValueError) as error:
        try:
            conn.sendall(f"refused {error}\n".encode())
        except OSError:
            pass
        conn.close()
        return
    pid = os.fork()
    if pid == 0:
        try:
            selector.close()
            listener.close()
            for other in children.values():
                other.close()
            _become_worker(conn, fds, request, own_fds)
        finally:
            os._exit(1)  # never back into the server's loop
    for fd in fds:
        os.close(fd)
    children[pid] = conn
    try:
        conn.sendall(f"pid {pid}\n".encode())
    except OSError:
        pass
    selector.register(conn, selectors.EVENT_READ, pid)


def _become_worker(conn: socket.socket, fds: list[int], request: dict[str, Any], own_fds: list[int]) -> NoReturn:
    """In the forked child: the launcher's stdio, environment and directory, then its `-c` code."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN if request.get("sigint_ignored") else signal.default_int_handler)
    conn.close()
    for fd in own_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = list(request["argv"])
    if "-B" in argv[:argv.index("-c")]:
        sys.dont_write_bytecode = True
    code = argv[argv.index("-c") + 1]
    sys.argv = ["-c", *argv[argv.index("-c") + 2:]]
    if sys.path and sys.path[0] != "":
        sys.path[0] = ""  # as `python -c`: the working directory first
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    status = 0
    try:
        exec(compile(code, "<string>", "exec"), main.__dict__)
    except SystemExit as end:
        if end.code is None:
            status = 0
        elif isinstance(end.code, int):
            status = end.code
        else:
            print(end.code, file=sys.stderr)
            status = 1
    except KeyboardInterrupt as interrupt:  # as the interpreter does: printed, then ended by SIGINT
        traceback.print_exception(type(interrupt), interrupt, interrupt.__traceback__.tb_next if interrupt.__traceback__ else None)
        _end(0, by_signal=signal.SIGINT)
    except BaseException as error:  # noqa: BLE001 - as the interpreter does: printed, exit status 1
        traceback.print_exception(type(error), error, error.__traceback__.tb_next if error.__traceback__ else None)
        status = 1
    _end(status)


def _end(status: int, by_signal: int | None = None) -> NoReturn:
    """As an interpreter ends (and as multiprocessing ends its forked children): other threads are
    waited for, exit handlers run, output flushed; no teardown of modules."""
    import atexit
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        try:
            shutdown()
        except Exception:  # noqa: BLE001 - ending anyway
            pass
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if by_signal is not None:
        signal.signal(by_signal, signal.SIG_DFL)
        os.kill(os.getpid(), by_signal)
    os._exit(status)


if __name__ == "__main__":
    serve(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)  # every worker has ended: no teardown of the modules it imported
