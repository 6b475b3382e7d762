"""Every example is a real file that runs: each central system against its charge point."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.redis_server import RedisProcess

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT = 60


def run(name: str, *args: str) -> str:
    """Run an example to completion; return its output."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def central_system(name: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Start a central-system example on 127.0.0.1, port 0; yield it and its port."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), "--port", "0", "--host", "127.0.0.1", "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # blocks until the server says where it listens
        assert first.startswith("listening on port "), first + process.stderr.read()
        yield process, int(first.split()[-1])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)


def test_sans_io_exchange() -> None:
    """The sans-I/O example boots, heartbeats and shows a refused BootNotification."""
    out = run("sans_io_exchange.py")
    assert "charge point got BootNotification result: {'status': 'Accepted'" in out
    assert "charge point got Heartbeat result" in out
    assert "charge point got CALLERROR: ProtocolError: $.chargePointModel is required" in out


def test_metrics_server() -> None:
    """The metrics example prints /health, then /metrics with the boot and heartbeat counted."""
    lines = run("metrics_server.py").splitlines()
    assert lines[0] == '{"status": "ok", "node": null, "charge_points": 1, "redis": null}'
    assert "ocpp16_charge_points_connected 1.0" in lines
    for action in ("BootNotification", "Heartbeat"):
        assert f'ocpp16_calls_received_total{{action="{action}",outcome="result"}} 1.0' in lines
        assert f'ocpp16_call_received_duration_seconds_count{{action="{action}"}} 1.0' in lines


def test_readme_central_system_and_charge_point() -> None:
    """The README's two examples talk to each other: boot accepted, then a clean close."""
    with central_system("central_system.py") as (server, port):
        out = run("charge_point.py", f"ws://127.0.0.1:{port}/webServices/ocpp/")
        assert out.strip() == "BootNotification answered: Accepted, heartbeat every 60 s"
        rest, errors = server.communicate(timeout=TIMEOUT)
    assert server.returncode == 0, errors
    assert rest.splitlines() == [
        "Client CP1111 connected",
        "BootNotification from eParking",
        "closed 1000 ",
    ]


def test_charging_session() -> None:
    """The session pair runs boot, authorize, start, meter values, remote stop and stop."""
    with central_system("session_central_system.py") as (server, port):
        out = run("session_charge_point.py", f"ws://127.0.0.1:{port}/ocpp", "--interval", "0.05")
        rest, errors = server.communicate(timeout=TIMEOUT)
    assert server.returncode == 0, errors
    cp_lines = out.splitlines()
    assert cp_lines[:3] == ["boot: Accepted", "authorize: Accepted", "transaction 1 started"]
    assert cp_lines.count("meter value sent: 250 Wh") == 1
    assert cp_lines[-1] == "transaction 1 stopped: Accepted"
    cs_lines = rest.splitlines()
    assert cs_lines[0] == "CP-SESSION-1: boot (ocpp16 Example)"
    assert "CP-SESSION-1: transaction 1 started at 0 Wh" in cs_lines
    assert "CP-SESSION-1: remote stop of transaction 1: Accepted" in cs_lines
    assert "CP-SESSION-1: transaction 1 stopped at 750 Wh (Remote)" in cs_lines
    assert cs_lines[-1] == "CP-SESSION-1: disconnected (1000)"


def test_security_profiles() -> None:
    """Each security profile accepts its charge point as it should and refuses it otherwise."""
    out = run("security_profiles.py")
    outcomes = [
        line.split(":", 1)[0].strip() + ": " + line.split(":", 2)[1].split("(")[0].strip()
        for line in out.splitlines()
        if line.startswith("  ") and "certificate of" not in line
    ]
    assert outcomes == [
        "the right key: connected",
        "a wrong key: refused",
        "the right key: connected",
        "an unknown id: refused",
        "with its certificate: connected",
        "without a certificate: refused",
    ]
    assert "certificate of CP-3:" in out


def test_durable_charge_point() -> None:
    """The durable charge point charges through a central system restart and loses nothing."""
    out = run("durable_charge_point.py", "--interval", "0.02").splitlines()
    assert out[:4] == [
        "central system: up",
        "charge point: connected",
        "charge point: boot Accepted",
        "charge point: transaction 42 started",
    ]
    assert "charge point: connection closed (1001)" in out
    assert "charge point: reconnecting" in out
    assert out.index("central system: down") < out.index("central system: up again")
    assert out.count("charge point: connected") == 2
    assert out[-5:] == [
        "charge point: transaction stopped, queue empty: True",
        "charge point: connection closed (1000)",
        "central system received: 1 StartTransaction, 10 MeterValues, 1 StopTransaction",
        "meter values in order: True",
        "transaction ids: [42]",
    ]


def test_testing_your_handlers() -> None:
    """The README's example test file passes under pytest, in pytest-asyncio's strict mode."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            str(EXAMPLES / "test_my_central_system.py"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b5 passed\b", done.stdout), done.stdout


def test_cluster_two_nodes(redis_server: RedisProcess) -> None:
    """Two nodes on one Redis: a charge point on cs-a is found, listed and called from cs-b."""
    out = run("cluster_two_nodes.py", "--redis", redis_server.url).splitlines()
    assert out == [
        "cs-b: CP1 is on cs-a",
        "cs-b: the cluster holds {'CP1': 'cs-a'}",
        "CP1: Reset Soft received",
        "cs-b: Reset answered {'status': 'Accepted'}",
        "cs-b: UnlockConnector failed: NotSupported 'no connector lock' {'connectorId': 1}",
        "done",
    ]


def test_fastapi_app() -> None:
    """The FastAPI example under uvicorn: a REST call resets the charge point connected on /ocpp."""
    with central_system("fastapi_app.py") as (web, port):
        received = asyncio.run(_reset_over_rest(port))
        rest, errors = web.communicate(timeout=TIMEOUT)
    assert web.returncode == 0, errors
    assert received == [{"type": "Soft"}]
    assert rest.splitlines() == ["CP7 connected"]


def _post(url: str) -> tuple[int, Any]:
    """POST over real HTTP (the standard library, in a thread): status and JSON body."""
    request = urllib.request.Request(url, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def _reset_over_rest(port: int) -> list[Any]:
    """Connect CP7 to the example's /ocpp, reset it through the REST endpoint, then leave."""
    from ocpp16 import Client

    received: list[Any] = []

    def on_reset(request: Any) -> dict[str, str]:
        received.append(request)
        return {"status": "Accepted"}

    client = Client("CP7")
    client.on("Reset", on_reset)
    await asyncio.wait_for(client.connect(f"ws://127.0.0.1:{port}/ocpp"), TIMEOUT)
    base = f"http://127.0.0.1:{port}/chargers"
    assert await asyncio.to_thread(_post, f"{base}/CP7/reset") == (200, {"status": "Accepted"})
    status, body = await asyncio.to_thread(_post, f"{base}/NOBODY/reset")
    assert (status, body) == (404, {"detail": "NOBODY is not connected"})
    await client.close()
    return received
