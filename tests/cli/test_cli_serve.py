"""``ocpp16 serve``: plausible answers to every charge-point action, message lines, auth, TLS, Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from rich.console import Console
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import Client, HandshakeError, OcppError
from ocpp16._cli.central import (
    CentralSystem,
    PasswordFileError,
    charge_point_actions,
    read_passwords,
)
from ocpp16._cli.serve import CannotListen, ServeConfig, run_server
from ocpp16.security import client_ssl_context, server_ssl_context
from tests.helpers import TIMEOUT, until, wait

NOW = "2026-11-25T10:00:00.000Z"

# A valid request for every action a charge point may send (OCPP 1.6 §4 and the
# security white paper); the test below checks that none is missing.
REQUESTS: dict[str, dict[str, Any]] = {
    "Authorize": {"idTag": "TAG1"},
    "BootNotification": {"chargePointVendor": "ACME", "chargePointModel": "One"},
    "DataTransfer": {"vendorId": "com.example", "messageId": "hello", "data": "x"},
    "DiagnosticsStatusNotification": {"status": "Idle"},
    "FirmwareStatusNotification": {"status": "Idle"},
    "Heartbeat": {},
    "LogStatusNotification": {"status": "Idle"},
    "MeterValues": {
        "connectorId": 1,
        "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "10"}]}],
    },
    "SecurityEventNotification": {"type": "StartupOfTheDevice", "timestamp": NOW},
    "SignCertificate": {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
    "SignedFirmwareStatusNotification": {"status": "Idle"},
    "StartTransaction": {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": NOW},
    "StatusNotification": {"connectorId": 0, "errorCode": "NoError", "status": "Available"},
    "StopTransaction": {"transactionId": 1, "meterStop": 10, "timestamp": NOW},
}


class Served:
    """A running ``run_server`` and what it printed."""

    def __init__(self, port: int, out: io.StringIO, err: io.StringIO, stop: asyncio.Event) -> None:
        self.port = port
        self.out = out
        self.err = err
        self.stop = stop

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()


@asynccontextmanager
async def serving(
    commands: asyncio.StreamReader | None = None, **options: Any
) -> AsyncIterator[Served]:
    """Run ``ocpp16 serve`` in this event loop on 127.0.0.1, port 0."""
    out, err, stop = io.StringIO(), io.StringIO(), asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    config = ServeConfig(host="127.0.0.1", port=0, **options)
    task = asyncio.create_task(
        run_server(
            config,
            stop,
            console=Console(file=out, width=300, highlight=False),
            err=Console(file=err, width=300, highlight=False),
            json_stream=out,
            on_listening=listening.set_result,
            commands=commands,
        )
    )
    await wait(asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED))
    if task.done():
        task.result()  # raises what stopped it
    port = listening.result()
    try:
        yield Served(port, out, err, stop)
    finally:
        stop.set()
        assert await wait(task) == 0


# ---------------------------------------------------------------------- answers


def test_a_request_for_every_charge_point_action() -> None:
    """The test covers every action with direction cp_to_cs or both, and nothing else."""
    assert sorted(REQUESTS) == charge_point_actions()


def test_central_system_has_a_handler_for_every_charge_point_action() -> None:
    """Serve answers every action a charge point may send; none falls to NotSupported."""
    assert sorted(CentralSystem().handlers) == charge_point_actions()


async def test_every_charge_point_action_gets_a_valid_answer() -> None:
    """Every charge-point action gets a CALLRESULT that its schema accepts (strict mode)."""
    async with serving() as served:
        client = Client("CP1")
        await wait(client.connect(served.url))
        try:
            for action, request in REQUESTS.items():
                # Strict validation on the client checks the response against its schema.
                answer = await wait(client.call_request(action, request))
                assert isinstance(answer, dict), action
        finally:
            await client.close()


async def test_answers_are_plausible() -> None:
    """Boots and id tags are Accepted, transaction ids count up, times are now."""
    async with serving(heartbeat_interval=30) as served:
        client = Client("CP1")
        await wait(client.connect(served.url))
        try:
            boot = await wait(client.call_request("BootNotification", REQUESTS["BootNotification"]))
            assert (boot["status"], boot["interval"]) == ("Accepted", 30)
            sent = datetime.fromisoformat(boot["currentTime"])
            assert abs((datetime.now(UTC) - sent).total_seconds()) < TIMEOUT
            beat = await wait(client.call_request("Heartbeat", {}))
            assert datetime.fromisoformat(beat["currentTime"]) >= sent
            auth = await wait(client.call_request("Authorize", {"idTag": "ANY"}))
            assert auth == {"idTagInfo": {"status": "Accepted"}}
            ids = []
            for _ in range(3):
                start = await wait(
                    client.call_request("StartTransaction", REQUESTS["StartTransaction"])
                )
                assert start["idTagInfo"] == {"status": "Accepted"}
                ids.append(start["transactionId"])
            assert ids == [1, 2, 3]
            stop = await wait(
                client.call_request(
                    "StopTransaction", {**REQUESTS["StopTransaction"], "idTag": "TAG1"}
                )
            )
            assert stop == {"idTagInfo": {"status": "Accepted"}}
            anonymous = await wait(
                client.call_request("StopTransaction", REQUESTS["StopTransaction"])
            )
            assert anonymous == {}
            data = await wait(client.call_request("DataTransfer", REQUESTS["DataTransfer"]))
            assert data == {"status": "UnknownVendorId"}  # OCPP 1.6 §4.3
        finally:
            await client.close()


# ---------------------------------------------------------------------- message lines

LINE = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3}  CP1  (CP->CS|CS->CP)  (CALL|CALLRESULT|CALLERROR)  (\w+)  (.+)$"
)


async def test_each_message_is_one_readable_line() -> None:
    """Each message prints as time, charge point, direction, kind, action, payload."""
    async with serving() as served:
        client = Client("CP1")
        await wait(client.connect(served.url))
        await wait(client.call_request("Heartbeat", {}))
        await client.close()
    lines = served.lines()
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3}  CP1  connected  from 127\.0\.0\.1:\d+$", lines[0])
    call, result = (LINE.match(line) for line in lines[1:3])
    assert call is not None and call.groups() == ("CP->CS", "CALL", "Heartbeat", "{}")
    assert result is not None and result.groups()[:3] == ("CS->CP", "CALLRESULT", "Heartbeat")
    assert json.loads(result.group(4))["currentTime"].endswith("Z")
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3}  CP1  closed  code 1000$", lines[3])
    assert "stopped; 1 charge points, 2 messages, 0 transactions started" in served.err.getvalue()


async def test_json_lines() -> None:
    """With --json every line is a JSON object; results carry the action of their CALL."""
    async with serving(json_lines=True) as served:
        client = Client("CP1")
        await wait(client.connect(served.url))
        await wait(client.call_request("Authorize", {"idTag": "T"}))
        await client.close()
    records = [json.loads(line) for line in served.lines()]
    assert [r["event"] for r in records] == ["connected", "message", "message", "closed"]
    call, result = records[1], records[2]
    assert (call["direction"], call["type"], call["action"], call["payload"]) == (
        "CP->CS",
        "CALL",
        "Authorize",
        {"idTag": "T"},
    )
    assert (result["direction"], result["type"], result["action"], result["id"]) == (
        "CS->CP",
        "CALLRESULT",
        "Authorize",
        call["id"],
    )
    assert result["payload"] == {"idTagInfo": {"status": "Accepted"}}


async def test_a_bad_payload_shows_as_a_callerror_line() -> None:
    """Strict validation answers a bad BootNotification with a CALLERROR, printed as such."""
    async with serving(validation="strict") as served:
        client = Client("CP1", validation="off")
        await wait(client.connect(served.url))
        with pytest.raises(Exception, match="ProtocolError"):
            await wait(client.call_request("BootNotification", {"chargePointVendor": "x"}))
        await client.close()
    error = [line for line in served.lines() if "CALLERROR" in line]
    assert len(error) == 1 and "BootNotification" in error[0] and '"ProtocolError"' in error[0]


# ---------------------------------------------------------------------- operator commands


async def test_operator_commands_send_calls() -> None:
    """A line CP_ID ACTION [JSON] on standard input sends that CALL; its answer prints as a line."""
    reader = asyncio.StreamReader()
    async with serving(commands=reader) as served:
        client = Client("CP1")
        resets: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        @client.on("Reset")
        def on_reset(request: dict[str, Any]) -> dict[str, Any]:
            resets.put_nowait(request)
            return {"status": "Accepted"}

        await wait(client.connect(served.url))
        for line in [
            "",
            "# a comment",
            "help",
            "list",
            "CP1",
            "CP1 Bogus",
            "CP1 Heartbeat",
            "CP9 Reset {}",
            "CP1 Reset {not json",
            "CP1 Reset [1]",
            "CP1 Reset {}",  # strict validation: type is required
            'CP1 Reset {"type": "Hard"}',
        ]:
            reader.feed_data(line.encode() + b"\n")
        assert await wait(resets.get()) == {"type": "Hard"}
        # Frames keep their order: once this answer is back, the Reset's result is printed.
        await wait(client.call_request("Heartbeat", {}))
        reader.feed_eof()
        await client.close()
    told = served.err.getvalue()
    assert "commands: CP_ID ACTION [JSON payload] sends a CALL" in told
    assert "connected: CP1" in told
    assert "expected CP_ID ACTION [JSON payload], not 'CP1' (try 'help')" in told
    assert "'Bogus' is not an OCPP 1.6 action" in told
    assert "Heartbeat is sent by charge points, not to them" in told
    assert "CP9 is not connected (connected: CP1)" in told
    assert "the payload is not JSON: Expecting property name" in told
    assert "the payload must be a JSON object, such as {}" in told
    assert "CP1 Reset not sent: ProtocolError: $.type is required" in told
    lines = served.out.getvalue()
    assert re.search(r"CP1  CS->CP  CALL  Reset  \{\"type\":\"Hard\"\}", lines)
    assert re.search(r"CP1  CP->CS  CALLRESULT  Reset  \{\"status\":\"Accepted\"\}", lines)
    assert lines.count("CALL  Reset") == 1  # only the valid command went out


async def test_operator_command_failures_are_told() -> None:
    """A CALL whose answer breaks its schema (strict), or whose connection closes under it, is told."""
    reader = asyncio.StreamReader()
    async with serving(commands=reader, validation="strict") as served:
        # A short handler_timeout: closing waits that long for the handler that never answers.
        client = Client("CP1", validation="off", handler_timeout=0.1)
        answered: asyncio.Queue[str] = asyncio.Queue()

        @client.on("ClearCache")
        async def slow(request: dict[str, Any]) -> dict[str, Any]:
            answered.put_nowait("ClearCache")
            await asyncio.Event().wait()  # never answers
            return {}

        @client.on("GetLocalListVersion")
        def wrong(request: dict[str, Any]) -> dict[str, Any]:
            answered.put_nowait("GetLocalListVersion")
            return {"listVersion": "one"}  # breaks the response schema

        await wait(client.connect(served.url))
        reader.feed_data(b"CP1 GetLocalListVersion\nCP1 ClearCache\n")
        assert {await wait(answered.get()), await wait(answered.get())} == {
            "GetLocalListVersion",
            "ClearCache",
        }
        await wait(client.call_request("Heartbeat", {}))
        # The close drains: the hung handler's InternalError goes out before it.
        await client.close()
        # A bare peer that closes (1000) while a CALL to it awaits its answer.
        async with ws_connect(f"{served.url}/CP2", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            reader.feed_data(b"CP2 ClearCache\n")
            assert json.loads(await wait(ws.recv()))[2] == "ClearCache"
        await until(lambda: "CP2 ClearCache: " in served.err.getvalue())
    told = served.err.getvalue()
    assert "CP1 GetLocalListVersion: the answer breaks its schema:" in told
    assert any("ClearCache" in line and "InternalError" in line for line in served.lines())
    assert "CP2 ClearCache: " in told and "1000" in told  # the connection closed under it


# ---------------------------------------------------------------------- passwords


def test_passwords_file(tmp_path: Path) -> None:
    """A passwords file is CP_ID:PASSWORD lines, with comments and blank lines skipped."""
    path = tmp_path / "passwords.txt"
    path.write_text("# chargers\n\nCP1:secret:with:colons\n  CP2:0011aabbccddeeff  \n")
    assert read_passwords(str(path)) == {"CP1": "secret:with:colons", "CP2": "0011aabbccddeeff"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("CP1\n", "line 1: expected CP_ID:PASSWORD"),
        (":pw\n", "line 1: expected CP_ID:PASSWORD"),
        ("CP1:\n", "line 1: expected CP_ID:PASSWORD"),
        ("CP1:a\nCP1:b\n", "line 2: 'CP1' appears twice"),
        ("# nothing\n", "lists no charge point"),
    ],
)
def test_bad_passwords_file_names_the_line(tmp_path: Path, text: str, says: str) -> None:
    """A bad passwords file is refused with the file and line named."""
    path = tmp_path / "p.txt"
    path.write_text(text)
    with pytest.raises(PasswordFileError, match=says):
        read_passwords(str(path))
    with pytest.raises(PasswordFileError, match="cannot read passwords file"):
        read_passwords(str(tmp_path / "missing.txt"))


async def test_passwords_admit_listed_charge_points_only() -> None:
    """With passwords, the right one connects; a wrong one or an unlisted id gets HTTP 401."""
    key = "0011aabbccddeeff0011"
    passwords = {"CP1": "plain secret", "CP2": key}
    async with serving(passwords=passwords) as served:
        for cp_id, password in [
            ("CP1", "plain secret"),
            ("CP2", key),  # the hex text of an AuthorizationKey
            ("CP2", bytes.fromhex(key)),  # or its raw bytes
        ]:
            client = Client(cp_id, password=password, security_profile=1)
            await wait(client.connect(served.url))
            await client.close()
        for cp_id, password in [("CP1", "wrong"), ("CP2", "plain secret"), ("CP9", "x")]:
            client = Client(cp_id, password=password, security_profile=1)
            with pytest.raises(HandshakeError) as refused:
                await wait(client.connect(served.url))
            assert refused.value.status == 401
        anonymous = Client("CP1")
        with pytest.raises(HandshakeError):
            await wait(anonymous.connect(served.url))
        other = Client("CP2")
        # A Basic-auth user name that is not the id in the URL (the white paper anchors it).
        with pytest.raises(HandshakeError):
            await wait(
                other.connect(served.url, headers={"Authorization": _basic("CP1", "plain secret")})
            )
    text = served.out.getvalue()
    assert "CP1  refused  HTTP 401: wrong password (from 127.0.0.1:" in text
    assert "CP9  refused  HTTP 401: unknown charge point" in text
    assert "CP1  refused  HTTP 401: no Basic-auth credentials" in text
    assert "CP2  refused  HTTP 401: the Basic-auth user name is not the charge point id" in text
    assert "accepting charge points in the passwords file" in served.err.getvalue()


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------------- TLS


async def test_tls(tmp_path: Path) -> None:
    """With a certificate and key, serve speaks wss:// and a charge point trusting the CA boots."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    context = server_ssl_context(str(cert_file), str(key_file))
    async with serving(ssl=context) as served:
        assert "listening on wss://127.0.0.1:" in served.err.getvalue()
        client = Client("CP1")
        url = served.url.replace("ws://", "wss://")
        await wait(client.connect(url, ssl=client_ssl_context(cafile=str(ca_file))))
        boot = await wait(client.call_request("BootNotification", REQUESTS["BootNotification"]))
        assert boot["status"] == "Accepted"
        await client.close()
        plain = Client("CP2")
        with pytest.raises((ssl.SSLError, OSError, HandshakeError)):
            await wait(plain.connect(url))  # the system's CAs do not know this one


