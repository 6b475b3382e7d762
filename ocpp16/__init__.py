"""ocpp16: OCPP 1.6-J for asyncio, a Python port of the TypeScript package ``ocpp-ts``.

A central system (``Server``) and a charge point (``Client``) are event
emitters; ``client.on("BootNotification", handler)`` answers CALLs and
``await client.call_request("Reset", {...})`` makes them. Underneath sits a
sans-I/O protocol core, :mod:`ocpp16.protocol`, that can be driven with
strings alone.

Public modules: :mod:`ocpp16.errors` (the exception tree), :mod:`ocpp16.protocol`
(the sans-I/O core), :mod:`ocpp16.validation` (schema validators and modes),
:mod:`ocpp16.schemas` (the 39 actions' JSON schemas), :mod:`ocpp16.types`
(a ``TypedDict`` per payload), :mod:`ocpp16.security` (the security profiles),
:mod:`ocpp16.handshake` (the opening handshake, sans I/O),
:mod:`ocpp16.registry` (which charge points a server holds),
:mod:`ocpp16.chargepoint` (a charge point's session: reconnecting, booting,
heartbeats, configuration keys), :mod:`ocpp16.store` (where a charge point
keeps the CALLs it must not lose), :mod:`ocpp16.observer` (structured hooks
into connections), :mod:`ocpp16.metrics` (Prometheus metrics, the ``metrics``
extra), :mod:`ocpp16.handlers` (the types of handlers and of their
``cb``, for type checkers) and :mod:`ocpp16.testing` (a ``Server`` and a
``Client`` connected in memory, and pytest fixtures, to test handlers without
sockets; imported on demand).
"""

from ocpp16 import schemas, security, types
from ocpp16._dispatch import Call
from ocpp16.chargepoint import (
    STANDARD_KEYS,
    ChargePointSession,
    Configuration,
    ConfigurationKey,
    KeyType,
    Reconnect,
    SessionState,
)
from ocpp16.client import Client
from ocpp16.connection import ClientBase, Options
from ocpp16.errors import (
    ERROR_CODES,
    CallTimeout,
    ClusterUnavailable,
    ConnectionClosed,
    HandshakeError,
    NotConnected,
    Ocpp16Error,
    OcppError,
    ProtocolStateError,
    StoreError,
    ValidationError,
)
from ocpp16.handlers import CallbackHandler, Handler, Reply
from ocpp16.handshake import Accept, Handshake, Refusal
from ocpp16.observer import Observer
from ocpp16.options import OptionKeywords
from ocpp16.registry import LocalRegistry, Registry
from ocpp16.schemas import Action
from ocpp16.server import Server
from ocpp16.store import MemoryStore, SQLiteStore, Store, StoredCall

__all__ = [
    "ERROR_CODES",
    "STANDARD_KEYS",
    "Accept",
    "Action",
    "Call",
    "CallTimeout",
    "CallbackHandler",
    "ChargePointSession",
    "Client",
    "ClientBase",
    "ClusterUnavailable",
    "Configuration",
    "ConfigurationKey",
    "ConnectionClosed",
    "Handler",
    "Handshake",
    "HandshakeError",
    "KeyType",
    "LocalRegistry",
    "MemoryStore",
    "NotConnected",
    "Observer",
    "Ocpp16Error",
    "OcppError",
    "OptionKeywords",
    "Options",
    "ProtocolStateError",
    "Reconnect",
    "Refusal",
    "Registry",
    "Reply",
    "SQLiteStore",
    "Server",
    "SessionState",
    "Store",
    "StoreError",
    "StoredCall",
    "ValidationError",
    "schemas",
    "security",
    "types",
]

__version__ = "0.1.0"
