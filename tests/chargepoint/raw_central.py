"""A bare central system for the durable charge point's tests: it records every CALL it gets.

It speaks OCPP-J with plain ``websockets`` and no OCPP library, so that a test
decides exactly what each CALL gets: an answer, a CALLERROR, nothing, or a
closed connection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any, Final

from websockets.asyncio.server import Server, ServerConnection, serve

from tests.helpers import NOW_ISO, TIMEOUT

CALL, CALLRESULT, CALLERROR = 2, 3, 4
CLOSE: Final = "close"  # an answer that closes the connection instead
NO_ANSWER: Final = None

Frame = list[Any]
Answer = Callable[[Frame, int], Frame | str | None]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (reserved, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def result(frame: Frame, payload: dict[str, Any]) -> Frame:
    """The CALLRESULT answering ``frame``."""
    return [CALLRESULT, frame[1], payload]


def error(frame: Frame, code: str = "InternalError", description: str = "try again") -> Frame:
    """A CALLERROR answering ``frame``."""
    return [CALLERROR, frame[1], code, description, {}]


class RawCentralSystem:
    """Records each CALL as (message id, action, payload) and answers it as ``answer`` says.

    ``answer(frame, n)`` gets the CALL frame and its number (from 1) and returns
    the frame to send back, ``NO_ANSWER``, or ``CLOSE``. By default every
    CALL is answered as a willing central system would: BootNotification
    Accepted, StartTransaction with transaction ids 1, 2, ..., the rest ``{}``.
    """

    def __init__(self, answer: Answer | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.answer: Answer = answer or self.willing
        self.connections = 0
        self.port = 0
        self._server: Server | None = None
        self._changed = asyncio.Event()
        # The transactionIds that StartTransactions get, in turn.
        self.transaction_ids: Iterator[int] = itertools.count(1)

    def willing(self, frame: Frame, n: int) -> Frame:
        """Answer as a central system that accepts everything."""
        action = frame[2]
        if action == "BootNotification":
            return result(frame, {"status": "Accepted", "interval": 60, "currentTime": NOW_ISO})
        if action == "StartTransaction":
            return result(
                frame,
                {"transactionId": next(self.transaction_ids), "idTagInfo": {"status": "Accepted"}},
            )
        if action == "Heartbeat":
            return result(frame, {"currentTime": NOW_ISO})
        if action == "Authorize":
            return result(frame, {"idTagInfo": {"status": "Accepted"}})
        return result(frame, {})

    @property
    def url(self) -> str:
        """The base URL charge points connect to."""
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def actions(self) -> list[str]:
        """The actions received, in order."""
        return [action for _, action, _ in self.calls]

    async def start(self, port: int = 0) -> RawCentralSystem:
        """Listen on 127.0.0.1 (a free port by default)."""
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            port,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._wake()
        async for text in ws:
            frame = json.loads(text)
            if frame[0] != CALL:
                continue
            self.calls.append((frame[1], frame[2], frame[3]))
            self._wake()
            reply = self.answer(frame, len(self.calls))
            if reply == CLOSE:
                await ws.close()
                return
            if reply is not None:
                await ws.send(json.dumps(reply))

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait (within TIMEOUT) until ``condition()`` holds; it is checked at each CALL."""
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                await self._changed.wait()

    async def wait_calls(self, n: int) -> None:
        """Wait until ``n`` CALLs have arrived."""
        await self.until(lambda: len(self.calls) >= n)
