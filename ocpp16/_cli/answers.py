"""The simulated charge point's answers to the central system's calls.

It answers as a real charger would (README, "the command line": the table of
``ocpp16 simulate``'s answers): a Reset stops its transactions and reboots it,
a RemoteStartTransaction starts a session, a SetChargingProfile limits its
power, a TriggerMessage is answered first and then sent.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, get_args

from ocpp16 import ChargePointSession, Configuration
from ocpp16.types import MessageTrigger

from .connector import Connector, availability

__all__ = ["Answers", "ChargePoint"]

_VOLTAGE = 230  # volts per phase, to turn a limit in amperes into watts

# OCPP 1.6 §5.17 and §7.32: what TriggerMessage may ask for, all of which this charger sends.
_TRIGGERABLE = frozenset(get_args(MessageTrigger))


class ChargePoint(Protocol):
    """What the answers read and do of a simulated charge point."""

    connectors: list[Connector]
    session: ChargePointSession
    rng: random.Random
    configuration: Configuration
    _leaving: str | None

    def _nudge(self, connectors: Sequence[Connector | None]) -> None: ...

    async def _status(self, connector_id: int, status: str) -> None: ...

    def _station_status(self) -> str: ...

    async def _status_all(self) -> None: ...

    async def _meter_values(self, connector: Connector, context: str = ...) -> None: ...

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None: ...


class Answers:
    """The handlers of one simulated charge point, by action.

    Args:
        cp: The charge point whose connectors and session they act on.
    """

    def __init__(self, cp: ChargePoint) -> None:
        self.cp = cp

    def _connector(self, connector_id: Any) -> Connector | None:
        connectors = self.cp.connectors
        if isinstance(connector_id, int) and 1 <= connector_id <= len(connectors):
            return connectors[connector_id - 1]
        return None

    def handlers(self) -> dict[str, Callable[[Any], Mapping[str, Any]]]:
        """Return a handler for every action of the core profile a charge point receives."""
        configuration = self.cp.configuration
        return {
            "CancelReservation": lambda r: {"status": "Rejected"},
            "ChangeAvailability": self.change_availability,
            "ChangeConfiguration": configuration.change_configuration,
            "ClearCache": lambda r: {"status": "Accepted"},
            "ClearChargingProfile": self.clear_charging_profile,
            # OCPP 1.6 §5.6: no implementation for any vendorId.
            "DataTransfer": lambda r: {"status": "UnknownVendorId"},
            "GetCompositeSchedule": lambda r: {"status": "Rejected"},
            "GetConfiguration": configuration.get_configuration,
            # No diagnostics file to upload: the response has no fileName.
            "GetDiagnostics": lambda r: {},
            # OCPP 1.6 §6.28: -1 says Local Authorization Lists are not supported.
            "GetLocalListVersion": lambda r: {"listVersion": -1},
            "RemoteStartTransaction": self.remote_start,
            "RemoteStopTransaction": self.remote_stop,
            "ReserveNow": lambda r: {"status": "Rejected"},
            "Reset": self.reset,
            "SendLocalList": lambda r: {"status": "NotSupported"},
            "SetChargingProfile": self.set_charging_profile,
            "TriggerMessage": self.trigger_message,
            "UnlockConnector": self.unlock_connector,
            "UpdateFirmware": lambda r: {},
        }

    def reset(self, request: dict[str, Any]) -> dict[str, Any]:
        # OCPP 1.6 §5.14: stop the transactions (reason HardReset/SoftReset), then reboot.
        if self.cp._leaving is None:
            self.cp._leaving = "HardReset" if request["type"] == "Hard" else "SoftReset"
            self.cp.session.reconnect(delay=self.cp.rng.uniform(0.2, 1.0))  # the reboot
        return {"status": "Accepted"}

    def remote_start(self, request: dict[str, Any]) -> dict[str, Any]:
        # OCPP 1.6 §5.11: a connectorId, when given, is > 0.
        wanted = request.get("connectorId")
        candidates = self.cp.connectors if wanted is None else [self._connector(wanted)]
        for connector in candidates:
            if (
                connector is not None
                and not connector.busy
                and connector.remote_id_tag is None
                and connector.available
                and self.cp._leaving is None
            ):
                connector.remote_id_tag = request["idTag"]
                connector.wake.set()
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    def remote_stop(self, request: dict[str, Any]) -> dict[str, Any]:
        for connector in self.cp.connectors:
            if connector.transaction_id == request["transactionId"]:
                connector.stop_reason = "Remote"
                connector.wake.set()
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    def unlock_connector(self, request: dict[str, Any]) -> dict[str, Any]:
        connector = self._connector(request["connectorId"])
        if connector is None:
            return {"status": "NotSupported"}
        if connector.transaction_id is not None:
            # OCPP 1.6 §5.18: unlocking during a transaction stops it first.
            connector.stop_reason = "UnlockCommand"
            connector.wake.set()
        return {"status": "Unlocked"}

    def change_availability(self, request: dict[str, Any]) -> dict[str, Any]:
        connector_id = request["connectorId"]
        if connector_id != 0 and self._connector(connector_id) is None:
            return {"status": "Rejected"}
        operative = request["type"] == "Operative"
        targets = (
            self.cp.connectors if connector_id == 0 else [self.cp.connectors[connector_id - 1]]
        )
        scheduled = False
        for connector in targets:
            if connector.busy:
                # OCPP 1.6 §5.2: a connector in a transaction changes once it ends;
                # asking for what it is already cancels a change still to come.
                if connector.available == operative:
                    connector.available_next = None
                else:
                    connector.available_next = operative
                    scheduled = True
            elif connector.available != operative:
                connector.available = operative
                self.cp.session.after_reply(self.cp._status(connector.id, availability(connector)))
                connector.wake.set()
        if connector_id == 0 and not scheduled:
            self.cp.session.after_reply(self.cp._status(0, self.cp._station_status()))
        return {"status": "Scheduled" if scheduled else "Accepted"}

    def set_charging_profile(self, request: dict[str, Any]) -> dict[str, Any]:
        connector_id = request["connectorId"]
        profile = request["csChargingProfiles"]
        targets = self.cp.connectors if connector_id == 0 else [self._connector(connector_id)]
        if any(c is None for c in targets):
            return {"status": "Rejected"}
        if profile["chargingProfilePurpose"] == "ChargePointMaxProfile" and connector_id != 0:
            # OCPP 1.6 §3.13.1: a ChargePointMaxProfile is set on connector 0 only.
            return {"status": "Rejected"}
        if profile["chargingProfilePurpose"] == "TxProfile" and (
            connector_id == 0 or all(c is None or c.transaction_id is None for c in targets)
        ):
            # OCPP 1.6 §5.16: a TxProfile applies to a transaction; with none on the
            # connector the charge point rejects it (compliance test TC_058_1_CS).
            return {"status": "Rejected"}
        schedule = profile["chargingSchedule"]
        first = schedule["chargingSchedulePeriod"][0]
        limit = float(first["limit"])
        if limit < 0:
            return {"status": "Rejected"}  # a charging limit below zero means nothing
        if schedule["chargingRateUnit"] == "A":
            limit *= _VOLTAGE * first.get("numberPhases", 3)
        for connector in targets:
            if connector is not None:
                connector.limit_w = limit
        self.cp._nudge(targets)
        return {"status": "Accepted"}

    def clear_charging_profile(self, request: dict[str, Any]) -> dict[str, Any]:
        cleared = False
        for connector in self.cp.connectors:
            if connector.limit_w is not None and request.get("connectorId") in (
                None,
                0,
                connector.id,
            ):
                connector.limit_w = None
                cleared = True
                self.cp._nudge([connector])
        return {"status": "Accepted" if cleared else "Unknown"}

    def trigger_message(self, request: dict[str, Any]) -> dict[str, Any]:
        message = request["requestedMessage"]
        connector_id = request.get("connectorId")
        if connector_id is not None and connector_id != 0 and self._connector(connector_id) is None:
            return {"status": "Rejected"}
        if message not in _TRIGGERABLE:
            return {"status": "NotImplemented"}
        # OCPP 1.6 §5.17: the answer goes first, then the message it asked for.
        self.cp.session.after_reply(self._send_triggered(message, connector_id))
        return {"status": "Accepted"}

    async def _send_triggered(self, message: str, connector_id: int | None) -> None:
        chosen = self.cp.connectors if not connector_id else [self.cp.connectors[connector_id - 1]]
        if message == "BootNotification":
            await self.cp.session.boot()
        elif message == "Heartbeat":
            await self.cp.call("Heartbeat", {})
        elif message == "StatusNotification":
            if connector_id is None:
                await self.cp._status_all()
            elif connector_id == 0:
                await self.cp._status(0, self.cp._station_status())
            else:
                await self.cp._status(connector_id, chosen[0].status)
        elif message == "MeterValues":
            for connector in chosen:
                # OCPP 1.6 §7.35 ReadingContext: "Trigger", for a TriggerMessage.
                await self.cp._meter_values(connector, context="Trigger")
        else:  # DiagnosticsStatusNotification, FirmwareStatusNotification
            await self.cp.call(message, {"status": "Idle"})
