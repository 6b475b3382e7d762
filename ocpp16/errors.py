"""The exception tree of ocpp16.

Every exception the library raises on purpose derives from one root, so a
backend can catch everything of ours with one ``except Ocpp16Error``::

    Ocpp16Error                      root of everything ocpp16 raises
    ├── OcppError                    an OCPP-J error: .code, .description, .details
    │   ├── CallTimeout              (also a TimeoutError) no answer within the timeout
    │   ├── NotConnected             server.call_request to a charge point not connected: .cp_id
    │   └── ValidationError          a payload broke its schema: .path, .keyword
    ├── ConnectionClosed             the WebSocket closed: .code, .reason
    ├── HandshakeError               Client.connect was refused: .status
    ├── ClusterUnavailable           a cluster's shared store (Redis) cannot be reached
    ├── ProtocolStateError           the sans-I/O core was used out of order
    └── StoreError                   an offline queue's store is unusable: .path

Third-party exceptions never leave the library as themselves: they are
translated into this tree at the boundary where they arise, fastjsonschema's
in :mod:`ocpp16.validation` (into :class:`ValidationError`) and websockets' in
:mod:`ocpp16.connection` (into :class:`ConnectionClosed`) and
:mod:`ocpp16.client` (into :class:`HandshakeError`).

``OcppError`` is what a handler raises to send a CALLERROR, and what a
``call_request`` future fails with when the peer answers with one
(OCPP-J 1.6 §4.2.3).
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "ERROR_CODES",
    "CallTimeout",
    "ClusterUnavailable",
    "ConnectionClosed",
    "HandshakeError",
    "NotConnected",
    "Ocpp16Error",
    "OcppError",
    "ProtocolStateError",
    "StoreError",
    "ValidationError",
]

# OCPP-J 1.6 §4.2.3 table 7: the error codes, spelled exactly as 1.6 spells them
# ("OccurenceConstraintViolation" with one "r" is the 1.6 spelling).
ERROR_CODES: Final[frozenset[str]] = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)


class Ocpp16Error(Exception):
    """The root of every exception that ocpp16 raises on purpose."""


class OcppError(Ocpp16Error):
    """An OCPP-J error: what a CALLERROR carries (OCPP-J 1.6 §4.2.3).

    Raise it from a handler to answer with that CALLERROR; a ``call_request``
    future fails with it when the peer answers with a CALLERROR.

    Args:
        code: One of the ten OCPP 1.6 error codes (see :data:`ERROR_CODES`).
            A code received from a peer is kept as the peer spelled it.
        description: A human-readable description, sent as errorDescription.
        details: A JSON object sent as errorDetails; ``None`` sends ``{}``.

    Attributes:
        code: The error code.
        description: The error description.
        details: The error details (a dict).
    """

    def __init__(
        self, code: str, description: str = "", details: dict[str, Any] | None = None
    ) -> None:
        self.code = code
        self.description = description
        self.details: dict[str, Any] = {} if details is None else details
        super().__init__(f"{code}: {description}" if description else code)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, description={self.description!r}, "
            f"details={self.details!r})"
        )


class CallTimeout(OcppError, TimeoutError):
    """No CALLRESULT or CALLERROR arrived for a CALL within its timeout.

    It is both an :class:`OcppError` (code ``"GenericError"``) and a builtin
    :class:`TimeoutError`, so either ``except`` clause catches it.

    Attributes:
        action: The action of the CALL that timed out.
        message_id: Its message id.
        timeout: The timeout in seconds.
    """

    def __init__(self, action: str, message_id: str, timeout: float) -> None:
        self.action = action
        self.message_id = message_id
        self.timeout = timeout
        super().__init__(
            "GenericError",
            f"no answer to {action} (message id {message_id!r}) within {timeout:g} s",
        )


class ValidationError(OcppError):
    """A payload broke its JSON schema.

    Attributes:
        code: The OCPP error code the failing keyword maps to
            (for example ``"TypeConstraintViolation"`` for ``type``).
        path: Where in the payload, as a JSON path such as ``"$.idTagInfo.status"``.
        keyword: The JSON-schema keyword that failed (``"type"``, ``"required"``, ...).
        value: The value that failed (for ``required``, the object missing the field).
    """

    def __init__(
        self,
        code: str,
        description: str,
        *,
        path: str = "$",
        keyword: str = "",
        details: dict[str, Any] | None = None,
        value: Any = None,
    ) -> None:
        self.path = path
        self.keyword = keyword
        self.value = value
        super().__init__(code, description, details)


class ConnectionClosed(Ocpp16Error):
    """The WebSocket connection closed; what was pending on it failed with this.

    Attributes:
        code: The WebSocket close code (1006 when the connection dropped).
        reason: The close reason, possibly empty.
    """

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        text = f"connection closed with code {code}"
        super().__init__(f"{text}: {reason}" if reason else text)


class HandshakeError(Ocpp16Error):
    """A charge point could not open its OCPP connection.

    Raised by ``Client.connect`` when the URL is not a WebSocket URL, when the
    server answers the opening handshake with an HTTP error (401 for a refused
    authorization, 400 for a missing id or subprotocol), or when the server
    does not agree on the ``ocpp1.6`` subprotocol. Network failures (a refused
    or unreachable address) stay the builtin ``OSError`` they are.

    Attributes:
        status: The HTTP status the server answered with, or ``None``.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NotConnected(OcppError):
    """``Server.call_request`` named a charge point that is not connected.

    Nothing was sent. The code is ``GenericError``: no OCPP peer answered.

    Attributes:
        cp_id: The charge point id.
    """

    def __init__(self, cp_id: str) -> None:
        self.cp_id = cp_id
        super().__init__("GenericError", f"charge point {cp_id!r} is not connected")


class ClusterUnavailable(Ocpp16Error):
    """A call to a charge point on another node failed: the cluster cannot be reached.

    Raised (through the future of ``Server.call_request``, or by ``locate`` and
    ``connected_ids``) while the shared store of a cluster, such as Redis, is
    gone. Local work is never affected. Not an :class:`OcppError`: no OCPP
    error happened.
    """


class ProtocolStateError(Ocpp16Error):
    """The sans-I/O protocol core was asked to do something its state forbids.

    For example: sending a CALL after the connection was marked closed, or
    answering a CALL that is not being handled.
    """


class StoreError(Ocpp16Error):
    """A charge point's offline queue (:mod:`ocpp16.store`) cannot be used.

    Raised at start-up for a file that cannot be opened, is damaged, is not
    an ocpp16 queue, is in use by another process, or was written by a newer
    schema version; and when a change cannot be written. The message names
    the file.

    Attributes:
        path: The store's file, or ``None`` for a store without one.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)