# ---------------------------------------------------------------------- Ctrl-C


async def test_ctrl_c_stops_cleanly() -> None:
    """Ctrl-C closes every charge point with 1001 (going away) and exits 0, no traceback."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp16",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None and process.stdout is not None
        banner = (await wait(process.stderr.readline())).decode()
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", banner).group(1))  # type: ignore[union-attr]
        client = Client("CP1")
        closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        client.on("close", lambda code, reason: closed.done() or closed.set_result(code))
        await wait(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        await wait(client.call_request("BootNotification", REQUESTS["BootNotification"]))
        # An operator command on standard input reaches the charge point.
        reset: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        client.on("Reset", lambda request: reset.set_result(request) or {"status": "Accepted"})
        assert process.stdin is not None
        process.stdin.write(b'CP1 Reset {"type": "Soft"}\n')
        await wait(process.stdin.drain())
        assert await wait(reset) == {"type": "Soft"}
        await wait(client.call_request("Heartbeat", {}))  # the Reset's answer is in before it
        process.send_signal(signal.SIGINT)
        assert await wait(closed) == 1001
        assert await wait(process.wait()) == 0
        out = (await process.stdout.read()).decode()
        err = (await process.stderr.read()).decode()
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert "stopped; 1 charge points, 6 messages" in err
        assert "CALL  BootNotification" in out
        assert "CP1  CP->CS  CALLRESULT  Reset" in out
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _serve_process_args() -> list[str]:
    return [sys.executable, "-m", "ocpp16", "serve", "--host", "127.0.0.1", "--port", "0"]


async def _banner_port(process: asyncio.subprocess.Process) -> int:
    assert process.stderr is not None
    banner = (await wait(process.stderr.readline())).decode()
    found = re.search(r"127\.0\.0\.1:(\d+)/", banner)
    assert found, banner
    return int(found.group(1))


async def test_closed_output_stops_serve_cleanly() -> None:
    """``ocpp16 serve | head -1``: once the reader is gone, serve closes (1001) and exits 0."""
    read_end, write_end = os.pipe()
    process = await asyncio.create_subprocess_exec(
        *_serve_process_args(),
        "--no-input",
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    try:
        port = await _banner_port(process)
        client = Client("CP1")
        closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        client.on("close", lambda code, reason: closed.done() or closed.set_result(code))
        await wait(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        # The "connected" line arrives; then the reader goes, as `head -1` does.
        line = await wait(asyncio.to_thread(os.read, read_end, 4096))
        assert b"CP1  connected" in line
        os.close(read_end)
        async with asyncio.timeout(TIMEOUT):
            while not closed.done():  # each message line meets the closed pipe
                with contextlib.suppress(Exception):
                    await client.call_request("Heartbeat", {})
        assert closed.result() == 1001
        assert await wait(process.wait()) == 0
        assert process.stderr is not None
        err = (await process.stderr.read()).decode()
        assert "Traceback" not in err and "Exception" not in err, err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_second_ctrl_c_quits_at_once() -> None:
    """A second Ctrl-C ends serve at once (130), though a peer stalls the clean close."""
    process = await asyncio.create_subprocess_exec(
        *_serve_process_args(),
        "--no-input",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        port = await _banner_port(process)
        # A peer that opens the WebSocket and then never reads: the closing handshake
        # with it waits out close_timeout (10 s).
        reader, writer = await wait(asyncio.open_connection("127.0.0.1", port))
        writer.write(
            b"GET /ocpp/STUCK HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        )
        assert b"101" in await wait(reader.readline())
        assert process.stderr is not None
        process.send_signal(signal.SIGINT)
        stopping = (await wait(process.stderr.readline())).decode()
        assert stopping == "ocpp16 serve: stopping (Ctrl-C again quits at once)\n"
        process.send_signal(signal.SIGINT)
        assert await wait(process.wait()) == 130
        # It did not wait out the stalled close (close_timeout, 10 s): a clean stop ends
        # with exit status 0 and its "stopped; ..." line, and neither came.
        rest = (await process.stderr.read()).decode()
        assert rest == "ocpp16 serve: interrupted\n"
        writer.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_an_overlong_command_line_is_refused_and_reading_goes_on() -> None:
    """A command line past the reader's limit is refused in one line; the next ones still work."""
    reader = asyncio.StreamReader(limit=1024)
    async with serving(commands=reader) as served:
        client = Client("CP1")
        resets: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        client.on("Reset", lambda request: resets.put_nowait(request) or {"status": "Accepted"})
        await wait(client.connect(served.url))
        reader.feed_data(b"CP1 DataTransfer " + b"x" * 5000 + b"\n")
        reader.feed_data(b'CP1 Reset {"type": "Soft"}\n')
        assert await wait(resets.get()) == {"type": "Soft"}
        await client.close()
    assert "a command line that long is refused; it was not sent" in served.err.getvalue()


