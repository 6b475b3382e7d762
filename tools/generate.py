"""Generate the JSON schemas, the action registry and the TypedDicts from tools/spec.py.

Usage::

    python tools/generate.py          # write every generated file that changed
    python tools/generate.py --check  # exit 1, listing the files that differ; 0 if in sync

Generated files:

* ``ocpp16/schemas/<Action>.json`` and ``ocpp16/schemas/<Action>Response.json``: one
  JSON Schema (draft-04) per request and response, shared datatypes inlined;
* ``ocpp16/schemas/__init__.py``: the registry (``Action``, one ``ActionSchema``
  constant per action, ``ALL``, ``get``);
* ``ocpp16/types/__init__.py``: a ``TypedDict`` per request, response and datatype and a
  ``Literal`` alias per enumeration;
* ``ocpp16/_typed_calls.py``: the typed overloads of ``call_request`` (one per action,
  from its request ``TypedDict`` to a future of its response ``TypedDict``) that
  ``ClientBase`` and ``Server`` inherit.

The output is deterministic (stable order, ``json.dumps(indent=2)`` plus a newline,
Python laid out the way ``ruff format`` lays it out), so ``--check`` can compare bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

TOOLS_DIR = Path(__file__).resolve().parent
if str(TOOLS_DIR) not in sys.path:
    sys.path.insert(0, str(TOOLS_DIR))

import spec  # noqa: E402
from spec import (  # noqa: E402
    Action,
    AnyUri,
    Boolean,
    Datatype,
    DateTime,
    EnumType,
    Field,
    FieldType,
    Integer,
    ListOf,
    Message,
    Number,
    String,
)

__all__ = ["ROOT", "check", "main", "render", "write"]

ROOT = TOOLS_DIR.parent
SCHEMAS_DIR = Path("ocpp16") / "schemas"
TYPES_DIR = Path("ocpp16") / "types"
TYPED_CALLS = Path("ocpp16") / "_typed_calls.py"
DRAFT_04 = "http://json-schema.org/draft-04/schema#"
LINE_LENGTH = 100  # [tool.ruff] line-length
INDENT = "    "

WHO = {
    "charge_point": "the charge point",
    "central_system": "the central system",
    "either": "either side",
}


# --------------------------------------------------------------------------------------
# Consistency of the source
# --------------------------------------------------------------------------------------


def _referenced(field_type: FieldType) -> Iterator[EnumType | Datatype]:
    if isinstance(field_type, ListOf):
        yield from _referenced(field_type.item)
    elif isinstance(field_type, EnumType | Datatype):
        yield field_type
        if isinstance(field_type, Datatype):
            for field in field_type.fields:
                yield from _referenced(field.type)


def validate_spec() -> None:
    """Raise ``ValueError`` when tools/spec.py is inconsistent."""
    problems: list[str] = []
    names = [e.name for e in spec.ENUMS] + [d.name for d in spec.DATATYPES]
    action_names = [a.name for a in spec.ACTIONS]
    typed_names = [f"{n}Request" for n in action_names] + [f"{n}Response" for n in action_names]
    for group in (names + typed_names, action_names):
        for name in {n for n in group if group.count(n) > 1}:
            problems.append(f"name {name!r} is defined more than once")
    registered: set[int] = {id(e) for e in spec.ENUMS} | {id(d) for d in spec.DATATYPES}
    for action in spec.ACTIONS:
        for message in (action.request, action.response):
            seen: set[str] = set()
            for field in message.fields:
                if field.name in seen:
                    problems.append(f"{action.name}: field {field.name!r} twice")
                seen.add(field.name)
                for ref in _referenced(field.type):
                    if id(ref) not in registered:
                        problems.append(f"{action.name}: {ref.name} is not in ENUMS/DATATYPES")
    for enum in spec.ENUMS:
        if len(set(enum.values)) != len(enum.values) or not enum.values:
            problems.append(f"enum {enum.name}: empty or duplicate values")
    if problems:
        raise ValueError("tools/spec.py is inconsistent:\n" + "\n".join(sorted(set(problems))))


# --------------------------------------------------------------------------------------
# JSON schemas
# --------------------------------------------------------------------------------------


def type_schema(field_type: FieldType) -> dict[str, Any]:
    """The JSON schema (draft-04) of one field type, datatypes inlined."""
    if isinstance(field_type, String):
        schema: dict[str, Any] = {"type": "string"}
        if field_type.max_length is not None:
            schema["maxLength"] = field_type.max_length
        return schema
    if isinstance(field_type, Integer):
        return {"type": "integer"}
    if isinstance(field_type, Number):
        schema = {"type": "number"}
        if field_type.multiple_of is not None:
            schema["multipleOf"] = field_type.multiple_of
        return schema
    if isinstance(field_type, Boolean):
        return {"type": "boolean"}
    if isinstance(field_type, DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(field_type, AnyUri):
        return {"type": "string", "format": "uri"}
    if isinstance(field_type, EnumType):
        return {"type": "string", "enum": list(field_type.values)}
    if isinstance(field_type, Datatype):
        return object_schema(field_type.fields)
    if isinstance(field_type, ListOf):
        schema = {"type": "array", "items": type_schema(field_type.item)}
        if field_type.min_items is not None:
            schema["minItems"] = field_type.min_items
        return schema
    raise TypeError(f"unknown field type {field_type!r}")  # pragma: no cover


def object_schema(fields: Sequence[Field]) -> dict[str, Any]:
    """The JSON schema of an object with ``fields``; no other property is allowed."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {field.name: type_schema(field.type) for field in fields},
        "additionalProperties": False,
    }
    required = [field.name for field in fields if field.required]
    if required:
        schema["required"] = required
    return schema


