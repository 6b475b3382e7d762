"""on / once / add_listener refuse a listener that can never run: a misspelt or wrong-side action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ocpp16 import Action, Client, ClientBase, Options, schemas
from ocpp16.protocol import Role

REGISTER: dict[str, Callable[[ClientBase, str, Callable[..., Any]], object]] = {
    "on": lambda c, event, f: c.on(event, f),
    "@on": lambda c, event, f: c.on(event)(f),
    "once": lambda c, event, f: c.once(event, f),
    "@once": lambda c, event, f: c.once(event)(f),
    "add_listener": lambda c, event, f: c.add_listener(event, f),
    "listens_to": lambda c, event, f: c.listens_to(event)(f),
}


def handler(request: Any) -> dict[str, Any]:
    return {}


@pytest.mark.parametrize("how", REGISTER)
async def test_a_misspelt_action_is_refused_with_a_suggestion(
    pair: tuple[Client, ClientBase], how: str
) -> None:
    """Every way of registering refuses "BootNotifcation" on the central system and suggests the name."""
    _, peer = pair
    with pytest.raises(ValueError, match=r"'BootNotifcation'.*did you mean 'BootNotification'"):
        REGISTER[how](peer, "BootNotifcation", handler)
    assert peer.listeners("BootNotifcation") == []


@pytest.mark.parametrize("how", REGISTER)
async def test_an_action_the_central_system_never_receives_is_refused(
    pair: tuple[Client, ClientBase], how: str
) -> None:
    """A central system's connection refuses a Reset listener: Reset goes the other way."""
    _, peer = pair
    with pytest.raises(ValueError, match="a central system never receives Reset"):
        REGISTER[how](peer, "Reset", handler)
    assert peer.listeners("Reset") == []


def test_an_action_the_charge_point_never_receives_is_refused() -> None:
    """A Client refuses a BootNotification listener, and a misspelt one names the closest action."""
    client = Client("CP1")
    with pytest.raises(ValueError, match="a charge point never receives BootNotification"):
        client.on("BootNotification", handler)
    with pytest.raises(ValueError, match="closest action, BootNotification, is one a charge point"):
        client.on("BootNotifcation", handler)
    assert client.listeners("BootNotification") == []


def test_an_action_in_the_wrong_case_is_refused() -> None:
    """Event names are case-sensitive: "reset" and "RESET" are refused, "Reset" suggested."""
    client = Client("CP1")
    for event in ("reset", "RESET"):
        with pytest.raises(ValueError, match="did you mean 'Reset'"):
            client.on(event, handler)
    with pytest.raises(ValueError, match="did you mean 'close'"):
        client.on("Close", handler)


def test_a_capitalised_name_that_is_no_action_is_refused() -> None:
    """A name that starts with a capital letter is taken for an action, and the message says so."""
    client = Client("CP1")
    with pytest.raises(ValueError, match="name an event of your own in lower case"):
        client.on("Zzzz", handler)


def test_every_action_a_side_receives_is_accepted() -> None:
    """Each role takes a listener for every action it receives, by name or as an Action."""
    # What a Server's connection_factory makes for each charge point.
    central = ClientBase("CP1", role=Role.CENTRAL_SYSTEM, options=Options())
    client = Client("CP1")
    for name, action in schemas.ALL.items():
        if action.can_receive("charge_point"):
            client.on(name, handler)
            client.once(Action(name), handler)
        if action.can_receive("central_system"):
            central.on(name, handler)
            central.add_listener(Action(name), handler)
    assert client.listeners("DataTransfer") and central.listeners("DataTransfer")
    assert client.listeners("Reset") and central.listeners("BootNotification")


def test_life_cycle_and_own_events_are_accepted() -> None:
    """The events the connection emits, and lower-case names of the application's own, pass."""
    client = Client("CP1")
    for event in ("close", "error", "message", "bad_message", "connect", "new_listener", "mine"):
        client.on(event, handler)
        assert client.listeners(event) == [handler]
