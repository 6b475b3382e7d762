"""``ocpp16 serve``: a central system that accepts charge points and prints what they say."""

from __future__ import annotations

import asyncio
import json
import ssl as _ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from rich.console import Console

from ocpp16 import (
    Action,
    CallTimeout,
    ClientBase,
    ConnectionClosed,
    Handshake,
    NotConnected,
    Ocpp16Error,
    Server,
    ValidationError,
    schemas,
)
from ocpp16.cluster import Cluster, LocalCluster
from ocpp16.validation import validate

from .central import CentralSystem
from .output import MessageLog

__all__ = ["CannotListen", "ServeConfig", "run_server"]


class CannotListen(Exception):
    """The server could not bind its address; the message says which, and why."""


@dataclass
class ServeConfig:
    """How ``ocpp16 serve`` runs.

    Attributes:
        host: The address to bind.
        port: The TCP port; 0 picks a free one.
        passwords: The Basic-auth password of each charge point that may
            connect; ``None`` accepts every charge point.
        ssl: The TLS context, for ``wss://``.
        heartbeat_interval: The interval of accepted boots, in seconds.
        validation: The validation mode of every connection: ``"warn"`` by
            default, so that a charger's schema violations are shown, marked
            and counted, without refusing it.
        call_timeout: Seconds to wait for the answer to an operator command.
        json_lines: Print JSON lines instead of text lines.
        cluster: The cluster this node joins (``--redis``), or ``None``.
        metrics: Count into ``prometheus_client``'s default registry, served at
            ``/metrics`` (``--metrics``).
    """

    host: str = "0.0.0.0"
    port: int = 9220
    passwords: Mapping[str, str] | None = None
    ssl: _ssl.SSLContext | None = None
    heartbeat_interval: int = 60
    validation: Literal["strict", "warn", "off"] = "warn"
    call_timeout: float = 30.0
    json_lines: bool = False
    cluster: Cluster | None = None
    metrics: bool = False


