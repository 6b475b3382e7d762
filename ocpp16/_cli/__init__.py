"""The ``ocpp16`` command (also ``python -m ocpp16``): ``serve``, ``simulate`` and ``demo``.

The parser is the standard library's ``argparse``, so ``--help`` works on a bare
install; running a subcommand needs the ``cli`` extra (``rich``, for the live
progress display and the tables), and says so in one line when it is missing.

Exit status: 0 when the command did its work (``simulate``: with no error
counted); 1 when it could not (an unreachable central system, a port in use)
or ``simulate`` counted errors; 2 for bad arguments; 130 when interrupted twice.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with the way to help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_in(low: int, high: int | None, what: str) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number, not {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, not {value}")
        return value

    parse.__name__ = what  # argparse names the type in its own messages
    return parse  # type: ignore[return-value]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be more than 0, not {text}")
    return value


def _url(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # such as an unclosed IPv6 bracket
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL: {exc}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a WebSocket URL: expected ws://HOST[:PORT]/PATH or wss://..."
        )
    try:
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} has a bad port: {exc}") from None
    return text


def _file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def _version() -> str:
    try:
        return metadata.version("ocpp16")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


class _FORMATTER(argparse.HelpFormatter):
    """Wraps prose paragraphs to the terminal; keeps indented lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if "\n  " in paragraph or paragraph.startswith("  "):
                paragraphs.append("\n".join(indent + line for line in paragraph.splitlines()))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``ocpp16`` command and its three subcommands."""
    parser = _Parser(
        prog="ocpp16",
        formatter_class=_FORMATTER,
        description="OCPP 1.6-J from the command line: a central system to point chargers "
        "at, simulated charge points to point at a central system, and a demo of both.",
        epilog="examples:\n"
        "  ocpp16 demo                                  both ends in one process, 10 s\n"
        "  ocpp16 serve --port 9220                     a central system for real chargers\n"
        "  ocpp16 simulate ws://localhost:9220/ocpp --count 100 --duration 60\n\n"
        "'ocpp16 COMMAND --help' tells more. Exit status: 0 done, 1 failed (or errors "
        "counted by simulate), 2 bad arguments.",
    )
    parser.add_argument("--version", action="version", version=f"ocpp16 {_version()}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    serve = commands.add_parser(
        "serve",
        formatter_class=_FORMATTER,
        help="run a central system that accepts charge points and prints their messages",
        description="A central system that accepts every charge point (or those in a "
        "passwords file) and answers each of their calls plausibly: boots and id tags "
        "Accepted, transaction ids counting up from 1, the current time. Each message "
        "prints as one line: time, charge point, direction, kind, action, payload.\n\n"
        "Charge points connect to ws://HOST:PORT/ANY/PATH/CP_ID (the last path segment "
        "is the charge point id). Ctrl-C closes every connection (1001) and stops.\n\n"
        "Type a command to send a CALL to a connected charge point: CP_ID ACTION [JSON "
        "payload], such as 'CP0001 RemoteStartTransaction {\"idTag\": \"ABC123\"}'; 'list' "
        "shows who is connected. The answer prints as a message line.",
        epilog="passwords file: one CP_ID:PASSWORD per line; '#' starts a comment. A "
        "hexadecimal password is an AuthorizationKey, accepted as the charger sends it "
        "(raw bytes or hex text). With passwords the server runs security profile 1, or 2 "
        "with --tls-cert.\n\n"
        "examples:\n"
        "  ocpp16 serve\n"
        "  ocpp16 serve --port 8080 --json > messages.jsonl\n"
        "  ocpp16 serve --metrics                         then curl localhost:9220/metrics\n"
        "  ocpp16 serve --passwords passwords.txt --tls-cert cert.pem --tls-key key.pem",
    )
    serve.add_argument(
        "--host",
        default="0.0.0.0",
        help="address to listen on (default: 0.0.0.0, every IPv4 interface)",
    )
    serve.add_argument(
        "--port",
        type=_int_in(0, 65535, "port"),
        default=9220,
        help="TCP port (default: 9220; 0 picks a free one)",
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        help="join a cluster of nodes sharing this Redis (redis://HOST:6379/0): operator "
        "commands reach a charge point on any node, 'list' shows the whole cluster; "
        'needs pip install "ocpp16[redis]"',
    )
    serve.add_argument(
        "--node-id",
        metavar="NAME",
        help="this node's name in the cluster (with --redis; default: a random one)",
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        help="count into Prometheus metrics, served at http://HOST:PORT/metrics on the OCPP "
        'port beside /health; needs pip install "ocpp16[metrics]"',
    )
    serve.add_argument(
        "--passwords",
        metavar="FILE",
        type=_file,
        help="accept only the charge points in FILE, by Basic-auth password "
        "(default: accept every one)",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        type=_file,
        help="serve wss:// with this certificate chain (PEM)",
    )
    serve.add_argument(
        "--tls-key",
        metavar="FILE",
        type=_file,
        help="the private key of --tls-cert (PEM), if not in it",
    )
    serve.add_argument(
        "--heartbeat-interval",
        metavar="SECONDS",
        type=_int_in(1, None, "heartbeat interval"),
        default=60,
        help="the heartbeat interval given to booting charge points (default: 60)",
    )
    serve.add_argument(
        "--call-timeout",
        metavar="SECONDS",
        type=_seconds,
        default=30.0,
        help="wait this long for the answer to an operator command (default: 30)",
    )
    serve.add_argument(
        "--validation",
        choices=("strict", "warn", "off"),
        default="warn",
        help="schema validation: warn prints a marked 'violation' line for each payload that "
        "breaks its schema, counts it, and goes on, so a real charger can still boot; strict "
        "answers a bad payload with a CALLERROR (to test a charger's error handling); off "
        "skips it (default: warn)",
    )
    serve.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines (one object per message) instead of text",
    )
    serve.add_argument(
        "--no-input",
        action="store_true",
        help="read no commands from standard input (by default each line CP_ID ACTION [JSON] "
        "sends that CALL to a connected charge point; 'help' tells more)",
    )
    _verbosity(serve)

    simulate = commands.add_parser(
        "simulate",
        formatter_class=_FORMATTER,
        help="run simulated charge points against a central system",
        description="COUNT charge points connect to URL (each appends its id, SIM0001 and "
        "on), boot, send heartbeats, and run charging sessions (Authorize, StartTransaction, "
        "MeterValues, StopTransaction) until DURATION is up; then they stop their "
        "transactions and disconnect. They answer the central system's calls as a charger "
        "would: Reset reboots, RemoteStart/StopTransaction start and stop sessions, "
        "Get/ChangeConfiguration read and change their configuration keys, TriggerMessage, "
        "SetChargingProfile (limits their power) and UnlockConnector work.\n\n"
        "A live line shows charge points connected, calls per second and errors; the "
        "closing summary gives latency p50/p95/p99 per action. Ctrl-C ends the run early "
        "and still prints it.\n\n"
        "Each charge point reconnects after a drop with a backoff, keeps its transaction "
        "messages in an offline queue until the central system answers them, retries them "
        "TransactionMessageAttempts times, and sends nothing but BootNotification until "
        "its boot is accepted. With --store the queues outlive the process.",
        epilog="exit status: 0 with no error counted, 1 if the first charge point could not "
        "connect or any error was counted, 2 for bad arguments.\n\n"
        "examples:\n"
        "  ocpp16 simulate ws://localhost:9220/ocpp\n"
        "  ocpp16 simulate ws://localhost:9220/ocpp --count 1000 --duration 120\n"
        "  ocpp16 simulate wss://cs.example.com/ocpp --password s3cret --ca-file ca.pem\n"
        "  ocpp16 simulate ws://localhost:9220/ocpp --count 5 --store ./sim-state",
    )
    simulate.add_argument(
        "url", metavar="URL", type=_url, help="the central system, ws:// or wss://"
    )
    simulate.add_argument(
        "--count", type=_int_in(1, 100_000, "count"), default=10, help="charge points (default: 10)"
    )
    simulate.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_seconds,
        default=60.0,
        help="how long they run (default: 60)",
    )
    simulate.add_argument(
        "--meter-interval",
        metavar="SECONDS",
        # MeterValueSampleInterval, which the central system may read and change, is
        # whole seconds (OCPP 1.6 §9.1).
        type=_int_in(1, None, "meter interval"),
        default=5,
        help="between MeterValues in a transaction (default: 5)",
    )
    simulate.add_argument(
        "--session",
        metavar="SECONDS",
        type=_seconds,
        default=30.0,
        help="mean length of a charging session (default: 30)",
    )
    simulate.add_argument(
        "--idle",
        metavar="SECONDS",
        type=_seconds,
        default=10.0,
        help="mean pause between sessions (default: 10)",
    )
    simulate.add_argument(
        "--heartbeat-interval",
        metavar="SECONDS",
        type=_int_in(1, None, "heartbeat interval"),  # HeartbeatInterval: whole seconds
        help="between heartbeats (default: what the BootNotification answer says)",
    )
    simulate.add_argument(
        "--connectors",
        metavar="N",
        type=_int_in(1, 32, "connectors"),
        default=1,
        help="connectors per charge point (default: 1)",
    )
    simulate.add_argument(
        "--prefix", default="SIM", help="charge point ids start with it (default: SIM)"
    )
    simulate.add_argument(
        "--password", help="Basic-auth password of every charge point (security profile 1 or 2)"
    )
    simulate.add_argument(
        "--passwords",
        metavar="FILE",
        type=_file,
        help="one CP_ID:PASSWORD per line, as for serve; wins over --password",
    )
    simulate.add_argument(
        "--ca-file",
        metavar="FILE",
        type=_file,
        help="trust this CA for wss:// (default: the system's)",
    )
    simulate.add_argument(
        "--concurrency",
        metavar="N",
        type=_int_in(1, 10_000, "concurrency"),
        default=50,
        help="opening handshakes in flight at once (default: 50)",
    )
    simulate.add_argument(
        "--call-timeout",
        metavar="SECONDS",
        type=_seconds,
        default=30.0,
        help="wait this long for each answer (default: 30)",
    )
    simulate.add_argument("--seed", type=int, help="seed the random choices, for a repeatable run")
    simulate.add_argument(
        "--store",
        metavar="DIR",
        help="keep each charge point's offline queue (DIR/CP_ID.sqlite3) and running "
        "transactions (DIR/CP_ID.json) in DIR, made if needed: a run started again on it, "
        "with the same ids, delivers what the last one queued and takes up its transactions "
        "(default: queues in memory)",
    )
    simulate.add_argument(
        "--log", action="store_true", help="print every message as one line, as serve does"
    )
    simulate.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object, and no progress",
    )
    _verbosity(simulate)

    demo = commands.add_parser(
        "demo",
        formatter_class=_FORMATTER,
        help="run a central system and a few charge points in one process, then a summary",
        description="A central system and COUNT simulated charge points in this process, on "
        "127.0.0.1, for DURATION seconds: the charge points boot and charge, the central "
        "system reads their configuration, starts a transaction remotely, triggers a status "
        "report and resets one of them. Every message prints as one line; the summary "
        "follows. Nothing to set up.",
        epilog="example:\n  ocpp16 demo --count 5 --duration 20",
    )
    demo.add_argument(
        "--count", type=_int_in(1, 1000, "count"), default=3, help="charge points (default: 3)"
    )
    demo.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_seconds,
        default=10.0,
        help="how long it runs (default: 10)",
    )
    demo.add_argument("--seed", type=int, help="seed the random choices, for a repeatable run")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    _verbosity(demo)
    return parser


def _verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more of the library's 'ocpp16' logger (-v info, -vv debug)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ocpp16`` command.

    Args:
        argv: The arguments, without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        from ocpp16._cli import commands
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "rich":
            raise
        print(
            f"ocpp16 {args.command}: the command line needs the 'cli' extra: "
            "pip install 'ocpp16[cli]'",
            file=sys.stderr,
        )
        return 1
    return commands.run(args)
