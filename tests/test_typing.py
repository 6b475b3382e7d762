"""mypy --strict on what users write: the README's blocks, the examples, typed calls and mistakes.

One mypy run (in process, its cache under a temporary directory) checks every file of
this module; each test reads its own files' errors.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mypy import api as mypy_api

from ocpp16 import OptionKeywords, Options, schemas

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "migrating-from-ocpp-ts.md"]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# Prepended to every block of the docs: the names their fragments use without
# defining them, and awaits at the top level (a fragment shows the inside of a coroutine).
PREAMBLE = """\
# mypy: disable-error-code="top-level-await"
import logging
from typing import Any

from ocpp16 import Accept, Call, Client, ClientBase, Handshake, Server
from ocpp16.types import (
    BootNotificationRequest,
    DataTransferRequest,
    DataTransferResponse,
    MeterValue,
    StartTransactionRequest,
)

server = Server()
client = Client("CP0")
log = logging.getLogger("app")
known_chargers: set[str] = set()
authorization_keys: dict[str, bytes] = {}
NOW = "2024-05-01T12:00:00Z"
BOOT: BootNotificationRequest = {"chargePointVendor": "V", "chargePointModel": "M"}
START: StartTransactionRequest = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": NOW}
VALUES: list[MeterValue] = [{"timestamp": NOW, "sampledValue": [{"value": "1"}]}]


async def check_password(cp_id: str, password: bytes | None) -> bool:
    return password is not None


class _Db:
    async def find_charger(self, cp_id: str) -> dict[str, str] | None:
        return None


class _Backend:
    async def forward(self, session: Any, action: str, request: dict[str, Any]) -> dict[str, Any]:
        return {}


db = _Db()
backend = _Backend()


def split(data: str) -> list[str]:
    return [data]


async def store(session: Any, chunk: str) -> None:
    pass


"""

# What the typed API promises: each line type-checks, and assert_type holds.
MUST_PASS = """\
from typing import Any, assert_type

from ocpp16 import (
    Action,
    CallbackHandler,
    Client,
    ClientBase,
    Handler,
    OptionKeywords,
    Reply,
    Server,
)
from ocpp16.types import (
    BootNotificationRequest,
    BootNotificationResponse,
    HeartbeatResponse,
    ResetRequest,
    ResetResponse,
)

BOOT: BootNotificationRequest = {"chargePointVendor": "V", "chargePointModel": "M"}