def message_schema(title: str, message: Message) -> dict[str, Any]:
    """The complete JSON schema document of one PDU."""
    return {"$schema": DRAFT_04, "title": title, **object_schema(message.fields)}


def dump_json(document: dict[str, Any]) -> str:
    """Serialise a schema the one way this project does."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------
# Python helpers (laid out as ruff format would)
# --------------------------------------------------------------------------------------


def _sort_all(names: Iterable[str]) -> list[str]:
    """Order ``__all__`` as ruff's RUF022 does: CONSTANTS, then Classes, then the rest."""

    def natural(name: str) -> list[tuple[int, int | str]]:
        return [(1, int(p)) if p.isdigit() else (0, p) for p in re.split(r"(\d+)", name) if p]

    def key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
        if len(name) > 1 and name.isupper():
            group = 0
        elif name[:1].isupper():
            group = 1
        else:
            group = 2
        return group, natural(name)

    return sorted(names, key=key)


def _call(head: str, items: Sequence[str], tail: str) -> list[str]:
    """A call laid out as ruff format lays it out (no magic trailing comma involved).

    On one line if it fits; else the arguments on one indented line if they fit; else
    one argument per line with a trailing comma.
    """
    arguments = ", ".join(items)
    if len(f"{head}{arguments}{tail}") <= LINE_LENGTH:
        return [f"{head}{arguments}{tail}"]
    if len(f"{INDENT}{arguments}") <= LINE_LENGTH:
        return [head, f"{INDENT}{arguments}", tail]
    return _exploded(head, items, tail)


def _exploded(head: str, items: Sequence[str], tail: str) -> list[str]:
    """``head`` / one item per line with a trailing comma / ``tail`` (stable in ruff)."""
    return [head, *(f"{INDENT}{item}," for item in items), tail]


def _docstring(summary: str, detail: str | None, indent: str) -> list[str]:
    """A one-line docstring, or summary + blank line + detail when ``detail`` is given."""
    if detail is None:
        text = f'{indent}"""{summary}"""'
        if len(text) > LINE_LENGTH:
            raise ValueError(f"docstring too long: {summary!r}")  # pragma: no cover
        return [text]
    return [f'{indent}"""{summary}', "", f"{indent}{detail}", f'{indent}"""']


# --------------------------------------------------------------------------------------
# ocpp16/types/__init__.py
# --------------------------------------------------------------------------------------


def python_type(field_type: FieldType) -> str:
    """The annotation of a field of this type in a TypedDict."""
    if isinstance(field_type, String | DateTime | AnyUri):
        return "str"
    if isinstance(field_type, Integer):
        return "int"
    if isinstance(field_type, Number):
        return "float"
    if isinstance(field_type, Boolean):
        return "bool"
    if isinstance(field_type, EnumType | Datatype):
        return field_type.name
    if isinstance(field_type, ListOf):
        return f"list[{python_type(field_type.item)}]"
    raise TypeError(f"unknown field type {field_type!r}")  # pragma: no cover


def _datatypes_in_dependency_order() -> list[Datatype]:
    """Every datatype after the datatypes its fields use; ties broken by name."""
    ordered: list[Datatype] = []
    done: set[str] = set()

    def visit(datatype: Datatype) -> None:
        if datatype.name in done:
            return
        done.add(datatype.name)
        for field in datatype.fields:
            for ref in _referenced(field.type):
                if isinstance(ref, Datatype):
                    visit(ref)
        ordered.append(datatype)

    for datatype in sorted(spec.DATATYPES, key=lambda d: d.name):
        visit(datatype)
    return ordered


