"""``ocpp16 serve --metrics``: the command line's central system serves /metrics and /health."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import urllib.request

from ocpp16 import Client
from ocpp16._cli import build_parser
from tests.helpers import TIMEOUT, wait

BOOT = {"chargePointVendor": "ACME", "chargePointModel": "One"}


def _get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as answer:
        return answer.status, answer.read()


def test_metrics_is_off_unless_asked() -> None:
    """``serve`` counts nothing by default; ``--metrics`` turns it on."""
    parser = build_parser()
    assert parser.parse_args(["serve"]).metrics is False
    assert parser.parse_args(["serve", "--metrics"]).metrics is True


async def test_serve_metrics_counts_a_boot() -> None:
    """A boot to ``ocpp16 serve --metrics`` shows in GET /metrics; /health names one charger."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp16",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--metrics",
        "--no-input",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = Client("CP1")
    try:
        assert process.stderr is not None
        banner = (await wait(process.stderr.readline())).decode()
        found = re.search(r"ws://127\.0\.0\.1:(\d+)/", banner)
        assert found, banner
        port = int(found.group(1))
        assert f"http://127.0.0.1:{port}/metrics" in banner
        await wait(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        await wait(client.call_request("BootNotification", BOOT))
        status, body = await wait(asyncio.to_thread(_get, port, "/metrics"))
        assert status == 200
        lines = body.decode().splitlines()
        assert (
            'ocpp16_calls_received_total{action="BootNotification",outcome="result"} 1.0' in lines
        )
        assert "ocpp16_charge_points_connected 1.0" in lines
        status, body = await wait(asyncio.to_thread(_get, port, "/health"))
        assert (status, json.loads(body)["charge_points"]) == (200, 1)
        await client.close()
        process.send_signal(signal.SIGINT)
        assert await wait(process.wait()) == 0
    finally:
        await client.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
