"""What every charge point does around its own work: stay connected, boot, beat, keep its keys.

A charge point connects to its central system and connects again when the
connection drops, waiting longer each time while the central system stays out
of reach; it sends BootNotification until Accepted (OCPP 1.6 §4.2.1), then a
Heartbeat every HeartbeatInterval seconds (§4.6); it keeps configuration keys
that the central system reads and changes (§5.8, §5.3, §9); and some of its
answers must go out before what they start (a TriggerMessage, §5.17).

* :class:`Reconnect`: the backoff between connection attempts.
* :class:`Configuration`, of :class:`ConfigurationKey` entries: the keys with
  the types and read-only rules of OCPP 1.6 §9, answering GetConfiguration and
  ChangeConfiguration, and telling listeners of each change.
* :class:`ChargePointSession`: runs a :class:`~ocpp16.Client` with all of the
  above, until :meth:`ChargePointSession.close`.

Example::

    client = Client("CP1")
    session = ChargePointSession(
        client,
        "ws://localhost:9220/ocpp",
        boot={"chargePointVendor": "ocpp16", "chargePointModel": "Example"},
        answer_configuration=True,
    )
    async with session:
        ...  # the charge point's own work, with client.call_request(...)
"""

from ocpp16.chargepoint._configuration import (
    STANDARD_KEYS,
    Configuration,
    ConfigurationKey,
    KeyType,
)
from ocpp16.chargepoint._reconnect import Reconnect
from ocpp16.chargepoint._session import ChargePointSession, SessionState

__all__ = [
    "STANDARD_KEYS",
    "ChargePointSession",
    "Configuration",
    "ConfigurationKey",
    "KeyType",
    "Reconnect",
    "SessionState",
]
