"""Differential test: the project's validators against the official OCPP 1.6 schemas.

``../shared/ocpp16-official-schemas/`` (beside the repository, or wherever the
environment variable ``OCPP16_ORACLE_DIR`` points) holds a third party's copy of the
78 official OCPP 1.6 JSON schemas. It is a test oracle only: it is read at run time,
never copied into the project. When it is absent, every test here is skipped.

For each of the 78 schemas the test feeds the same payloads to the oracle (the
oracle file compiled by ``fastjsonschema`` with its built-in formats) and to the
project (``ocpp16.validation.get_validator``), and compares the verdicts:

* generated payloads: ``hypothesis_jsonschema.from_schema`` on the oracle schema,
  derandomized and database-less, so every run compares the same payloads;
* mutated payloads: deterministic mutations of a fully populated valid payload
  (required fields dropped, wrong types, string lengths, enum values, extra
  properties, date-times, multipleOf numbers, integral floats, empty lists, ...).

Every disagreement fails the test unless an entry of :data:`DELIBERATE_DIFFERENCES`
explains it; an entry that no longer explains anything fails too, so the list
stays true.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import fastjsonschema
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

# ---------------------------------------------------------------------------------------
# Where the oracle lives, and what it must contain
# ---------------------------------------------------------------------------------------

ORACLE_ENV_VAR = "OCPP16_ORACLE_DIR"
DEFAULT_ORACLE_DIR = Path(__file__).resolve().parents[3] / "shared" / "ocpp16-official-schemas"

CORE_ACTIONS = (
    "Authorize",
    "BootNotification",
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "Heartbeat",
    "MeterValues",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
)
SECURITY_ACTIONS = (
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
    "SignedUpdateFirmware",
)
ACTIONS = CORE_ACTIONS + SECURITY_ACTIONS
SCHEMA_NAMES = tuple(f"{action}{suffix}" for action in ACTIONS for suffix in ("", "Response"))

# The schema keywords the payload builder and the mutations below understand (the ones the
# oracle uses). The oracle must use no other (checked), or a constraint could go unprobed.
SUPPORTED_KEYWORDS = frozenset(
    {
        # annotations and structure
        "$schema",
        "$id",
        "title",
        "javaType",
        "definitions",
        "$ref",
        # probed by the mutations
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "additionalItems",
        "minItems",
        "enum",
        "maxLength",
        "format",
        "multipleOf",
    }
)

# Budget: generated payloads per schema (hypothesis stops earlier when a schema has fewer
# distinct values, e.g. an enum-only response), and the list length cap used for the
# generator only (the oracle and the project still see the payloads unchanged).
MAX_EXAMPLES = 100
GENERATOR_MAX_ITEMS = 3

# Floors that prove the comparison really happened.
MIN_TOTAL_PAYLOADS = 10_000


def oracle_dir() -> Path:
    """The oracle folder: ``$OCPP16_ORACLE_DIR`` or ``../shared/ocpp16-official-schemas``."""
    override = os.environ.get(ORACLE_ENV_VAR)
    return Path(override).expanduser().resolve() if override else DEFAULT_ORACLE_DIR


def require_oracle() -> Path:
    """The oracle folder, or skip the calling test with the reason."""
    folder = oracle_dir()
    if not folder.is_dir():
        pytest.skip(
            f"the official OCPP 1.6 schemas (test oracle) were not found at {folder}; "
            f"the oracle test needs ../shared beside the repo (or set {ORACLE_ENV_VAR})"
        )
    return folder


def split_name(name: str) -> tuple[str, Literal["request", "response"]]:
    """``"AuthorizeResponse"`` -> ``("Authorize", "response")``; ``"Authorize"`` -> request."""
    if name.endswith("Response") and name.removesuffix("Response") in ACTIONS:
        return name.removesuffix("Response"), "response"
    return name, "request"


@functools.cache
def oracle_schema(name: str) -> dict[str, Any]:
    """The oracle's schema for ``name`` (read once per session)."""
    schema: dict[str, Any] = json.loads((require_oracle() / f"{name}.json").read_text("utf-8"))
    return schema


