"""The command an xdist worker of a contract run is started with (`warm_workers`): it asks the run's
warm server for a worker forked from an interpreter that has imported everything a worker imports,
and stands in for that worker until it ends.

    python -I -S warm_launcher.py SOCKET [python options] -c CODE

Standard library only, run without `site` (a start of ~10 ms). What xdist sees is this process:
its stdin and stdout (xdist's channel) and stderr are handed to the forked worker and closed here;
its exit status is the worker's (a worker killed by a signal: this process ends by the same signal).
SIGTERM and SIGHUP sent here go on to the worker; SIGINT is ignored here (a Ctrl-C reaches the
worker itself, in the same process group; passed on as well, it would come twice). When this
process dies, the server kills the worker (xdist ends a worker that does not stop by killing
its process: this one). When the server cannot be reached, this process becomes a worker
started the usual way (`exec` of the same interpreter and arguments): never no worker.
"""

import signal

SIGINT_IGNORED = signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # the worker's disposition (a background job's)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # first: a Ctrl-C while this starts is the worker's, never ours

import array  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402


def _usual_start(argv):
    os.execv(sys.executable, [sys.executable, *argv])


def _lines(conn):
    buffer = b""
    while True:
        try:
            chunk = conn.recv(4096)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line.decode()


def main(argv):
    socket_path, worker_argv = argv[0], argv[1:]
    sigint_ignored = SIGINT_IGNORED
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(socket_path)
        request = json.dumps({"argv": worker_argv, "cwd": os.getcwd(), "env": dict(os.environ),
                              "sigint_ignored": sigint_ignored}).encode() + b"\n"
        conn.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
    except OSError:
        conn.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN if sigint_ignored else signal.SIG_DFL)
        _usual_start(worker_argv)
    lines = _lines(conn)
    first = next(lines, "")
    if not first.startswith("pid "):
        sys.stderr.write(f"warm worker server: no worker ({first or 'no answer'}); starting one the usual way\n")
        conn.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN if sigint_ignored else signal.SIG_DFL)
        _usual_start(worker_argv)
    worker = int(first[4:])
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # xdist's channel is the worker's alone: its end closes the pipes
    os.dup2(devnull, 1)
    os.close(devnull)

    def pass_on(signum, frame):
        try:
            os.kill(worker, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGHUP, pass_on)
    for line in lines:
        kind, _, value = line.partition(" ")
        if kind == "exit":
            sys.exit(int(value))
        if kind == "signal":
            signum = int(value)
            if signum not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be handled, nor need resetting
                signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            sys.exit(128 + signum)
    sys.exit(1)  # the server went away without the worker's status


if __name__ == "__main__":
    main(sys.argv[1:])
