"""How connections call observers: the hooks they expect, and a call that contains failures.

The public base class is :class:`ocpp16.observer.Observer`; connections rely
only on the shape declared here, so that ``ocpp16.connection`` needs no import
of ``ocpp16.observer`` (which names ``ClientBase`` in its hooks' types).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["Hooks", "attached", "check", "detached", "notify"]


@runtime_checkable
class Hooks(Protocol):
    """The hooks of an :class:`~ocpp16.observer.Observer`, as a connection calls them."""

    def connect(self, connection: Any, /) -> None:
        """See ``Observer.connect``."""

    def close(self, connection: Any, code: int, reason: str, /) -> None:
        """See ``Observer.close``."""

    def call_sent(
        self, connection: Any, message_id: str, action: str, payload: Any, frame: str, /
    ) -> None:
        """See ``Observer.call_sent``."""

    def answer_received(
        self,
        connection: Any,
        message_id: str,
        action: str,
        outcome: str,
        seconds: float,
        payload_or_error: Any,
        frame: str | None,
        /,
    ) -> None:
        """See ``Observer.answer_received``."""

    def call_received(
        self, connection: Any, message_id: str, action: str, payload: Any, frame: str, /
    ) -> None:
        """See ``Observer.call_received``."""

    def answer_sent(
        self,
        connection: Any,
        message_id: str,
        action: str,
        outcome: str,
        seconds: float,
        payload_or_error: Any,
        frame: str,
        /,
    ) -> None:
        """See ``Observer.answer_sent``."""

    def bad_message(self, connection: Any, text: str | bytes, error: Any, /) -> None:
        """See ``Observer.bad_message``."""

    def ignored(self, connection: Any, text: str, reason: str, /) -> None:
        """See ``Observer.ignored``."""

    def violation(self, connection: Any, action: str, kind: str, where: str, error: Any, /) -> None:
        """See ``Observer.violation``."""

    def refused(self, cp_id: str | None, status: int, reason: str, /) -> None:
        """See ``Observer.refused``."""

    def handshake_timeout(self, remote_address: Any, /) -> None:
        """See ``Observer.handshake_timeout``."""

    def queue_changed(self, connection: Any, depth: int, /) -> None:
        """See ``Observer.queue_changed``."""

    def call_retried(self, connection: Any, action: str, attempts: int, error: Any, /) -> None:
        """See ``Observer.call_retried``."""

    def call_dropped(self, connection: Any, action: str, error: Any, /) -> None:
        """See ``Observer.call_dropped``."""


def check(observer: object) -> Hooks:
    """Return ``observer`` if it has every hook; raise a clear TypeError otherwise."""
    if not isinstance(observer, Hooks):
        raise TypeError(f"an observer must be an ocpp16.Observer, not {observer!r}")
    return observer


def notify(
    observers: tuple[Hooks, ...],
    report: Callable[[BaseException, object], None],
    hook: str,
    *args: Any,
) -> None:
    """Call ``hook`` of each observer; a failure goes to ``report``, never further."""
    for observer in observers:
        method = getattr(observer, hook)
        try:
            method(*args)
        except Exception as exc:
            report(exc, method)


def attached(observers: tuple[Hooks, ...], observer: object) -> tuple[Hooks, ...]:
    """Return ``observers`` with ``observer`` added once (checked to be an observer)."""
    hooks = check(observer)
    return observers if hooks in observers else (*observers, hooks)


def detached(observers: tuple[Hooks, ...], observer: object, of: str) -> tuple[Hooks, ...]:
    """Return ``observers`` without ``observer``; ``ValueError`` naming ``of`` if absent."""
    if observer not in observers:
        raise ValueError(f"{observer!r} does not observe {of}")
    return tuple(o for o in observers if o is not observer)
