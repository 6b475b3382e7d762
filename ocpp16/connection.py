"""``ClientBase``: the sans-I/O core over one ``websockets`` connection.

A ``ClientBase`` is what a central system's ``"connection"`` listener receives,
and the base of the charge point's :class:`~ocpp16.client.Client`. It moves
text between a :class:`~ocpp16.protocol.Protocol` and a
``websockets.asyncio`` connection, runs handlers, and turns the core's events
into emitter events and futures. Every OCPP decision is the core's.

Handlers (DESIGN.md "Handlers"): ``fn(request)`` or ``fn(request, cb)``, plain
or ``async``; the reply is ``cb(response)``, the returned value, or what a
returned awaitable resolves to; the first reply wins. ``raise OcppError(...)``
sends that CALLERROR; any other exception sends ``InternalError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed as WsClosed

from ocpp16._emitter import _SafeEmitter
from ocpp16.errors import CallTimeout, ConnectionClosed, Ocpp16Error, OcppError, ValidationError
from ocpp16.protocol import (
    BadMessage,
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    MessageIgnored,
    Protocol,
    Role,
    State,
)
from ocpp16.validation import Mode, check_mode

if TYPE_CHECKING:
    from websockets.asyncio.connection import Connection

    from ocpp16.server import Handshake

__all__ = ["ClientBase", "Options"]

_log = logging.getLogger("ocpp16")


class Options:
    """The options shared by ``Server`` and ``Client``, checked once.

    Every keyword is one of DESIGN.md's options; a ``Server`` applies them to
    each of its connections.

    Args:
        call_timeout: Seconds a ``call_request`` waits for its answer (30).
        handler_timeout: Seconds a handler has to reply before ``InternalError`` is sent (30).
        call_concurrency: CALLs outstanding at once per connection (1, OCPP-J 1.6 §4.1.1).
        validation: ``"strict"`` (default), ``"warn"`` or ``"off"``.
        validation_overrides: Action → mode, over ``validation``.
        ping_interval: Seconds between WebSocket pings; ``None`` disables them (20).
        ping_timeout: Seconds to wait for a pong before closing; ``None`` waits forever (20).
        max_message_size: Largest incoming frame in bytes; larger closes with 1009 (1 MiB).
        bad_message_budget: Refused frames a connection may send per minute; one
            more closes it with 1002. ``None`` (the default) never closes for that.
        handshake_timeout: Seconds the opening handshake may take (10).
        close_timeout: Seconds the closing handshake waits for the peer (10); a
            peer that stopped answering pings is dropped, and its pending calls
            fail, ``ping_timeout`` + ``close_timeout`` after its last pong.
        message_id_factory: Makes message ids (uuid4 strings by default).
        logger: The logger to use (``logging.getLogger("ocpp16")`` by default).
    """

    __slots__ = (
        "bad_message_budget",
        "call_concurrency",
        "call_timeout",
        "close_timeout",
        "handler_timeout",
        "handshake_timeout",
        "logger",
        "max_message_size",
        "message_id_factory",
        "ping_interval",
        "ping_timeout",
        "validation",
        "validation_overrides",
    )

    def __init__(
        self,
        *,
        call_timeout: float = 30.0,
        handler_timeout: float = 30.0,
        call_concurrency: int = 1,
        validation: Mode = "strict",
        validation_overrides: Mapping[str, Mode] | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_message_size: int | None = 2**20,
        message_id_factory: Callable[[], str] | None = None,
        logger: logging.Logger | None = None,
        bad_message_budget: int | None = None,
        handshake_timeout: float | None = 10.0,
        close_timeout: float | None = 10.0,
    ) -> None:
        for name, value in (("call_timeout", call_timeout), ("handler_timeout", handler_timeout)):
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if not isinstance(call_concurrency, int) or call_concurrency < 1:
            raise ValueError(
                f"call_concurrency must be an int of at least 1, not {call_concurrency!r}"
            )
        for name, seconds in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout)):
            if seconds is not None and (not isinstance(seconds, int | float) or seconds <= 0):
                raise ValueError(
                    f"{name} must be a positive number of seconds or None, not {seconds!r}"
                )
        if max_message_size is not None and (
            not isinstance(max_message_size, int) or max_message_size < 1
        ):
            raise ValueError(
                f"max_message_size must be a positive int or None, not {max_message_size!r}"
            )
        if bad_message_budget is not None and (
            not isinstance(bad_message_budget, int) or bad_message_budget < 0
        ):
            raise ValueError(
                f"bad_message_budget must be a non-negative int or None, not {bad_message_budget!r}"
            )
        for name, limit in (
            ("handshake_timeout", handshake_timeout),
            ("close_timeout", close_timeout),
        ):
            if limit is not None and (not isinstance(limit, int | float) or limit <= 0):
                raise ValueError(
                    f"{name} must be a positive number of seconds or None, not {limit!r}"
                )
        self.bad_message_budget = bad_message_budget
        self.handshake_timeout = handshake_timeout
        self.close_timeout = close_timeout
        self.call_timeout = float(call_timeout)
        self.handler_timeout = float(handler_timeout)
        self.call_concurrency = call_concurrency
        self.validation: Mode = check_mode(validation)
        self.validation_overrides: dict[str, Mode] = {
            action: check_mode(mode) for action, mode in (validation_overrides or {}).items()
        }
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message_size = max_message_size
        self.message_id_factory = message_id_factory
        self.logger = logger or _log


class _CpLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the charge point id to every record (``record.cp_id``) and to the message."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        cp_id = self.extra["cp_id"] if self.extra else "?"
        kwargs.setdefault("extra", {})["cp_id"] = cp_id
        return f"[{cp_id}] {msg}", kwargs


def _takes_cb(handler: Callable[..., Any], arguments: int = 2) -> bool:
    """Tell whether ``handler`` takes a ``cb`` as its ``arguments``-th positional argument.

    Action handlers are ``fn(request, cb)`` or ``fn(request)`` (``arguments=2``);
    authorization listeners ``fn(cp_id, handshake, cb)`` or ``fn(cp_id, handshake)``.
    """
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return False
    positional = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= arguments


class ClientBase(_SafeEmitter):
    """One OCPP-J connection: the charge point's ``Client`` or a central system's peer.

    Listen for actions with ``on("BootNotification", handler)``; make CALLs with
    :meth:`call_request`. Events: every action this side can receive,
    ``"close"(code, reason)``, ``"error"(exc)``, ``"message"(direction, text)``
    (``direction`` is ``"in"`` or ``"out"``) and ``"bad_message"(text, error)``.

    Args:
        cp_id: The charge point id.
        role: The role this end plays (a ``Client`` is the charge point).
        options: The connection's options.

    Attributes:
        handshake: On a central system's connection, the :class:`~ocpp16.server.Handshake`
            the charge point opened it with; ``None`` on a ``Client``.
        validation: The connection's validation mode; may be changed, even from
            a ``"connection"`` listener.
        validation_overrides: Action → mode, likewise changeable.
    """

    def __init__(self, cp_id: str, *, role: Role, options: Options) -> None:
        super().__init__()
        self._cp_id = cp_id
        self._role = role
        self._options = options
        self.logger: logging.LoggerAdapter[Any] = _CpLogger(options.logger, {"cp_id": cp_id})
        self._validation: Mode = options.validation
        self._validation_overrides: dict[str, Mode] = dict(options.validation_overrides)
        self._protocol: Protocol | None = None
        self._ws: Connection | None = None
        self._futures: dict[str, _CallFuture] = {}
        # The one timer of this connection's call timeouts, and when it fires.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # Incoming CALLs not yet answered, and the tasks of coroutine handlers.
        self._incoming: dict[str, _IncomingCall] = {}
        self._handler_tasks: set[asyncio.Future[Any]] = set()
        # Refused frames in the current minute, and when that minute began.
        self._bad_count = 0
        self._bad_since = 0.0
        # On a central system's connection, what the charge point sent when it
        # connected; None on a Client.
        self.handshake: Handshake | None = None
        # listener -> whether it takes cb; per connection, so that it dies with it.
        self._arity: dict[Callable[..., Any], bool] = {}
        # Frames taken from the core, not yet handed to websockets; and the task
        # that finishes a send which had to wait (backpressure), if any.
        self._out: deque[str] = deque()
        self._writing = False
        self._writer: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._close_code = 1006
        self._close_reason = ""

    # ------------------------------------------------------------------ identity

    def get_cp_id(self) -> str:
        """Return the charge point id (ocpp-ts: ``getCpId()``).

        Returns:
            The charge point id.
        """
        return self._cp_id

    @property
    def cp_id(self) -> str:
        """The charge point id."""
        return self._cp_id

    @property
    def validation(self) -> Mode:
        """The validation mode of this connection: ``"strict"``, ``"warn"`` or ``"off"``."""
        return self._validation

    @validation.setter
    def validation(self, mode: Mode) -> None:
        self._validation = check_mode(mode)
        if self._protocol is not None:
            self._protocol.validation = self._validation

    @property
    def validation_overrides(self) -> dict[str, Mode]:
        """Per-action validation modes of this connection (a live dict)."""
        return self._validation_overrides

    @validation_overrides.setter
    def validation_overrides(self, overrides: Mapping[str, Mode]) -> None:
        self._validation_overrides = {a: check_mode(m) for a, m in overrides.items()}
        if self._protocol is not None:
            self._protocol.validation_overrides = self._validation_overrides

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keepalive pings on this connection; ``None``: no pings.

        A ``"connection"`` listener may change it for one charge point. A change
        takes effect after the current interval; a connection opened with
        ``ping_interval=None`` sends no pings at all.
        """
        ws = self._ws
        return ws.ping_interval if ws is not None else self._options.ping_interval

    @ping_interval.setter
    def ping_interval(self, seconds: float | None) -> None:
        if self._ws is not None:
            self._ws.ping_interval = seconds

    @property
    def ping_timeout(self) -> float | None:
        """Seconds to wait for a pong before closing (1011); ``None`` never closes for it.

        ``None`` suits chargers that never answer pings: the pings still keep NAT
        and proxies from dropping the idle connection. Changeable per connection.
        """
        ws = self._ws
        return ws.ping_timeout if ws is not None else self._options.ping_timeout

    @ping_timeout.setter
    def ping_timeout(self, seconds: float | None) -> None:
        if self._ws is not None:
            self._ws.ping_timeout = seconds

    @property
    def is_open(self) -> bool:
        """True while the connection is open and CALLs can be made."""
        return self._protocol is not None and self._protocol.state is State.OPEN

    @property
    def remote_address(self) -> Any:
        """The peer's address as the socket gives it, or ``None`` when not connected."""
        return self._ws.remote_address if self._ws is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The negotiated WebSocket subprotocol (``"ocpp1.6"``), or ``None``."""
        return self._ws.subprotocol if self._ws is not None else None

    # ------------------------------------------------------------------ life cycle

    def _attach(self, ws: Connection) -> None:
        """Bind this object to an open websockets connection and a fresh protocol core."""
        self._ws = ws
        self._protocol = Protocol(
            self._role,
            validation=self._validation,
            validation_overrides=self._validation_overrides,
            call_concurrency=self._options.call_concurrency,
            message_id_factory=self._options.message_id_factory,
            logger=self.logger,
        )
        # Share the dict itself, not the core's copy: "validation_overrides is a
        # live dict", so changing an entry must reach the core.
        self._protocol.validation_overrides = self._validation_overrides
        self._out.clear()
        self._writing = False
        self._closed = asyncio.get_running_loop().create_future()
        self._close_code, self._close_reason = 1006, ""

    async def _run(self) -> None:
        """Read frames until the connection closes, then fail what is pending."""
        ws, protocol = self._ws, self._protocol
        assert ws is not None and protocol is not None
        # The adapter's own logger: one call, not two, to learn that DEBUG is off.
        raw_logger = self.logger.logger
        events = self._events
        try:
            async for text in ws:
                if raw_logger.isEnabledFor(logging.DEBUG):
                    self.logger.debug("< %s", text)
                if isinstance(text, bytes):
                    # DESIGN.md: binary frames are bad messages (OCPP-J messages are JSON text).
                    self._bad_message(
                        text,
                        OcppError("FormationViolation", "binary frame: OCPP-J uses text frames"),
                    )
                    continue
                if "message" in events:
                    self._emit_safe("message", "in", text)
                try:
                    for event in protocol.receive_text(text):
                        if type(event) is CallReceived:  # the common case, without a call
                            self._handle(event)
                        else:
                            self._dispatch(event)
                except Exception as exc:  # a bug of ours in one frame must not end the connection
                    self._report(exc)
                if protocol.has_data_to_send and not self._writing:
                    # Answers this frame produced: awaited here, so that a peer
                    # that stops reading also stops being read (backpressure).
                    await self._write(ws, protocol)
        except WsClosed as exc:
            # The iteration ends quietly on a clean close, and raises when the
            # connection failed; then the frames say what happened (1009 for a
            # frame over max_message_size, which no peer echoes).
            frame = exc.rcvd or exc.sent
            if frame is not None:
                self._close_code, self._close_reason = frame.code, frame.reason
        except Exception as exc:  # nor take the process down
            self._report(exc)
        finally:
            await self._on_closed()
            await self._drain_tasks()

    def _flush(self) -> None:
        """Hand every frame the core has produced to websockets, in order, now.

        ``websockets``' ``send()`` is a coroutine that, as long as the socket
        takes the data (no backpressure), completes without ever suspending. It
        is therefore stepped here directly, as an eager task would be: no task
        and no loop iteration per frame. Only a send that has to wait is handed
        to a task, and while it waits later frames queue behind it, so frames
        always leave in the order the core produced them.
        """
        protocol = self._protocol
        if protocol is None:
            return
        if protocol.has_data_to_send:
            self._out.extend(protocol.data_to_send())
        if self._writing or not self._out:
            return
        ws = self._ws
        assert ws is not None
        self._writing = True
        try:
            out = self._out
            while out:
                text = out.popleft()
                self._announce(text)
                send = ws.send(text)
                try:
                    waiting = send.send(None)
                except StopIteration:
                    continue
                # The send must wait: finish it, and the rest, in a task.
                self._writer = asyncio.ensure_future(self._finish_send(send, waiting))
                return
        except WsClosed:
            # The connection is closing: the reader sees it and fails what is pending.
            self._out.clear()
        self._writing = False

    def _announce(self, text: str) -> None:
        """Log an outgoing frame at DEBUG and emit it as a "message" event, if anyone wants it."""
        if self.logger.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("> %s", text)
        if "message" in self._events:
            self._emit_safe("message", "out", text)

    async def _write(self, ws: Connection, protocol: Protocol) -> None:
        """Send what the core produced, from the read loop, in order."""
        self._writing = True
        out = self._out
        try:
            while True:
                if protocol.has_data_to_send:
                    out.extend(protocol.data_to_send())
                if not out:
                    break
                text = out.popleft()
                self._announce(text)
                await ws.send(text)
        except WsClosed:
            out.clear()
        finally:
            self._writing = False

    async def _finish_send(self, send: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Drive a send that had to wait to its end, then send what queued meanwhile."""
        try:
            while True:
                try:
                    # What the coroutine yielded: a future it waits for, or None
                    # for a bare yield. Its outcome is read by the coroutine itself.
                    if waiting is None:
                        await asyncio.sleep(0)
                    else:
                        await asyncio.wait((waiting,))
                except asyncio.CancelledError:
                    # Unwind the send where it waits rather than drop it there: its
                    # frames include websockets' send_context, an async generator
                    # that, closed mid-await, stays "running" until the garbage
                    # collector meets it and the loop reports "aclose(): asynchronous
                    # generator is already running".
                    with contextlib.suppress(BaseException):
                        send.throw(asyncio.CancelledError())
                    send.close()
                    raise
                try:
                    waiting = send.send(None)
                except StopIteration:
                    break
        except WsClosed:
            self._out.clear()
        finally:
            self._writing = False
            self._writer = None
        self._flush()

    async def _drain_tasks(self) -> None:
        """Give running handlers up to ``handler_timeout`` to finish, then cancel them.

        Their replies can no longer be sent, but their work (a database write,
        say) deserves its chance to complete.
        """
        if not self._handler_tasks:
            return
        running = set(self._handler_tasks)
        _, still_running = await asyncio.wait(running, timeout=self._options.handler_timeout)
        for task in still_running:
            task.cancel()
        if still_running:
            self.logger.warning(
                "cancelled %d handler(s) still running after the connection closed",
                len(still_running),
            )
            await asyncio.wait(still_running)

    async def _on_closed(self) -> None:
        ws, protocol = self._ws, self._protocol
        assert ws is not None and protocol is not None
        if ws.close_code is not None and self._close_code == 1006:
            self._close_code = ws.close_code
            self._close_reason = ws.close_reason or ""
        elif ws.state.name != "CLOSED":
            with contextlib.suppress(Exception):
                await ws.close()
        error = ConnectionClosed(self._close_code, self._close_reason)
        for lost in protocol.connection_lost():
            self._fail(lost.message_id, error)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for call in self._incoming.values():
            call.abandon()
        self._incoming.clear()
        if self._writer is not None:
            self._writer.cancel()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._emit_safe("close", self._close_code, self._close_reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait until it is closed.

        Pending ``call_request`` futures fail with :class:`ConnectionClosed`.

        Args:
            code: The WebSocket close code (1000, normal closure).
            reason: The close reason.
        """
        if self._ws is None or self._protocol is None:
            return
        self._protocol.start_closing()
        await self._ws.close(code, reason)
        if self._closed is not None:
            await asyncio.shield(self._closed)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""
        if self._closed is not None:
            await asyncio.shield(self._closed)

    # ------------------------------------------------------------------ CALLs we make

    def call_request(
        self, action: str, payload: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """Send a CALL; return a future of its CALLRESULT payload (ocpp-ts: ``callRequest``).

        The CALL goes out as soon as the outgoing queue allows: at most
        ``call_concurrency`` CALLs await an answer at once. Every failure
        arrives through the future; nothing is raised here.

        Args:
            action: The action, such as ``"Reset"``.
            payload: The request payload; ``None`` sends ``{}``.
            timeout: Seconds to wait for the answer, counted from this call;
                ``call_timeout`` by default.

        Returns:
            A future that resolves with the CALLRESULT payload, or fails with
            :class:`OcppError` (a CALLERROR), :class:`CallTimeout`,
            :class:`ConnectionClosed`, or :class:`ValidationError` (strict mode:
            the payload broke its schema and was not sent, or the answer broke
            its schema).
        """
        loop = asyncio.get_running_loop()
        future = _CallFuture(loop=loop)
        protocol = self._protocol
        if protocol is None or protocol.state is not State.OPEN:
            future.set_exception(
                ConnectionClosed(self._close_code, self._close_reason or "not connected")
            )
            return future
        try:
            message_id = protocol.send_call(action, {} if payload is None else payload)
        except Ocpp16Error as exc:
            future.set_exception(exc)
            return future
        seconds = self._options.call_timeout if timeout is None else timeout
        future.connection, future.message_id = self, message_id
        future.action, future.seconds = action, seconds
        future.deadline = deadline = loop.time() + seconds
        self._futures[message_id] = future
        # One timer per connection, set for the earliest deadline: a CALL whose
        # deadline is later than the timer's costs no timer of its own.
        if self._timer is None or deadline < self._timer_at:
            self._arm(deadline)
        self._flush()
        return future

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._expire)

    def _expire(self) -> None:
        """Fail every CALL past its deadline with CallTimeout; re-arm for the next one."""
        self._timer = None
        now = asyncio.get_running_loop().time()
        protocol = self._protocol
        earliest = None
        for message_id, future in list(self._futures.items()):
            if future.deadline <= now:
                del self._futures[message_id]
                if protocol is not None:
                    protocol.cancel_call(message_id)
                future.set_exception(CallTimeout(future.action, message_id, future.seconds))
            elif earliest is None or future.deadline < earliest:
                earliest = future.deadline
        if earliest is not None:
            self._arm(earliest)
        self._flush()

    def _cancelled(self, message_id: str) -> None:
        # The caller cancelled the future: give its CALL's place to the next one.
        if self._futures.pop(message_id, None) is not None:
            protocol = self._protocol
            if protocol is not None and protocol.cancel_call(message_id):
                self._flush()

    def _settle(self, message_id: str) -> _CallFuture | None:
        future = self._futures.pop(message_id, None)
        return None if future is None or future.done() else future

    def _fail(self, message_id: str, error: BaseException) -> None:
        future = self._settle(message_id)
        if future is not None:
            future.set_exception(error)

    # ------------------------------------------------------------------ CALLs we receive

    def _dispatch(self, event: Any) -> None:
        """Act on any event but CallReceived, which the read loop hands to _handle."""
        if type(event) is CallResultReceived:
            future = self._settle(event.message_id)
            if future is not None:
                future.set_result(event.payload)
        elif type(event) is CallErrorReceived:
            self._fail(event.message_id, event.error)
        elif type(event) is BadMessage:
            self._bad_message(event.text, event.error)
        elif type(event) is MessageIgnored:
            self.logger.info("ignored a frame (%s): %.200s", event.reason, event.text)

    def _bad_message(self, text: str | bytes, error: OcppError) -> None:
        self.logger.warning("bad message [%s] %s: %.200r", error.code, error.description, text)
        self._emit_safe("bad_message", text, error)
        budget = self._options.bad_message_budget
        if budget is None:
            return
        now = asyncio.get_running_loop().time()
        if now - self._bad_since >= 60.0:
            self._bad_since, self._bad_count = now, 0
        self._bad_count += 1
        protocol = self._protocol
        if self._bad_count > budget and protocol is not None and protocol.state is State.OPEN:
            # RFC 6455 §7.4.1: 1002, the endpoint is terminating for a protocol error.
            self.logger.warning("more than %d bad messages in a minute: closing", budget)
            # ClientBase.close, not Client.close: that one awaits the read loop,
            # which is what called us.
            task = asyncio.ensure_future(ClientBase.close(self, 1002, "too many bad messages"))
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)

    def _handle(self, event: CallReceived) -> None:
        """Run the listeners of one incoming CALL; the first reply is sent the moment it is given.

        Plain functions run here, at once; each coroutine (or other awaitable)
        a listener returns runs in a task of its own, so that a slow handler
        never holds up the connection and may itself ``await call_request``.
        """
        message_id, action = event.message_id, event.action
        entries = self._events.get(action)
        if not entries:
            # OCPP-J 1.6 table 7: NotSupported, "recognized but not supported".
            self._answer(message_id, action, OcppError("NotSupported", f"no handler for {action}"))
            return
        # (listener as registered, what to call): for once() listeners pyee stores
        # a wrapper that removes itself, and calling it keeps that rule.
        if len(entries) == 1:
            listener, run = next(iter(entries.items()))
            if not self._wants_cb(listener):
                # The common case, kept lean: one plain function that returns its reply.
                try:
                    result = run(event.payload)
                except Exception as exc:
                    self._new_call(message_id, action).failed(exc, listener)
                    return
                if type(result) is dict:
                    self._answer(message_id, action, result, flush=False)
                    return
                call = self._new_call(message_id, action)
                self._take(call, result, False, listener)
                if not call.answered:
                    call.start_timer(self._options.handler_timeout)
                return
        call = self._new_call(message_id, action)
        for listener, run in list(entries.items()):
            takes_cb = self._wants_cb(listener)
            try:
                result = run(event.payload, call.cb) if takes_cb else run(event.payload)
            except Exception as exc:
                call.failed(exc, listener)
                continue
            self._take(call, result, takes_cb, listener)
        if not call.answered:
            call.start_timer(self._options.handler_timeout)

    def _wants_cb(self, listener: Callable[..., Any]) -> bool:
        takes_cb = self._arity.get(listener)
        if takes_cb is None:
            takes_cb = self._arity[listener] = _takes_cb(listener)
        return takes_cb

    def _new_call(self, message_id: str, action: str) -> _IncomingCall:
        call = self._incoming[message_id] = _IncomingCall(self, message_id, action)
        return call

    def _take(self, call: _IncomingCall, result: Any, takes_cb: bool, listener: Any) -> None:
        """What a listener returned: a reply, nothing, or an awaitable to run in its own task."""
        if type(result) is not dict and inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_handler(call, result, takes_cb, listener))
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)
        else:
            call.returned(result, takes_cb, listener)

    async def _await_handler(
        self, call: _IncomingCall, awaitable: Awaitable[Any], takes_cb: bool, listener: Any
    ) -> None:
        try:
            value = await awaitable
        except Exception as exc:
            call.failed(exc, listener)
        else:
            call.returned(value, takes_cb, listener)

    def _answer(self, message_id: str, action: str, reply: Any, flush: bool = True) -> None:
        """Send the reply to an incoming CALL now: a response dict or an OcppError.

        ``flush=False`` leaves the writing to the read loop, which flushes after
        every frame anyway.
        """
        self._incoming.pop(message_id, None)
        protocol = self._protocol
        if protocol is None or protocol.state is State.CLOSED:
            return
        if not isinstance(reply, OcppError):
            try:
                protocol.send_result(message_id, reply)
            except ValidationError as exc:
                # DESIGN.md: a handler's own invalid response is not sent; the
                # peer gets InternalError naming the violated field.
                self.logger.error(
                    "the %s handler's response breaks its schema, sending InternalError: [%s] %s",
                    action,
                    exc.code,
                    exc.description,
                )
                reply = OcppError(
                    "InternalError",
                    f"the {action} handler's response is invalid: {exc.description}",
                    {"path": exc.path, "keyword": exc.keyword},
                )
            else:
                if flush:
                    self._flush()
                return
        protocol.send_error(message_id, reply.code, reply.description, reply.details)
        if flush:
            self._flush()


class _CallFuture(asyncio.Future[dict[str, Any]]):
    """The future of one ``call_request``: an ``asyncio.Future`` that knows its CALL.

    Cancelling it frees the CALL's place in the outgoing queue at once, without
    a done-callback on every future.
    """

    __slots__ = ("action", "connection", "deadline", "message_id", "seconds")

    connection: ClientBase
    message_id: str
    action: str
    seconds: float
    deadline: float

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        # Set once the CALL is made; a future that failed before has nothing to free.
        connection = getattr(self, "connection", None)
        if connection is not None:
            connection._cancelled(self.message_id)
        return True


class _IncomingCall:
    """One incoming CALL while its listeners run: the first reply wins."""

    __slots__ = ("_conn", "action", "answered", "message_id", "timer")

    def __init__(self, conn: ClientBase, message_id: str, action: str) -> None:
        self._conn = conn
        self.message_id = message_id
        self.action = action
        self.answered = False
        self.timer: asyncio.TimerHandle | None = None

    def settle(self, reply: Any, source: object) -> None:
        if self.answered:
            self._conn.logger.warning(
                "%s %r: a later reply from %s was dropped; the first reply wins",
                self.action,
                self.message_id,
                _name(source),
            )
            return
        self.answered = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._conn._answer(self.message_id, self.action, reply)

    def cb(self, response: Any = None) -> None:
        """The ``cb`` handed to ``fn(request, cb)`` handlers."""
        self.settle({} if response is None else response, "cb")

    def returned(self, value: Any, takes_cb: bool, listener: object) -> None:
        if value is not None:
            self.settle(value, listener)
        elif not takes_cb:
            # DESIGN.md: a handler without cb that returns None replies {}.
            self.settle({}, listener)

    def failed(self, exc: BaseException, listener: object) -> None:
        if isinstance(exc, OcppError):
            self.settle(exc, listener)
            return
        self._conn.logger.error(
            "the %s handler %s raised; sending InternalError",
            self.action,
            _name(listener),
            exc_info=exc,
        )
        self.settle(
            OcppError("InternalError", f"{type(exc).__name__} in the {self.action} handler"),
            listener,
        )

    def start_timer(self, seconds: float) -> None:
        self.timer = asyncio.get_running_loop().call_later(seconds, self._time_out, seconds)

    def _time_out(self, seconds: float) -> None:
        self.timer = None
        self._conn.logger.error(
            "no %s handler replied within %g s; sending InternalError", self.action, seconds
        )
        self.settle(
            OcppError(
                "InternalError", f"no reply from the {self.action} handler within {seconds:g} s"
            ),
            "handler_timeout",
        )

    def abandon(self) -> None:
        """The connection is gone: no reply can be sent any more."""
        self.answered = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _name(source: object) -> str:
    return str(getattr(source, "__qualname__", source))
