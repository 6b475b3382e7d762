"""A connected pair of in-memory transports, over asyncio queues (for tests).

Its public face is :mod:`ocpp16.testing`, which runs a ``Server`` and a
``Client`` over a pair.

What one end sends, the other reads, in order; closing either end closes both
with the same code and reason, as a WebSocket closing handshake does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ocpp16._transport import Pulled, Transport, TransportClosed

if TYPE_CHECKING:
    from ocpp16.handshake import Handshake

__all__ = ["MemoryTransport", "memory_pair"]


class MemoryTransport(Pulled, Transport):
    """One end of an in-memory connection; make a pair with :func:`memory_pair`.

    Args:
        name: The address this end's peer sees.
        handshake: What :attr:`handshake` returns.
    """

    def __init__(self, name: Any, handshake: Handshake | None = None) -> None:
        self.name = name
        self.peer: MemoryTransport | None = None
        self.ping_interval: float | None = None
        self.ping_timeout: float | None = None
        self._handshake = handshake
        # Frames to read; None marks the close.
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._code: int | None = None
        self._reason = ""

    def send(self, text: str) -> None:
        """Hand ``text`` to the peer at once (an in-memory pipe has no backpressure)."""
        if self._code is not None or self.peer is None:
            raise TransportClosed("the in-memory connection is closed")
        self.peer._inbox.put_nowait(text)

    def receive(self, frame: str | bytes) -> None:
        """Make ``frame`` arrive at this end as if the peer had sent it (binary too)."""
        if self._code is None:
            self._inbox.put_nowait(frame)

    async def frames(self) -> AsyncIterator[str | bytes]:
        """Yield each frame the peer sent, until the connection closes."""
        while True:
            frame = await self._inbox.get()
            if frame is None:
                return
            yield frame

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close both ends with ``code`` and ``reason``."""
        for end in (self, self.peer):
            if end is not None and end._code is None:
                end._code, end._reason = code, reason
                end._inbox.put_nowait(None)

    @property
    def close_code(self) -> int | None:
        """The close code, once closed."""
        return self._code

    @property
    def close_reason(self) -> str:
        """The close reason."""
        return self._reason

    @property
    def remote_address(self) -> Any:
        """The peer's name."""
        return self.peer.name if self.peer is not None else None

    @property
    def subprotocol(self) -> str | None:
        """Always ``"ocpp1.6"``."""
        return "ocpp1.6"

    @property
    def handshake(self) -> Handshake | None:
        """The handshake given to this end."""
        return self._handshake


def memory_pair(
    handshake: Handshake | None = None,
    *,
    charge_point_address: Any = "charge-point",
    central_system_address: Any = "central-system",
) -> tuple[MemoryTransport, MemoryTransport]:
    """Return two connected ends: the charge point's and the central system's.

    Args:
        handshake: What the central system's end reports as its handshake.
        charge_point_address: The charge point's address, as the central
            system's end reports it (``remote_address``).
        central_system_address: The central system's address, as the charge
            point's end reports it.

    Returns:
        ``(charge_point_end, central_system_end)``.
    """
    charge_point = MemoryTransport(charge_point_address)
    central = MemoryTransport(central_system_address, handshake)
    charge_point.peer, central.peer = central, charge_point
    return charge_point, central
