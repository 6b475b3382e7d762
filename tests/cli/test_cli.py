"""The ``ocpp16`` command: its parser, help, exit statuses, and the pieces it prints with."""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib
import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import ocpp16
from ocpp16._cli import build_parser, main
from ocpp16._cli.output import MessageLog
from ocpp16._cli.stats import Stats
from tests.test_public_api import PUBLIC_MODULES

CLI_DIR = Path(ocpp16.__file__).parent / "_cli"
TIMEOUT = 60


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ocpp16`` with ``args``, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "ocpp16", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# ---------------------------------------------------------------------- help


def test_help_lists_the_three_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """``ocpp16 --help`` exits 0 and names serve, simulate and demo, with examples."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "simulate", "demo"):
        assert re.search(rf"^\s+{command}\s+\w", out, re.MULTILINE), command
    assert "ocpp16 demo" in out and "Exit status" in out


@pytest.mark.parametrize("command", ["serve", "simulate", "demo"])
def test_subcommand_help_is_complete(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each subcommand's help describes it and documents every one of its options."""
    parser = subparsers()[command]
    assert parser.description and len(parser.description) > 100
    assert parser.epilog and f"ocpp16 {command}" in parser.epilog
    for action in parser._actions:
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for action in parser._actions:
        for option in action.option_strings:
            assert option in out


def test_version() -> None:
    """``python -m ocpp16 --version`` prints the installed version."""
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"ocpp16 {importlib.metadata.version('ocpp16')}"


def test_console_script_is_installed() -> None:
    """The ``ocpp16`` console script is installed beside the interpreter and runs."""
    script = shutil.which("ocpp16", path=os.path.dirname(sys.executable))
    assert script is not None
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0 and "simulate" in done.stdout


