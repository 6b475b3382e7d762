"""OCPP 1.6 §9 configuration keys: :class:`Configuration` of :class:`ConfigurationKey`."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ocpp16.types import (
        ChangeConfigurationRequest,
        ChangeConfigurationResponse,
        GetConfigurationRequest,
        GetConfigurationResponse,
        KeyValue,
    )

__all__ = ["STANDARD_KEYS", "Configuration", "ConfigurationKey", "KeyType"]

_log = logging.getLogger("ocpp16")


# ----------------------------------------------------------------------------- configuration


class KeyType(enum.StrEnum):
    """The value types of OCPP 1.6 §9 configuration keys."""

    BOOLEAN = "boolean"
    """``true`` or ``false``, in any case; stored in lower case."""
    INTEGER = "integer"
    """A whole number in decimal digits (no sign: every §9 integer is a count or a duration)."""
    STRING = "string"
    """Any text."""
    CSL = "CSL"
    """A comma-separated list; no item empty, the empty text an empty list."""


# OCPP 1.6 §7.29 KeyValue: the key is a CiString50, the value a CiString500.
_MAX_KEY: Final = 50
_MAX_VALUE: Final = 500

STANDARD_KEYS: Final[Mapping[str, tuple[KeyType, bool]]] = MappingProxyType(
    {
        # OCPP 1.6 §9.1, Core Profile. AuthorizeRemoteTxRequests may be R or RW: RW here.
        "AllowOfflineTxForUnknownId": (KeyType.BOOLEAN, False),
        "AuthorizationCacheEnabled": (KeyType.BOOLEAN, False),
        "AuthorizeRemoteTxRequests": (KeyType.BOOLEAN, False),
        "BlinkRepeat": (KeyType.INTEGER, False),
        "ClockAlignedDataInterval": (KeyType.INTEGER, False),
        "ConnectionTimeOut": (KeyType.INTEGER, False),
        "ConnectorPhaseRotation": (KeyType.CSL, False),
        "ConnectorPhaseRotationMaxLength": (KeyType.INTEGER, True),
        "GetConfigurationMaxKeys": (KeyType.INTEGER, True),
        "HeartbeatInterval": (KeyType.INTEGER, False),
        "LightIntensity": (KeyType.INTEGER, False),
        "LocalAuthorizeOffline": (KeyType.BOOLEAN, False),
        "LocalPreAuthorize": (KeyType.BOOLEAN, False),
        "MaxEnergyOnInvalidId": (KeyType.INTEGER, False),
        "MeterValuesAlignedData": (KeyType.CSL, False),
        "MeterValuesAlignedDataMaxLength": (KeyType.INTEGER, True),
        "MeterValuesSampledData": (KeyType.CSL, False),
        "MeterValuesSampledDataMaxLength": (KeyType.INTEGER, True),
        "MeterValueSampleInterval": (KeyType.INTEGER, False),
        "MinimumStatusDuration": (KeyType.INTEGER, False),
        "NumberOfConnectors": (KeyType.INTEGER, True),
        "ResetRetries": (KeyType.INTEGER, False),
        "StopTransactionOnEVSideDisconnect": (KeyType.BOOLEAN, False),
        "StopTransactionOnInvalidId": (KeyType.BOOLEAN, False),
        "StopTxnAlignedData": (KeyType.CSL, False),
        "StopTxnAlignedDataMaxLength": (KeyType.INTEGER, True),
        "StopTxnSampledData": (KeyType.CSL, False),
        "StopTxnSampledDataMaxLength": (KeyType.INTEGER, True),
        "SupportedFeatureProfiles": (KeyType.CSL, True),
        "SupportedFeatureProfilesMaxLength": (KeyType.INTEGER, True),
        "TransactionMessageAttempts": (KeyType.INTEGER, False),
        "TransactionMessageRetryInterval": (KeyType.INTEGER, False),
        "UnlockConnectorOnEVSideDisconnect": (KeyType.BOOLEAN, False),
        "WebSocketPingInterval": (KeyType.INTEGER, False),
        # §9.2, Local Auth List Management Profile.
        "LocalAuthListEnabled": (KeyType.BOOLEAN, False),
        "LocalAuthListMaxLength": (KeyType.INTEGER, True),
        "SendLocalListMaxLength": (KeyType.INTEGER, True),
        # §9.3, Reservation Profile.
        "ReserveConnectorZeroSupported": (KeyType.BOOLEAN, True),
        # §9.4, Smart Charging Profile.
        "ChargeProfileMaxStackLevel": (KeyType.INTEGER, True),
        "ChargingScheduleAllowedChargingRateUnit": (KeyType.CSL, True),
        "ChargingScheduleMaxPeriods": (KeyType.INTEGER, True),
        "ConnectorSwitch3to1PhaseSupported": (KeyType.BOOLEAN, True),
        "MaxChargingProfilesInstalled": (KeyType.INTEGER, True),
    }
)
"""The configuration keys of OCPP 1.6 §9: name → (type, read-only)."""


@dataclass(frozen=True, slots=True)
class ConfigurationKey:
    """One configuration key: its value and the rules a new value must meet.

    Attributes:
        value: The value, as OCPP carries it: text (at most 500 characters).
        readonly: The central system cannot change it (ChangeConfiguration
            answers Rejected); the charge point itself can.
        type: What the value must be (a :class:`KeyType`, or its name).
        reboot_required: A change takes effect only after a reboot:
            ChangeConfiguration stores it and answers RebootRequired (OCPP 1.6 §5.3).
        minimum: For an integer, the smallest value allowed.

    Raises:
        ValueError: The value does not meet the rules, or ``minimum`` is
            given for a key that is not an integer.
    """

    value: str
    readonly: bool = False
    type: KeyType = KeyType.STRING
    reboot_required: bool = False
    minimum: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", KeyType(self.type))
        if self.minimum is not None and self.type is not KeyType.INTEGER:
            raise ValueError(f"minimum is for integer keys, not {self.type.value} ones")
        if not self.accepts(self.value):
            raise ValueError(f"{self.value!r} is not a valid {self.type.value} value")

    def accepts(self, value: object) -> bool:
        """Tell whether ``value`` meets this key's type (and minimum).

        Args:
            value: A candidate value.

        Returns:
            True when it could be stored.
        """
        if not isinstance(value, str) or len(value) > _MAX_VALUE:
            return False
        if self.type is KeyType.BOOLEAN:
            return value.lower() in ("true", "false")
        if self.type is KeyType.INTEGER:
            if not (value.isascii() and value.isdigit()):
                return False
            return self.minimum is None or int(value) >= self.minimum
        if self.type is KeyType.CSL:
            return value == "" or all(value.split(","))
        return True

    def _normal(self, value: str) -> str:
        return value.lower() if self.type is KeyType.BOOLEAN else value


_ChangeListener = Callable[[str, str], object]


class Configuration(Mapping[str, ConfigurationKey]):
    """A charge point's configuration keys (OCPP 1.6 §9), read and changed by the central system.

    A read-only mapping of key name → :class:`ConfigurationKey`, in the order
    the keys were defined. :meth:`get_configuration` and
    :meth:`change_configuration` are GetConfiguration and ChangeConfiguration
    handlers: register them on a client with
    ``client.on("GetConfiguration", configuration.get_configuration)``, or let a
    :class:`ChargePointSession` do it (``answer_configuration=True``).

    Args:
        keys: The keys to start with.

    Raises:
        ValueError: A key name is empty or longer than 50 characters.
    """

    def __init__(self, keys: Mapping[str, ConfigurationKey] | None = None) -> None:
        self._keys: dict[str, ConfigurationKey] = {}
        self._listeners: list[_ChangeListener] = []
        for key, entry in (keys or {}).items():
            self.define(key, entry)

    @classmethod
    def standard(cls, values: Mapping[str, str]) -> Configuration:
        """Make a store of OCPP 1.6 §9 keys, each typed and read-only as :data:`STANDARD_KEYS` says.

        Args:
            values: Key name → value, for the keys this charge point has.

        Returns:
            The store.

        Raises:
            ValueError: A name is not a key of OCPP 1.6 §9 (define such keys
                with :meth:`define`), or a value does not fit its key's type.
        """
        keys: dict[str, ConfigurationKey] = {}
        for key, value in values.items():
            spec = STANDARD_KEYS.get(key)
            if spec is None:
                raise ValueError(
                    f"{key!r} is not a configuration key of OCPP 1.6 §9: define it with "
                    "Configuration.define(key, ConfigurationKey(...))"
                )
            keys[key] = ConfigurationKey(value, readonly=spec[1], type=spec[0])
        return cls(keys)

    def __getitem__(self, key: str) -> ConfigurationKey:
        return self._keys[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Configuration({self._keys!r})"

    def define(self, key: str, entry: ConfigurationKey) -> None:
        """Add a key, or replace the definition of one (no listener is told).

        Args:
            key: The key's name, 1 to 50 characters.
            entry: Its value and rules.

        Raises:
            ValueError: The name is empty or too long.
            TypeError: ``entry`` is not a :class:`ConfigurationKey`.
        """
        if not isinstance(key, str) or not 0 < len(key) <= _MAX_KEY:
            raise ValueError(f"a key name is 1 to {_MAX_KEY} characters, not {key!r}")
        if not isinstance(entry, ConfigurationKey):
            raise TypeError(f"{key}: expected a ConfigurationKey, not {type(entry).__name__}")
        self._keys[key] = entry

    def value(self, key: str) -> str:
        """Return the value of ``key``.

        Raises:
            KeyError: No such key.
        """
        return self._keys[key].value

    def integer(self, key: str) -> int:
        """Return the value of an integer key as an int.

        Raises:
            KeyError: No such key.
            ValueError: Its value is not a whole number.
        """
        return int(self._keys[key].value)

    def boolean(self, key: str) -> bool:
        """Return the value of a boolean key as a bool.

        Raises:
            KeyError: No such key.
        """
        return self._keys[key].value.lower() == "true"

    def csl(self, key: str) -> list[str]:
        """Return the items of a comma-separated list key.

        Raises:
            KeyError: No such key.
        """
        value = self._keys[key].value
        return value.split(",") if value else []

    def on_change(self, listener: _ChangeListener) -> Callable[[], None]:
        """Call ``listener(key, value)`` after each change of a value.

        A listener's exception is logged and does not stop the others, nor
        the change.

        Args:
            listener: Called with the key and its new value.

        Returns:
            A function that removes the listener.
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def set(self, key: str, value: str) -> None:
        """Change a value as the charge point itself: read-only keys too.

        Listeners are told, even when the value is the same as before.

        Args:
            key: The key.
            value: Its new value.

        Raises:
            KeyError: No such key.
            ValueError: The value does not fit the key's type or minimum.
        """
        entry = self._keys[key]
        if not entry.accepts(value):
            raise ValueError(f"{value!r} is not a valid {entry.type.value} value for {key}")
        self._store(key, entry, value)

    def _store(self, key: str, entry: ConfigurationKey, value: str) -> None:
        value = entry._normal(value)
        self._keys[key] = ConfigurationKey(
            value, entry.readonly, entry.type, entry.reboot_required, entry.minimum
        )
        for listener in list(self._listeners):
            try:
                listener(key, value)
            except Exception:
                _log.exception("a configuration listener failed on %s = %r", key, value)

    def get_configuration(self, request: GetConfigurationRequest) -> GetConfigurationResponse:
        """Answer GetConfiguration (OCPP 1.6 §5.8).

        Args:
            request: The request: the keys asked for, or none (or an empty
                list) for all of them.

        Returns:
            The known keys asked for, in the order asked (all of them sorted
            by name when none were), and ``unknownKey`` for the others.
        """
        asked = request.get("key")
        wanted = asked if asked else sorted(self._keys)
        known: list[KeyValue] = [
            {"key": key, "readonly": self._keys[key].readonly, "value": self._keys[key].value}
            for key in wanted
            if key in self._keys
        ]
        answer: GetConfigurationResponse = {"configurationKey": known}
        unknown = [key for key in wanted if key not in self._keys]
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    def change_configuration(
        self, request: ChangeConfigurationRequest
    ) -> ChangeConfigurationResponse:
        """Answer ChangeConfiguration (OCPP 1.6 §5.3), storing the value when it is accepted.

        Args:
            request: The key and its new value.

        Returns:
            ``NotSupported`` for an unknown key, ``Rejected`` for a read-only
            key or a value that does not fit, ``RebootRequired`` (stored) for
            a key that says so, else ``Accepted`` (stored; listeners told).
        """
        key, value = request["key"], request["value"]
        entry = self._keys.get(key)
        if entry is None:
            return {"status": "NotSupported"}
        if entry.readonly or not entry.accepts(value):
            return {"status": "Rejected"}
        self._store(key, entry, value)
        return {"status": "RebootRequired" if entry.reboot_required else "Accepted"}