async def calls(
    client: Client, connection: ClientBase, server: Server, name: str, payload: dict[str, Any]
) -> None:
    resp: BootNotificationResponse = await client.call_request(
        "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    assert_type(await client.call_request("BootNotification", BOOT), BootNotificationResponse)
    assert_type(await client.call_request("Heartbeat"), HeartbeatResponse)
    assert_type(await client.call_request("Heartbeat", {}, timeout=5), HeartbeatResponse)
    assert_type(await connection.call_request("Reset", {"type": "Soft"}), ResetResponse)
    assert_type(await server.call_request("CP1", "Reset", {"type": "Hard"}), ResetResponse)
    assert_type(await client.call_request(Action(name), payload), dict[str, Any])
    assert_type(await client.call_request(Action.Heartbeat), dict[str, Any])
    assert_type(await server.call_request("CP1", Action(name), payload), dict[str, Any])
    print(resp["interval"] + 1)


def options() -> None:
    keywords: OptionKeywords = {"call_timeout": 5, "validation": "warn"}
    Server(max_connections=10, **keywords)
    Client("CP1", password="secret", **keywords)
    Server(duplicate_id="reject", ping_interval=None, validation_overrides={"Heartbeat": "off"})
    Client("CP1", call_concurrency=2, logger=None, message_id_factory=lambda: "1")


def on_boot(request: BootNotificationRequest, cb: Reply[BootNotificationResponse]) -> None:
    cb({"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"})


async def on_reset(request: ResetRequest) -> ResetResponse:
    return {"status": "Accepted"}


def register(connection: ClientBase, client: Client) -> None:
    typed: Handler[ResetRequest, ResetResponse] = on_reset
    with_cb: CallbackHandler[BootNotificationRequest, BootNotificationResponse] = on_boot
    connection.on("BootNotification", with_cb)
    client.on("Reset", typed)
"""

# Mistakes mypy must report: each line marked "# E: <code>" and no other ("a|b": the
# code differs between mypy versions).
MUST_FAIL = """\
from typing import Any

from ocpp16 import Client, ClientBase, Reply, Server
from ocpp16.types import BootNotificationRequest, BootNotificationResponse


async def calls(client: Client, connection: ClientBase, server: Server, name: str) -> None:
    await client.call_request(  # E: call-overload
        "BootNotification", {"chargePointVendor": "V", "chargePointModle": "M"}
    )
    await connection.call_request("Reset", {"type": "Sfot"})  # E: call-overload
    await server.call_request("CP1", "Reset", {"typ": "Soft"})  # E: call-overload
    await client.call_request("StatusNotification", {"connectorId": 1})  # E: call-overload
    await client.call_request(name, {})  # E: call-overload
    resp = await client.call_request("Heartbeat")
    print(resp["status"])  # E: typeddict-item


def options() -> None:
    Server(call_timout=5)  # E: call-arg
    Client("CP1", validaton="warn")  # E: call-arg
    Client("CP1", ping_interval="20")  # E: arg-type
    Server(validation="lenient")  # E: arg-type


def on_boot(request: BootNotificationRequest, cb: Reply[BootNotificationResponse]) -> None:
    cb({"status": "Acepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"})  # E: arg-type|typeddict-item
"""


@dataclass(frozen=True)
class Error:
    """One error mypy reported."""

    line: int
    code: str
    message: str


@dataclass(frozen=True)
class Block:
    """A Python block of a document, and the line of the document it starts on."""

    doc: Path
    line: int
    text: str


def doc_blocks() -> Iterator[Block]:
    """Every ```python block of the docs."""
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M):
            yield Block(doc, text.count("\n", 0, match.start(1)) + 1, match.group(1))


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Error]]:
    """Run mypy --strict once over every file; return its errors by file name."""
    work = tmp_path_factory.mktemp("typing")
    # Not the project's configuration: the flags below and where ocpp16 is (an
    # editable install is an import hook, which mypy does not follow).
    config = work / "mypy.ini"
    # examples/ too: a block may import the README's example application.
    config.write_text(f"[mypy]\nmypy_path = {ROOT}:{ROOT / 'examples'}\n", encoding="utf-8")
    files: list[Path] = list(EXAMPLES)
    for index, block in enumerate(doc_blocks()):
        path = work / f"doc_{index}.py"
        path.write_text(PREAMBLE + block.text, encoding="utf-8")
        files.append(path)
    for name, text in (("must_pass.py", MUST_PASS), ("must_fail.py", MUST_FAIL)):
        (work / name).write_text(text, encoding="utf-8")
        files.append(work / name)
    stdout, stderr, status = mypy_api.run(
        [
            "--strict",
            "--python-version=3.11",
            f"--config-file={config}",
            f"--cache-dir={work / 'cache'}",
            "--show-error-codes",
            "--no-error-summary",
            "--no-pretty",
            *map(str, files),
        ]
    )
    assert status in (0, 1), stderr or stdout  # 2: mypy itself failed
    errors: dict[str, list[Error]] = {}
    for line in stdout.splitlines():
        match = re.match(r"(.+?):(\d+): error: (.*?)(?:  \[([a-z-]+)\])?$", line)
        if match:
            path, number, message, code = match.groups()
            errors.setdefault(Path(path).name, []).append(Error(int(number), code, message))
    return errors


def test_the_python_blocks_of_the_docs_pass_mypy_strict(
    mypy_errors: dict[str, list[Error]],
) -> None:
    """Every ```python block of the README and the migration guide type-checks with --strict."""
    preamble = PREAMBLE.count("\n")
    found = [
        f"{block.doc.name}:{block.line + error.line - preamble - 1}: {error.message} [{error.code}]"
        for index, block in enumerate(doc_blocks())
        for error in mypy_errors.get(f"doc_{index}.py", [])
    ]
    assert len(list(doc_blocks())) >= 10
    assert not found, "\n".join(found)


def test_the_examples_pass_mypy_strict(mypy_errors: dict[str, list[Error]]) -> None:
    """Every file of examples/ type-checks with --strict."""
    found = [
        f"examples/{path.name}:{error.line}: {error.message} [{error.code}]"
        for path in EXAMPLES
        for error in mypy_errors.get(path.name, [])
    ]
    assert EXAMPLES and not found, "\n".join(found)


def test_typed_calls_handlers_and_options_pass(mypy_errors: dict[str, list[Error]]) -> None:
    """A literal action's call is typed by its TypedDicts; Action(name) is the dynamic form."""
    found = [f"{e.line}: {e.message} [{e.code}]" for e in mypy_errors.get("must_pass.py", [])]
    assert not found, "\n".join(found)


def test_typing_mistakes_fail_mypy(mypy_errors: dict[str, list[Error]]) -> None:
    """A misspelt payload key or option keyword, a str action, a bad cb reply: each an error."""
    expected = {
        number: set(line.rpartition("# E: ")[2].strip().split("|"))
        for number, line in enumerate(MUST_FAIL.splitlines(), 1)
        if "# E: " in line
    }
    reported = mypy_errors.get("must_fail.py", [])
    assert {e.line for e in reported} == set(expected), reported
    assert all(e.code in expected[e.line] for e in reported), reported


def test_the_overloads_cover_every_action_on_both_classes() -> None:
    """ocpp16/_typed_calls.py has one overload per action, plus the Action one, in each class."""
    tree = ast.parse((ROOT / "ocpp16" / "_typed_calls.py").read_text(encoding="utf-8"))
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        actions = [
            ast.unparse(node.args.args[-2].annotation)
            for node in ast.walk(cls)
            if isinstance(node, ast.FunctionDef) and node.decorator_list
        ]
        assert actions == [f"Literal['{name}']" for name in sorted(schemas.ALL)] + ["Action"]


def test_option_keywords_are_the_parameters_of_options() -> None:
    """OptionKeywords has a key per keyword of Options, with the same annotation."""
    parameters = {name: p.annotation for name, p in inspect.signature(Options).parameters.items()}
    keys = {name: ref.__forward_arg__ for name, ref in OptionKeywords.__annotations__.items()}
    assert keys == parameters
