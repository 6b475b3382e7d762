"""Plain HTTP on the OCPP port: the requests a server answers that are not handshakes.

A charge point opens its connection with an HTTP/1.1 upgrade (RFC 6455 §4.1);
anything else that reaches the port is a plain HTTP request, which a
``Server`` may answer itself (an operator's probe, a scrape) whatever its
transport: the listening socket, or an ASGI server it is mounted in. This
module decides which requests those are, and holds the answer's shape, so that
every transport asks the same question and sends the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["HttpAnswer", "is_upgrade"]


@dataclasses.dataclass(frozen=True, slots=True)
class HttpAnswer:
    """The answer to a plain HTTP request.

    Attributes:
        status: The HTTP status code.
        content_type: The ``Content-Type`` header's value.
        body: The body.
    """

    status: int
    content_type: str
    body: bytes


def is_upgrade(headers: Mapping[str, str]) -> bool:
    """Whether a request asks for a WebSocket (RFC 6455 §4.2.1: ``Upgrade: websocket``).

    Args:
        headers: The request's headers (a case-insensitive mapping).

    Returns:
        True when its ``Upgrade`` header names ``websocket``.
    """
    upgrade = headers.get("Upgrade") or headers.get("upgrade") or ""
    return "websocket" in upgrade.lower()
