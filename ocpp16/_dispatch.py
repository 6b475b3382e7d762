"""Running listeners: the handlers of incoming CALLs, and authorization listeners.

Handlers (README "Handlers"): ``fn(request)`` or ``fn(request, cb)``, plain or
``async``; the reply is ``cb(response)``, the returned value, or what a
returned awaitable resolves to; the first reply wins. ``raise OcppError(...)``
sends that CALLERROR; any other exception sends ``InternalError``, and so does
a handler that gives no reply within ``handler_timeout``.

Authorization listeners (README "A central system"): ``fn(cp_id, handshake,
cb)`` or ``fn(cp_id, handshake)``, plain or ``async``; see :func:`ask`.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ocpp16.errors import OcppError

if TYPE_CHECKING:
    from ocpp16._internals import ListenerTable
    from ocpp16.handshake import Handshake
    from ocpp16.options import Options
    from ocpp16.protocol import CallReceived

__all__ = ["Dispatcher", "Owner", "ask"]

Logger = logging.Logger | logging.LoggerAdapter[Any]

# The incoming CALL whose coroutine handler runs in the current task (and in the
# tasks it starts): a close() made there does not wait for that CALL's own reply.
_HANDLING: contextvars.ContextVar[_IncomingCall | None] = contextvars.ContextVar(
    "ocpp16_handling", default=None
)


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


class Owner(Protocol):
    """What a :class:`Dispatcher` needs from its connection."""

    @property
    def logger(self) -> Logger:
        """The connection's logger."""
        ...

    def _answer(self, message_id: str, action: str, reply: Any, flush: bool = True) -> None:
        """Send the reply to an incoming CALL: a response dict or an OcppError."""
        ...


