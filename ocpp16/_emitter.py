"""The event-emitter base of ``Server`` and ``ClientBase``: pyee's, made safe for servers.

pyee re-raises a listener's exception out of ``emit`` when nobody listens for
``"error"``, which would stop the remaining listeners and unwind into the
connection that emitted. Here each listener's failure is contained: it goes to
the ``"error"`` listeners if there are any (an ``"error"`` listener's own
failure is only logged, so that it cannot loop), otherwise to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter

__all__: list[str] = []


class _SafeEmitter(AsyncIOEventEmitter):
    """An AsyncIOEventEmitter whose listeners' failures never escape ``emit``."""

    logger: logging.Logger | logging.LoggerAdapter[Any]

    def __init__(self) -> None:
        super().__init__()
        self._listener_tasks: set[asyncio.Future[Any]] = set()

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
            self._listener_tasks.add(future)
            future.add_done_callback(lambda done: self._listener_done(done, f))

    def _listener_done(self, future: asyncio.Future[Any], f: Callable[..., Any]) -> None:
        self._listener_tasks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._report(future.exception(), f)  # type: ignore[arg-type]

    def _report(self, exc: BaseException, source: Callable[..., Any] | None = None) -> None:
        """Send a failure to the "error" listeners, or to the log when there are none."""
        handlers = self._events.get("error")
        if handlers and source not in handlers:
            self.emit("error", exc)
        else:
            where = f" in {getattr(source, '__qualname__', source)!s}" if source else ""
            self.logger.error("unhandled error%s: %r", where, exc, exc_info=exc)
