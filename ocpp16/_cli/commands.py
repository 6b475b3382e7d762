"""Running the subcommands: arguments to configuration, the event loop, Ctrl-C, exit status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import signal
import ssl as _ssl
import stat
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from rich.console import Console

from ocpp16.cluster import Cluster, RedisCluster
from ocpp16.security import client_ssl_context, server_ssl_context

from .central import PasswordFileError, read_passwords
from .chargepoint import SimConfig
from .demo import run_demo
from .output import MessageLog
from .serve import CannotListen, ServeConfig, run_server
from .simulate import (
    BadStore,
    Interrupted,
    ProgressView,
    Unreachable,
    render_summary,
    run_simulation,
)

__all__ = ["run"]

T = TypeVar("T")


class _Usage(Exception):
    """A bad argument found after parsing (a file that does not load): exit status 2."""


def run(args: argparse.Namespace) -> int:
    """Run the parsed command and return its exit status."""
    prog = f"ocpp16 {args.command}"
    with _logging(args.verbose):
        return _run(args, prog)


def _run(args: argparse.Namespace, prog: str) -> int:
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "simulate":
            return _simulate(args)
        return _demo(args)
    except _Usage as exc:
        print(f"{prog}: error: {exc} (see '{prog} --help')", file=sys.stderr)
        return 2
    except (Unreachable, CannotListen, BadStore) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except Interrupted:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # a second Ctrl-C, while the first was stopping cleanly
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _logging(verbose: int) -> Iterator[None]:
    """Show the ``ocpp16`` logger on stderr while the command runs, then put it back.

    ``main`` may run inside a larger program (or a test session); its handler
    and level must not outlive it.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ocpp16")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _until_stopped(prog: str, body: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run ``body(stop)`` in a new event loop; the first Ctrl-C (or SIGTERM) sets ``stop``.

    A second one ends the process at once (exit status 130), for a stop that takes
    too long.
    """

    async def main() -> T:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = (signal.SIGINT, signal.SIGTERM)

        def first() -> None:
            stop.set()
            with contextlib.suppress(Exception):
                print(f"{prog}: stopping (Ctrl-C again quits at once)", file=sys.stderr, flush=True)
            for signum in signals:
                loop.add_signal_handler(signum, second)

        def second() -> None:
            # Stopping cleanly takes as long as the slowest peer's close handshake;
            # whoever presses Ctrl-C twice wants out now.
            with contextlib.suppress(Exception):
                print(f"{prog}: interrupted", file=sys.stderr, flush=True)
                sys.stdout.flush()
            os._exit(130)

        for signum in signals:
            # On Windows, or off the main thread, there is no handler: Ctrl-C interrupts at once.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, first)
        return await body(stop)

    return asyncio.run(main())


def open_file_limit(needed: int) -> tuple[int, int]:
    """Raise this process's soft limit of open files towards ``needed``, within the hard limit.

    Each charge point holds a socket; a thousand of them go past the soft limit
    of many systems (often 1,024).

    Returns:
        The soft limit now in force, and the number wanted.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no such limit to raise
        return needed, needed
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return (needed if soft == resource.RLIM_INFINITY else soft), needed


def stderr_console() -> Console:
    """The console of serve's banner, operator replies and failures, on stderr.

    ``soft_wrap``: a line stays one line when stderr is a file or a pipe, where
    rich would otherwise wrap it at 80 columns.
    """
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _console() -> Console:
    return Console(highlight=False)


# ---------------------------------------------------------------------- serve


async def _stdin_lines() -> asyncio.StreamReader | None:
    """Standard input as a stream of lines, when it can be read without blocking the loop.

    Not when it is a terminal this process does not own: a background job that
    reads its terminal is stopped by SIGTTIN.
    """
    stdin = sys.stdin
    if stdin is None or stdin.closed:  # pragma: no cover - pythonw, or closed by the caller
        return None
    try:
        fd = stdin.fileno()
        if os.isatty(fd):
            if os.tcgetpgrp(fd) != os.getpgrp():
                return None
        elif not (stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode)):
            return None  # /dev/null, a regular file: nothing an event loop can wait on
        # Lines up to the largest message the library takes (1 MiB by default).
        reader = asyncio.StreamReader(limit=2**20)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    except (OSError, ValueError, NotImplementedError, AttributeError):
        return None  # Windows: no os.tcgetpgrp, no pipe transport for standard input
    return reader


def _server_ssl(args: argparse.Namespace) -> _ssl.SSLContext | None:
    if args.tls_key and not args.tls_cert:
        raise _Usage("--tls-key needs --tls-cert")
    if not args.tls_cert:
        return None
    try:
        return server_ssl_context(args.tls_cert, args.tls_key)
    except (_ssl.SSLError, OSError) as exc:
        raise _Usage(f"cannot load the TLS certificate and key: {exc}") from None


