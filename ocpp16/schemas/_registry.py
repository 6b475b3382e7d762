"""``ActionSchema``: what the library knows about one OCPP 1.6-J action.

An ``ActionSchema`` holds an action's name, its direction and its feature profile,
and loads the action's two JSON schemas (``<Action>.json`` for the request,
``<Action>Response.json`` for the response) from this package the first time
they are asked for. Nothing is read at import time: ``import ocpp16.schemas``
opens no file, and each schema file is read at most once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = ["ActionSchema", "Direction", "Profile", "Role"]

Direction: TypeAlias = Literal["cp_to_cs", "cs_to_cp", "both"]
"""Who sends an action's request: the charge point (``"cp_to_cs"``), the central system
(``"cs_to_cp"``), or either of them (``"both"``, DataTransfer only)."""

Profile: TypeAlias = Literal[
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
    "Security",
]
"""The feature profile of an action (OCPP 1.6 §3.3); ``"Security"`` for the 11 actions of
the OCPP 1.6 security white paper."""

Role: TypeAlias = Literal["charge_point", "central_system"]
"""The two ends of an OCPP connection."""

_SENDER: dict[Direction, frozenset[Role]] = {
    "cp_to_cs": frozenset({"charge_point"}),
    "cs_to_cp": frozenset({"central_system"}),
    "both": frozenset({"charge_point", "central_system"}),
}
_RECEIVER: dict[Direction, frozenset[Role]] = {
    "cp_to_cs": frozenset({"central_system"}),
    "cs_to_cp": frozenset({"charge_point"}),
    "both": frozenset({"charge_point", "central_system"}),
}

_PACKAGE = __name__.rpartition(".")[0]  # "ocpp16.schemas"

# file name -> parsed JSON schema; filled on first use, kept for the life of the process.
_cache: dict[str, dict[str, Any]] = {}


def _load(filename: str) -> dict[str, Any]:
    """Return the parsed JSON schema ``filename`` of this package, reading it only once."""
    schema = _cache.get(filename)
    if schema is None:
        # Imported here: importing the package must stay cheap and read nothing.
        import json
        from importlib import resources

        text = resources.files(_PACKAGE).joinpath(filename).read_text(encoding="utf-8")
        schema = _cache.setdefault(filename, json.loads(text))
    return schema


@dataclass(frozen=True, slots=True)
class ActionSchema:
    """One OCPP 1.6-J action: its name, direction, profile and JSON schemas.

    Instances are immutable and compare by value. The module ``ocpp16.schemas`` holds
    one per action, e.g. ``ocpp16.schemas.BootNotification``.

    Attributes:
        name: The action's name as the spec spells it, e.g. ``"BootNotification"``.
        direction: Who sends the request: ``"cp_to_cs"`` (the charge point),
            ``"cs_to_cp"`` (the central system) or ``"both"``.
        profile: The action's feature profile, e.g. ``"Core"`` or ``"Security"``.

    Example:
        >>> import ocpp16.schemas as schemas
        >>> schemas.BootNotification.title
        'BootNotification'
        >>> schemas.BootNotification.can_send("charge_point")
        True
    """

    name: str
    direction: Direction
    profile: Profile

    @property
    def title(self) -> str:
        """The action's name, as ``schemas.X.title`` in ocpp-ts; use it as an event name."""
        return self.name

    @property
    def request(self) -> dict[str, Any]:
        """The JSON schema (draft-04) of the request (the CALL payload).

        Read from the package on first access and shared afterwards: do not mutate it.
        """
        return _load(f"{self.name}.json")

    @property
    def response(self) -> dict[str, Any]:
        """The JSON schema (draft-04) of the response (the CALLRESULT payload).

        Read from the package on first access and shared afterwards: do not mutate it.
        """
        return _load(f"{self.name}Response.json")

    def can_send(self, role: Role) -> bool:
        """Whether ``role`` may send this action's request (a CALL).

        Args:
            role: ``"charge_point"`` or ``"central_system"``.

        Returns:
            ``True`` if that side initiates this action.

        Raises:
            ValueError: ``role`` is not one of the two roles.
        """
        _check_role(role)
        return role in _SENDER[self.direction]

    def can_receive(self, role: Role) -> bool:
        """Whether ``role`` may receive this action's request (and so answer it).

        Args:
            role: ``"charge_point"`` or ``"central_system"``.

        Returns:
            ``True`` if that side handles this action.

        Raises:
            ValueError: ``role`` is not one of the two roles.
        """
        _check_role(role)
        return role in _RECEIVER[self.direction]


def _check_role(role: str) -> None:
    if role not in ("charge_point", "central_system"):
        raise ValueError(f"role must be 'charge_point' or 'central_system', not {role!r}")
