"""``CheckedEmitter``: the emitter of a connection, which refuses listeners that cannot run.

pyee's ``on()`` registers through ``listens_to()`` (its decorator form) or
``add_listener()``, and ``once()`` on its own: each of the three checks the event
name first (:func:`check_event`). A listener for an action the connection's side
never receives, or for a misspelt action, would never run (README "Handlers").
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pyee.base import Handler

from ocpp16 import schemas
from ocpp16._internals import SafeEmitter
from ocpp16.protocol import Role

__all__ = ["CheckedEmitter", "check_event"]


# The events a connection emits itself (README "Events"), and pyee's own.
_LIFECYCLE = frozenset({"bad_message", "close", "connect", "error", "message", "new_listener"})

_WHO = {Role.CHARGE_POINT: "a charge point", Role.CENTRAL_SYSTEM: "a central system"}


def check_event(role: Role, event: object) -> None:
    """Refuse a listener that can never run: an action name ``role`` never receives.

    A name that starts with a capital letter is an action name: it must be an
    OCPP 1.6-J action that ``role`` receives. A lower-case name passes (the
    life-cycle events, and any event of the application's own), unless it is an
    action name in the wrong case, such as ``"heartbeat"``.

    Args:
        role: The role of the connection the listener is for.
        event: The event name given to ``on``, ``once`` or ``add_listener``.

    Raises:
        ValueError: The listener could never run; the message says why, with the
            closest names the connection does emit.
    """
    if not isinstance(event, str) or event in _LIFECYCLE:
        return
    action = schemas.get(event)
    if action is not None and action.can_receive(role.value):
        return
    # The event or action this name spells, in whatever case.
    named = {name.lower(): name for name in [*schemas.ALL, *_LIFECYCLE]}.get(event.lower())
    if action is None and named is None and not event[:1].isupper():
        return  # an event of the application's own
    sent = schemas.get(named) if named is not None else None
    if sent is not None and not sent.can_receive(role.value):
        # OCPP 1.6 §4 (initiated by a charge point) and §5 (by a central system): each
        # action has one receiving side; DataTransfer, in both chapters, has both.
        raise ValueError(
            f"{_WHO[role]} never receives {named} (its connection sends it with "
            f"call_request), so a listener for {event!r} would never run"
        )
    candidates = [name for name, s in schemas.ALL.items() if s.can_receive(role.value)]
    candidates += sorted(_LIFECYCLE)
    matches = [named] if named is not None else []
    matches += difflib.get_close_matches(event, candidates, n=3)
    if matches:
        hint = ", ".join(repr(m) for m in dict.fromkeys(matches))
        hint = f"; did you mean {hint}?"
    elif closest := difflib.get_close_matches(event, list(schemas.ALL), n=1):
        hint = f"; the closest action, {closest[0]}, is one {_WHO[role]} sends, never receives"
    else:
        hint = (
            " (a name that starts with a capital letter is taken for an OCPP action; "
            "name an event of your own in lower case)"
        )
    raise ValueError(
        f"{event!r} is not an event of {_WHO[role]}'s connection, so a listener for it "
        f"would never run{hint}"
    )


class CheckedEmitter(SafeEmitter):
    """A ``SafeEmitter`` whose ``on``, ``once`` and ``add_listener`` check the event name.

    The subclass sets ``self._role``, the role of its connection, in its ``__init__``.
    """

    _role: Role

    def add_listener(self, event: str, f: Handler) -> Handler:
        """Register ``f`` for ``event`` (``on(event, f)`` comes here too).

        Args:
            event: An action this side receives, or another event name.
            f: The listener.

        Returns:
            ``f``.

        Raises:
            ValueError: ``event`` names an action this side never receives, or
                a misspelt one (see the README, "Handlers").
        """
        check_event(self._role, event)
        return super().add_listener(event, f)

    def listens_to(self, event: str) -> Callable[[Handler], Handler]:
        """Return a decorator that registers a listener for ``event`` (``@on(event)``).

        Args:
            event: An action this side receives, or another event name.

        Returns:
            The decorator.

        Raises:
            ValueError: As :meth:`add_listener`.
        """
        check_event(self._role, event)
        return super().listens_to(event)

    def once(self, event: str, f: Callable[..., Any] | None = None) -> Callable[..., Any]:
        """Register ``f`` for the next ``event`` only (a decorator without ``f``).

        Args:
            event: An action this side receives, or another event name.
            f: The listener, or ``None`` for the decorator form.

        Returns:
            ``f``, or the decorator.

        Raises:
            ValueError: As :meth:`add_listener`.
        """
        check_event(self._role, event)
        return super().once(event, f)
