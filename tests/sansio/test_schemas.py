"""The generated schemas, registry and TypedDicts, and their source of truth (tools/spec.py)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args, get_origin

import fastjsonschema
import pytest

import ocpp16.schemas as schemas
import ocpp16.types as types
from ocpp16.schemas import Action

ROOT = Path(__file__).resolve().parents[2]

SCHEMA_DIR = ROOT / "ocpp16" / "schemas"
DRAFT_04 = "http://json-schema.org/draft-04/schema#"


def _load_generator() -> ModuleType:
    """Import tools/generate.py in-process (so that coverage sees it)."""
    name = "_ocpp16_tools_generate"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "generate.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


generate = _load_generator()


def _objects(schema: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object-typed sub-schema of ``schema``, with its path."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield path, schema
        for key, value in schema.items():
            yield from _objects(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _objects(value, f"{path}/{index}")


def _validator(action: str, kind: str) -> Any:
    entry = schemas.get(action)
    assert entry is not None
    return fastjsonschema.compile(entry.request if kind == "request" else entry.response)


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------


def test_generated_files_are_in_sync_with_the_source() -> None:
    """The checked-in JSON, registry and types modules are what tools/spec.py generates."""
    differing = generate.check(ROOT)
    assert differing == [], f"out of date, run `python tools/generate.py`: {differing}"


def test_check_reports_changed_missing_and_stale_files(tmp_path: Path) -> None:
    """``--check`` lists edited, deleted and stale files and exits 1; 0 once regenerated."""
    assert generate.main(["--root", str(tmp_path)]) == 0
    assert generate.check(tmp_path) == []
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0

    edited = tmp_path / "ocpp16" / "schemas" / "Heartbeat.json"
    edited.write_text(edited.read_text(encoding="utf-8") + " ", encoding="utf-8")
    missing = tmp_path / "ocpp16" / "types" / "__init__.py"
    missing.unlink()
    stale = tmp_path / "ocpp16" / "schemas" / "Nope.json"
    stale.write_text("{}\n", encoding="utf-8")

    assert generate.check(tmp_path) == sorted(
        p.relative_to(tmp_path) for p in (edited, missing, stale)
    )
    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    assert len(generate.write(tmp_path)) == 3
    assert not stale.exists()
    assert generate.check(tmp_path) == []


def test_generator_rejects_an_inconsistent_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """A datatype used by an action but not registered in DATATYPES is refused."""
    spec = sys.modules["spec"]
    monkeypatch.setattr(
        spec, "DATATYPES", tuple(d for d in spec.DATATYPES if d.name != "IdTagInfo")
    )
    with pytest.raises(ValueError, match="IdTagInfo is not in ENUMS/DATATYPES"):
        generate.render()


def test_each_shared_datatype_and_enum_is_defined_once() -> None:
    """tools/spec.py names every enumeration and datatype exactly once."""
    spec = sys.modules["spec"]
    names = [e.name for e in spec.ENUMS] + [d.name for d in spec.DATATYPES]
    assert len(names) == len(set(names))
    assert len(spec.ACTIONS) == 39


# ---------------------------------------------------------------------------------------
# The JSON schemas
# ---------------------------------------------------------------------------------------


def test_78_schema_files_exist_and_compile() -> None:
    """One request and one response file per action, each compiled by fastjsonschema."""
    files = sorted(p.name for p in SCHEMA_DIR.glob("*.json"))
    expected = sorted(f"{a}{suffix}.json" for a in Action for suffix in ("", "Response"))
    assert len(files) == 78
    assert files == expected
    for name in files:
        schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        assert callable(fastjsonschema.compile(schema)), name


@pytest.mark.parametrize("action", list(Action))
def test_schema_documents_follow_the_house_rules(action: Action) -> None:
    """Draft-04, no id, ``<Action>Request``/``Response`` titles, object, non-empty required."""
    entry = schemas.get(action)
    assert entry is not None
    for schema, title in (
        (entry.request, f"{action}Request"),
        (entry.response, f"{action}Response"),
    ):
        assert schema["$schema"] == DRAFT_04
        assert schema["title"] == title
        assert schema["type"] == "object"
        assert "id" not in schema
        assert "$id" not in schema
        for path, sub in _objects(schema):
            if "required" in sub:
                assert sub["required"], f"{title} {path}: empty required"
                assert set(sub["required"]) <= set(sub["properties"]), f"{title} {path}"


@pytest.mark.parametrize("action", list(Action))
def test_every_object_level_forbids_additional_properties(action: Action) -> None:
    """Each object (top level and nested datatypes) has ``additionalProperties: false``."""
    entry = schemas.get(action)
    assert entry is not None
    for schema in (entry.request, entry.response):
        objects = list(_objects(schema))
        assert objects
        for path, sub in objects:
            assert sub.get("additionalProperties") is False, f"{schema['title']} {path}"


def test_deliberate_choices_hold() -> None:
    """The decisions recorded in tools/spec.py show in what the validators accept."""
    sampled = {"value": "50", "measurand": "Frequency", "unit": "Hertz"}
    stop = {"transactionId": 1, "meterStop": 10, "timestamp": "2024-01-01T00:00:00Z"}
    stop_request = _validator("StopTransaction", "request")
    stop_request({**stop, "transactionData": []})  # 0..*: absent or empty
    stop_request(
        {**stop, "transactionData": [{"timestamp": stop["timestamp"], "sampledValue": [sampled]}]}
    )
    stop_request(
        {
            **stop,
            "transactionData": [
                {
                    "timestamp": stop["timestamp"],
                    "sampledValue": [{"value": "1", "unit": "Celcius"}],
                }
            ],
        }
    )
    with pytest.raises(fastjsonschema.JsonSchemaValueException):  # sampledValue 1..*
        stop_request(
            {**stop, "transactionData": [{"timestamp": stop["timestamp"], "sampledValue": []}]}
        )
    with pytest.raises(fastjsonschema.JsonSchemaValueException):  # draft-04 integer
        stop_request({**stop, "meterStop": 10.0})

    meter_values = _validator("MeterValues", "request")
    with pytest.raises(fastjsonschema.JsonSchemaValueException):  # meterValue 1..*
        meter_values({"connectorId": 1, "meterValue": []})

    profile: dict[str, Any] = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.1}],
        },
    }
    set_profile = _validator("SetChargingProfile", "request")
    set_profile({"connectorId": 1, "csChargingProfiles": profile})
    bad_schedules: list[dict[str, Any]] = [
        {"chargingSchedulePeriod": []},
        {"minChargingRate": 6.25},
    ]
    for bad_schedule in bad_schedules:
        bad = {**profile, "chargingSchedule": {**profile["chargingSchedule"], **bad_schedule}}
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            set_profile({"connectorId": 1, "csChargingProfiles": bad})

    data_transfer = _validator("DataTransfer", "request")
    data_transfer({"vendorId": "v" * 255, "messageId": "m" * 50, "data": "{}"})
    for bad_transfer in ({"vendorId": "v", "data": {}}, {"vendorId": "v" * 256}):
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            data_transfer(bad_transfer)

    _validator("ClearChargingProfile", "request")({"id": 3})  # OCPP 1.6 §6.13


# ---------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "direction", "profile"),
    [
        ("BootNotification", "cp_to_cs", "Core"),
        ("RemoteStartTransaction", "cs_to_cp", "Core"),
        ("DataTransfer", "both", "Core"),
        ("UpdateFirmware", "cs_to_cp", "FirmwareManagement"),
        ("DiagnosticsStatusNotification", "cp_to_cs", "FirmwareManagement"),
        ("SendLocalList", "cs_to_cp", "LocalAuthListManagement"),
        ("ReserveNow", "cs_to_cp", "Reservation"),
        ("SetChargingProfile", "cs_to_cp", "SmartCharging"),
        ("TriggerMessage", "cs_to_cp", "RemoteTrigger"),
        ("SignCertificate", "cp_to_cs", "Security"),
        ("SignedUpdateFirmware", "cs_to_cp", "Security"),
    ],
)
def test_registry_entries_have_title_direction_and_profile(
    name: str, direction: str, profile: str
) -> None:
    """A sample from every profile has the right title, direction and profile."""
    entry = getattr(schemas, name)
    assert entry.title == name
    assert entry.name == name
    assert entry.direction == direction
    assert entry.profile == profile
    assert schemas.get(name) is entry


def test_boot_notification_title_matches_ocpp_ts() -> None:
    """``schemas.BootNotification.title`` is the action name, as in ocpp-ts."""
    assert schemas.BootNotification.title == "BootNotification"


@pytest.mark.parametrize("name", ["Nope", "", "bootnotification", "BootNotificationResponse"])
def test_get_returns_none_for_unknown_names(name: str) -> None:
    """``schemas.get`` answers ``None`` for anything that is not an action name."""
    assert schemas.get(name) is None


def test_action_enum_has_39_members_named_as_their_values() -> None:
    """``Action`` is a StrEnum of the 39 actions, each member named as its value."""
    assert len(Action) == 39
    for member in Action:
        assert member.name == member.value
        assert member == member.value
    assert Action.BootNotification == "BootNotification"
    assert set(Action) == set(schemas.ALL)


def test_get_finds_every_action() -> None:
    """``get`` returns the module constant of every ``Action``, by member or by string."""
    for member in Action:
        entry = schemas.get(member)
        assert entry is not None
        assert entry.title == member
        assert entry is getattr(schemas, member.value)
        assert schemas.get(str(member)) is entry


def test_all_is_a_read_only_mapping() -> None:
    """``ALL`` maps every action name to its entry and cannot be changed."""
    assert len(schemas.ALL) == 39
    with pytest.raises(TypeError):
        schemas.ALL["Nope"] = schemas.Heartbeat  # type: ignore[index]


def test_action_schema_is_frozen_and_slotted() -> None:
    """An ``ActionSchema`` cannot be changed and carries no ``__dict__``."""
    entry = schemas.Heartbeat
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = "Other"  # type: ignore[misc]
    assert not hasattr(entry, "__dict__")
    assert entry == schemas.ActionSchema("Heartbeat", "cp_to_cs", "Core")


def test_request_and_response_are_loaded_once() -> None:
    """``.request``/``.response`` are the JSON files' contents, read once and then shared."""
    entry = schemas.BootNotification
    assert entry.request["title"] == "BootNotificationRequest"
    assert entry.response["title"] == "BootNotificationResponse"
    assert entry.request is entry.request
    assert entry.response is schemas.get("BootNotification").response  # type: ignore[union-attr]
    on_disk = json.loads((SCHEMA_DIR / "BootNotification.json").read_text(encoding="utf-8"))
    assert entry.request == on_disk


