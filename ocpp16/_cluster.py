"""The cluster seam of ``Server``: the interface and the one-process default.

The public names live in :mod:`ocpp16.cluster`; this module holds the
interface so that ``Server`` can import it without importing Redis code.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from ocpp16.errors import NotConnected
from ocpp16.registry import DuplicatePolicy, LocalRegistry, Registry

if TYPE_CHECKING:
    from ocpp16.options import Options

__all__ = ["Cluster", "ClusterHost", "LocalCluster"]


class ClusterHost(Protocol):
    """What a cluster needs of its server (``Server`` is one)."""

    @property
    def registry(self) -> Registry:
        """The server's registry of its own connections."""
        ...

    options: Options
    logger: logging.Logger


class Cluster(abc.ABC):
    """What a ``Server`` asks about charge points beyond its own connections.

    A cluster is bound to one ``Server`` (``Server(cluster=...)``), which calls
    :meth:`bind` once, :meth:`start` when it listens or first needs the cluster,
    and :meth:`close` when it closes.

    Attributes:
        node_id: This node's name in the cluster.
    """

    node_id: str

    def __init__(self) -> None:
        self._server: ClusterHost | None = None

    def bind(self, server: ClusterHost) -> None:
        """Attach the cluster to its server (once).

        Args:
            server: The ``Server`` made with this cluster.

        Raises:
            ValueError: The cluster is bound to another server already.
        """
        if self._server is not None and self._server is not server:
            raise ValueError("this cluster belongs to another Server already")
        self._server = server

    @property
    def server(self) -> ClusterHost:
        """The bound ``Server``.

        Raises:
            RuntimeError: No server was bound.
        """
        if self._server is None:
            raise RuntimeError("the cluster is not bound to a Server: pass Server(cluster=...)")
        return self._server

    def make_registry(
        self, *, max_connections: int | None, duplicate_id: DuplicatePolicy
    ) -> Registry:
        """Return the registry of the bound server.

        Args:
            max_connections: The per-node cap.
            duplicate_id: The duplicate-id policy, applied cluster-wide.
        """
        return LocalRegistry(max_connections=max_connections, duplicate_id=duplicate_id)

    @property
    def available(self) -> bool | None:
        """Whether the shared store answered the last time this node tried it.

        ``None`` for a cluster without one (:class:`LocalCluster`); a
        server's ``GET /health`` reports it as ``"redis"``.
        """
        return None

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect to the shared store, if any (idempotent)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Unregister this node's charge points and disconnect (idempotent)."""

    @abc.abstractmethod
    def call_request(
        self, cp_id: str, action: str, payload: dict[str, Any], timeout: float | None
    ) -> asyncio.Future[dict[str, Any]]:
        """Send a CALL to a charge point that the bound server does not hold.

        Args:
            cp_id: The charge point id.
            action: The action.
            payload: The (checked) payload.
            timeout: Seconds, or ``None`` for the server's ``call_timeout``.

        Returns:
            A future with the failures of ``Server.call_request``.
        """

    @abc.abstractmethod
    async def locate(self, cp_id: str) -> str | None:
        """Return the node that holds ``cp_id``, or ``None`` when none does.

        Args:
            cp_id: The charge point id.
        """

    @abc.abstractmethod
    async def connected_ids(self) -> dict[str, str]:
        """Return every connected charge point id with the node that holds it."""


class LocalCluster(Cluster):
    """The process alone: the server's own charge points, no shared store.

    Args:
        node_id: The name this node reports from :meth:`locate`.
    """

    def __init__(self, node_id: str = "local") -> None:
        super().__init__()
        self.node_id = node_id

    def call_request(
        self, cp_id: str, action: str, payload: dict[str, Any], timeout: float | None
    ) -> asyncio.Future[dict[str, Any]]:
        """Fail with :class:`~ocpp16.errors.NotConnected`: no other node exists.

        Args:
            cp_id: The charge point id.
            action: The action.
            payload: The payload.
            timeout: Unused.
        """
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        future.set_exception(NotConnected(cp_id))
        return future

    async def locate(self, cp_id: str) -> str | None:
        """Return :attr:`node_id` when the server holds ``cp_id``, else ``None``.

        Args:
            cp_id: The charge point id.
        """
        return self.node_id if self.server.registry.get(cp_id) is not None else None

    async def connected_ids(self) -> dict[str, str]:
        """Return the server's charge point ids, each with :attr:`node_id`."""
        return dict.fromkeys(self.server.registry.connections, self.node_id)
