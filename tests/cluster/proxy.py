"""A small TCP load balancer for the process tests: what stands in front of the nodes."""

from __future__ import annotations

import asyncio
import contextlib


class Balancer:
    """Forward each new TCP connection to the first backend that accepts, in a rotating order.

    Connection n tries the backends from index ``n % len(backends)`` on, so that a
    dead backend (connection refused) sends its charge points to the next one, as a
    load balancer with health checks would. :meth:`hold` keeps new connections
    waiting (accepted, not yet forwarded) until :meth:`release`, so that a test can
    look at the cluster before a charge point comes back.

    Args:
        backends: The backends' ports on 127.0.0.1.
    """

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = 0
        self.forwarded: list[int] = []  # the backend port of each connection, in order
        self._count = 0
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        """Listen on 127.0.0.1, port 0; return the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def hold(self) -> None:
        """Keep new connections waiting until :meth:`release`."""
        self._open.clear()

    def release(self) -> None:
        """Forward the waiting connections, and new ones at once."""
        self._open.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._open.wait()
            first = self._count % len(self.backends)
            self._count += 1
            for i in range(len(self.backends)):
                port = self.backends[(first + i) % len(self.backends)]
                try:
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    continue
                self.forwarded.append(port)
                self._writers.add(up_writer)
                await asyncio.gather(
                    _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
                )
                break
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def close(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until either side ends; then close the writing side."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()
