"""Two sans-I/O cores, a charge point and a central system, talking through strings.

No socket and no event loop: the frames each core writes are handed to the
other by hand, which is all that the asyncio classes do over a WebSocket.

Run:  python examples/sans_io_exchange.py
"""

from __future__ import annotations

from datetime import UTC, datetime

from ocpp16.protocol import (
    BadMessage,
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    Protocol,
    Role,
)


def deliver(sender: Protocol, receiver: Protocol, name: str) -> list[object]:
    """Move every frame ``sender`` wants to write into ``receiver``; return the events."""
    events: list[object] = []
    for text in sender.data_to_send():
        print(f"{name} > {text}")
        events.extend(receiver.receive_text(text))
    return events


def central_system_answers(cs: Protocol, events: list[object]) -> None:
    """A tiny central system: accept every boot, answer heartbeats with the time."""
    now = datetime.now(UTC).isoformat()
    for event in events:
        if isinstance(event, CallReceived) and event.action == "BootNotification":
            cs.send_result(
                event.message_id, {"status": "Accepted", "interval": 60, "currentTime": now}
            )
        elif isinstance(event, CallReceived) and event.action == "Heartbeat":
            cs.send_result(event.message_id, {"currentTime": now})
        elif isinstance(event, BadMessage):
            print(
                f"   central system refused a frame: [{event.error.code}] {event.error.description}"
            )


def main() -> None:
    """Boot, heartbeat, then an invalid BootNotification that the central system refuses."""
    cp = Protocol(Role.CHARGE_POINT)
    cs = Protocol(Role.CENTRAL_SYSTEM)

    cp.send_call(
        "BootNotification", {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
    )
    cp.send_call("Heartbeat", {})  # queued: OCPP-J allows one CALL in flight at a time

    for _ in range(2):
        central_system_answers(cs, deliver(cp, cs, "CP"))
        for event in deliver(cs, cp, "CS"):
            if isinstance(event, CallResultReceived):
                print(f"   charge point got {event.action} result: {event.payload}")

    # A charge point with validation off sends what a strict central system refuses.
    sloppy = Protocol(Role.CHARGE_POINT, validation="off")
    sloppy.send_call("BootNotification", {"chargePointVendor": "eParking"})
    central_system_answers(cs, deliver(sloppy, cs, "CP"))
    for event in deliver(cs, sloppy, "CS"):
        if isinstance(event, CallErrorReceived):
            print(f"   charge point got CALLERROR: {event.error.code}: {event.error.description}")


if __name__ == "__main__":
    main()
