"""Every example is a real file that runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_sans_io_exchange() -> None:
    """The sans-I/O example boots, heartbeats and shows a refused BootNotification."""
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "sans_io_exchange.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "charge point got BootNotification result: {'status': 'Accepted'" in out
    assert "charge point got Heartbeat result" in out
    assert "charge point got CALLERROR: ProtocolError: $.chargePointModel is required" in out