def is_draft06(name: str) -> bool:
    """Whether the oracle's schema for ``name`` is a draft-06 schema."""
    return "draft-06" in str(oracle_schema(name).get("$schema", ""))


@functools.cache
def oracle_validator(name: str) -> Callable[[Any], Any]:
    """The oracle file compiled by fastjsonschema (its built-in formats), once per session."""
    return fastjsonschema.compile(oracle_schema(name))


def oracle_accepts(name: str, payload: Any) -> bool:
    """The oracle's verdict."""
    try:
        oracle_validator(name)(copy.deepcopy(payload))
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@dataclass(frozen=True)
class ProjectVerdict:
    """The project's verdict: accepted, or the ValidationError's code, keyword and path."""

    accepted: bool
    code: str = ""
    keyword: str = ""
    path: str = ""
    description: str = ""

    def __str__(self) -> str:
        if self.accepted:
            return "accepts"
        return f"rejects ({self.code}, keyword {self.keyword!r} at {self.path}: {self.description})"


def project_verdict(name: str, payload: Any) -> ProjectVerdict:
    """The project's verdict, through ``ocpp16.validation.get_validator``."""
    from ocpp16.errors import ValidationError
    from ocpp16.validation import get_validator

    action, kind = split_name(name)
    try:
        get_validator(action, kind)(copy.deepcopy(payload))
    except ValidationError as exc:
        return ProjectVerdict(False, exc.code, exc.keyword, exc.path, exc.description)
    return ProjectVerdict(True)


# ---------------------------------------------------------------------------------------
# Walking the oracle schema
# ---------------------------------------------------------------------------------------

