"""Running listeners: the handlers of incoming CALLs, and authorization listeners.

Handlers (README "Handlers"): ``fn(request)`` or ``fn(request, cb)``, plain or
``async``; the reply is ``cb(response)``, the returned value, or what a
returned awaitable resolves to; the first reply wins. ``raise OcppError(...)``
sends that CALLERROR; any other exception sends ``InternalError``, and so does
a handler that gives no reply within ``handler_timeout``. A handler that
declares a keyword-only parameter ``call`` also gets the :class:`Call` (the
action, the message id, the connection, ``cb``, whether it was abandoned). The
``"*"`` listeners answer every CALL whose action has no listener of its own:
``fn(action, request)`` or ``fn(action, request, cb)``.

Authorization listeners (README "A central system"): ``fn(cp_id, handshake,
cb)`` or ``fn(cp_id, handshake)``, plain or ``async``; see :func:`ask`.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
import inspect
import logging
import types
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ocpp16.errors import OcppError
from ocpp16.handshake import Accept

if TYPE_CHECKING:
    from ocpp16._internals import ListenerTable
    from ocpp16.handshake import Handshake
    from ocpp16.options import Options
    from ocpp16.protocol import CallReceived

__all__ = ["ANY", "Call", "Dispatcher", "Owner", "ask", "describe"]

Logger = logging.Logger | logging.LoggerAdapter[Any]

ANY = "*"
"""The event name of the catch-all listeners: they answer CALLs without a listener of their own."""

# What a listener takes besides its leading arguments, read once from its signature.
_CB = 1  # cb, as its last positional argument
_CALL = 2  # the Call, as the keyword-only argument ``call``

# The incoming CALL whose coroutine handler runs in the current task (and in the
# tasks it starts): a close() made there does not wait for that CALL's own reply.
_HANDLING: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "ocpp16_handling", default=None
)


def _takes_cb(handler: Callable[..., Any], arguments: int = 2) -> bool:
    """Tell whether ``handler`` takes a ``cb`` as its ``arguments``-th positional argument.

    Action handlers are ``fn(request, cb)`` or ``fn(request)`` (``arguments=2``);
    authorization listeners ``fn(cp_id, handshake, cb)`` or ``fn(cp_id, handshake)``.
    Only positional parameters without a default count, so that ``fn(request,
    action=action)`` (binding a loop variable) and a bound method with an
    optional parameter stay ``fn(request)``. ``*args`` counts as taking ``cb``:
    a wrapper that passes everything on must hand ``cb`` to a handler that takes
    it; a wrapper made with ``functools.wraps`` is judged by the function it
    wraps, whose signature ``inspect.signature`` follows.
    """
    return bool(_mode(handler, arguments) & _CB)


# What each plain function takes, read once per process rather than once per
# connection: a central system registers the same handlers on every connection,
# and reading a signature costs more than the rest of a handshake's Python work.
_FUNCTION_MODES: weakref.WeakKeyDictionary[Callable[..., Any], dict[int, int]] = (
    weakref.WeakKeyDictionary()
)


def _mode(handler: Callable[..., Any], arguments: int) -> int:
    """What ``handler`` takes besides its leading arguments: ``_CB`` and ``_CALL`` flags."""
    if type(handler) is not types.FunctionType:
        return _read_mode(handler, arguments)
    modes = _FUNCTION_MODES.get(handler)
    if modes is None:
        modes = _FUNCTION_MODES[handler] = {}
    mode = modes.get(arguments)
    if mode is None:
        mode = modes[arguments] = _read_mode(handler, arguments)
    return mode


def _read_mode(handler: Callable[..., Any], arguments: int) -> int:
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return 0
    required = 0
    mode = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            mode |= _CB
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                required += 1
        elif p.kind is p.KEYWORD_ONLY and p.name == "call":
            mode |= _CALL
    if required >= arguments:
        mode |= _CB
    return mode


def describe(listener: object) -> str:
    """Name a listener for the log: ``module.qualname`` (a partial by its function).

    Args:
        listener: A function, method, ``functools.partial`` or callable object.

    Returns:
        Its module and qualified name, such as ``"app.handlers.on_boot"``, or
        its ``repr`` when it has no name.
    """
    if isinstance(listener, str):
        return listener
    target = listener.func if isinstance(listener, functools.partial) else listener
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(qualname, str):
        return repr(listener)
    module = getattr(target, "__module__", None)
    return f"{module}.{qualname}" if isinstance(module, str) else qualname


def _describe_all(listeners: Iterable[object]) -> str:
    return ", ".join(describe(listener) for listener in listeners)


class Owner(Protocol):
    """What a :class:`Dispatcher` needs from its connection."""

    @property
    def logger(self) -> Logger:
        """The connection's logger."""
        ...

    def _answer(
        self, message_id: str, action: str, reply: Any, flush: bool = True, handler: object = None
    ) -> None:
        """Send the reply to an incoming CALL: a response dict or an OcppError.

        ``handler`` names what gave the reply, for the log: a listener, or a
        tuple of them.
        """
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
            lets finish before it is done); ``None`` until the first.
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
        self.incoming: dict[str, Call] = {}
        # Made with the first task: an empty set weighs 216 bytes, per connection.
        self.tasks: set[asyncio.Future[Any]] | None = None
        # listener -> what it takes (cb, call); per connection, so that it dies with it.
        # A catch-all listener's entry is keyed (ANY, listener): it takes the action first.
        self._arity: dict[Any, int] = {}
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
            wildcard = self._listeners.get(ANY)
            if wildcard:
                # README "Handlers": the catch-all answers what no listener of its own does.
                self._run_all(event, wildcard, (action, event.payload), 3)
                return
            # OCPP-J 1.6 table 7: NotSupported, "recognized but not supported".
            self._answer(message_id, action, OcppError("NotSupported", f"no handler for {action}"))
            return
        # (listener as registered, what to call): for once() listeners pyee stores
        # a wrapper that removes itself, and calling it keeps that rule.
        if len(entries) == 1:
            listener, run = next(iter(entries.items()))
            mode = self._arity.get(listener)
            if mode is None:
                mode = self._arity[listener] = _mode(listener, 2)
            if not mode:
                # The common case, kept lean: one plain function that returns its reply.
                try:
                    result = run(event.payload)
                except Exception as exc:
                    self._new_call(event, (listener,))._failed(exc, listener)
                    return
                if type(result) is dict:
                    self._answer(message_id, action, result, False, listener)
                    return
                call = self._new_call(event, (listener,))
                self._take(call, result, mode, listener)
                if call._state is _CallState.RUNNING:
                    call._start_timer(self._options.handler_timeout)
                return
        self._run_all(event, entries, (event.payload,), 2)

    def _run_all(
        self, event: CallReceived, entries: Any, args: tuple[Any, ...], arguments: int
    ) -> None:
        """Run every listener of ``entries`` with ``args``, and cb and call as each takes them.

        ``arguments`` is 2 for action handlers (``fn(request, cb)``) and 3 for the
        catch-all (``fn(action, request, cb)``), whose signatures are cached apart.
        """
        items = list(entries.items())
        call = self._new_call(event, tuple(listener for listener, _ in items))
        for listener, run in items:
            key = listener if arguments == 2 else (ANY, listener)
            mode = self._arity.get(key)
            if mode is None:
                mode = self._arity[key] = _mode(listener, arguments)
            try:
                if not mode:
                    result = run(*args)
                elif mode == _CB:
                    result = run(*args, call.cb)
                elif mode == _CALL:
                    result = run(*args, call=call)
                else:
                    result = run(*args, call.cb, call=call)
            except Exception as exc:
                call._failed(exc, listener)
                continue
            self._take(call, result, mode, listener)
        if call._state is _CallState.RUNNING:
            call._start_timer(self._options.handler_timeout)

    def mode(self, listener: Callable[..., Any]) -> int:
        """What ``listener`` takes besides the request (cb, call), reading its signature once."""
        mode = self._arity.get(listener)
        if mode is None:
            mode = self._arity[listener] = _mode(listener, 2)
        return mode

    def wants_cb(self, listener: Callable[..., Any]) -> bool:
        """Tell whether ``listener`` takes ``cb``, reading its signature once."""
        return bool(self.mode(listener) & _CB)

    def _new_call(self, event: CallReceived, listeners: tuple[object, ...]) -> Call:
        call = self.incoming[event.message_id] = Call(self, event, listeners)
        return call

    def _take(self, call: Call, result: Any, mode: int, listener: Any) -> None:
        """What a listener returned: a reply, nothing, or an awaitable to run in its own task."""
        if type(result) is not dict and inspect.isawaitable(result):
            self.spawn(self._await_handler(call, result, mode, listener))
        else:
            call._returned(result, mode, listener)

    async def _await_handler(
        self, call: Call, awaitable: Awaitable[Any], mode: int, listener: Any
    ) -> None:
        _HANDLING.set(call)  # this task's own context: nothing to reset
        try:
            value = await awaitable
        except Exception as exc:
            call._failed(exc, listener)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this task was cancelled (close()'s deadline): nobody waits for a reply
            # The handler awaited something that another party cancelled: a failure like
            # any other, answered now rather than when handler_timeout runs out.
            call._failed(exc, listener)
        else:
            call._returned(value, mode, listener)

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` in a task that the connection lets finish when it closes."""
        task = asyncio.ensure_future(awaitable)
        tasks = self.tasks
        if tasks is None:
            tasks = self.tasks = set()
        tasks.add(task)
        task.add_done_callback(tasks.discard)

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

    def own_call(self) -> Call | None:
        """This connection's incoming CALL whose coroutine handler runs the current task, if any.

        A handler that closes its own connection must not wait for its own reply.
        """
        call = _HANDLING.get()
        return call if call is not None and call._dispatcher is self else None

    async def replied(self, deadline: float, own: Call | None = None) -> None:
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
            call._abandon()
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


class _CallState(enum.Enum):
    """Where an incoming CALL stands: running, then answered or abandoned (never both)."""

    RUNNING = "running"
    """Its listeners have not replied yet."""
    ANSWERED = "answered"
    """A reply was given (by a listener, or ``InternalError`` for a failure or a timeout)."""
    ABANDONED = "abandoned"
    """The connection closed before a reply: none can be sent any more."""
    LATE = "late"
    """Abandoned, and a reply came after that (told once, at DEBUG)."""


class Call:
    """One incoming CALL while its listeners run: what a handler may know of it.

    A handler that declares a keyword-only parameter ``call`` gets it:
    ``def on_boot(request, *, call: Call)``. The first reply wins, whoever
    gives it.

    Attributes:
        action: The CALL's action, such as ``"BootNotification"``.
        message_id: Its message id (OCPP-J 1.6 §4.2.1, the ``UniqueId``).
        payload: Its request payload (the handler's ``request``).
    """

    __slots__ = (
        "_abandoned",
        "_dispatcher",
        "_listeners",
        "_state",
        "_timer",
        "action",
        "message_id",
        "payload",
    )

    def __init__(
        self, dispatcher: Dispatcher, event: CallReceived, listeners: tuple[object, ...]
    ) -> None:
        self._dispatcher = dispatcher
        self.message_id = event.message_id
        self.action = event.action
        self.payload: dict[str, Any] = event.payload
        self._state = _CallState.RUNNING
        self._timer: asyncio.TimerHandle | None = None
        # The listeners that run for it: they are named when none replies.
        self._listeners = listeners
        # Made on first use: most handlers never ask.
        self._abandoned: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<Call {self.action} {self.message_id!r} {self._state.value}>"

    @property
    def connection(self) -> Any:
        """The :class:`~ocpp16.ClientBase` the CALL arrived on (``cp_id``, ``session``, ...).

        Typed ``Any``: this module sits below the connection and cannot name it.
        """
        return self._dispatcher._owner

    @property
    def answered(self) -> bool:
        """True once a reply was given: later ones are dropped."""
        return self._state is _CallState.ANSWERED

    @property
    def abandoned(self) -> asyncio.Event:
        """Set when the connection closed before a reply: no reply can be sent any more.

        ``call.abandoned.is_set()`` asks; ``await call.abandoned.wait()`` waits,
        so that a long handler can stop work that nobody will hear of (the
        counterpart of ocpp-rpc's ``signal``).
        """
        event = self._abandoned
        if event is None:
            event = self._abandoned = asyncio.Event()
            if self._state is _CallState.ABANDONED:
                event.set()
        return event

    def _settle(self, reply: Any, source: object) -> None:
        """Send ``reply`` if it is the first; ``source`` gave it (for the log)."""
        state = self._state
        if state is not _CallState.RUNNING:
            if state is _CallState.ANSWERED:
                self._dispatcher.logger.warning(
                    "%s %r: a later reply from %s was dropped; the first reply wins",
                    self.action,
                    self.message_id,
                    describe(source),
                )
            elif state is _CallState.ABANDONED:
                # Once per CALL, and only at DEBUG: a connection that drops while
                # many handlers run must not flood the log.
                self._state = _CallState.LATE
                self._dispatcher.logger.debug(
                    "%s %r: the connection closed before the %s handler replied; "
                    "the reply from %s was not sent",
                    self.action,
                    self.message_id,
                    self.action,
                    describe(source),
                )
            return
        self._state = _CallState.ANSWERED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dispatcher = self._dispatcher
        dispatcher.incoming.pop(self.message_id, None)
        if dispatcher._waiters:
            dispatcher.wake()
        # A reply through cb (or the timeout's) names the listeners that ran.
        handler = self._listeners if isinstance(source, str) else source
        self._dispatcher._answer(self.message_id, self.action, reply, True, handler)

    def cb(self, response: Any = None) -> None:
        """Reply with ``response`` (``None`` replies ``{}``): the ``cb`` of ``fn(request, cb)``.

        Args:
            response: The response payload, or an ``OcppError`` to send a CALLERROR.
        """
        self._settle({} if response is None else response, "cb")

    def _returned(self, value: Any, mode: int, listener: object) -> None:
        """A listener returned ``value`` (or its awaitable resolved to it)."""
        if value is not None:
            self._settle(value, listener)
        elif not mode & _CB and not (mode & _CALL and self._state is not _CallState.RUNNING):
            # README "Handlers": a handler without cb that returns None replies {};
            # one that took call and already replied through call.cb has replied.
            self._settle({}, listener)

    def _failed(self, exc: BaseException, listener: object) -> None:
        """A listener raised ``exc``: send its CALLERROR, or InternalError."""
        if isinstance(exc, OcppError):
            self._settle(exc, listener)
            return
        self._dispatcher.logger.error(
            "the %s handler %s raised; %s",
            self.action,
            describe(listener),
            "sending InternalError" if self._state is _CallState.RUNNING else "no reply is sent",
            exc_info=exc,
        )
        self._settle(
            OcppError("InternalError", f"{type(exc).__name__} in the {self.action} handler"),
            listener,
        )

    def _start_timer(self, seconds: float) -> None:
        """Send InternalError unless a reply comes within ``seconds``."""
        self._timer = asyncio.get_running_loop().call_later(seconds, self._time_out, seconds)

    def _time_out(self, seconds: float) -> None:
        self._timer = None
        self._dispatcher.logger.error(
            "no %s handler replied within %g s (%s); sending InternalError",
            self.action,
            seconds,
            _describe_all(self._listeners),
        )
        self._settle(
            OcppError(
                "InternalError", f"no reply from the {self.action} handler within {seconds:g} s"
            ),
            "handler_timeout",
        )

    def _abandon(self) -> None:
        """The connection is gone: no reply can be sent any more."""
        if self._state is _CallState.RUNNING:
            self._state = _CallState.ABANDONED
            if self._abandoned is not None:
                self._abandoned.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def ask(
    listener: Callable[..., Any],
    cp_id: str,
    handshake: Handshake,
    *,
    timeout: float,
    logger: Logger,
) -> Accept | str:
    """Run one authorization listener; return its acceptance, or why it refused.

    ``cb()``, ``cb(session=...)``, ``True`` or ``Accept(session)`` accepts;
    ``cb(error)``, ``False``, raising, or no verdict within ``timeout`` seconds
    rejects. A listener without ``cb`` must return ``True``, ``False`` or an
    ``Accept`` (or an awaitable of one).

    Args:
        listener: ``fn(cp_id, handshake, cb)`` or ``fn(cp_id, handshake)``.
        cp_id: The charge point id.
        handshake: What it sent when it connected.
        timeout: Seconds to wait for a ``cb`` verdict (``handler_timeout``).
        logger: Where a listener that failed to decide is warned about.

    Returns:
        An :class:`~ocpp16.handshake.Accept` (with the session the listener
        gave, if any) when it accepted; otherwise the reason: what the listener
        gave ``cb`` (``cb("unknown charge point")``), or what went wrong.
    """
    name = describe(listener)
    decided: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def cb(error: object = None, *, session: Any = None) -> None:
        if not decided.done():
            decided.set_result(Accept(session) if error is None else error)

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
    verdict = result is True or result is False or isinstance(result, Accept)
    if not takes_cb and not verdict:
        # Without cb, the returned value is the only verdict there can be.
        return bug(
            f"the authorization listener {name} takes no cb, so it must return True or "
            f"False (or Accept(session)), not {result!r}"
        )
    if verdict:
        if not decided.done():
            decided.set_result(Accept() if result is True else result)
    elif not decided.done():
        try:
            await asyncio.wait_for(asyncio.shield(decided), timeout)
        except TimeoutError:
            return bug(f"the authorization listener {name} decided nothing within {timeout:g} s")
    error = decided.result()
    if isinstance(error, Accept):
        return error
    if error is False or error is True or not str(error):
        return f"rejected by the authorization listener {name}"
    # The listener said why: cb("unknown charge point"), cb(PermissionError(...)).
    return str(error)