@pytest.mark.parametrize(
    ("name", "sent_by_cp", "sent_by_cs"),
    [("BootNotification", True, False), ("Reset", False, True), ("DataTransfer", True, True)],
)
def test_can_send_and_can_receive_follow_the_direction(
    name: str, sent_by_cp: bool, sent_by_cs: bool
) -> None:
    """cp_to_cs is sent by the charge point and received by the central system, etc."""
    entry = getattr(schemas, name)
    assert entry.can_send("charge_point") is sent_by_cp
    assert entry.can_send("central_system") is sent_by_cs
    assert entry.can_receive("central_system") is sent_by_cp
    assert entry.can_receive("charge_point") is sent_by_cs


def test_can_send_refuses_an_unknown_role() -> None:
    """A role other than charge_point/central_system is a ``ValueError``."""
    with pytest.raises(ValueError, match="role"):
        schemas.Heartbeat.can_send("server")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role"):
        schemas.Heartbeat.can_receive("client")  # type: ignore[arg-type]


def test_importing_the_registry_reads_no_json() -> None:
    """In a fresh interpreter, ``import ocpp16.schemas`` opens no JSON file; ``.request`` does."""
    code = textwrap.dedent(
        """
        import json, os, sys
        opened = []
        def hook(event, args):
            if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
                path = os.fsdecode(args[0])
                if path.endswith(".json"):
                    opened.append(os.path.basename(path))
        sys.addaudithook(hook)
        import ocpp16.schemas as schemas
        from ocpp16.schemas import _registry
        after_import = (list(opened), len(_registry._cache))
        schemas.Heartbeat.request
        print(json.dumps({"import": after_import, "use": opened}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["import"] == [[], 0]
    assert report["use"] == ["Heartbeat.json"]


# ---------------------------------------------------------------------------------------
# The TypedDicts
# ---------------------------------------------------------------------------------------

_SCALARS = {"string": str, "integer": int, "number": float, "boolean": bool}


def _assert_hint_matches(hint: Any, schema: dict[str, Any], path: str) -> None:
    kind = schema["type"]
    if kind == "object":
        _assert_typed_dict_matches(hint, schema, path)
    elif kind == "array":
        assert get_origin(hint) is list, path
        (item,) = get_args(hint)
        _assert_hint_matches(item, schema["items"], f"{path}[]")
    elif "enum" in schema:
        assert get_origin(hint) is Literal, path
        assert list(get_args(hint)) == schema["enum"], path
    else:
        assert hint is _SCALARS[kind], path


def _assert_typed_dict_matches(cls: Any, schema: dict[str, Any], path: str) -> None:
    assert typing.is_typeddict(cls), path
    required = set(schema.get("required", []))
    assert cls.__required_keys__ == required, path
    assert cls.__optional_keys__ == set(schema["properties"]) - required, path
    hints = typing.get_type_hints(cls)
    assert list(hints) == list(schema["properties"]), path
    for key, sub in schema["properties"].items():
        _assert_hint_matches(hints[key], sub, f"{path}.{key}")


@pytest.mark.parametrize("action", list(Action))
def test_typed_dicts_match_the_schemas(action: Action) -> None:
    """Keys, required keys and value types of each TypedDict equal its schema, recursively."""
    entry = schemas.get(action)
    assert entry is not None
    request = getattr(types, f"{action}Request")
    response = getattr(types, f"{action}Response")
    _assert_typed_dict_matches(request, entry.request, f"{action}Request")
    _assert_typed_dict_matches(response, entry.response, f"{action}Response")
    assert request.__doc__.startswith(f"{action}.req (")
    assert response.__doc__.startswith(f"{action}.conf (")


def test_shared_datatypes_and_enums_are_exported() -> None:
    """Every datatype is a TypedDict and every enumeration a Literal alias in ``ocpp16.types``."""
    spec = sys.modules["spec"]
    for datatype in spec.DATATYPES:
        assert typing.is_typeddict(getattr(types, datatype.name)), datatype.name
    for enum in spec.ENUMS:
        alias = getattr(types, enum.name)
        assert get_origin(alias) is Literal, enum.name
        assert get_args(alias) == enum.values, enum.name
    assert types.IdTagInfo.__required_keys__ == {"status"}
    assert types.HeartbeatRequest.__required_keys__ == frozenset()
    assert types.HeartbeatRequest.__optional_keys__ == frozenset()
    assert "Hertz" in get_args(types.UnitOfMeasure)


def test_types_all_is_sorted_and_complete() -> None:
    """``ocpp16.types.__all__`` is sorted and names every public name of the module."""
    assert types.__all__ == sorted(types.__all__)
    public = {n for n in vars(types) if not n.startswith("_")} - {
        "Literal",
        "NotRequired",
        "TypeAlias",
        "TypedDict",
    }
    assert set(types.__all__) == public
    assert len(types.__all__) == 78 + len(sys.modules["spec"].DATATYPES) + len(
        sys.modules["spec"].ENUMS
    )