PathT = tuple[str | int, ...]


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref`` pointers (``#/definitions/X``) until a real subschema."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"non-local $ref {ref!r}"
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def json_type(node: dict[str, Any]) -> str:
    """The single JSON type a subschema declares."""
    declared = node.get("type")
    assert isinstance(declared, str), f"expected one declared type, got {declared!r}"
    return declared


def render(path: PathT) -> str:
    """A payload path as a JSON path: ``$.a.b[0].c``."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def path_tokens(text: str) -> list[str]:
    """The tokens of a JSON path in any usual notation (``$.a[0].b``, ``data.a.0.b``, ...)."""
    tokens = re.findall(r"[A-Za-z_]\w*|\d+", text)
    if not text.startswith("$") and tokens[:1] == ["data"]:
        tokens = tokens[1:]  # fastjsonschema names the root "data"
    return tokens


def schema_walk(root: dict[str, Any], node: dict[str, Any], path: PathT = ()) -> Iterator[Any]:
    """Every subschema of ``node`` (resolved), with the payload path pattern (``*`` = index)."""
    node = resolve(root, node)
    yield path, node
    for key, sub in node.get("properties", {}).items():
        yield from schema_walk(root, sub, (*path, key))
    items = node.get("items")
    if isinstance(items, dict):
        yield from schema_walk(root, items, (*path, "*"))


def value_walk(
    root: dict[str, Any], node: dict[str, Any], value: Any, path: PathT = ()
) -> Iterator[tuple[PathT, dict[str, Any], Any]]:
    """Every value of a payload that the schema describes, with its path and subschema."""
    node = resolve(root, node)
    yield path, node, value
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key, sub_value in value.items():
            if key in props:
                yield from value_walk(root, props[key], sub_value, (*path, key))
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            yield from value_walk(root, node["items"], item, (*path, index))


def keywords_used(node: Any, in_properties: bool = False) -> set[str]:
    """Every schema keyword used anywhere in ``node`` (property names excluded)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, sub in node.items():
            if in_properties:
                found |= keywords_used(sub)
                continue
            found.add(key)
            if key in ("properties", "definitions"):
                found |= keywords_used(sub, in_properties=True)
            elif isinstance(sub, dict | list) and key != "enum" and key != "required":
                found |= keywords_used(sub)
    elif isinstance(node, list):
        for sub in node:
            found |= keywords_used(sub)
    return found


# ---------------------------------------------------------------------------------------
# Deterministic valid payloads
# ---------------------------------------------------------------------------------------

BASE_DATE_TIME = "2024-01-01T00:00:00Z"
BASE_URI = "https://example.com/firmware.bin"


def build_valid(root: dict[str, Any], node: dict[str, Any], *, full: bool) -> Any:
    """A valid value for ``node``: every optional property present (``full``) or none."""
    node = resolve(root, node)
    if "enum" in node:
        return node["enum"][0]
    kind = json_type(node)
    if kind == "object":
        required = set(node.get("required", ()))
        return {
            key: build_valid(root, sub, full=full)
            for key, sub in node.get("properties", {}).items()
            if full or key in required
        }
    if kind == "array":
        count = max(1 if full else 0, node.get("minItems", 0))
        return [build_valid(root, node["items"], full=full) for _ in range(count)]
    if kind == "string":
        if node.get("format") == "date-time":
            return BASE_DATE_TIME
        if node.get("format") == "uri":
            return BASE_URI
        return "abc"[: node.get("maxLength", 3)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 10.5
    if kind == "boolean":
        return True
    raise AssertionError(f"no valid value for {node!r}")


def set_at(payload: Any, path: PathT, value: Any) -> Any:
    """A deep copy of ``payload`` with the value at ``path`` replaced."""
    if not path:
        return copy.deepcopy(value)
    result = copy.deepcopy(payload)
    target = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = copy.deepcopy(value)
    return result


def delete_at(payload: Any, path: PathT) -> Any:
    """A deep copy of ``payload`` without the key at ``path``."""
    result = copy.deepcopy(payload)
    target = result
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return result


def pattern_of(path: PathT) -> PathT:
    """A payload path as a schema path pattern: list indices become ``"*"``."""
    return tuple("*" if isinstance(part, int) else part for part in path)


@functools.cache
def enum_pool() -> dict[str, frozenset[str]]:
    """Property name -> the union of its enum members across all 78 oracle schemas."""
    pool: dict[str, frozenset[str]] = {}
    for name in SCHEMA_NAMES:
        root = oracle_schema(name)
        for pattern, node in schema_walk(root, root):
            if "enum" in node and pattern and isinstance(pattern[-1], str):
                pool[pattern[-1]] = pool.get(pattern[-1], frozenset()) | frozenset(node["enum"])
    return pool


# ---------------------------------------------------------------------------------------
# The project's own schemas: read for probe values only (enum members, properties the
# oracle lacks); the verdicts always come from get_validator.
# ---------------------------------------------------------------------------------------


@functools.cache
def project_schema(name: str) -> dict[str, Any]:
    """The project's schema for ``name``, through the ``ocpp16.schemas`` registry."""
    from ocpp16 import schemas

    action, kind = split_name(name)
    entry = schemas.get(action)
    assert entry is not None, f"ocpp16.schemas has no {action}"
    schema: dict[str, Any] = entry.request if kind == "request" else entry.response
    return schema


@functools.cache
def project_nodes(name: str) -> dict[PathT, dict[str, Any]]:
    """Path pattern -> subschema, for every place of the project's schema."""
    root = project_schema(name)
    return dict(schema_walk(root, root))


def sample_value(root: dict[str, Any], node: dict[str, Any]) -> Any:
    """A value the schema ``node`` probably accepts, for probing; ``"x"`` if unsure."""
    try:
        return build_valid(root, node, full=True)
    except (AssertionError, KeyError, TypeError):
        return "x"


# ---------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------

TYPE_SAMPLES: dict[str, Any] = {
    "string": "x",
    "integer": 7,
    "number": 7.5,
    "object": {},
    "array": [],
    "boolean": True,
    "null": None,
}

DATE_TIME_PROBES = (
    # in the brief
    "2024-13-01T00:00:00Z",
    "2024-01-01T00:00:00",
    "2024-01-01 00:00:00Z",
    "2024-01-01T00:00:00+0100",
    "2024-01-01T00:00:00.123456789Z",
    "2024-01-01T00:00:00+01:00",
    "not a date",
    # more RFC 3339 corners
    "2024-01-01T00:00:00z",
    "2024-01-01t00:00:00Z",
    "2024-01-01T00:00:00-00:00",
    "2024-01-01T23:59:59.5-12:30",
    "2024-06-30T23:59:60Z",
    "2024-02-29T12:00:00Z",
    "2023-02-29T12:00:00Z",
    "2024-04-31T12:00:00Z",
    "2024-01-00T12:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T00:60:00Z",
    "2024-01-01T00:00:61Z",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00+01",
    "2024-01-01T00:00:00.Z",
    "2024-01-01T00:00:00,5Z",
    "2024-01-01T00:00Z",
    "2024-01-01",
    "20240101T000000Z",
    "0000-01-01T00:00:00Z",
    " 2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z\n",
    "\u0662\u0660\u0662\u0664-01-01T00:00:00Z",
    "",
)

URI_PROBES = (
    "https://example.com/a?b=c",
    "ftp://ftp.example.com/fw.bin",
    "urn:isbn:0451450523",
    "file:///tmp/x",
    "relative/path",
    "not a uri",
    "https://exa mple.com/",
    "",
)

NUMBER_PROBES: tuple[Any, ...] = (
    21.4,
    0.3,
    0.1,
    7.25,
    100,
    1e-7,
    0,
    0.0,
    -0.1,
    0.7,
    1.15,
    123456.7,
    0.30000000000000004,
    1e20,
    True,
)

INTEGER_PROBES: tuple[Any, ...] = (300.0, 3.5, 0, -1, 2**31, 2**63, 10**30, -0.0, True, "1")

NOT_OBJECTS: tuple[Any, ...] = ([], "x", None, 1, 1.5, True, [{}])

EXTRA_KEY = "notInTheSchema"


@dataclass(frozen=True)
class Case:
    """One payload to compare, with where it came from."""

    origin: Literal["generated", "mutated"]
    label: str
    payload: Any
    base: bool = False  # one of the test's own valid payloads, which the oracle must accept


def mutations(name: str) -> Iterator[Case]:
    """Targeted mutations of the fully populated (and the minimal) valid payload."""
    root = oracle_schema(name)
    full = build_valid(root, root, full=True)
    minimal = build_valid(root, root, full=False)
    yield Case("mutated", "fully populated valid payload", full, base=True)
    yield Case("mutated", "minimal valid payload (required fields only)", minimal, base=True)
    for value in NOT_OBJECTS:
        yield Case("mutated", f"payload not an object: {value!r}", value)

    for base_name, base in (("full", full), ("minimal", minimal)):
        for path, node, value in value_walk(root, root, base):
            where = f"{render(path)} ({base_name})"
            if base_name == "minimal" and path:
                continue  # the minimal base only adds the root-level checks below
            yield from _mutate_value(name, base, path, node, value, where)


def _mutate_value(
    name: str,
    base: Any,
    path: PathT,
    node: dict[str, Any],
    value: Any,
    where: str,
) -> Iterator[Case]:
    kind = json_type(node)
    theirs = project_nodes(name).get(pattern_of(path), {})

    def case(what: str, new: Any) -> Case:
        return Case("mutated", f"{where}: {what} {new!r}", set_at(base, path, new))

    if path:
        for other, sample in TYPE_SAMPLES.items():
            if other != kind:
                yield case(f"wrong type {other}", sample)

    if kind == "object":
        props = node.get("properties", {})
        for key in sorted(set(node.get("required", ())) | set(value)):
            if key in value:
                required = key in node.get("required", ())
                what = "required" if required else "optional"
                yield Case(
                    "mutated",
                    f"{where}: {what} field {key!r} dropped",
                    delete_at(base, (*path, key)),
                )
        extra = dict(value, **{EXTRA_KEY: "x"})
        yield case("extra property", extra)
        if props:
            yield case("empty object", {})
        project_root = project_schema(name)
        for key, sub in sorted(theirs.get("properties", {}).items()):
            if key not in props:
                sample = sample_value(project_root, sub)
                yield case(f"property only the project declares, {key!r}:", {**value, key: sample})

    elif kind == "array":
        yield case("empty list", [])
        if value:
            yield case("list with the item twice", [value[0], value[0]])
            yield case("list with 5 items", [value[0]] * 5)
            yield case("list with a null item", [*value, None])

    elif "enum" in node:
        for member in node["enum"]:
            yield case("enum member", member)
        for member in node["enum"][:3]:
            for changed in {member.upper(), member.lower(), member.swapcase()} - {member}:
                yield case("case-changed enum member", changed)
            yield case("enum member with a space", f"{member} ")
        elsewhere = enum_pool().get(str(path[-1]) if path else "", frozenset())
        elsewhere |= frozenset(theirs.get("enum", ()))
        for member in sorted(elsewhere - set(node["enum"])):
            yield case("enum member of the same field elsewhere or in the project", member)
        yield case("bad enum value", "NotAnEnumValue")
        yield case("empty string for enum", "")

    elif kind == "string":
        fmt = node.get("format")
        max_length = node.get("maxLength")
        if fmt == "date-time":
            for probe in DATE_TIME_PROBES:
                yield case("date-time", probe)
        elif fmt == "uri":
            for probe in URI_PROBES:
                yield case("uri", probe)
        if max_length is not None:
            for char in ("a", "\u00e9", "\U0001f600"):
                yield case(f"maxLength {max_length}", char * max_length)
                yield case(f"maxLength {max_length} + 1", char * (max_length + 1))
        if fmt is None:
            yield case("empty string", "")
            yield case("string with controls", "a\x00\n\t\u2028")
            if max_length is None:
                yield case("long string", "y" * 2000)

    elif kind == "number":
        for probe in NUMBER_PROBES:
            yield case("number", probe)

    elif kind == "integer":
        for probe in INTEGER_PROBES:
            yield case("integer", probe)

    elif kind == "boolean":
        yield case("boolean", False)
        for not_boolean in (0, 1, "true"):
            yield case("not a boolean", not_boolean)


# ---------------------------------------------------------------------------------------
# Generated payloads (hypothesis-jsonschema)
# ---------------------------------------------------------------------------------------


def _date_times() -> st.SearchStrategy[str]:
    """RFC 3339 date-times with a mandatory offset and 0-9 fraction digits."""
    fraction = st.integers(0, 9).flatmap(
        lambda n: st.just("") if n == 0 else st.from_regex(rf"\.[0-9]{{{n}}}", fullmatch=True)
    )
    numeric_offset = st.builds(
        "{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)
    )
    offset = st.one_of(st.sampled_from(["Z", "z"]), numeric_offset)
    return st.builds(
        lambda d, t, f, o: f"{d.isoformat()}T{t.strftime('%H:%M:%S')}{f}{o}",
        st.dates(),
        st.times(),
        fraction,
        offset,
    )


def generator_schema(name: str) -> dict[str, Any]:
    """The oracle schema prepared for the generator only.

    Local ``$ref`` are inlined (hypothesis-jsonschema fails to resolve ``#/definitions/...``
    in the draft-06 files whose ``$id`` is a ``urn:``), and lists get ``maxItems`` to bound
    the generation time. The payloads are then checked against the unmodified oracle.
    """
    root = oracle_schema(name)

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            node = resolve(root, node)
            out = {
                key: inline(sub)
                for key, sub in node.items()
                if key not in ("$id", "$schema", "definitions", "javaType")
            }
            if out.get("type") == "array":
                out.setdefault("maxItems", max(GENERATOR_MAX_ITEMS, out.get("minItems", 0)))
            return out
        if isinstance(node, list):
            return [inline(sub) for sub in node]
        return node

    prepared: dict[str, Any] = inline(root)
    return prepared


def round_multiples(root: dict[str, Any], payload: Any) -> Any:
    """``payload`` with every multipleOf-0.1 number rounded to one decimal.

    hypothesis-jsonschema makes multiples of 0.1 as ``k * 0.1`` in binary floating point
    (``0.30000000000000004``), which is not a multiple of 0.1 when read as a decimal
    literal, as fastjsonschema reads it. Both raw and rounded payloads are compared.
    """
    result = payload
    for path, node, value in list(value_walk(root, root, payload)):
        step = node.get("multipleOf")
        if isinstance(value, float) and isinstance(step, float) and math.isfinite(value):
            digits = max(0, -math.floor(math.log10(step)))
            result = set_at(result, path, round(value, digits))
    return result


def generated(name: str) -> list[Case]:
    """Valid payloads generated from the oracle schema, deterministic across runs."""
    from hypothesis_jsonschema import from_schema

    root = oracle_schema(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisWarning)  # we override "date-time" on purpose
        strategy = from_schema(generator_schema(name), custom_formats={"date-time": _date_times()})
    drawn: list[Any] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def collect(payload: Any) -> None:
        drawn.append(payload)

    collect()
    cases: list[Case] = []
    seen: set[str] = set()
    for payload in drawn:
        rounded = round_multiples(root, payload)
        variants = [("generated", payload)]
        if rounded != payload:
            variants.append(("generated, multipleOf rounded", rounded))
        for label, variant in variants:
            key = json.dumps(variant, sort_keys=True)
            if key not in seen:
                seen.add(key)
                cases.append(Case("generated", label, variant))
    return cases


# ---------------------------------------------------------------------------------------
# Deliberate differences
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What a deliberate-difference matcher sees about one disagreement."""

    name: str
    root: dict[str, Any]
    case: Case
    project: ProjectVerdict

    def values(self) -> Iterator[tuple[PathT, dict[str, Any], Any]]:
        """Every (path, subschema, value) of the payload."""
        if isinstance(self.case.payload, dict):
            yield from value_walk(self.root, self.root, self.case.payload)

    def rejected_at(self, path: PathT, *keywords: str) -> bool:
        """Whether the project rejected the payload at ``path`` for one of ``keywords``."""
        tokens = [str(p) for p in path]
        return (
            not self.project.accepted
            and self.project.keyword in keywords
            and path_tokens(self.project.path) == tokens
        )


def matches_pattern(path: PathT, pattern: PathT) -> bool:
    """Whether a payload path ends with ``pattern`` (``"*"`` matches any list index)."""
    if len(pattern) > len(path):
        return False
    tail = path[len(path) - len(pattern) :]
    return all(
        (p == "*" and isinstance(t, int)) or p == t for t, p in zip(tail, pattern, strict=True)
    )


def integral_float_for_integer(probe: Probe) -> bool:
    """A float such as 300.0 where an integer is declared, and the project said so."""
    return any(
        json_type(node) == "integer"
        and isinstance(value, float)
        and value.is_integer()
        and probe.rejected_at(path, "type")
        for path, node, value in probe.values()
    )


def empty_list_at(*patterns: PathT) -> Callable[[Probe], bool]:
    """An empty list at one of ``patterns``, and the project rejected it with minItems."""

    def matcher(probe: Probe) -> bool:
        return any(
            value == []
            and any(matches_pattern(path, p) for p in patterns)
            and probe.rejected_at(path, "minItems")
            for path, _node, value in probe.values()
        )

    return matcher


def value_at(pattern: PathT, wanted: Any) -> Callable[[Probe], bool]:
    """``wanted`` at a path ending with ``pattern``."""

    def matcher(probe: Probe) -> bool:
        return any(
            value == wanted and matches_pattern(path, pattern)
            for path, _node, value in probe.values()
        )

    return matcher


def date_time_rejected(regex: str) -> Callable[[Probe], bool]:
    """A date-time matching ``regex`` that the project rejected with ``format``."""
    compiled = re.compile(regex)

    def matcher(probe: Probe) -> bool:
        return any(
            node.get("format") == "date-time"
            and isinstance(value, str)
            and compiled.search(value) is not None
            and probe.rejected_at(path, "format")
            for path, node, value in probe.values()
        )

    return matcher


@dataclass(frozen=True)
class Deliberate:
    """A known, intended difference: which schemas, which payloads, which way, and why."""

    schemas: Callable[[str], bool]
    oracle_accepts: bool
    matches: Callable[[Probe], bool]
    reason: str

    def explains(self, probe: Probe, oracle_ok: bool) -> bool:
        """Whether this entry explains the disagreement ``probe``."""
        return oracle_ok == self.oracle_accepts and self.schemas(probe.name) and self.matches(probe)


def named(*names: str) -> Callable[[str], bool]:
    """A schema selector for the given schema names."""
    return frozenset(names).__contains__


CHARGING_SCHEDULE_PERIODS: PathT = ("chargingSchedule", "chargingSchedulePeriod")

DELIBERATE_DIFFERENCES: tuple[Deliberate, ...] = (
    Deliberate(
        is_draft06,
        oracle_accepts=True,
        matches=integral_float_for_integer,
        reason="the security white paper files are draft-06 in the oracle (300.0 is an "
        "integer there); the project's schemas are draft-04, so handlers get the int "
        "their TypedDict promises",
    ),
    Deliberate(
        named("StopTransaction"),
        oracle_accepts=False,
        matches=value_at(("transactionData", "*", "sampledValue", "*", "unit"), "Hertz"),
        reason="1.6 errata: Hertz is the unit of Frequency everywhere; the oracle's "
        "StopTransaction copy lacks it",
    ),
    Deliberate(
        named("StopTransaction"),
        oracle_accepts=True,
        matches=empty_list_at(("transactionData", "*", "sampledValue")),
        reason="MeterValue.sampledValue is 1..* in the spec; the project says minItems 1",
    ),
    Deliberate(
        named("SetChargingProfile", "RemoteStartTransaction", "GetCompositeScheduleResponse"),
        oracle_accepts=True,
        matches=empty_list_at(CHARGING_SCHEDULE_PERIODS),
        reason="ChargingSchedule.chargingSchedulePeriod is 1..* in the spec; the project "
        "says minItems 1",
    ),
    Deliberate(
        lambda name: True,
        oracle_accepts=True,
        matches=date_time_rejected(r"[+-]\d{4}\Z"),
        reason="date-times: RFC 3339 writes a numeric offset as ±hh:mm; fastjsonschema "
        "also accepts ±hhmm, the project's strict policy does not",
    ),
    Deliberate(
        lambda name: True,
        oracle_accepts=True,
        matches=date_time_rejected(r"[Tt]\d\d:\d\d:60"),
        reason="date-times: the leap second :60 is RFC 3339 and fastjsonschema accepts it; "
        "the project refuses it, as neither OCPP backends nor Python's datetime can hold it",
    ),
    Deliberate(
        lambda name: True,
        oracle_accepts=True,
        matches=date_time_rejected(r"\A0000-"),
        reason="date-times: year 0000 is RFC 3339 and fastjsonschema accepts it; the project "
        "wants a date that exists (Python's datetime: years 0001-9999)",
    ),
    Deliberate(
        lambda name: True,
        oracle_accepts=True,
        matches=date_time_rejected(r"[^\x00-\x7f]"),
        reason="date-times: RFC 3339 digits are ASCII; fastjsonschema's \\d also matches "
        "other scripts' digits (such as Arabic-Indic), the project's policy does not",
    ),
)


# ---------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One compared payload on which the two sides disagree."""

    name: str
    case: Case
    oracle_ok: bool
    project: ProjectVerdict

    def __str__(self) -> str:
        oracle = "accepts" if self.oracle_ok else "rejects"
        text = json.dumps(self.case.payload, ensure_ascii=True)
        if len(text) > 400:
            text = text[:400] + "..."
        return (
            f"{self.name} [{self.case.origin}] {self.case.label}\n"
            f"    oracle {oracle}; project {self.project}\n    payload: {text}"
        )


@dataclass
class Report:
    """Everything one schema's comparison found."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)
    unexplained: list[Outcome] = field(default_factory=list)
    explained: Counter[int] = field(default_factory=Counter)
    bad_codes: list[Outcome] = field(default_factory=list)
    oracle_rejects_base: list[Case] = field(default_factory=list)


@functools.cache
def compare(name: str) -> Report:
    """Compare oracle and project on every payload for ``name`` (once per session)."""
    from ocpp16.errors import ERROR_CODES

    root = oracle_schema(name)
    report = Report(name)
    cases = [*generated(name), *mutations(name)]
    for case in cases:
        oracle_ok = oracle_accepts(name, case.payload)
        project = project_verdict(name, case.payload)
        report.counts[case.origin] += 1
        report.counts[f"oracle {'accepts' if oracle_ok else 'rejects'}"] += 1
        report.counts[f"project {'accepts' if project.accepted else 'rejects'}"] += 1
        if case.base and not oracle_ok:
            report.oracle_rejects_base.append(case)
        if not project.accepted and project.code not in ERROR_CODES:
            report.bad_codes.append(Outcome(name, case, oracle_ok, project))
        if oracle_ok == project.accepted:
            continue
        probe = Probe(name, root, case, project)
        for index, entry in enumerate(DELIBERATE_DIFFERENCES):
            if entry.explains(probe, oracle_ok):
                report.explained[index] += 1
                break
        else:
            report.unexplained.append(Outcome(name, case, oracle_ok, project))
    return report


def format_counts(reports: list[Report]) -> str:
    """The payload counts, as one line per kind."""
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report.counts)
    compared = total["generated"] + total["mutated"]
    return (
        f"{compared} payloads compared over {len(reports)} schemas "
        f"({total['generated']} generated, {total['mutated']} mutated); "
        f"oracle accepts {total['oracle accepts']} / rejects {total['oracle rejects']}; "
        f"project accepts {total['project accepts']} / rejects {total['project rejects']}"
    )


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


def test_oracle_folder_holds_the_78_schemas() -> None:
    """The oracle has the 78 schemas, 22 draft-06 ones (security), and known keywords only."""
    folder = require_oracle()
    found = {path.stem for path in folder.glob("*.json")}
    assert found == set(SCHEMA_NAMES)
    draft06 = {name for name in SCHEMA_NAMES if is_draft06(name)}
    security = {f"{a}{s}" for a in SECURITY_ACTIONS for s in ("", "Response")}
    assert draft06 == security, "the draft-06 files are the 22 security white paper ones"
    for name in SCHEMA_NAMES:
        unknown = keywords_used(oracle_schema(name)) - SUPPORTED_KEYWORDS
        assert not unknown, f"{name} uses keywords the mutations do not cover: {unknown}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_project_agrees_with_oracle(name: str) -> None:
    """The project's validator accepts and rejects exactly what the oracle does."""
    require_oracle()
    report = compare(name)
    assert not report.oracle_rejects_base, (
        f"the test's own valid payloads are invalid for the oracle: {report.oracle_rejects_base}"
    )
    problems = [str(outcome) for outcome in report.unexplained]
    problems += [f"error code not an OCPP 1.6 code: {outcome}" for outcome in report.bad_codes]
    shown = "\n".join(problems[:40])
    more = f"\n... and {len(problems) - 40} more" if len(problems) > 40 else ""
    assert not problems, (
        f"{len(report.unexplained)} unexplained disagreements with the oracle "
        f"({format_counts([report])}):\n{shown}{more}"
    )


def test_payload_counts_and_every_verdict_seen() -> None:
    """At least 10,000 payloads were compared; every schema saw both verdicts on both sides."""
    require_oracle()
    reports = [compare(name) for name in SCHEMA_NAMES]
    summary = format_counts(reports)
    print(f"\noracle comparison: {summary}")
    compared = sum(r.counts["generated"] + r.counts["mutated"] for r in reports)
    assert compared >= MIN_TOTAL_PAYLOADS, summary
    for report in reports:
        for side in ("oracle accepts", "oracle rejects", "project accepts", "project rejects"):
            assert report.counts[side] >= 1, f"{report.name}: no payload where {side}"
        assert report.counts["generated"] >= 1, f"{report.name}: nothing generated"


def test_every_deliberate_difference_is_still_needed() -> None:
    """Each entry of the deliberate-differences list explains at least one disagreement."""
    require_oracle()
    used: Counter[int] = Counter()
    for name in SCHEMA_NAMES:
        used.update(compare(name).explained)
    stale = [entry.reason for index, entry in enumerate(DELIBERATE_DIFFERENCES) if not used[index]]
    assert not stale, f"deliberate differences that no payload needs any more: {stale}"
