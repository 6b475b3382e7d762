"""``Options``: the connection options shared by ``Server`` and ``Client``.

``OptionKeywords`` is the same set of keywords as a ``TypedDict``: it types the
``**options`` of ``Server(...)`` and ``Client(...)``, so that a misspelt option
or a value of the wrong type is a type checker's error, not only a run-time one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypedDict

from ocpp16.validation import Mode, check_mode

__all__ = ["OptionKeywords", "Options"]

_log = logging.getLogger("ocpp16")


class OptionKeywords(TypedDict, total=False):
    """The option keywords of ``Server(...)`` and ``Client(...)``, for type checkers.

    ``**options: Unpack[OptionKeywords]`` in their signatures makes a misspelt
    keyword (``call_timout=5``) or a value of the wrong type fail ``mypy``; at run
    time :class:`Options` checks them again. Each key means what the parameter of
    :class:`Options` of the same name means.
    """

    call_timeout: float
    handler_timeout: float
    call_concurrency: int
    validation: Mode
    validation_overrides: Mapping[str, Mode] | None
    ping_interval: float | None
    ping_timeout: float | None
    max_message_size: int | None
    message_id_factory: Callable[[], str] | None
    logger: logging.Logger | None
    bad_message_budget: int | None
    handshake_timeout: float | None
    close_timeout: float | None
    max_incoming_calls: int | None


class Options:
    """The options shared by ``Server`` and ``Client``, checked once.

    Every keyword is an option of the README's table; a ``Server`` applies them
    to each of its connections.

    Args:
        call_timeout: Seconds a ``call_request`` waits for its answer (30).
        handler_timeout: Seconds a handler has to reply before ``InternalError`` is sent (30).
        call_concurrency: CALLs outstanding at once per connection (1, OCPP-J 1.6 §4.1.1).
        max_incoming_calls: Incoming CALLs per connection that may await their
            handlers' replies at once (32); with that many waiting, the
            connection stops reading the peer until one is answered
            (backpressure: nothing is dropped). CALLs a plain function answers
            at once never count. ``None`` sets no bound.
        validation: ``"strict"`` (default), ``"warn"`` or ``"off"``.
        validation_overrides: Action → mode, over ``validation``.
        ping_interval: Seconds between WebSocket pings; ``None`` disables them (20).
        ping_timeout: Seconds to wait for a pong before closing; ``None`` waits forever (20).
        max_message_size: Largest incoming frame in bytes; larger closes with 1009 (1 MiB).
        bad_message_budget: Refused frames a connection may send per minute; one
            more closes it with 1002. ``None`` (the default) never closes for that.
        handshake_timeout: Seconds the opening handshake may take, the TLS
            handshake included (10).
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
        "max_incoming_calls",
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
        max_incoming_calls: int | None = 32,
    ) -> None:
        for name, value in (("call_timeout", call_timeout), ("handler_timeout", handler_timeout)):
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if not isinstance(call_concurrency, int) or call_concurrency < 1:
            raise ValueError(
                f"call_concurrency must be an int of at least 1, not {call_concurrency!r}"
            )
        if max_incoming_calls is not None and (
            not isinstance(max_incoming_calls, int) or max_incoming_calls < 1
        ):
            raise ValueError(
                "max_incoming_calls must be an int of at least 1 or None, "
                f"not {max_incoming_calls!r}"
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
        self.max_incoming_calls = max_incoming_calls
        self.validation: Mode = check_mode(validation)
        self.validation_overrides: dict[str, Mode] = {
            action: check_mode(mode) for action, mode in (validation_overrides or {}).items()
        }
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message_size = max_message_size
        self.message_id_factory = message_id_factory
        self.logger = logger or _log
