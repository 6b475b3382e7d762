"""pytest fixtures for testing handlers in memory (:mod:`ocpp16.testing`).

Opt in from a test module or the root ``conftest.py``::

    pytest_plugins = ["ocpp16.testing.pytest_plugin"]

The fixtures are async: they need ``pytest-asyncio`` (in strict mode too; the
tests that use them must run on asyncio, as ``asyncio_mode = "auto"`` or
``@pytest.mark.asyncio`` makes them).

- ``ocpp_server``: a fresh :class:`~ocpp16.server.Server` that never
  listens, closed after the test. Override it in a ``conftest.py`` to return
  the application's own configured server.
- ``ocpp_connect``: an :class:`~ocpp16.testing.ConnectFactory`;
  ``client, peer = await ocpp_connect("CP1")`` connects a charge point to
  ``ocpp_server`` in memory (the arguments of :func:`ocpp16.testing.connect`
  after the server), and every connection it made is closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

try:
    import pytest_asyncio
except ImportError as exc:  # pragma: no cover - the dev dependencies include it
    raise ImportError(
        "ocpp16.testing.pytest_plugin needs pytest-asyncio: pip install pytest-asyncio"
    ) from exc

from ocpp16.client import Client
from ocpp16.handshake import SUBPROTOCOL
from ocpp16.server import Server
from ocpp16.testing import DEFAULT_URL, ConnectFactory, Pair, connect

__all__ = ["ocpp_connect", "ocpp_server"]


@pytest_asyncio.fixture
async def ocpp_server() -> AsyncIterator[Server]:
    """A fresh ``Server()`` that never listens; closed after the test."""
    server = Server()
    try:
        yield server
    finally:
        await server.close()


@pytest_asyncio.fixture
async def ocpp_connect(ocpp_server: Server) -> AsyncIterator[ConnectFactory]:
    """Connect charge points to ``ocpp_server`` in memory; each is closed after the test."""
    async with AsyncExitStack() as stack:

        async def connect_in_memory(
            client: Client | str = "CP1",
            url: str = DEFAULT_URL,
            *,
            headers: Mapping[str, str] | None = None,
            subprotocols: Sequence[str] = (SUBPROTOCOL,),
            remote_address: Any = ("127.0.0.1", 0),
            peer_certificate: dict[str, Any] | None = None,
        ) -> Pair:
            return await stack.enter_async_context(
                connect(
                    ocpp_server,
                    client,
                    url,
                    headers=headers,
                    subprotocols=subprotocols,
                    remote_address=remote_address,
                    peer_certificate=peer_certificate,
                )
            )

        yield connect_in_memory