def _pdu(action: Action, kind: str) -> str:
    return f"{action.name}.{'req' if kind == 'request' else 'conf'}"


def _sender(action: Action, kind: str) -> str:
    if action.direction == "both":
        return WHO["either"]
    requester = "charge_point" if action.direction == "cp_to_cs" else "central_system"
    if kind == "request":
        return WHO[requester]
    return WHO["central_system" if requester == "charge_point" else "charge_point"]


def _typed_dict(
    name: str, doc_summary: str, doc_detail: str | None, fields: Sequence[Field]
) -> list[str]:
    lines = [f"class {name}(TypedDict):"]
    lines += _docstring(doc_summary, doc_detail, INDENT)
    if fields:
        lines.append("")
    for field in fields:
        annotation = python_type(field.type)
        if not field.required:
            annotation = f"NotRequired[{annotation}]"
        lines.append(f"{INDENT}{field.name}: {annotation}")
    return lines


def render_types() -> str:
    """The text of ocpp16/types/__init__.py."""
    enums = sorted(spec.ENUMS, key=lambda e: e.name)
    datatypes = _datatypes_in_dependency_order()
    actions = sorted(spec.ACTIONS, key=lambda a: a.name)
    exported = [e.name for e in enums] + [d.name for d in datatypes]
    exported += [f"{a.name}{suffix}" for a in actions for suffix in ("Request", "Response")]

    out: list[str] = [
        '"""Typed payloads of OCPP 1.6-J: a ``TypedDict`` per request, response and datatype.',
        "",
        "Generated by ``tools/generate.py`` from ``tools/spec.py``; do not edit by hand. Keys",
        "are the spec's camelCase names; optional keys are ``NotRequired``; date-times are",
        "``str`` (RFC 3339). Every enumeration is a ``Literal`` alias. Payloads stay plain",
        "dicts, so these types cost nothing at run time::",
        "",
        "    from ocpp16.types import BootNotificationRequest",
        "",
        '    boot: BootNotificationRequest = {"chargePointVendor": "V", "chargePointModel": "M"}',
        '"""',
        "",
        "from typing import Literal, NotRequired, TypeAlias, TypedDict",
        "",
    ]
    out += _exploded("__all__ = [", [json.dumps(n) for n in _sort_all(exported)], "]")
    out += ["", "# Enumerations"]
    for enum in enums:
        out.append("")
        out.append(f"#: {enum.name} ({enum.source}).")
        out += _exploded(
            f"{enum.name}: TypeAlias = Literal[", [json.dumps(v) for v in enum.values], "]"
        )
    out += ["", "# Datatypes"]
    for datatype in datatypes:
        out += ["", ""]
        out += _typed_dict(
            datatype.name, f"{datatype.name} ({datatype.source}).", None, datatype.fields
        )
    out += ["", "", "# Requests and responses"]
    for action in actions:
        for kind, message in (("request", action.request), ("response", action.response)):
            out += ["", ""]
            suffix = "Request" if kind == "request" else "Response"
            one_line = f"{_pdu(action, kind)} ({message.source}), sent by {_sender(action, kind)}."
            if len(f'{INDENT}"""{one_line}"""') <= LINE_LENGTH:
                summary, detail = one_line, None
            else:
                summary = f"{_pdu(action, kind)} ({message.source})."
                detail = f"Sent by {_sender(action, kind)}."
            out += _typed_dict(f"{action.name}{suffix}", summary, detail, message.fields)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# ocpp16/schemas/__init__.py
# --------------------------------------------------------------------------------------


