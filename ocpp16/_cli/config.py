"""How ``ocpp16 simulate``'s charge points behave: :class:`SimConfig`, and their keys."""

from __future__ import annotations

import dataclasses
import ssl as _ssl
from collections.abc import Mapping
from dataclasses import dataclass

from ocpp16 import Configuration

__all__ = ["SimConfig", "initial_configuration"]


@dataclass
class SimConfig:
    """How the simulated charge points behave.

    Attributes:
        url: The central system's URL; each charge point appends its id.
        count: How many charge points.
        duration: Seconds from the start until the charge points stop their
            transactions and disconnect.
        meter_interval: Seconds between MeterValues during a transaction
            (the MeterValueSampleInterval key, which the central system may change).
        session: Mean length of a charging session, in seconds.
        idle: Mean pause between sessions, in seconds.
        heartbeat_interval: Seconds between heartbeats; ``None`` takes the
            interval of the BootNotification response.
        connectors: Connectors per charge point.
        prefix: Charge point ids are the prefix and a number (``SIM0001``).
        password: The Basic-auth password of every charge point (profile 1 or 2).
        passwords: The password of each charge point, by id; wins over ``password``.
        ssl: The TLS context for ``wss://`` URLs.
        connect_concurrency: Opening handshakes in flight at once.
        call_timeout: Seconds to wait for the central system's answer.
        seed: Seed of the random choices, for a repeatable run.
        store: A directory for each charge point's offline queue and state
            (``--store``): a run started again on it takes up what the last
            one left. ``None``: the queues are in memory.
    """

    url: str
    count: int = 10
    duration: float = 60.0
    meter_interval: float = 5.0
    session: float = 30.0
    idle: float = 10.0
    heartbeat_interval: float | None = None
    connectors: int = 1
    prefix: str = "SIM"
    password: str | None = None
    passwords: Mapping[str, str] | None = None
    ssl: _ssl.SSLContext | None = None
    connect_concurrency: int = 50
    call_timeout: float = 30.0
    seed: int | None = None
    store: str | None = None

    def cp_id(self, index: int) -> str:
        """Return the id of charge point ``index`` (from 1)."""
        return f"{self.prefix}{index:0{max(4, len(str(self.count)))}d}"


# OCPP 1.6 §9.1: the standard configuration keys this charger has, typed and read-only
# as the spec has them.
def initial_configuration(config: SimConfig, heartbeat: int) -> Configuration:
    """The configuration keys of a simulated charge point, from its settings."""
    configuration = Configuration.standard(
        {
            "AuthorizeRemoteTxRequests": "false",
            "ClockAlignedDataInterval": "0",
            "ConnectionTimeOut": "60",
            "GetConfigurationMaxKeys": "50",
            "HeartbeatInterval": str(heartbeat),
            "LocalAuthorizeOffline": "false",
            "LocalPreAuthorize": "false",
            "MeterValueSampleInterval": str(max(1, round(config.meter_interval))),
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
            "NumberOfConnectors": str(config.connectors),
            "ResetRetries": "3",
            "StopTransactionOnEVSideDisconnect": "true",
            "StopTransactionOnInvalidId": "true",
            "SupportedFeatureProfiles": "Core,RemoteTrigger,SmartCharging",
            "TransactionMessageAttempts": "3",
            "TransactionMessageRetryInterval": "10",
            "UnlockConnectorOnEVSideDisconnect": "true",
            "WebSocketPingInterval": "0",
        }
    )
    # A zero interval would flood the central system with MeterValues.
    sample = configuration["MeterValueSampleInterval"]
    configuration.define("MeterValueSampleInterval", dataclasses.replace(sample, minimum=1))
    return configuration