async def test_ipv6_banner_has_brackets() -> None:
    """The banner writes an IPv6 address as a URL needs it: in brackets."""
    out, err, stop = io.StringIO(), io.StringIO(), asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    config = ServeConfig(host="::1", port=0)
    task = asyncio.create_task(
        run_server(
            config,
            stop,
            console=Console(file=out),
            err=Console(file=err, width=300),
            json_stream=out,
            on_listening=listening.set_result,
        )
    )
    await wait(asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED))
    if task.done():
        with pytest.raises(CannotListen):
            task.result()
        pytest.skip("no IPv6 loopback on this machine")
    stop.set()
    assert await wait(task) == 0
    assert f"listening on ws://[::1]:{listening.result()}/" in err.getvalue()


def test_passwords_file_with_a_byte_order_mark_and_spaces(tmp_path: Path) -> None:
    """A BOM (as some editors save) and spaces around the colon are not part of id or password."""
    path = tmp_path / "passwords.txt"
    path.write_bytes("\ufeffCP1:secret\r\nCP2 : other \r\n".encode())
    assert read_passwords(str(path)) == {"CP1": "secret", "CP2": "other"}


# ---------------------------------------------------------------------- what a test rig shows

SERIAL_42 = "S" * 42  # CiString25 in the spec: a common quirk of real chargers