def render_registry() -> str:
    """The text of ocpp16/schemas/__init__.py."""
    actions = sorted(spec.ACTIONS, key=lambda a: a.name)
    names = [a.name for a in actions]
    exported = ["ALL", "Action", "ActionSchema", "Direction", "Profile", "Role", "get", *names]

    out: list[str] = [
        '"""The OCPP 1.6-J actions: one ``ActionSchema`` per action, and their JSON schemas.',
        "",
        "Generated by ``tools/generate.py`` from ``tools/spec.py``; do not edit by hand. The",
        "JSON files next to this module (``<Action>.json`` for the request,",
        "``<Action>Response.json`` for the response) are generated from the same source and",
        "are read only when a schema's ``request`` or ``response`` is first used.",
        "",
        "Example:",
        "    >>> import ocpp16.schemas as schemas",
        "    >>> schemas.BootNotification.title",
        "    'BootNotification'",
        '    >>> schemas.get("Nope") is None',
        "    True",
        '"""',
        "",
        "from collections.abc import Mapping",
        "from enum import StrEnum",
        "from types import MappingProxyType",
        "from typing import Final",
        "",
        "from ocpp16.schemas._registry import ActionSchema, Direction, Profile, Role",
        "",
    ]
    out += _exploded("__all__ = [", [json.dumps(n) for n in _sort_all(exported)], "]")
    out += [
        "",
        "",
        "class Action(StrEnum):",
        f'{INDENT}"""Every OCPP 1.6-J action ({len(actions)}), each member named as its value."""',
        "",
    ]
    out += [f"{INDENT}{name} = {json.dumps(name)}" for name in names]
    out.append("")
    out.append("")
    for action in actions:
        args = [json.dumps(action.name), json.dumps(action.direction), json.dumps(action.profile)]
        out += _call(f"{action.name}: Final[ActionSchema] = ActionSchema(", args, ")")
    out.append("")
    out += ["ALL: Final[Mapping[str, ActionSchema]] = MappingProxyType(", f"{INDENT}{{"]
    out += [f"{INDENT * 2}{json.dumps(n)}: {n}," for n in names]
    out += [f"{INDENT}}}", ")"]
    out += [
        '"""Every action by name (read-only)."""',
        "",
        "",
        "def get(name: str) -> ActionSchema | None:",
        f'{INDENT}"""Return the ``ActionSchema`` of an action, or ``None`` for an unknown name.',
        "",
        f"{INDENT}Args:",
        f'{INDENT * 2}name: An action name as the spec spells it, e.g. ``"BootNotification"``;',
        f"{INDENT * 3}an :class:`Action` member works too.",
        "",
        f"{INDENT}Returns:",
        f"{INDENT * 2}The action's ``ActionSchema``, or ``None`` if ``name`` is not an OCPP 1.6-J",
        f"{INDENT * 3}action.",
        f'{INDENT}"""',
        f"{INDENT}return ALL.get(name)",
    ]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# ocpp16/_typed_calls.py
# --------------------------------------------------------------------------------------


# The keyword-only parameters of call_request, after ``*``, as the methods have them.
CALL_KEYWORDS = ("timeout: float | None = None",)


def _overload(
    around: tuple[Sequence[str], Sequence[str]],
    action: str,
    payload: str,
    result: str,
    indent: str,
    ignore: str = "",
) -> list[str]:
    """One ``@overload`` of ``call_request``, laid out as ruff format lays it out.

    ``around`` holds the parameters before ``action`` (``Server``'s ``cp_id``) and
    the keyword-only ones; ``ignore`` is a comment for the ``def`` line, or empty.
    """
    annotation = f"action: {action}"
    if len(f"{indent}{INDENT}{annotation},") > LINE_LENGTH:
        # Too long for one line: ruff format splits inside the brackets.
        head, _, inner = action.partition("[")
        annotation = f"action: {head}[\n{indent}{INDENT * 2}{inner[:-1]}\n{indent}{INDENT}]"
    leading, keywords = around
    parameters = ["self", *leading, annotation, f"payload: {payload}", "*", *keywords]
    head = f"{indent}def call_request(" + (f"  # {ignore}" if ignore else "")
    lines = _exploded(head, [f"{indent}{p}" for p in parameters], "")
    return [f"{indent}@overload", *lines[:-1], f"{indent}) -> {result}: ..."]


def _typed_calls_class(
    name: str, summary: str, around: tuple[Sequence[str], Sequence[str]], see: str
) -> list[str]:
    """A class whose only member, for type checkers alone, is the overloaded ``call_request``."""
    indent = INDENT * 2
    out = [f"class {name}:", f'{INDENT}"""{summary}"""', "", f"{INDENT}__slots__ = ()", ""]
    out += [f"{INDENT}if TYPE_CHECKING:", ""]
    for action in sorted(spec.ACTIONS, key=lambda a: a.name):
        optional = not any(field.required for field in action.request.fields)
        payload = f"types.{action.name}Request" + (" | None = None" if optional else "")
        literal = f'Literal["{action.name}"]'
        result = f"asyncio.Future[types.{action.name}Response]"
        # Without a payload, mypy finds that this overload may overlap the Action
        # one below; no call matches both (mypy never takes an Action for a literal).
        ignore = "type: ignore[overload-overlap]" if optional else ""
        out += _overload(around, literal, payload, result, indent, ignore)
    # An action known only at run time: an Action (Action(name)), any mapping. Not a
    # str: a str overload would also take a literal action with a misspelt key.
    dynamic = "Mapping[str, Any] | None = None"
    out += _overload(around, "Action", dynamic, "asyncio.Future[dict[str, Any]]", indent)
    leading, keywords = around
    parameters = [
        "self",
        *leading,
        "action: str",
        "payload: Mapping[str, Any] | None = None",
        "*",
        *keywords,
    ]
    out += _exploded(
        f"{indent}def call_request(",
        [f"{indent}{p}" for p in parameters],
        f"{indent}) -> asyncio.Future[Any]:",
    )
    out += [
        f'{indent}{INDENT}"""Send a CALL; return a future of its answer (see {see})."""',
        f"{indent}{INDENT}raise NotImplementedError",
    ]
    return out


