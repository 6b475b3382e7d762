"""The event-emitter base of ``Server`` and ``ClientBase``, made safe for servers.

It lives in :mod:`ocpp16._internals`, the one module that relies on pyee's
private details; the name stays here for the modules that import it from here.
"""

from __future__ import annotations

from ocpp16._internals import SafeEmitter

__all__: list[str] = []

_SafeEmitter = SafeEmitter
