"""``ClientBase``: one OCPP-J connection, a protocol core over a transport.

A ``ClientBase`` is what a central system's ``"connection"`` listener receives,
and the base of the charge point's :class:`~ocpp16.client.Client`. It moves
text between a :class:`~ocpp16.protocol.Protocol` and a transport (a
``websockets.asyncio`` connection, see ``ocpp16._transport``), runs the
handlers of incoming CALLs (``ocpp16._dispatch``), keeps the futures of its
own CALLs (``ocpp16._calls``), and turns the core's events into emitter
events, futures and observer hooks (:mod:`ocpp16.observer`). Every OCPP
decision is the core's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from ocpp16._calls import CallFuture, Calls, check_call
from ocpp16._closing import Closing, Step
from ocpp16._dispatch import Dispatcher, describe
from ocpp16._internals import listener_table
from ocpp16._listeners import CheckedEmitter
from ocpp16._observed import Observed
from ocpp16._observing import Hooks, attached, detached, notify
from ocpp16._transport import Transport, TransportClosed
from ocpp16._typed_calls import TypedCalls
from ocpp16.errors import ConnectionClosed, Ocpp16Error, OcppError, ValidationError
from ocpp16.options import Options
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
    from ocpp16.handshake import Handshake

__all__ = ["ClientBase", "Options"]

# Why a connection reads no further: a send waits (the peer reads slowly), or
# max_incoming_calls CALLs await their handlers' replies.
_HOLD_WRITING = 1
_HOLD_HANDLERS = 2


class _CpLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the charge point id to every record (``record.cp_id``) and to the message."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        cp_id = self.extra["cp_id"] if self.extra else "?"
        kwargs.setdefault("extra", {})["cp_id"] = cp_id
        return f"[{cp_id}] {msg}", kwargs


class ClientBase(CheckedEmitter, Observed, TypedCalls):
    """One OCPP-J connection: the charge point's ``Client`` or a central system's peer.

    Listen for actions with ``on("BootNotification", handler)``, and for every
    action without a listener of its own with ``on("*", fn(action, request))``;
    make CALLs with :meth:`call_request`. Events: every action this side can receive,
    ``"close"(code, reason)``, ``"error"(exc)``, ``"message"(direction, text)``
    (``direction`` is ``"in"`` or ``"out"``) and ``"bad_message"(text, error)``.
    Structured hooks: :meth:`add_observer`.

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
        session: On a central system's connection, what its ``"authorization"``
            listeners gave when they accepted it (``cb(session=...)``,
            ``Accept(session)``): the tenant, the charger's record; ``None``
            when they gave none, and on a ``Client``. Yours to set as well.
    """

    # A connection's own state in slots. Beyond the memory of its own entries,
    # this keeps the instance dict (pyee's attributes, a subclass's) small:
    # CPython shares the keys of instance dicts between objects of a class only
    # up to some 30 attributes; past that each connection carries a dict of its
    # own, about 1.3 KB more. A subclass's attributes still go in the dict.
    __slots__ = (
        "_bad_count",
        "_bad_since",
        "_calls",
        "_close_code",
        "_close_reason",
        "_closed",
        "_closing",
        "_cp_id",
        "_dispatch",
        "_ended",
        "_ending",
        "_holds",
        "_listeners",
        "_observers",
        "_options",
        "_out",
        "_protocol",
        "_received_at",
        "_role",
        "_sent_waiter",
        "_transport",
        "_validation",
        "_validation_overrides",
        "_writer",
        "_writing",
        "handshake",
        "logger",
        "session",
    )

    def __init__(self, cp_id: str, *, role: Role, options: Options) -> None:
        super().__init__()
        self._cp_id = cp_id
        self._role = role
        self._options = options
        self.logger: logging.LoggerAdapter[Any] = _CpLogger(options.logger, {"cp_id": cp_id})
        self._validation: Mode = options.validation
        self._validation_overrides: dict[str, Mode] = dict(options.validation_overrides)
        self._protocol: Protocol | None = None
        self._transport: Transport | None = None
        self._listeners = listener_table(self)
        self._calls = Calls(self)
        self._dispatch = Dispatcher(self, self._listeners, options)
        # Refused frames in the current minute, and when that minute began.
        self._bad_count = 0
        self._bad_since = 0.0
        # On a central system's connection, what the charge point sent when it
        # connected; None on a Client.
        self.handshake: Handshake | None = None
        # What the authorization listeners found (README "A central system").
        self.session: Any = None
        # Frames taken from the core, not yet handed to the transport; and the
        # task that finishes a send which had to wait (backpressure), if any.
        self._out: deque[str] = deque()
        self._writing = False
        self._writer: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._close_code = 1006
        self._close_reason = ""
        # Empty (false) while nobody observes: every hook site checks only that.
        self._observers: tuple[Hooks, ...] = ()
        # While observed: when each incoming CALL arrived, by message id.
        self._received_at: dict[str, float] = {}
        # The local close (the drain of close()) and max_incoming_calls.
        self._closing = Closing(self, self._dispatch)
        # Resolved when the writing stops, for a drain waiting for its answers to go out.
        self._sent_waiter: asyncio.Future[None] | None = None
        # Reading: why it is held (_HOLD_* bits), the task that ends the connection
        # once the transport is gone, and the future resolved when that is done.
        self._holds = 0
        self._ending: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] | None = None

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
        transport = self._transport
        return transport.ping_interval if transport is not None else self._options.ping_interval

    @ping_interval.setter
    def ping_interval(self, seconds: float | None) -> None:
        if self._transport is not None:
            self._transport.ping_interval = seconds

    @property
    def ping_timeout(self) -> float | None:
        """Seconds to wait for a pong before closing (1011); ``None`` never closes for it.

        ``None`` suits chargers that never answer pings: the pings still keep NAT
        and proxies from dropping the idle connection. Changeable per connection.
        """
        transport = self._transport
        return transport.ping_timeout if transport is not None else self._options.ping_timeout

    @ping_timeout.setter
    def ping_timeout(self, seconds: float | None) -> None:
        if self._transport is not None:
            self._transport.ping_timeout = seconds

    @property
    def options(self) -> Options:
        """The options this connection was made with (shared with its ``Server``: read only)."""
        return self._options

    @property
    def is_open(self) -> bool:
        """True while the connection is open and CALLs can be made."""
        return self._protocol is not None and self._protocol.state is State.OPEN

    @property
    def remote_address(self) -> Any:
        """The peer's address as the socket gives it, or ``None`` when not connected."""
        return self._transport.remote_address if self._transport is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The negotiated WebSocket subprotocol (``"ocpp1.6"``), or ``None``."""
        return self._transport.subprotocol if self._transport is not None else None

    # ------------------------------------------------------------------ observers

    def add_observer(self, observer: Hooks) -> None:
        """Attach ``observer``: its hooks see this connection from now on.

        Adding an observer that is already attached changes nothing.

        Args:
            observer: An :class:`~ocpp16.observer.Observer`.

        Raises:
            TypeError: ``observer`` is not an ``Observer`` (lacks its hooks).
        """
        self._observers = attached(self._observers, observer)

    def remove_observer(self, observer: Hooks) -> None:
        """Detach ``observer``: its hooks are no longer called for this connection.

        Args:
            observer: An observer attached with :meth:`add_observer`.

        Raises:
            ValueError: ``observer`` is not attached.
        """
        self._observers = detached(self._observers, observer, self.cp_id)

    def _violation(self, action: str, kind: str, where: str, error: Exception) -> None:
        # Warn mode let a violation through: observers hear of it (the log already has).
        if self._observers:
            self._notify("violation", self, action, kind, where, error)

    def _notify(self, hook: str, *args: Any) -> None:
        notify(self._observers, self._report, hook, *args)

    # ------------------------------------------------------------------ life cycle

    def _attach(self, transport: Transport) -> None:
        """Bind this object to an open transport and a fresh protocol core."""
        self._transport = transport
        self.handshake = transport.handshake
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
        self._protocol.on_violation = self._violation
        self._out.clear()
        self._writing = False
        self._closed = asyncio.get_running_loop().create_future()
        self._close_code, self._close_reason = 1006, ""
        self._closing.reset(self._options.max_incoming_calls)
        if self._observers:
            self._notify("connect", self)

    def _start_reading(self) -> asyncio.Future[None]:
        """Have the transport hand each incoming frame to this connection.

        No task reads: the transport calls :meth:`_received` per frame, and
        :meth:`_gone` once it is closed, which fails what is pending in a task
        made then. Returns a future that resolves once all of that is done.
        """
        transport = self._transport
        assert transport is not None
        self._ended = ended = asyncio.get_running_loop().create_future()
        self._holds = 0
        transport.start_reading(self._received, self._gone)
        return ended

    def _received(self, text: str | bytes) -> None:
        """One incoming frame: through the core, its events acted on, its answers out."""
        protocol, closing = self._protocol, self._closing
        assert protocol is not None
        if closing.step is Step.CLOSING:
            # The close frame is on its way: what the peer still sends is consumed unread.
            return
        try:
            # The adapter's own logger: one call, not two, to learn that DEBUG is off.
            if self.logger.logger.isEnabledFor(logging.DEBUG):
                self.logger.debug("< %s", text)
            if isinstance(text, bytes):
                # README "Events": a binary frame is a bad message (OCPP-J messages are text).
                self._bad_message(
                    text, OcppError("FormationViolation", "binary frame: OCPP-J uses text frames")
                )
            elif self._observers:
                if "message" in self._listeners:
                    self._emit_safe("message", "in", text)
                self._receive_observed(protocol, text)
            else:
                if "message" in self._listeners:
                    self._emit_safe("message", "in", text)
                try:
                    for event in protocol.receive_text(text):
                        if type(event) is CallReceived:  # the common case, without a call
                            if closing.step is Step.NONE:
                                self._dispatch.handle(event)
                            else:
                                closing.leave_unanswered(event)
                        else:
                            self._on_event(event)
                except Exception as exc:
                    # A bug of ours in one frame must not end the connection.
                    self._report(exc)
            if not self._writing and (self._out or protocol.has_data_to_send):
                self._flush()
                if self._writing:
                    # A send must wait (the peer reads slowly): so does reading,
                    # until it is done (backpressure).
                    self._hold(_HOLD_WRITING)
            if len(self._dispatch.incoming) >= closing.read_limit and closing.hold():
                # max_incoming_calls: read no further until a handler replies.
                self._hold(_HOLD_HANDLERS)
                self._dispatch.changed().add_done_callback(self._handlers_changed)
        except Exception as exc:  # nor take the process down
            self._report(exc)

    def _hold(self, reason: int) -> None:
        if not self._holds and self._transport is not None:
            self._transport.pause_reading()
        self._holds |= reason

    def _release(self, reason: int) -> None:
        if self._holds & reason:
            self._holds &= ~reason
            if not self._holds and self._transport is not None:
                self._transport.resume_reading()

    def _handlers_changed(self, _: object) -> None:
        closing = self._closing
        if (
            self._ended is None
            or self._ended.done()
            or closing.step is Step.CLOSING
            or len(self._dispatch.incoming) < closing.read_limit
        ):
            self._release(_HOLD_HANDLERS)
        else:
            self._dispatch.changed().add_done_callback(self._handlers_changed)

    def _gone(self) -> None:
        """The transport is closed: fail what is pending, in a task made now."""
        task = asyncio.ensure_future(self._end())
        task.add_done_callback(self._ended_with)
        # Held until done: the loop keeps only a weak reference to a task.
        self._ending = task

    def _ended_with(self, task: asyncio.Future[None]) -> None:
        self._ending = None
        ended = self._ended
        if ended is not None and not ended.done():
            ended.set_result(None)
        if not task.cancelled() and task.exception() is not None:
            self._report(task.exception())  # type: ignore[arg-type]

    async def _end(self) -> None:
        closing = self._closing
        await self._on_closed()
        if closing.task is not None:
            await asyncio.wait((closing.task,))
        await self._dispatch.drain(closing.deadline)

    def _flush(self) -> None:
        """Hand every frame the core has produced to the transport, in order, now.

        The transport takes a frame at once as long as the socket takes the
        data (no backpressure): no task and no loop iteration per frame. Only
        a send that has to wait is finished in a task, and while it waits later
        frames queue behind it, so frames always leave in the order the core
        produced them.
        """
        protocol = self._protocol
        if protocol is None:
            return
        if protocol.has_data_to_send:
            self._out.extend(protocol.data_to_send())
        if self._writing or not self._out:
            return
        transport = self._transport
        assert transport is not None
        send = transport.send
        logger = self.logger
        self._writing = True
        out = self._out
        try:
            while out:
                text = out.popleft()
                if logger.logger.isEnabledFor(logging.DEBUG):
                    logger.debug("> %s", text)
                if "message" in self._listeners:
                    self._emit_safe("message", "out", text)
                waiting = send(text)
                if waiting is not None:
                    # The send must wait: finish it, and the rest, in a task.
                    self._writer = asyncio.ensure_future(self._finish_send(waiting))
                    return
        except TransportClosed:
            # The connection is closing: the reader sees it and fails what is pending.
            out.clear()
        self._writing = False

    async def _finish_send(self, waiting: Awaitable[None]) -> None:
        """Finish a send that had to wait, then send what queued meanwhile."""
        try:
            await waiting
        except TransportClosed:
            self._out.clear()
        finally:
            self._writing = False
            self._writer = None
        self._flush()
        if not self._writing:
            self._release(_HOLD_WRITING)
        if self._sent_waiter is not None and not self._writing:
            self._wake_sent()

    def _wake_sent(self) -> None:
        waiter, self._sent_waiter = self._sent_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _sent_all(self, deadline: float) -> None:
        """Wait until every frame queued here has been handed to the transport, or ``deadline``.

        A frame handed over leaves before the close frame; one still queued
        behind a send that waits (backpressure) would be lost by the close.
        """
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        self._flush()
        while (self._out or self._writing) and (
            protocol is not None and protocol.state is not State.CLOSED
        ):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            waiter = self._sent_waiter = loop.create_future()
            await asyncio.wait((waiter,), timeout=remaining)

    async def _on_closed(self) -> None:
        transport, protocol = self._transport, self._protocol
        assert transport is not None and protocol is not None
        code = transport.close_code
        if code is None:
            # Reading ended with the connection still open (a failure of ours).
            with contextlib.suppress(Exception):
                await transport.close()
            self._close_code, self._close_reason = 1006, ""
        else:
            self._close_code, self._close_reason = code, transport.close_reason
        error = ConnectionClosed(self._close_code, self._close_reason)
        for lost in protocol.connection_lost():
            self._fail_call(lost.message_id, error)
        self._calls.stop()
        self._dispatch.abandon()
        self._received_at.clear()
        if self._writer is not None:
            self._writer.cancel()
        self._wake_sent()
        self._closing.closed()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._emit_safe("close", self._close_code, self._close_reason)
        if self._observers:
            self._notify("close", self, self._close_code, self._close_reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection once running handlers have replied; wait until it is closed.

        From the call on, no CALL of ours is sent (``call_request`` fails with
        :class:`ConnectionClosed`), and a CALL that arrives gets no handler and
        no answer: the peer sends it again after reconnecting (README
        "Closing"). The replies of the handlers still running go out, within
        ``handler_timeout``; then the connection closes with ``code``. Pending
        ``call_request`` futures fail with :class:`ConnectionClosed`. A coroutine
        handler may close its own connection: its own reply is not waited for.
        A second call waits for the first one's close.

        Args:
            code: The WebSocket close code (1000, normal closure).
            reason: The close reason.
        """
        self._start_close(code, reason, self._options.handler_timeout)
        if self._closed is not None:
            await asyncio.shield(self._closed)

    def _start_close(self, code: int, reason: str, drain: float | None) -> None:
        """Begin the close: no CALL of ours from now on; a task drains, then closes."""
        transport, protocol = self._transport, self._protocol
        if transport is None or protocol is None:
            return
        if self._closing.step is not Step.NONE or protocol.state is not State.OPEN:
            return
        protocol.start_closing()
        # What a call_request made during the drain fails with.
        self._close_code, self._close_reason = code, reason or "closing"
        self._closing.begin(transport, code, reason, drain)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""
        if self._closed is not None:
            await asyncio.shield(self._closed)

    # ------------------------------------------------------------------ CALLs we make

    def _call_request(
        self,
        action: str,
        payload: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        message_id: str | None = None,
    ) -> asyncio.Future[Any]:
        """Send a CALL; return a future of its CALLRESULT payload (ocpp-ts: ``callRequest``).

        The CALL goes out as soon as the outgoing queue allows: at most
        ``call_concurrency`` CALLs await an answer at once. Every failure
        arrives through the future; nothing is raised here. Type checkers see
        an overload per action (README "Type checking"): a literal action with
        its request ``TypedDict``, or an :class:`~ocpp16.schemas.Action`.

        Args:
            action: The action, such as ``"Reset"``.
            payload: The request payload; ``None`` sends ``{}``.
            timeout: Seconds to wait for the answer, counted from this call;
                ``call_timeout`` by default.
            message_id: The CALL's message id; by default a fresh one. Give
                the id of a CALL whose connection was lost to make it again:
                the peer can tell that it may have processed it.

        Returns:
            A future that resolves with the CALLRESULT payload, or fails with
            :class:`OcppError` (a CALLERROR), :class:`CallTimeout`,
            :class:`ConnectionClosed`, or :class:`ValidationError` (strict mode:
            the payload broke its schema and was not sent, or the answer broke
            its schema); and with ``TypeError`` or ``ValueError`` at once for
            an argument that is wrong (an action that is not a ``str``, a
            payload that is not a mapping, a timeout that is not a positive
            number).
        """
        loop = asyncio.get_running_loop()
        future = CallFuture(loop=loop)
        if (
            type(action) is not str
            or (payload is not None and type(payload) is not dict)
            or timeout is not None
        ):
            # README "call_request": a wrong argument fails the future too.
            try:
                payload, timeout = check_call(action, payload, timeout)
            except (TypeError, ValueError) as exc:
                future.set_exception(exc)
                return future
        protocol = self._protocol
        if protocol is None or protocol.state is not State.OPEN:
            future.set_exception(
                ConnectionClosed(self._close_code, self._close_reason or "not connected")
            )
            return future
        observed = self._observers
        if observed and protocol.has_data_to_send:
            # Take what the core had to send, so that what it sends now is this CALL alone.
            self._out.extend(protocol.data_to_send())
        try:
            message_id = protocol.send_call(
                action, {} if payload is None else payload, message_id=message_id
            )
        except Ocpp16Error as exc:
            future.set_exception(exc)
            return future
        calls = self._calls
        seconds = self._options.call_timeout if timeout is None else timeout
        future.calls, future.message_id = calls, message_id
        future.action, future.seconds = action, seconds
        future.deadline = deadline = loop.time() + seconds
        calls.futures[message_id] = future
        # One timer per connection, set for the earliest deadline.
        if calls.timer is None or deadline < calls.timer_at:
            calls.arm(deadline)
        if observed and protocol.has_data_to_send:
            # The core wrote the CALL at once: it did not have to queue it.
            frames = protocol.data_to_send()
            self._out.extend(frames)
            future.sent_at = loop.time()
            sent = {} if payload is None else payload
            self._notify("call_sent", self, message_id, action, sent, frames[0])
        self._flush()
        return future

    if not TYPE_CHECKING:
        # Type checkers read TypedCalls.call_request instead: one overload per
        # action (ocpp16/_typed_calls.py). At run time this is the method itself,
        # with no layer in between.
        call_request = _call_request

    def _give_up(self, message_id: str) -> bool:
        """Forget one of our CALLs in the core (timed out, cancelled); True if it was pending."""
        protocol = self._protocol
        if protocol is None:
            return False
        if not self._observers:
            return protocol.cancel_call(message_id)
        if protocol.has_data_to_send:
            self._out.extend(protocol.data_to_send())
        pending = protocol.cancel_call(message_id)
        if protocol.has_data_to_send:
            # Its place went to the next queued CALL, which the core wrote now.
            frames = protocol.data_to_send()
            self._out.extend(frames)
            self._wrote(frames)
        return pending

    def _fail_call(self, message_id: str, error: ConnectionClosed) -> None:
        future = self._calls.settle(message_id)
        if future is not None:
            self._call_ended(future, "closed", error)
            future.set_exception(error)

    def _on_event(self, event: Any) -> None:
        """Act on any event but CallReceived, which _received hands to the dispatcher."""
        if type(event) is CallResultReceived:
            future = self._calls.settle(event.message_id)
            if future is not None:
                future.set_result(event.payload)
        elif type(event) is CallErrorReceived:
            self._calls.fail(event.message_id, event.error)
        elif type(event) is BadMessage:
            self._bad_message(event.text, event.error)
        elif type(event) is MessageIgnored:
            self.logger.info("ignored a frame (%s): %.200s", event.reason, event.text)

    def _bad_message(self, text: str | bytes, error: OcppError) -> None:
        self.logger.warning("bad message [%s] %s: %.200r", error.code, error.description, text)
        self._emit_safe("bad_message", text, error)
        if self._observers:
            self._notify("bad_message", self, text, error)
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
            # At once, without the drain of close(): the peer is not one to wait for.
            self._start_close(1002, "too many bad messages", None)

    # ------------------------------------------------------------------ CALLs we receive

    def _answer(
        self, message_id: str, action: str, reply: Any, flush: bool = True, handler: object = None
    ) -> None:
        """Send the reply to an incoming CALL now: a response dict or an OcppError.

        ``flush=False`` leaves the writing to _received, which flushes after
        every frame anyway. ``handler`` gave the reply (a listener, or a tuple
        of them): the log names it when the reply cannot be sent.
        """
        protocol = self._protocol
        if protocol is None or protocol.state is State.CLOSED:
            return
        observed = self._observers
        if observed and protocol.has_data_to_send:
            self._out.extend(protocol.data_to_send())
        if not isinstance(reply, OcppError):
            try:
                protocol.send_result(message_id, reply)
            except ValidationError as exc:
                # README "Handlers": a handler's own invalid response is not
                # sent; the peer gets InternalError naming the violated field.
                # README "Handlers": the log names the handler, so that it can be found.
                self.logger.error(
                    "the %s handler's response breaks its schema (%s), sending InternalError: "
                    "[%s] %s",
                    action,
                    _handler_name(handler),
                    exc.code,
                    exc.description,
                )
                reply = OcppError(
                    "InternalError",
                    f"the {action} handler's response is invalid: {exc.description}",
                    {"path": exc.path, "keyword": exc.keyword},
                )
            else:
                if observed:
                    self._answered(message_id, action, reply)
                if flush:
                    self._flush()
                return
        protocol.send_error(message_id, reply.code, reply.description, reply.details)
        if observed:
            self._answered(message_id, action, reply)
        if flush:
            self._flush()

    def _answered(self, message_id: str, action: str, reply: Any) -> None:
        """The core has the answer to an incoming CALL: queue it, tell the observers."""
        protocol = self._protocol
        assert protocol is not None
        frames = protocol.data_to_send() if protocol.has_data_to_send else []
        self._out.extend(frames)
        received_at = self._received_at.pop(message_id, None)
        if received_at is None or not frames:
            return
        text = frames[-1]
        # An error's code as it went on the wire: OCPP-J 1.6 §4.2.3 has ten codes.
        outcome = json.loads(text)[2] if isinstance(reply, OcppError) else "result"
        seconds = asyncio.get_running_loop().time() - received_at
        self._notify("answer_sent", self, message_id, action, outcome, seconds, reply, text)


def _handler_name(handler: object) -> str:
    """The handler(s) that gave a reply, named for the log."""
    if isinstance(handler, tuple):
        return ", ".join(describe(h) for h in handler) or "no handler"
    return "no handler" if handler is None else describe(handler)
