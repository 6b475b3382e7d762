"""Which charge points a central system holds: the registry seam of ``Server``.

A :class:`Registry` makes the four decisions about a server's connections:
whether one more fits (the cap), what a duplicate id gets (refused, or the
old connection replaced), which connection serves an id, and clean-up when
one ends. ``Server`` asks it and nothing else, so a registry that also tells
other nodes (a cluster) is one more implementation of this interface.

:class:`LocalRegistry` is the default: one process, a dict.
"""

from __future__ import annotations

import abc
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from ocpp16.handshake import Refusal, duplicate_refusal, no_room

if TYPE_CHECKING:
    from ocpp16.connection import ClientBase

__all__ = ["DuplicatePolicy", "LocalRegistry", "Registry"]

DuplicatePolicy = Literal["replace", "reject"]
"""What a charge point gets that connects while its id is connected."""


class Registry(abc.ABC):
    """The connections of one ``Server``, and the decisions about them.

    Args:
        max_connections: Charge points connected at once; one more is refused
            with HTTP 503. ``None`` sets no cap.
        duplicate_id: ``"replace"`` (a reconnecting charge point takes over its
            id; the old connection is closed with 1000) or ``"reject"`` (the
            new one is refused with HTTP 409).

    Raises:
        ValueError: An argument is out of range.
    """

    def __init__(
        self, *, max_connections: int | None = None, duplicate_id: DuplicatePolicy = "replace"
    ) -> None:
        if max_connections is not None and (
            not isinstance(max_connections, int) or max_connections < 1
        ):
            raise ValueError(
                f"max_connections must be a positive int or None, not {max_connections!r}"
            )
        if duplicate_id not in ("replace", "reject"):
            raise ValueError(f"duplicate_id must be 'replace' or 'reject', not {duplicate_id!r}")
        self.max_connections = max_connections
        self.duplicate_id: DuplicatePolicy = duplicate_id

    @property
    @abc.abstractmethod
    def connections(self) -> Mapping[str, ClientBase]:
        """The connections held here, by charge point id (a read-only live view)."""

    @abc.abstractmethod
    def get(self, cp_id: str) -> ClientBase | None:
        """Return the connection that serves ``cp_id`` here, or ``None``.

        Args:
            cp_id: A charge point id.
        """

    @abc.abstractmethod
    def admit(self, cp_id: str) -> Refusal | None:
        """Decide whether one more connection fits, before anything else is checked.

        Args:
            cp_id: The charge point id of the handshake.

        Returns:
            ``None`` to go on, or the ``503`` refusal.
        """

    @abc.abstractmethod
    async def check_duplicate(self, cp_id: str) -> Refusal | None:
        """Decide on a handshake whose id may be connected already (after authorization).

        Args:
            cp_id: The charge point id of an authorized handshake.

        Returns:
            ``None`` to accept it, or the ``409`` refusal under ``"reject"``.
        """

    @abc.abstractmethod
    async def claim(self, connection: ClientBase) -> ClientBase | None:
        """Register an accepted connection as the one serving its id.

        Args:
            connection: The new connection.

        Returns:
            The connection it replaces, which the server closes with 1000, or ``None``.
        """

    @abc.abstractmethod
    async def release(self, connection: ClientBase) -> None:
        """Forget a connection that ended, unless another has taken its id since.

        Args:
            connection: The connection that closed.
        """


class LocalRegistry(Registry):
    """The registry of one process: a dict of connections by id.

    Args:
        max_connections: As :class:`Registry`.
        duplicate_id: As :class:`Registry`.
    """

    def __init__(
        self, *, max_connections: int | None = None, duplicate_id: DuplicatePolicy = "replace"
    ) -> None:
        super().__init__(max_connections=max_connections, duplicate_id=duplicate_id)
        self._by_id: dict[str, ClientBase] = {}
        self._view = types.MappingProxyType(self._by_id)

    @property
    def connections(self) -> Mapping[str, ClientBase]:
        """The connections held here, by charge point id (a read-only live view)."""
        return self._view

    def get(self, cp_id: str) -> ClientBase | None:
        """Return the connection that serves ``cp_id``, or ``None``.

        Args:
            cp_id: A charge point id.
        """
        return self._by_id.get(cp_id)

    def admit(self, cp_id: str) -> Refusal | None:
        """Refuse with 503 when ``max_connections`` are connected.

        Args:
            cp_id: The charge point id of the handshake.
        """
        limit = self.max_connections
        if limit is not None and len(self._by_id) >= limit:
            return no_room(limit)
        return None

    async def check_duplicate(self, cp_id: str) -> Refusal | None:
        """Refuse with 409 under ``"reject"`` when ``cp_id`` is connected.

        Args:
            cp_id: The charge point id of an authorized handshake.
        """
        if self.duplicate_id == "reject" and cp_id in self._by_id:
            return duplicate_refusal()
        return None

    async def claim(self, connection: ClientBase) -> ClientBase | None:
        """Make ``connection`` the one serving its id; return the one it replaces.

        Args:
            connection: The new connection.
        """
        previous = self._by_id.get(connection.cp_id)
        self._by_id[connection.cp_id] = connection
        return previous

    async def release(self, connection: ClientBase) -> None:
        """Forget ``connection`` if it still serves its id.

        Args:
            connection: The connection that closed.
        """
        if self._by_id.get(connection.cp_id) is connection:
            del self._by_id[connection.cp_id]
