"""What every benchmark process shares: payloads, the process contract, and safety nets.

The contract between the harness (``run.py``) and the processes it starts:

* A server process (``impl_*.py server ...``) binds 127.0.0.1 port 0 and prints
  ``PORT <n>`` on a line of its own once it accepts connections. It serves until its
  standard input closes (the harness closes it, or dies), until it gets SIGTERM, or
  until ``--lifetime`` seconds have passed, whichever comes first.
* A measuring process (``impl_*.py client ...`` or ``load.py ...``) prints one
  ``RESULT {json}`` line with what it measured, and exits. ``load.py many`` first
  prints ``READY {json}`` and waits for a line on standard input before it prints its
  ``RESULT`` (the harness reads the server's memory in between).
* Every process gives up by itself after ``--lifetime`` seconds (SIGALRM), and the
  harness kills any process that overruns its own timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import stat
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any

HOST = "127.0.0.1"  # loopback only, always
SUBPROTOCOL = "ocpp1.6"

# The payloads every implementation exchanges: the same bytes on the wire for all.
NOW = "2024-05-01T12:00:00Z"
BOOT_REQUEST: dict[str, Any] = {
    "chargePointVendor": "BenchVendor",
    "chargePointModel": "BenchModel",
}
RESPONSES: dict[str, dict[str, Any]] = {
    "BootNotification": {"status": "Accepted", "interval": 300, "currentTime": NOW},
    "Heartbeat": {"currentTime": NOW},
}
REQUESTS: dict[str, dict[str, Any]] = {"BootNotification": BOOT_REQUEST, "Heartbeat": {}}

DEFAULT_LIFETIME = 900.0  # seconds; no benchmark process outlives this


def raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def arm_lifetime(seconds: float) -> None:
    """End this process (SIGALRM's default action) after ``seconds``, whatever it is doing."""
    signal.alarm(max(1, int(seconds + 0.999)))


def exit_on_stdin_eof(on_line: Callable[[str], None] | None = None) -> None:
    """Watch standard input in a daemon thread: each line goes to ``on_line``; EOF ends us.

    EOF comes when the harness closes the pipe or dies, so that no orphan lingers. Without
    ``on_line``, only a pipe is watched: run by hand, from a terminal or with no input, a
    process serves on.
    """
    if on_line is None and not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        return

    def watch() -> None:
        for line in sys.stdin:
            if on_line is not None:
                on_line(line.strip())
        os._exit(0)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def announce_port(port: int) -> None:
    """Tell the harness the bound port."""
    print(f"PORT {port}", flush=True)


def emit(tag: str, result: dict[str, Any]) -> None:
    """Print one ``TAG {json}`` line for the harness."""
    print(f"{tag} {json.dumps(result, separators=(',', ':'))}", flush=True)


def server_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The common command line of every implementation's server and client."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server", help="serve a central system on 127.0.0.1, port 0")
    server.add_argument(
        "--delay", type=float, default=0.0, help="seconds each handler sleeps (async) first"
    )
    server.add_argument(
        "--no-ping", action="store_true", help="disable WebSocket keepalive (ping_interval=None)"
    )
    server.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME)
    client = sub.add_parser("client", help="sequential BootNotification round trips")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--calls", type=int, default=2000)
    client.add_argument("--warmup", type=int, default=100)
    client.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME)
    return parser.parse_args(argv)


def start_process(lifetime: float) -> None:
    """What every benchmark process does first."""
    raise_nofile()
    arm_lifetime(lifetime)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def round_trip_result(calls: int, elapsed: float, errors: int, **extra: Any) -> dict[str, Any]:
    """The RESULT of a sequential round-trip client."""
    return {
        "calls": calls,
        "elapsed": elapsed,
        "rate": calls / elapsed if elapsed > 0 else 0.0,
        "errors": errors,
        **extra,
    }


LOOP_ENV = "OCPP16_BENCH_LOOP"
"""The environment variable through which ``bench/run.py --loop`` picks the event loop."""


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` on asyncio's default loop, or on uvloop's when the harness asks."""
    if os.environ.get(LOOP_ENV, "asyncio") == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


def run_impl(
    serve_forever: Callable[[float, bool], Coroutine[Any, Any, None]],
    round_trips: Callable[[int, int, int], Coroutine[Any, Any, dict[str, Any]]],
) -> None:
    """The command line of every implementation module: its server, or its round-trip client."""
    args = server_args()
    start_process(args.lifetime)
    exit_on_stdin_eof()
    if args.role == "server":
        run(serve_forever(args.delay, args.no_ping))
    else:
        emit("RESULT", run(round_trips(args.port, args.calls, args.warmup)))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now (for a server that cannot bind port 0)."""
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_redis(binary: str, timeout: float = 10.0) -> tuple[Any, str]:
    """Start ``redis-server`` on a free port, no persistence; return the process and its URL.

    Redis cannot bind port 0, so a free port is picked first. The caller kills the
    process (by its pid) when done.

    Raises:
        RuntimeError: It did not accept connections within ``timeout`` seconds.
    """
    import socket
    import subprocess
    import time

    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return process, f"redis://{HOST}:{port}/0"
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