def _passwords(args: argparse.Namespace) -> dict[str, str] | None:
    """The passwords file of ``--passwords``, if given; a bad one is a usage error."""
    try:
        return read_passwords(args.passwords) if args.passwords else None
    except PasswordFileError as exc:
        raise _Usage(str(exc)) from None


def _cluster(args: argparse.Namespace) -> Cluster | None:
    """The cluster of ``--redis URL --node-id NAME``, or ``None``."""
    if args.redis is None:
        if args.node_id is not None:
            raise SystemExit("ocpp16 serve: --node-id needs --redis")
        return None
    try:
        return RedisCluster(args.redis, node_id=args.node_id)
    except (ImportError, ValueError) as exc:
        raise SystemExit(f"ocpp16 serve: --redis: {exc}") from exc


def _serve(args: argparse.Namespace) -> int:
    passwords = _passwords(args)
    if args.metrics and importlib.util.find_spec("prometheus_client") is None:
        raise SystemExit(
            'ocpp16 serve: --metrics needs prometheus_client: pip install "ocpp16[metrics]"'
        )
    config = ServeConfig(
        host=args.host,
        port=args.port,
        passwords=passwords,
        ssl=_server_ssl(args),
        heartbeat_interval=args.heartbeat_interval,
        validation=args.validation,
        call_timeout=args.call_timeout,
        json_lines=args.json,
        cluster=_cluster(args),
        metrics=args.metrics,
    )
    console = _console()
    err = stderr_console()
    open_file_limit(65_536)  # a socket per charge point: room for many

    async def body(stop: asyncio.Event) -> int:
        reader = None if args.no_input else await _stdin_lines()
        return await run_server(
            config, stop, console=console, err=err, json_stream=sys.stdout, commands=reader
        )

    try:
        return _until_stopped("ocpp16 serve", body)
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # The pipe transport made standard input non-blocking; a terminal is
            # shared with the shell, which expects it blocking again.
            os.set_blocking(sys.stdin.fileno(), True)


# ---------------------------------------------------------------------- simulate


def _simulate(args: argparse.Namespace) -> int:
    passwords = _passwords(args)
    context = None
    if args.url.startswith("wss://"):
        try:
            context = client_ssl_context(cafile=args.ca_file)
        except (_ssl.SSLError, OSError) as exc:
            raise _Usage(f"cannot load the CA file: {exc}") from None
    elif args.ca_file:
        raise _Usage("--ca-file is for wss:// URLs")
    config = SimConfig(
        url=args.url,
        count=args.count,
        duration=args.duration,
        meter_interval=args.meter_interval,
        session=args.session,
        idle=args.idle,
        heartbeat_interval=args.heartbeat_interval,
        connectors=args.connectors,
        prefix=args.prefix,
        password=args.password,
        passwords=passwords,
        ssl=context,
        connect_concurrency=args.concurrency,
        call_timeout=args.call_timeout,
        seed=args.seed,
        store=args.store,
    )
    console = _console()
    log = MessageLog("charge_point", console=console) if args.log and not args.json else None
    # A socket per charge point (and with --store its queue file and write-ahead
    # log), and a margin for the rest of the process.
    limit, needed = open_file_limit(args.count * (3 if args.store else 1) + 64)
    if limit < needed:
        print(
            f"ocpp16 simulate: warning: this process may open {limit} files, and "
            f"{args.count} charge points need about {needed}; raise it with 'ulimit -n {needed}'",
            file=sys.stderr,
        )

    async def body(stop: asyncio.Event) -> int:
        if args.json:
            result = await run_simulation(config, stop=stop)
            summary = {
                "url": config.url,
                "count": config.count,
                "elapsed": round(result.elapsed, 3),
                "peak_connected": result.peak_connected,
                "interrupted": result.interrupted,
                **result.stats.as_dict(),
            }
            print(json.dumps(summary))
        else:

            def started() -> None:
                # Said once the central system answered: an unreachable one is one line.
                console.print(
                    f"ocpp16 simulate: {config.count} charge points against {config.url} for "
                    f"{config.duration:g} s. Ctrl-C ends early.",
                    soft_wrap=True,
                )

            if log is not None:
                log.on_closed_output = stop.set
            with ProgressView(console, config.count, config.duration) as view:
                result = await run_simulation(
                    config,
                    stop=stop,
                    on_connection=log.attach if log is not None else None,
                    on_tick=view.update,
                    on_started=started,
                )
            console.print(render_summary(result))
        return 1 if result.stats.error_count else 0

    return _until_stopped("ocpp16 simulate", body)


# ---------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    console = _console()

    async def body(stop: asyncio.Event) -> int:
        await run_demo(
            count=args.count,
            duration=args.duration,
            seed=args.seed,
            quiet=args.quiet,
            stop=stop,
            console=console,
        )
        return 0

    return _until_stopped("ocpp16 demo", body)