class Dispatcher:
    """Runs the listeners of a connection's incoming CALLs; the first reply is sent.

    Args:
        owner: The connection; replies go to its ``_answer``.
        listeners: Its listener table (action → listeners).
        options: Its options (``handler_timeout`` is read at each CALL).

    Attributes:
        incoming: Incoming CALLs whose listeners have not replied yet, by message id.
        tasks: The tasks of coroutine handlers (and other work the connection
            lets finish before it is done).
    """

    __slots__ = (
        "_answer",
        "_arity",
        "_listeners",
        "_options",
        "_owner",
        "_waiters",
        "incoming",
        "tasks",
    )

    def __init__(self, owner: Owner, listeners: ListenerTable, options: Options) -> None:
        self._owner = owner
        self._answer = owner._answer
        self._listeners = listeners
        self._options = options
        self.incoming: dict[str, _IncomingCall] = {}
        self.tasks: set[asyncio.Future[Any]] = set()
        # listener -> whether it takes cb; per connection, so that it dies with it.
        self._arity: dict[Callable[..., Any], bool] = {}
        # Futures of those waiting for an entry of ``incoming`` to go (see changed()).
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def logger(self) -> Logger:
        """The connection's logger."""
        return self._owner.logger

    def handle(self, event: CallReceived) -> None:
        """Run the listeners of one incoming CALL; the first reply is sent the moment it is given.

        Plain functions run here, at once; each coroutine (or other awaitable)
        a listener returns runs in a task of its own, so that a slow handler
        never holds up the connection and may itself ``await call_request``.
        """
        message_id, action = event.message_id, event.action
        entries = self._listeners.get(action)
        if not entries:
            # OCPP-J 1.6 table 7: NotSupported, "recognized but not supported".
            self._answer(message_id, action, OcppError("NotSupported", f"no handler for {action}"))
            return
        # (listener as registered, what to call): for once() listeners pyee stores
        # a wrapper that removes itself, and calling it keeps that rule.
        if len(entries) == 1:
            listener, run = next(iter(entries.items()))
            if not self.wants_cb(listener):
                # The common case, kept lean: one plain function that returns its reply.
                try:
                    result = run(event.payload)
                except Exception as exc:
                    self._new_call(message_id, action).failed(exc, listener)
                    return
                if type(result) is dict:
                    self._answer(message_id, action, result, False)
                    return
                call = self._new_call(message_id, action)
                self._take(call, result, False, listener)
                if not call.answered:
                    call.start_timer(self._options.handler_timeout)
                return
        call = self._new_call(message_id, action)
        for listener, run in list(entries.items()):
            takes_cb = self.wants_cb(listener)
            try:
                result = run(event.payload, call.cb) if takes_cb else run(event.payload)
            except Exception as exc:
                call.failed(exc, listener)
                continue
            self._take(call, result, takes_cb, listener)
        if not call.answered:
            call.start_timer(self._options.handler_timeout)

    def wants_cb(self, listener: Callable[..., Any]) -> bool:
        """Tell whether ``listener`` takes ``cb``, reading its signature once."""
        takes_cb = self._arity.get(listener)
        if takes_cb is None:
            takes_cb = self._arity[listener] = _takes_cb(listener)
        return takes_cb

    def _new_call(self, message_id: str, action: str) -> _IncomingCall:
        call = self.incoming[message_id] = _IncomingCall(self, message_id, action)
        return call

    def _take(self, call: _IncomingCall, result: Any, takes_cb: bool, listener: Any) -> None:
        """What a listener returned: a reply, nothing, or an awaitable to run in its own task."""
        if type(result) is not dict and inspect.isawaitable(result):
            self.spawn(self._await_handler(call, result, takes_cb, listener))
        else:
            call.returned(result, takes_cb, listener)

    async def _await_handler(
        self, call: _IncomingCall, awaitable: Awaitable[Any], takes_cb: bool, listener: Any
    ) -> None:
        _HANDLING.set(call)  # this task's own context: nothing to reset
        try:
            value = await awaitable
        except Exception as exc:
            call.failed(exc, listener)
        else:
            call.returned(value, takes_cb, listener)

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` in a task that the connection lets finish when it closes."""
        task = asyncio.ensure_future(awaitable)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def changed(self) -> asyncio.Future[None]:
        """Return a future that resolves when an incoming CALL next leaves :attr:`incoming`.

        It leaves when it is answered, or when the connection is gone.
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def wake(self) -> None:
        """Resolve the futures of :meth:`changed` now: something else the waiters watch changed."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def own_call(self) -> _IncomingCall | None:
        """This connection's incoming CALL whose coroutine handler runs the current task, if any.

        A handler that closes its own connection must not wait for its own reply.
        """
        call = _HANDLING.get()
        return call if call is not None and call._dispatcher is self else None

    async def replied(self, deadline: float, own: _IncomingCall | None = None) -> None:
        """Wait until every incoming CALL but ``own`` has left :attr:`incoming`.

        Each leaves within ``handler_timeout`` of its arrival anyway (its reply,
        or ``InternalError``), or at once when the connection is gone.

        Args:
            deadline: When to stop waiting, on the loop's clock.
            own: An incoming CALL (from :meth:`own_call`) not to wait for.
        """
        loop = asyncio.get_running_loop()
        incoming = self.incoming
        # ``own``, while it still waits, is the one entry not waited for (O(1) per wake).
        while len(incoming) > (own is not None and incoming.get(own.message_id) is own):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.wait((self.changed(),), timeout=remaining)

    def abandon(self) -> None:
        """The connection is gone: no reply can be sent any more."""
        for call in self.incoming.values():
            call.abandon()
        self.incoming.clear()
        if self._waiters:
            self.wake()

    async def drain(self, deadline: float | None = None) -> None:
        """Give running handlers until ``deadline`` to finish, then cancel them.

        Their replies can no longer be sent, but their work (a database write,
        say) deserves its chance to complete.

        Args:
            deadline: When to cancel them, on the loop's clock; ``None``:
                ``handler_timeout`` from now. A connection that ``close()``
                drained passes the end of the drain, so that the whole close
                stays within ``handler_timeout``.
        """
        if not self.tasks:
            return
        running = set(self.tasks)
        if deadline is None:
            timeout = self._options.handler_timeout
        else:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
        _, still_running = await asyncio.wait(running, timeout=timeout)
        for task in still_running:
            task.cancel()
        if still_running:
            self.logger.warning(
                "cancelled %d handler(s) still running after the connection closed",
                len(still_running),
            )
            await asyncio.wait(still_running)


class _Reply(enum.Enum):
    """Where an incoming CALL's reply stands.

    Transitions: ``AWAITED → SENT`` (the first reply, handed to the connection),
    ``AWAITED → LOST`` (the connection closed first), ``LOST → LATE`` (a
    reply came after that; told once).
    """

    AWAITED = "awaited"
    SENT = "sent"
    LOST = "lost"
    LATE = "late"


_REPLY_TRANSITIONS: dict[_Reply, frozenset[_Reply]] = {
    _Reply.AWAITED: frozenset({_Reply.SENT, _Reply.LOST}),
    _Reply.SENT: frozenset(),
    _Reply.LOST: frozenset({_Reply.LATE}),
    _Reply.LATE: frozenset(),
}


class _IncomingCall:
    """One incoming CALL while its listeners run: the first reply wins."""

    __slots__ = ("_dispatcher", "action", "message_id", "reply", "timer")

    def __init__(self, dispatcher: Dispatcher, message_id: str, action: str) -> None:
        self._dispatcher = dispatcher
        self.message_id = message_id
        self.action = action
        self.reply = _Reply.AWAITED
        self.timer: asyncio.TimerHandle | None = None

    @property
    def answered(self) -> bool:
        """True once no reply is awaited any more: one was sent, or the connection is gone."""
        return self.reply is not _Reply.AWAITED

    def _move(self, new: _Reply) -> None:
        if new not in _REPLY_TRANSITIONS[self.reply]:
            raise RuntimeError(f"an incoming CALL's reply cannot go from {self.reply} to {new}")
        self.reply = new

    def settle(self, reply: Any, source: object) -> None:
        if self.reply is not _Reply.AWAITED:
            self._drop(source)
            return
        self._move(_Reply.SENT)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        dispatcher = self._dispatcher
        dispatcher.incoming.pop(self.message_id, None)
        if dispatcher._waiters:
            dispatcher.wake()
        dispatcher._answer(self.message_id, self.action, reply)

    def _drop(self, source: object) -> None:
        """A reply that cannot be sent: say why, truly."""
        logger = self._dispatcher.logger
        if self.reply is _Reply.SENT:
            logger.warning(
                "%s %r: a later reply from %s was dropped; the first reply wins",
                self.action,
                self.message_id,
                _name(source),
            )
        elif self.reply is _Reply.LOST:
            # Once per CALL, and only at DEBUG: a connection that drops while
            # many handlers run must not flood the log.
            self._move(_Reply.LATE)
            logger.debug(
                "%s %r: the connection closed before the %s handler replied; "
                "the reply from %s was not sent",
                self.action,
                self.message_id,
                self.action,
                _name(source),
            )

    def cb(self, response: Any = None) -> None:
        """The ``cb`` handed to ``fn(request, cb)`` handlers."""
        self.settle({} if response is None else response, "cb")

    def returned(self, value: Any, takes_cb: bool, listener: object) -> None:
        if value is not None:
            self.settle(value, listener)
        elif not takes_cb:
            # README "Handlers": a handler without cb that returns None replies {}.
            self.settle({}, listener)

    def failed(self, exc: BaseException, listener: object) -> None:
        if isinstance(exc, OcppError):
            self.settle(exc, listener)
            return
        self._dispatcher.logger.error(
            "the %s handler %s raised; %s",
            self.action,
            _name(listener),
            "sending InternalError" if self.reply is _Reply.AWAITED else "no reply is sent",
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
        self._dispatcher.logger.error(
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
        if self.reply is _Reply.AWAITED:
            self._move(_Reply.LOST)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _name(source: object) -> str:
    return str(getattr(source, "__qualname__", source))


async def ask(
    listener: Callable[..., Any],
    cp_id: str,
    handshake: Handshake,
    *,
    timeout: float,
    logger: Logger,
) -> str | None:
    """Run one authorization listener; return why it refused, or ``None`` when it accepted.

    ``cb()`` or ``True`` accepts; ``cb(error)``, ``False``, raising, or no
    verdict within ``timeout`` seconds rejects. A listener without ``cb`` must
    return ``True`` or ``False`` (or an awaitable of one).

    Args:
        listener: ``fn(cp_id, handshake, cb)`` or ``fn(cp_id, handshake)``.
        cp_id: The charge point id.
        handshake: What it sent when it connected.
        timeout: Seconds to wait for a ``cb`` verdict (``handler_timeout``).
        logger: Where a listener that failed to decide is warned about.

    Returns:
        ``None`` when the listener accepted; otherwise the reason: what the
        listener gave ``cb`` (``cb("unknown charge point")``), or what went wrong.
    """
    name = getattr(listener, "__qualname__", repr(listener))
    decided: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def cb(error: object = None) -> None:
        if not decided.done():
            decided.set_result(error)

    def bug(reason: str) -> str:
        logger.warning("authorization of %r rejected: %s", cp_id, reason)
        return reason

    takes_cb = _takes_cb(listener, 3)
    try:
        result = listener(cp_id, handshake, cb) if takes_cb else listener(cp_id, handshake)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        return bug(f"the authorization listener {name} raised {exc!r}")
    if not takes_cb and result is not True and result is not False:
        # Without cb, the returned value is the only verdict there can be.
        return bug(
            f"the authorization listener {name} takes no cb, so it must return True or "
            f"False, not {result!r}"
        )
    if result is True or result is False:
        if not decided.done():
            decided.set_result(None if result else False)
    elif not decided.done():
        try:
            await asyncio.wait_for(asyncio.shield(decided), timeout)
        except TimeoutError:
            return bug(f"the authorization listener {name} decided nothing within {timeout:g} s")
    error = decided.result()
    if error is None:
        return None
    if error is False or error is True or not str(error):
        return f"rejected by the authorization listener {name}"
    # The listener said why: cb("unknown charge point"), cb(PermissionError(...)).
    return str(error)
