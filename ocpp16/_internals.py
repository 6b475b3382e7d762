"""The one module that relies on private details of ``pyee``, or steps a coroutine by hand.

Everything else in ``ocpp16`` uses what this module exposes. What it relies on,
each checked by ``tests/test_thirdparty_internals.py`` (and bounded by the
dependency pins in ``pyproject.toml``):

* pyee runs each listener through ``EventEmitter._emit_run(f, args, kwargs)``;
  :class:`SafeEmitter` overrides it so that a listener's failure never escapes
  ``emit``.
* pyee keeps its listeners in ``EventEmitter._events``: a dict from event name
  to an ordered mapping from the listener as registered to the callable to run
  (for ``once()`` a wrapper that removes itself). :func:`listener_table` hands
  out that dict, so that the frame path looks a listener up with one ``dict``
  access instead of a method call per frame.
* An ASGI server's ``send()`` is a coroutine that usually completes without
  suspending. :func:`stepped_send` steps it by hand, so that a frame costs
  neither a task nor a loop iteration, and :func:`finish_send` drives a send
  that had to wait (the server's backpressure) to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeAlias

from pyee.asyncio import AsyncIOEventEmitter

__all__ = ["SafeEmitter", "finish_send", "listener_table", "stepped_send"]

ListenerTable: TypeAlias = Mapping[str, Mapping[Callable[..., Any], Callable[..., Any]]]
"""Event name → (listener as registered → what to call): pyee's ``_events``."""


class SafeEmitter(AsyncIOEventEmitter):
    """An ``AsyncIOEventEmitter`` whose listeners' failures never escape ``emit``.

    pyee re-raises a listener's exception out of ``emit`` when nobody listens
    for ``"error"``, which would stop the remaining listeners and unwind into
    the connection that emitted. Here each listener's failure is contained: it
    goes to the ``"error"`` listeners if there are any (an ``"error"``
    listener's own failure is only logged, so that it cannot loop), otherwise
    to the log.
    """

    logger: logging.Logger | logging.LoggerAdapter[Any]

    def __init__(self) -> None:
        super().__init__()
        # The tasks of coroutine listeners; made with the first (an empty set
        # weighs 216 bytes, and a connection's listeners are mostly plain).
        self._listener_tasks: set[asyncio.Future[Any]] | None = None

    def remove_all_listeners(self, event: str | None = None) -> None:
        """Remove every listener of ``event``, or of every event when it is ``None``.

        Args:
            event: The event name, or ``None`` for all of them.
        """
        if event is not None:
            super().remove_all_listeners(event)
            return
        # pyee would replace its table with a new dict; clearing it in place
        # keeps the table that listener_table() handed out the live one.
        with self._lock:
            self._events.clear()

    def _add_event_handler(self, event: str, k: Callable[..., Any], v: Callable[..., Any]) -> None:
        # pyee keeps each event's listeners in an OrderedDict: 384 bytes for one
        # listener, against 224 for a dict, which keeps insertion order as well.
        # A connection's listeners are registered per connection, so that is
        # 160 bytes per connection and event. The rest as pyee does it: the
        # "new_listener" event first, then the entry, under the lock.
        if "new_listener" in self._events:
            # Emitted only when someone listens: an emit costs more than the rest of
            # this method, and a central system registers listeners per connection.
            self.emit("new_listener", event, k)
        with self._lock:
            entries = self._events.get(event)
            if entries is None:
                self._events[event] = {k: v}  # type: ignore[assignment]
            else:
                entries[k] = v

    def _emit_safe(self, event: str, *args: Any) -> None:
        """Emit a life-cycle event if anyone listens."""
        if event in self._events:
            self.emit(event, *args)

    def _emit_run(
        self, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        try:
            result = f(*args, **kwargs)
        except Exception as exc:
            self._report(exc, f)
            return
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            future = asyncio.ensure_future(result)
            if self._listener_tasks is None:
                self._listener_tasks = set()
            self._listener_tasks.add(future)
            future.add_done_callback(lambda done: self._listener_done(done, f))

    def _listener_done(self, future: asyncio.Future[Any], f: Callable[..., Any]) -> None:
        if self._listener_tasks is not None:
            self._listener_tasks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._report(future.exception(), f)  # type: ignore[arg-type]

    def _report(self, exc: BaseException, source: object = None) -> None:
        """Send a failure to the "error" listeners, or to the log when there are none."""
        handlers = self._events.get("error")
        if handlers and source not in handlers:
            self.emit("error", exc)
        else:
            where = f" in {getattr(source, '__qualname__', source)!s}" if source else ""
            self.logger.error("unhandled error%s: %r", where, exc, exc_info=exc)


def listener_table(emitter: SafeEmitter) -> ListenerTable:
    """Return the live listener table of ``emitter``: event → (listener → what to call).

    The same dict for the emitter's whole life (see
    :meth:`SafeEmitter.remove_all_listeners`), so it may be kept and read on
    every frame. Read it only; register listeners through ``on``/``once``.

    Args:
        emitter: The emitter.

    Returns:
        The table.
    """
    return emitter._events


def stepped_send(
    send: Callable[[str], Coroutine[Any, Any, None]],
    closed: type[BaseException] | tuple[type[BaseException], ...],
    translate: Callable[[BaseException], BaseException],
) -> Callable[[str], Awaitable[None] | None]:
    """Make a send function that steps the coroutine ``send(text)`` by hand.

    The function returns ``None`` when the send completed without suspending
    (the socket took the data), or an awaitable that finishes it (see
    :func:`finish_send`) when it had to wait (backpressure): the caller must
    await it before sending anything else, which keeps frames in order.

    Args:
        send: The coroutine function that sends one text frame
            (an ASGI server's ``send`` of one ``websocket.send`` message).
        closed: The exception type(s) ``send`` raises on a closed connection.
        translate: Turns such an exception into the one to raise instead.

    Returns:
        The send function.
    """
    # A partial rather than a closure: one is made per connection, and a
    # partial weighs about half as much as a function with its three cells.
    return functools.partial(_step, send, closed, translate)


def _step(
    send: Callable[[str], Coroutine[Any, Any, None]],
    closed: type[BaseException] | tuple[type[BaseException], ...],
    translate: Callable[[BaseException], BaseException],
    text: str,
) -> Awaitable[None] | None:
    """Step ``send(text)`` once: ``None`` if it completed, else what finishes it."""
    coroutine = send(text)
    try:
        waiting = coroutine.send(None)
    except StopIteration:
        return None
    except closed as exc:
        raise translate(exc) from exc
    return finish_send(coroutine, waiting, closed, translate)


async def finish_send(
    send: Coroutine[Any, Any, None],
    waiting: Any,
    closed: type[BaseException] | tuple[type[BaseException], ...] = (),
    translate: Callable[[BaseException], BaseException] | None = None,
) -> None:
    """Drive a send that had to wait to its end.

    Args:
        send: The send coroutine, suspended.
        waiting: What it yielded when it suspended: a future it waits for, or
            ``None`` for a bare yield.
        closed: The exception type(s) that mean the connection closed.
        translate: Turns such an exception into the one to raise instead.
    """
    try:
        while True:
            try:
                # The coroutine reads the outcome of the future it waits for
                # itself, once resumed: here only wait for it to be done.
                if waiting is None:
                    await asyncio.sleep(0)
                else:
                    await asyncio.wait((waiting,))
            except asyncio.CancelledError:
                # Unwind the send where it waits rather than drop it there: its
                # frames may include an async generator (uvicorn's sends go through
                # websockets' send_context)
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
                return
    except closed as exc:
        if translate is None:
            raise
        raise translate(exc) from exc