async def test_by_default_a_violation_is_marked_counted_and_the_charger_boots() -> None:
    """Warn by default: an over-long serial number boots, with a marked line and a count."""
    async with serving() as served:
        client = Client("CP1", validation="off")
        await wait(client.connect(served.url))
        boot = {"chargePointVendor": "ACME", "chargePointModel": "One"}
        answer = await wait(
            client.call_request("BootNotification", {**boot, "chargeBoxSerialNumber": SERIAL_42})
        )
        assert answer["status"] == "Accepted"
        await client.close()
    violations = [line for line in served.lines() if "  violation  " in line]
    assert len(violations) == 1
    assert "incoming BootNotification request: $.chargeBoxSerialNumber" in violations[0]
    assert "[PropertyConstraintViolation]" in violations[0]
    assert "1 schema violations, 0 warnings" in served.err.getvalue()


async def test_strict_refuses_the_same_boot() -> None:
    """--validation strict answers the over-long serial number with a CALLERROR."""
    async with serving(validation="strict") as served:
        client = Client("CP1", validation="off")
        await wait(client.connect(served.url))
        boot = {"chargePointVendor": "ACME", "chargePointModel": "One"}
        with pytest.raises(OcppError) as refused:
            await wait(
                client.call_request(
                    "BootNotification", {**boot, "chargeBoxSerialNumber": SERIAL_42}
                )
            )
        assert refused.value.code == "PropertyConstraintViolation"
        await client.close()
    assert not [line for line in served.lines() if "  violation  " in line]


