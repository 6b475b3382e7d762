"""The private details of pyee that ocpp16._internals relies on, checked.

Each test names one assumption. When a new release of pyee breaks
one, this file fails before anything subtler does; then ``ocpp16/_internals.py``
(the only module that relies on them) needs a look, and the pins in
``pyproject.toml`` a new bound.
"""

from __future__ import annotations

import inspect
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter
from pyee.base import EventEmitter

from ocpp16._internals import SafeEmitter, listener_table

# ----------------------------------------------------------------------------- pyee


def test_pyee_runs_each_listener_through_emit_run() -> None:
    """emit() calls _emit_run(f, args, kwargs) once per listener, in order."""
    assert list(inspect.signature(EventEmitter._emit_run).parameters) == [
        "self",
        "f",
        "args",
        "kwargs",
    ]
    runs: list[tuple[Any, ...]] = []

    class Spy(AsyncIOEventEmitter):
        def _emit_run(self, f: Any, args: Any, kwargs: Any) -> None:
            runs.append((f, args, kwargs))

    def first(x: int) -> None: ...
    def second(x: int) -> None: ...

    emitter = Spy()
    emitter.on("event", first)
    emitter.on("event", second)
    emitter.emit("event", 1)
    assert runs == [(first, (1,), {}), (second, (1,), {})]


def test_pyee_listener_table_shape() -> None:
    """_events maps event → ordered {listener: callable}; once() stores a self-removing wrapper."""
    emitter = AsyncIOEventEmitter()

    def plain(x: int) -> int:
        return x

    def one_shot(x: int) -> int:
        return -x

    emitter.on("a", plain)
    emitter.once("b", one_shot)
    table = emitter._events
    assert isinstance(table, dict)
    assert list(table["a"].items()) == [(plain, plain)]
    ((listener, wrapper),) = table["b"].items()
    assert listener is one_shot and wrapper is not one_shot and callable(wrapper)
    assert wrapper(3) == -3
    assert "b" not in table  # calling the wrapper removed the listener
    emitter.remove_listener("a", plain)
    assert "a" not in table  # an event with no listener left leaves the table


def test_pyee_lock_and_remove_all_listeners() -> None:
    """Pyee guards its table with _lock; SafeEmitter keeps the same table dict when cleared."""
    assert hasattr(AsyncIOEventEmitter(), "_lock")

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    table = listener_table(emitter)
    emitter.on("a", print)
    emitter.remove_all_listeners("a")
    assert not table.get("a")
    emitter.on("b", print)
    emitter.remove_all_listeners()
    assert listener_table(emitter) is table and not table
    emitter.on("c", print)
    assert list(table["c"]) == [print]


def test_pyee_adds_every_listener_through_add_event_handler() -> None:
    """on() and once() add each listener through _add_event_handler(event, k, v), after "new_listener"."""
    assert list(inspect.signature(EventEmitter._add_event_handler).parameters) == [
        "self",
        "event",
        "k",
        "v",
    ]
    added: list[tuple[str, Any]] = []

    class Spy(AsyncIOEventEmitter):
        def _add_event_handler(self, event: str, k: Any, v: Any) -> None:
            added.append((event, k))
            super()._add_event_handler(event, k, v)

    def plain() -> None: ...
    def one_shot() -> None: ...

    emitter = Spy()
    emitter.on("a", plain)
    emitter.once("b", one_shot)
    emitter.add_listener("c", plain)
    assert added == [("a", plain), ("b", one_shot), ("c", plain)]


def test_safe_emitter_keeps_each_events_listeners_in_a_plain_dict() -> None:
    """SafeEmitter's table holds a dict per event (not pyee's heavier OrderedDict), as pyee's behaves."""

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    table = listener_table(emitter)
    announced: list[tuple[str, bool]] = []
    # "new_listener" comes before the listener is in the table, as pyee has it.
    emitter.on(
        "new_listener", lambda event, f: announced.append((event, f in table.get(event, {})))
    )

    def first() -> str:
        return "first"

    def second() -> str:
        return "second"

    emitter.on("a", first)
    emitter.on("a", second)
    emitter.once("b", first)
    assert type(table["a"]) is dict and type(table["b"]) is dict
    assert list(table["a"].items()) == [(first, first), (second, second)]
    assert announced == [("a", False), ("a", False), ("b", False)]
    assert emitter.listeners("a") == [first, second]
    ran: list[str] = []
    emitter.on("c", lambda: ran.append("c"))
    emitter.once("c", lambda: ran.append("once"))
    emitter.emit("c")
    emitter.emit("c")
    assert ran == ["c", "once", "c"]
    emitter.remove_listener("a", first)
    emitter.remove_listener("a", second)
    assert "a" not in table


def test_safe_emitter_contains_listener_failures() -> None:
    """The _emit_run override keeps a failing listener from stopping the others."""

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    errors: list[BaseException] = []
    ran: list[str] = []
    emitter.on("error", errors.append)
    emitter.on("event", lambda: 1 / 0)
    emitter.on("event", lambda: ran.append("second"))
    emitter.emit("event")
    assert ran == ["second"] and isinstance(errors[0], ZeroDivisionError)