async def run_server(
    config: ServeConfig,
    stop: asyncio.Event,
    *,
    console: Console,
    err: Console,
    json_stream: TextIO,
    on_listening: Callable[[int], None] | None = None,
    commands: asyncio.StreamReader | None = None,
) -> int:
    """Serve until ``stop`` is set, then close every connection (1001) and return.

    Args:
        config: How to serve.
        stop: Set it to stop (Ctrl-C).
        console: Where message lines go.
        err: Where the banner and the closing line go.
        json_stream: Where JSON lines go, with ``config.json_lines``.
        on_listening: Called with the bound port once the server listens.
        commands: Lines of operator commands (standard input), each sending a
            CALL to a connected charge point: ``CP_ID ACTION [JSON]``.

    Returns:
        The exit status: 0.

    Raises:
        CannotListen: The address could not be bound.
    """
    central = CentralSystem(
        heartbeat_interval=config.heartbeat_interval, passwords=config.passwords
    )
    # Passwords make security profile 1, or 2 over TLS: the Server itself refuses
    # a handshake whose Basic-auth user name is missing or not the id, and the
    # listener below checks the password. Every refusal, whoever made it, is
    # printed with its reason from the "refused" event.
    profile = 0 if config.passwords is None else (2 if config.ssl is not None else 1)
    server = Server(
        validation=config.validation,
        security_profile=profile,
        call_timeout=config.call_timeout,
        cluster=config.cluster,
        metrics=config.metrics,
    )
    log = MessageLog(
        "central",
        console=console,
        json_stream=json_stream if config.json_lines else None,
        # `ocpp16 serve | head`: once the reader is gone, stop as Ctrl-C does.
        on_closed_output=stop.set,
    )
    central.on_warning = log.warning
    seen: set[str] = set()

    if config.passwords is not None:
        passwords = config.passwords

        def authorize(cp_id: str, handshake: Handshake, cb: Callable[..., None]) -> None:
            if central.authorize(cp_id, handshake):
                cb()
            else:
                cb("unknown charge point" if cp_id not in passwords else "wrong password")

        server.on("authorization", authorize)

    @server.on("refused")
    def on_refused(cp_id: str | None, status: int, reason: str) -> None:
        log.event(cp_id if cp_id is not None else "-", "refused", f"HTTP {status}: {reason}")

    @server.on("connection")
    def on_connection(connection: ClientBase) -> None:
        seen.add(connection.cp_id)
        central.attach(connection)
        log.attach(connection)
        log.event(connection.cp_id, "connected", f"from {_where(connection)}")

    try:
        port = await server.listen(config.port, host=config.host, ssl=config.ssl)
    except OSError as exc:
        raise CannotListen(
            f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
        ) from None
    scheme = "wss" if config.ssl is not None else "ws"
    host = f"[{config.host}]" if ":" in config.host else config.host
    auth = "charge points in the passwords file" if config.passwords else "every charge point"
    web = "https" if config.ssl is not None else "http"
    probes = f"{web}://{host}:{port}/health" + (
        f" and {web}://{host}:{port}/metrics" if config.metrics else ""
    )
    err.print(
        f"ocpp16 serve: listening on {scheme}://{host}:{port}/ (accepting {auth}); "
        f"connect to {scheme}://HOST:{port}/ANY/PATH/CP_ID; {probes} answer plain GETs. "
        "Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )
    if on_listening is not None:
        on_listening(port)
    reading = None
    if commands is not None:
        reading = asyncio.ensure_future(
            _read_commands(commands, server, err, log, strict=config.validation != "off")
        )
    try:
        await stop.wait()
    finally:
        if reading is not None:
            reading.cancel()
        await server.close()
    err.print(
        f"ocpp16 serve: stopped; {len(seen)} charge points, {log.messages:,} messages, "
        f"{central.transactions_started} transactions started, "
        f"{log.violations} schema violations, {log.warnings} warnings",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def _where(peer: ClientBase | Handshake) -> str:
    """The peer's address as host:port."""
    address = peer.remote_address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


HELP = (
    "commands: CP_ID ACTION [JSON payload] sends a CALL, such as\n"
    '  CP0001 RemoteStartTransaction {"idTag": "ABC123"}\n'
    '  CP0001 Reset {"type": "Soft"}\n'
    "'list' shows the charge points connected, 'help' this text; the answer prints as a line."
)


def _track(pending: set[asyncio.Future[Any]], future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """Keep ``future`` in ``pending`` until it ends."""
    pending.add(future)
    future.add_done_callback(pending.discard)
    return future


async def _list_cluster(server: Server, err: Console) -> None:
    """Print every charge point of the cluster with its node."""
    try:
        ids = await server.connected_ids()
    except Ocpp16Error as exc:
        err.print(f"list: {exc}", highlight=False, markup=False)
        return
    connected = ", ".join(f"{cp_id} ({node})" for cp_id, node in sorted(ids.items())) or "none"
    err.print(f"connected: {connected}", highlight=False, soft_wrap=True, markup=False)


def _remote_done(cp_id: str, action: str, future: asyncio.Future[Any], err: Console) -> None:
    """Print the outcome of an operator command sent to a charge point on another node."""
    if future.cancelled():
        return
    error = future.exception()
    if error is None:
        text = f"{cp_id} {action}: {json.dumps(future.result())}"
    elif isinstance(error, NotConnected):
        text = f"{cp_id} is not connected on any node"
    elif isinstance(error, CallTimeout):
        text = f"{cp_id} {action}: no answer within {error.timeout:g} s"
    else:
        text = f"{cp_id} {action}: {error!r}"
    err.print(text, highlight=False, soft_wrap=True, markup=False)


async def _read_commands(
    reader: asyncio.StreamReader,
    server: Server,
    err: Console,
    log: MessageLog,
    *,
    strict: bool = True,
) -> None:
    """Send the CALL of each operator command line until the input ends."""
    pending: set[asyncio.Future[Any]] = set()
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # longer than the reader's limit; the rest of it is dropped
            reply: str | None = "a command line that long is refused; it was not sent"
        else:
            if not line:
                return
            text = line.decode("utf-8", "replace").strip()
            reply = command(text, server, err, pending, log=log, strict=strict)
        if reply:
            err.print(reply, highlight=False, soft_wrap=True, markup=False)


def command(
    text: str,
    server: Server,
    err: Console,
    pending: set[asyncio.Future[Any]],
    *,
    log: MessageLog | None = None,
    strict: bool = True,
) -> str | None:
    """Carry out one operator command; return what to tell the operator, if anything.

    Args:
        text: The line, such as ``CP0001 Reset {"type": "Soft"}``.
        server: The server whose charge points the command addresses.
        err: Where the outcome of the CALL is told when it fails.
        pending: The CALLs in flight, kept until they end.
        log: Where a CALL that got no answer is recorded (a JSON line with ``--json``).
        strict: Refuse a payload that breaks its schema before sending it, whatever
            the connection's validation mode (``--validation off`` sends it anyway).

    Returns:
        A message for the operator: help, the list of charge points, or why the
        command was refused; ``None`` when the CALL went out (its answer prints
        as a message line).
    """
    if not text or text.startswith("#"):
        return None
    if text == "help":
        return HELP
    if text == "list":
        if not isinstance(server.cluster, LocalCluster):
            _track(pending, asyncio.ensure_future(_list_cluster(server, err)))
            return None
        connected = ", ".join(sorted(server.clients)) or "none"
        return f"connected: {connected}"
    parts = text.split(None, 2)
    if len(parts) < 2:
        return f"expected CP_ID ACTION [JSON payload], not {text!r} (try 'help')"
    cp_id, action = parts[0], parts[1]
    schema = schemas.get(action)
    if schema is None:
        return f"{action!r} is not an OCPP 1.6 action"
    if schema.direction == "cp_to_cs":
        return f"{action} is sent by charge points, not to them"
    try:
        payload = json.loads(parts[2]) if len(parts) == 3 else {}
    except ValueError as exc:
        return f"the payload is not JSON: {exc}"
    if not isinstance(payload, dict):
        return "the payload must be a JSON object, such as {}"
    connection = server.clients.get(cp_id)
    if connection is None and not isinstance(server.cluster, LocalCluster):
        if strict:
            try:
                validate(action, "request", payload)
            except ValidationError as exc:
                return f"{cp_id} {action} not sent: {exc}"
        _track(pending, server.call_request(cp_id, Action(action), payload)).add_done_callback(
            lambda future: _remote_done(cp_id, action, future, err)
        )
        return None
    if connection is None:
        connected = ", ".join(sorted(server.clients)) or "none"
        return f"{cp_id} is not connected (connected: {connected})"
    if strict:
        # The operator's typo is not sent even in warn mode, which is for what chargers send.
        try:
            validate(action, "request", payload)
        except ValidationError as exc:
            return f"{cp_id} {action} not sent: {exc}"
    future = connection.call_request(Action(action), payload)
    if future.done() and future.exception() is not None:
        # Refused before it was sent: strict validation of the request.
        return f"{cp_id} {action} not sent: {future.exception()}"
    pending.add(future)

    message_id = str(getattr(future, "message_id", ""))

    def done(future: asyncio.Future[Any]) -> None:
        pending.discard(future)
        error = None if future.cancelled() else future.exception()
        # A CALLERROR prints as a message line; other failures print here, and with
        # --json leave a record on stdout too.
        if isinstance(error, ValidationError):
            outcome, detail = "invalid_answer", f"the answer breaks its schema: {error}"
        elif isinstance(error, CallTimeout):
            # Our own timeout: no charger sent a GenericError.
            outcome, detail = "timeout", f"no answer within {error.timeout:g} s"
        elif isinstance(error, ConnectionClosed):
            outcome, detail = "closed", f"no answer: {error}"
        else:
            return
        err.print(f"{cp_id} {action}: {detail}", highlight=False, markup=False)
        if log is not None:
            log.call_failed(cp_id, action, message_id, outcome, detail)

    future.add_done_callback(done)
    return None