# ---------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["serve", "--port", "99999"], "port must be from 0 to 65535, not 99999"),
        (["serve", "--port", "x"], "port must be a whole number, not 'x'"),
        (["serve", "--passwords", "/no/such/file"], "no such file: /no/such/file"),
        (["serve", "--heartbeat-interval", "0"], "heartbeat interval must be at least 1"),
        (["serve", "--validation", "loose"], "invalid choice: 'loose'"),
        (["serve", "--nope"], "unrecognized arguments: --nope"),
        (["simulate"], "the following arguments are required: URL"),
        (["simulate", "http://example.com/ocpp"], "is not a WebSocket URL"),
        (["simulate", "ws://"], "is not a WebSocket URL"),
        (["simulate", "ws://[::1"], "'ws://[::1' is not a URL: Invalid IPv6 URL"),
        (["simulate", "ws://host:99999/"], "has a bad port"),
        (["simulate", "ws://h/", "--count", "0"], "count must be from 1 to 100000, not 0"),
        (["simulate", "ws://h/", "--duration", "-1"], "seconds must be more than 0, not -1"),
        (["simulate", "ws://h/", "--duration", "nan"], "seconds must be more than 0, not nan"),
        (
            ["simulate", "ws://h/", "--meter-interval", "0.5"],
            "meter interval must be a whole number",
        ),
        (["simulate", "ws://h/", "--idle", "soon"], "expected a number of seconds"),
        (["demo", "--count", "1001"], "count must be from 1 to 1000, not 1001"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad argument exits with status 2 and one line on stderr that says what is wrong."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert says in lines[0]
    assert lines[0].startswith("ocpp16") and "--help" in lines[0]


def test_bad_file_contents_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A passwords file with a bad line, or a certificate that does not load, exits 2 in one line."""
    passwords = tmp_path / "passwords.txt"
    passwords.write_text("CP1:secret\nno colon here\n")
    assert main(["serve", "--passwords", str(passwords)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2: expected CP_ID:PASSWORD" in err
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate")
    assert main(["serve", "--tls-cert", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot load the TLS certificate and key" in err
    assert main(["serve", "--tls-key", str(junk)]) == 2
    assert "--tls-key needs --tls-cert" in capsys.readouterr().err
    assert main(["simulate", "ws://127.0.0.1:1/", "--ca-file", str(junk)]) == 2
    assert "--ca-file is for wss:// URLs" in capsys.readouterr().err
    assert main(["simulate", "wss://127.0.0.1:1/", "--ca-file", str(junk)]) == 2
    assert "cannot load the CA file" in capsys.readouterr().err
    assert main(["simulate", "ws://127.0.0.1:1/", "--passwords", str(passwords)]) == 2
    assert "line 2" in capsys.readouterr().err


def test_unreachable_url_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A central system that is not there: exit 1, one line saying so, no traceback."""
    port = closed_port()
    assert main(["simulate", f"ws://127.0.0.1:{port}/ocpp", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"ocpp16 simulate: SIM0001 could not connect to ws://127.0.0.1:{port}/ocpp: "
        "connection refused (is the central system running, on that port?)\n"
    )


def test_unresolvable_host_is_one_clear_line() -> None:
    """A host name that does not resolve: exit 1 and one line naming the cause."""
    done = run_cli("simulate", "ws://no-such-host.invalid/ocpp", "--json")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "could not connect to ws://no-such-host.invalid/ocpp: cannot resolve" in done.stderr


def test_port_in_use_is_one_clear_line() -> None:
    """``serve`` on a port already taken: exit 1, one line, no traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = run_cli("serve", "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"ocpp16 serve: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "in use" in done.stderr


def test_without_the_cli_extra_says_how_to_get_it() -> None:
    """Without rich, a subcommand says in one line to install ``ocpp16[cli]``; help still works."""
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from ocpp16._cli import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "demo"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 1
    assert done.stderr == (
        "ocpp16 demo: the command line needs the 'cli' extra: pip install 'ocpp16[cli]'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0 and "--tls-cert" in done.stdout


def test_runtime_dependencies_stay_the_core_three() -> None:
    """The package needs websockets, pyee and fastjsonschema; rich is in the cli extra only."""
    requires = importlib.metadata.requires("ocpp16") or []
    core = sorted(re.split(r"[<>=; \[]", r)[0] for r in requires if "extra ==" not in r)
    assert core == ["fastjsonschema", "pyee", "websockets"]
    cli = [r for r in requires if 'extra == "cli"' in r]
    assert [re.split(r"[<>=; ]", r)[0] for r in cli] == ["rich"]


def test_the_command_uses_the_public_api_only() -> None:
    """The command imports ocpp16's public names only, as any application would."""
    for path in CLI_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module == "ocpp16._cli" and path.name != "__init__.py":
                continue
            if node.module == "ocpp16":
                allowed = set(ocpp16.__all__)
            elif node.module in PUBLIC_MODULES:
                allowed = set(importlib.import_module(node.module).__all__)
            elif node.module.startswith("ocpp16"):
                allowed = set() if node.module != "ocpp16._cli" else {"commands"}
            else:
                continue
            for alias in node.names:
                assert alias.name in allowed, f"{path.name}: from {node.module} import {alias.name}"


# ---------------------------------------------------------------------- stats


def test_percentiles_of_known_samples() -> None:
    """p50, p95 and p99 of 1..100 ms are the inclusive quantiles: 50.5, 95.05, 99.01."""
    stats = Stats()
    for ms in range(1, 101):
        stats.latency("Heartbeat", ms / 1000)
    (row,) = stats.table()
    assert (row.action, row.count, row.errors) == ("Heartbeat", 100, 0)
    assert row.p50 == pytest.approx(50.5)
    assert row.p95 == pytest.approx(95.05)
    assert row.p99 == pytest.approx(99.01)


def test_one_sample_and_errors_only() -> None:
    """One sample is its own percentiles; an action with only errors has a row of zeros."""
    stats = Stats()
    stats.latency("Authorize", 0.002)
    stats.error("Reset", "timeout")
    stats.latency("(connect)", 0.01)
    stats.error("(connect)", "connection refused")
    rows = {row.action: row for row in stats.table()}
    assert (rows["Authorize"].p50, rows["Authorize"].p99) == (
        pytest.approx(2.0),
        pytest.approx(2.0),
    )
    assert (rows["Reset"].count, rows["Reset"].errors, rows["Reset"].p95) == (0, 1, 0.0)
    # Connections are timed in the table but are not calls.
    assert stats.calls_sent == 2
    assert stats.error_count == 2
    data = stats.as_dict()
    assert data["errors"] == {"connection refused": 1, "timeout": 1}
    assert data["latency_ms"]["Authorize"]["p50"] == 2.0


# ---------------------------------------------------------------------- message lines


def log_to_string(
    side: str = "central", json_lines: bool = False
) -> tuple[MessageLog, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=100, highlight=False)
    log = MessageLog(side, console=console, json_stream=out if json_lines else None)  # type: ignore[arg-type]
    return log, out


LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}  (\S+)  (CP->CS|CS->CP)  (\S+)  (\S+)  (.*)$")


def test_text_line_has_time_cp_direction_kind_action_payload() -> None:
    """A message is one line: time, charge point, direction, kind, action, payload."""
    log, out = log_to_string()
    pending: dict[str, str] = {}
    log.message("CP7", "in", '[2,"1","Authorize",{"idTag":"[bold]x"}]', pending)
    log.message("CP7", "out", '[3,"1",{"idTagInfo":{"status":"Accepted"}}]', pending)
    log.message("CP7", "out", '[2,"9","Reset",{"type":"Soft"}]', pending)
    log.message("CP7", "in", '[4,"9","NotSupported","no",{}]', pending)
    lines = out.getvalue().splitlines()
    assert [LINE.match(line).groups() for line in lines] == [  # type: ignore[union-attr]
        ("CP7", "CP->CS", "CALL", "Authorize", '{"idTag":"[bold]x"}'),
        ("CP7", "CS->CP", "CALLRESULT", "Authorize", '{"idTagInfo":{"status":"Accepted"}}'),
        ("CP7", "CS->CP", "CALL", "Reset", '{"type":"Soft"}'),
        ("CP7", "CP->CS", "CALLERROR", "Reset", '["NotSupported","no",{}]'),
    ]
    assert pending == {}
    assert log.messages == 4


def test_charge_point_side_reverses_directions() -> None:
    """On the charge point's side an outgoing frame goes CP->CS."""
    log, out = log_to_string("charge_point")
    log.message("CP1", "out", '[2,"1","Heartbeat",{}]', {})
    assert "  CP->CS  CALL  Heartbeat  {}" in out.getvalue()


def test_answer_to_an_unknown_call_and_frames_that_are_not_ocpp() -> None:
    """A result for no known CALL shows action "?"; a frame that is not OCPP prints no message line."""
    log, out = log_to_string()
    log.message("CP1", "in", '[3,"77",{}]', {})
    for frame in ["[9]", '[2,"x"]', '[3,"y"]', '[4,"z","a"]', "{}", "garbage", "[", "[2,1,2,3,4]"]:
        log.message("CP1", "in", frame, {})
    # NaN and Infinity are not JSON; the library refuses such a frame, and so does the log.
    log.message("CP1", "in", '[2,"n","DataTransfer",{"x":Infinity}]', {})
    log.message("CP1", "in", '[2,"deep","DataTransfer",' + "[" * 100_000 + "]", {})
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "CALLRESULT  ?  {}" in lines[0]
    assert log.messages == 1


def test_what_a_peer_chose_cannot_break_or_forge_a_line() -> None:
    """Newlines and escape sequences in an id, a close reason or a payload are escaped."""
    log, out = log_to_string()
    forged = "CP\n12:00:00.000  FAKE\x1b[31m"
    log.message(forged, "in", '[2,"1","DataTransfer",{"vendorId":"a\u2028b"}]', {})
    log.event(forged, "closed", "code 1000 bye\nINJECTED\x1b[2J")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "\x1b" not in out.getvalue() and "\u2028" not in out.getvalue()
    assert "CP\\n12:00:00.000  FAKE\\x1b[31m  CP->CS  CALL  DataTransfer" in lines[0]
    assert '{"vendorId":"a\\u2028b"}' in lines[0]
    assert lines[1].endswith("closed  code 1000 bye\\nINJECTED\\x1b[2J")
    json_log, json_out = log_to_string(json_lines=True)
    json_log.event(forged, "closed", "bye\nINJECTED")
    assert len(json_out.getvalue().splitlines()) == 1


def test_a_closed_output_stops_printing_and_says_so() -> None:
    """A broken pipe (``serve | head``) stops the log and calls back once; nothing escapes."""

    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    told: list[str] = []
    stream = Closed()
    log = MessageLog(
        "central",
        console=Console(file=io.StringIO()),
        json_stream=stream,
        on_closed_output=lambda: told.append("closed"),
    )
    original = os.dup(1)
    try:
        log.message("CP1", "in", '[2,"1","Heartbeat",{}]', {})
        log.message("CP1", "in", '[2,"2","Heartbeat",{}]', {})
    finally:
        os.dup2(original, 1)  # the log sends stdout to /dev/null once the pipe is gone
        os.close(original)
    assert told == ["closed"] and log.closed_output


def test_json_lines() -> None:
    """With JSON lines each message is a JSON object; a CALLERROR names its parts."""
    log, out = log_to_string(json_lines=True)
    pending: dict[str, str] = {}
    log.message("CP1", "in", '[2,"a","Heartbeat",{}]', pending)
    log.message("CP1", "out", '[4,"a","InternalError","boom",{"x":1}]', pending)
    log.event("CP1", "closed", "code 1000")
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "message" and first["type"] == "CALL"
    assert (first["cp"], first["direction"], first["action"], first["payload"]) == (
        "CP1",
        "CP->CS",
        "Heartbeat",
        {},
    )
    assert first["time"].endswith(("Z", "+00:00")) or re.search(r"[+-]\d\d:\d\d$", first["time"])
    assert second["action"] == "Heartbeat" and second["errorCode"] == "InternalError"
    assert (second["errorDescription"], second["errorDetails"]) == ("boom", {"x": 1})
    assert third == {"time": third["time"], "cp": "CP1", "event": "closed", "detail": "code 1000"}


def test_a_long_line_stays_one_line_on_a_terminal() -> None:
    """On a terminal a long payload is cut to the width; into a file it is written whole."""
    payload = json.dumps({"data": "x" * 300})
    out = io.StringIO()
    log = MessageLog("central", console=Console(file=out, width=80, force_terminal=True))
    log.message("CP1", "in", f'[2,"1","DataTransfer",{payload}]', {})
    assert len(out.getvalue().splitlines()) == 1
    log, plain = log_to_string()
    log.message("CP1", "in", f'[2,"1","DataTransfer",{payload}]', {})
    assert "x" * 300 in plain.getvalue().replace("\n", "")


def test_simulate_raises_the_open_file_limit_or_warns() -> None:
    """Simulate raises a low soft limit of open files; past the hard limit it warns how to fix it."""
    code = (
        "import resource, sys\n"
        "soft, hard = map(int, sys.argv[1:3])\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))\n"
        "from ocpp16._cli import main\n"
        "from ocpp16._cli.commands import open_file_limit\n"
        "print(open_file_limit(1000))\n"
        "sys.exit(main(sys.argv[3:]))"
    )
    url = f"ws://127.0.0.1:{closed_port()}/ocpp"
    args = ["simulate", url, "--count", "2000", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", code, "256", "4096", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.stdout == "(1000, 1000)\n"
    assert "warning" not in done.stderr and done.returncode == 1  # unreachable, said once
    done = subprocess.run(
        [sys.executable, "-c", code, "256", "512", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.stdout == "(512, 1000)\n"
    warning, unreachable = done.stderr.splitlines()
    assert warning == (
        "ocpp16 simulate: warning: this process may open 512 files, and 2000 charge points "
        "need about 2064; raise it with 'ulimit -n 2064'"
    )
    assert "could not connect" in unreachable


def test_main_leaves_the_logger_as_it_found_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Running the command in-process adds no lasting handler to, nor changes the level of, 'ocpp16'."""
    logger = logging.getLogger("ocpp16")
    handlers, level = list(logger.handlers), logger.level
    assert main(["simulate", f"ws://127.0.0.1:{closed_port()}/ocpp", "-vv", "--json"]) == 1
    assert logger.handlers == handlers and logger.level == level
    assert "could not connect" in capsys.readouterr().err


def test_readme_first_command_is_install_and_demo() -> None:
    """The README's first command installs the package with the cli extra and runs the demo."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```sh\n(.*?)\n```", readme, re.DOTALL)
    assert first is not None
    assert first.group(1).strip() == 'pip install ".[cli]" && ocpp16 demo'


async def test_serve_reads_no_terminal_it_does_not_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal whose foreground is another process group (a background job) is not read."""
    from ocpp16._cli import commands

    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb", buffering=0) as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(os, "isatty", lambda fd: True)
        monkeypatch.setattr(os, "tcgetpgrp", lambda fd: os.getpgrp() + 1)
        assert await commands._stdin_lines() is None
        monkeypatch.setattr(os, "tcgetpgrp", lambda fd: os.getpgrp())
        reader = await commands._stdin_lines()  # the foreground job: read
        assert reader is not None
        os.write(write_end, b"list\n")
        assert await asyncio.wait_for(reader.readline(), 10) == b"list\n"
    os.close(write_end)