async def test_a_second_start_on_a_busy_connector_is_a_warning() -> None:
    """A StartTransaction on a connector whose transaction never stopped is a marked warning."""
    async with serving() as served:
        client = Client("CP1")
        await wait(client.connect(served.url))
        start = REQUESTS["StartTransaction"]
        first = await wait(client.call_request("StartTransaction", start))
        await wait(client.call_request("StartTransaction", start))
        await client.close()
    warnings = [line for line in served.lines() if "  warning  " in line]
    assert len(warnings) == 1
    assert (
        f"connector 1, where transaction {first['transactionId']} is still running" in (warnings[0])
    )
    assert "0 schema violations, 1 warnings" in served.err.getvalue()


async def test_a_timed_out_operator_call_is_told_in_words_and_recorded_in_json() -> None:
    """Our own timeout reads "no answer within N s", and --json leaves a call_failed record."""
    reader = asyncio.StreamReader()
    async with serving(commands=reader, json_lines=True, call_timeout=0.2) as served:
        # The same event loop runs both ends: serve's 0.2 s call timer, armed first,
        # fires before the charge point's 0.5 s handler timer.
        client = Client("CP1", handler_timeout=0.5)
        asked = asyncio.Event()

        @client.on("ClearCache")
        async def never(request: dict[str, Any]) -> dict[str, Any]:
            asked.set()
            await asyncio.Event().wait()
            return {}

        await wait(client.connect(served.url))
        reader.feed_data(b"CP1 ClearCache\n")
        await wait(asked.wait())
        await until(lambda: '"call_failed"' in served.out.getvalue())
        reader.feed_eof()
        await client.close()
    (record,) = [json.loads(line) for line in served.lines() if '"call_failed"' in line]
    assert record["cp"] == "CP1" and record["action"] == "ClearCache"
    assert record["outcome"] == "timeout" and record["detail"] == "no answer within 0.2 s"
    assert record["id"]
    told = served.err.getvalue()
    assert "CP1 ClearCache: no answer within 0.2 s" in told
    assert "GenericError" not in told


def test_stderr_lines_are_not_wrapped_into_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    """Serve's stderr console keeps a long refusal or failure line whole when stderr is a file."""
    from ocpp16._cli.commands import stderr_console

    line = "CP1 Reset: " + "x" * 150 + " the end"
    stderr_console().print(line)
    assert capsys.readouterr().err == line + "\n"