def render_typed_calls() -> str:
    """The text of ocpp16/_typed_calls.py."""
    out: list[str] = [
        '"""The typed overloads of ``call_request``: one per action, for type checkers.',
        "",
        "Generated by ``tools/generate.py`` from ``tools/spec.py``; do not edit by hand.",
        "``ClientBase`` and ``Server`` inherit these classes. A type checker reads one",
        'overload per action: a literal action (``"BootNotification"``) takes that',
        "action's request ``TypedDict`` and gives a future of its response ``TypedDict``, so",
        "a misspelt key is an error. An action known only at run time is passed as an",
        "``Action`` (``Action(name)``, or a member) with any mapping; there is no overload",
        "for ``str``, which would also take a literal action with a misspelt key. At run",
        "time the classes are empty and ``call_request`` is the connection's own method:",
        "the overloads cost nothing.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TYPE_CHECKING",
        "",
        "if TYPE_CHECKING:",
        f"{INDENT}import asyncio",
        f"{INDENT}from collections.abc import Mapping",
        f"{INDENT}from typing import Any, Literal, overload",
        "",
        f"{INDENT}from ocpp16 import types",
        f"{INDENT}from ocpp16.schemas import Action",
        "",
        '__all__ = ["TypedCalls", "TypedServerCalls"]',
        "",
        "",
    ]
    out += _typed_calls_class(
        "TypedCalls",
        "The typed ``call_request`` of a connection: ``ClientBase`` and ``Client``.",
        ([], (*CALL_KEYWORDS, "message_id: str | None = None")),
        ":meth:`ClientBase.call_request`",
    )
    out += ["", ""]
    out += _typed_calls_class(
        "TypedServerCalls",
        "The typed ``call_request`` of a ``Server``: the charge point's id first.",
        (["cp_id: str"], CALL_KEYWORDS),
        ":meth:`Server.call_request`",
    )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def render() -> dict[Path, str]:
    """Every generated file: path relative to the repository root -> its exact text."""
    validate_spec()
    files: dict[Path, str] = {}
    for action in sorted(spec.ACTIONS, key=lambda a: a.name):
        files[SCHEMAS_DIR / f"{action.name}.json"] = dump_json(
            message_schema(f"{action.name}Request", action.request)
        )
        files[SCHEMAS_DIR / f"{action.name}Response.json"] = dump_json(
            message_schema(f"{action.name}Response", action.response)
        )
    files[SCHEMAS_DIR / "__init__.py"] = render_registry()
    files[TYPES_DIR / "__init__.py"] = render_types()
    files[TYPED_CALLS] = render_typed_calls()
    return files


def _stale(root: Path, files: dict[Path, str]) -> list[Path]:
    """Generated-looking files that the source no longer produces (schema JSON files)."""
    directory = root / SCHEMAS_DIR
    if not directory.is_dir():
        return []
    return sorted(
        path.relative_to(root)
        for path in directory.glob("*.json")
        if path.relative_to(root) not in files
    )


def check(root: Path = ROOT) -> list[Path]:
    """The generated files that are missing, differ from the source, or are stale.

    Args:
        root: The repository root.

    Returns:
        Paths relative to ``root``, sorted; empty when everything is in sync.
    """
    files = render()
    differing = []
    for relative, text in files.items():
        path = root / relative
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            differing.append(relative)
            continue
        if current != text:
            differing.append(relative)
    return sorted(differing + _stale(root, files))


def write(root: Path = ROOT) -> list[Path]:
    """Write every generated file that differs and delete stale schema files.

    Args:
        root: The repository root.

    Returns:
        The paths (relative to ``root``) that were written or deleted.
    """
    files = render()
    changed = []
    for relative, text in files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        changed.append(relative)
    for relative in _stale(root, files):
        (root / relative).unlink()
        changed.append(relative)
    return sorted(changed)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing every file that differs from the source",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        differing = check(args.root)
        for relative in differing:
            print(f"out of date: {relative.as_posix()}")
        if differing:
            print("run: python tools/generate.py", file=sys.stderr)
            return 1
        return 0
    for relative in write(args.root):
        print(f"wrote: {relative.as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
