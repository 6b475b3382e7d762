"""The types of handlers and of their ``cb``, for type checkers.

A handler (README "Handlers") is ``fn(request)`` or ``fn(request, cb)``, plain or
``async``. These protocols give them types for ``mypy``::

    from ocpp16 import Reply
    from ocpp16.types import BootNotificationRequest, BootNotificationResponse

    def on_boot(request: BootNotificationRequest, cb: Reply[BootNotificationResponse]) -> None:
        cb({"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"})

They cost nothing at run time: a handler is any function of that shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ocpp16.errors import OcppError

__all__ = ["CallbackHandler", "Handler", "Reply"]

_Request_contra = TypeVar("_Request_contra", bound=Mapping[str, Any], contravariant=True)
_Response_contra = TypeVar("_Response_contra", bound=Mapping[str, Any], contravariant=True)
_Response_co = TypeVar("_Response_co", bound=Mapping[str, Any], covariant=True)


class Reply(Protocol[_Response_contra]):
    """The ``cb`` of a handler ``fn(request, cb)``: ``Reply[BootNotificationResponse]``.

    ``cb(response)`` sends the CALLRESULT, ``cb(OcppError(...))`` a CALLERROR, and
    ``cb()`` an empty response (``{}``). The first reply is sent; later ones are dropped.
    """

    def __call__(self, response: _Response_contra | OcppError | None = None, /) -> None:
        """Reply to the CALL being handled."""
        ...


class Handler(Protocol[_Request_contra, _Response_co]):
    """A handler that replies by returning: ``Handler[ResetRequest, ResetResponse]``.

    It returns the response, or an awaitable of it (an ``async`` function);
    ``None`` replies ``{}``.
    """

    def __call__(
        self, request: _Request_contra, /
    ) -> _Response_co | Awaitable[_Response_co | None] | None:
        """Handle one CALL: ``request`` is its payload."""
        ...


class CallbackHandler(Protocol[_Request_contra, _Response_co]):
    """A handler that replies through ``cb``: ``CallbackHandler[ResetRequest, ResetResponse]``."""

    def __call__(self, request: _Request_contra, cb: Reply[_Response_co], /) -> object:
        """Handle one CALL: ``request`` is its payload; reply with ``cb``."""
        ...
