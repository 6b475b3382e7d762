"""Structured observer hooks: what happens on connections, as typed calls.

An :class:`Observer` sees each OCPP message of the connections it observes as
a call with the values already read (message id, action, payload, outcome,
seconds), and the connections' life cycle. Subclass it, override the hooks you
need (each does nothing by default) and attach it::

    class Latency(Observer):
        def answer_received(self, connection, message_id, action, outcome, seconds,
                            payload_or_error, frame):
            print(connection.cp_id, action, outcome, f"{seconds * 1000:.1f} ms")

    client.add_observer(Latency())   # a Client or any ClientBase
    server.add_observer(Latency())   # every connection the server makes from then on

Hooks run on the event loop, at the moment the event happens, so they should
be quick. A hook that raises is reported as a failing listener is (to the
``"error"`` listeners, or to the log) and never breaks the connection. With no
observer attached, a connection pays one check per frame for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocpp16.connection import ClientBase
    from ocpp16.errors import OcppError

__all__ = ["Observer"]


class Observer:
    """Hooks called as connections open, exchange messages and close; override any.

    The hooks about one message name it by ``message_id`` and ``action`` and
    give its ``frame``, the text as it went over the wire. A CALL this side
    makes is reported by :meth:`call_sent` and then exactly once by
    :meth:`answer_received`; a CALL this side receives by :meth:`call_received`
    and then by :meth:`answer_sent` when it is answered.
    """

    def connect(self, connection: ClientBase) -> None:
        """A connection opened (before the ``"connection"`` or ``"connect"`` event).

        Args:
            connection: The connection.
        """

    def close(self, connection: ClientBase, code: int, reason: str) -> None:
        """A connection closed (after its ``"close"`` event).

        Args:
            connection: The connection.
            code: The WebSocket close code (1006 when it dropped).
            reason: The close reason, possibly empty.
        """

    def call_sent(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        payload: Mapping[str, Any],
        frame: str,
    ) -> None:
        """A CALL of ``call_request`` was written.

        That is when it leaves the outgoing queue: at once, or, with
        ``call_concurrency`` CALLs already awaiting their answers, when one of
        them is answered (OCPP-J 1.6 §4.1.1). A CALL that never leaves the
        queue (it timed out, was cancelled or its connection closed while
        queued) is reported by neither this hook nor :meth:`answer_received`.

        Args:
            connection: The connection.
            message_id: The CALL's message id.
            action: The action.
            payload: The request payload.
            frame: The CALL frame.
        """

    def answer_received(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        outcome: str,
        seconds: float,
        payload_or_error: Mapping[str, Any] | BaseException,
        frame: str | None,
    ) -> None:
        """A CALL reported by :meth:`call_sent` came to its end; ``seconds`` counts from then.

        ``outcome`` is one of:

        * ``"result"``: a CALLRESULT; ``payload_or_error`` is its payload.
        * an OCPP error code, such as ``"NotSupported"``: a CALLERROR, or an
          answer the library refused (a CALLRESULT that broke its schema in
          strict mode, a malformed CALLERROR); ``payload_or_error`` is the
          :class:`~ocpp16.errors.OcppError` the ``call_request`` future fails with.
        * ``"timeout"``: no answer within the timeout (:class:`~ocpp16.errors.CallTimeout`).
        * ``"closed"``: the connection closed first (:class:`~ocpp16.errors.ConnectionClosed`).
        * ``"cancelled"``: the caller cancelled the future (``asyncio.CancelledError``).

        Args:
            connection: The connection.
            message_id: The CALL's message id.
            action: The CALL's action.
            outcome: How it ended, as above.
            seconds: Seconds from :meth:`call_sent` to now.
            payload_or_error: The CALLRESULT payload, or the error.
            frame: The answer frame as received; ``None`` for ``"timeout"``,
                ``"closed"`` and ``"cancelled"``.
        """

    def call_received(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        payload: dict[str, Any],
        frame: str,
    ) -> None:
        """A valid CALL arrived; its handlers run next.

        Args:
            connection: The connection.
            message_id: The CALL's message id.
            action: The action.
            payload: The request payload (``null`` read as ``{}``).
            frame: The CALL frame as received.
        """

    def answer_sent(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        outcome: str,
        seconds: float,
        payload_or_error: Mapping[str, Any] | OcppError,
        frame: str,
    ) -> None:
        """This side answered a CALL.

        Answers to the CALLs of :meth:`call_received`, and the CALLERRORs the
        library sends on its own for CALLs it refused (after :meth:`bad_message`;
        ``seconds`` is then 0, and ``action`` is ``""`` when the CALL named none).

        Args:
            connection: The connection.
            message_id: The CALL's message id.
            action: The CALL's action.
            outcome: ``"result"`` for a CALLRESULT, else the CALLERROR's error
                code as sent (OCPP-J 1.6 §4.2.3: one of the ten 1.6 codes).
            seconds: Seconds from :meth:`call_received` to now.
            payload_or_error: The response payload, or the
                :class:`~ocpp16.errors.OcppError` answered.
            frame: The answer frame.
        """

    def bad_message(self, connection: ClientBase, text: str | bytes, error: OcppError) -> None:
        """A frame was refused before it reached a handler or a pending call.

        Fires where the ``"bad_message"`` event does: binary frames, frames
        that are not OCPP-J, and CALLs the library answered with a CALLERROR
        itself (their :meth:`answer_sent` follows).

        Args:
            connection: The connection.
            text: The frame as received.
            error: What was wrong with it.
        """

    def ignored(self, connection: ClientBase, text: str, reason: str) -> None:
        """A frame was ignored on purpose (OCPP-J 1.6 §4.1.3).

        For example an answer that came after its CALL timed out, or a message
        type number that OCPP-J 1.6 does not define.

        Args:
            connection: The connection.
            text: The frame as received.
            reason: Why it was ignored.
        """

    def violation(
        self, connection: ClientBase, action: str, kind: str, where: str, error: OcppError
    ) -> None:
        """A payload broke its schema and went on, because validation is ``"warn"`` for it.

        In ``"strict"`` mode a violation is refused instead (a CALLERROR, or a
        failed future), and this hook is not called.

        Args:
            connection: The connection.
            action: The action.
            kind: ``"request"`` or ``"response"``.
            where: ``"incoming"`` or ``"outgoing"``.
            error: The violation (a :class:`~ocpp16.errors.ValidationError`:
                ``.code``, ``.path``, ``.keyword``, ``.description``).
        """

    def refused(self, cp_id: str | None, status: int, reason: str) -> None:
        """A server refused a charge point's opening handshake (server observers only).

        Args:
            cp_id: The charge point id, or ``None`` when the URL named none.
            status: The HTTP status answered, such as 401.
            reason: Why.
        """

    def handshake_timeout(self, remote_address: Any) -> None:
        """An opening handshake did not complete within ``handshake_timeout`` (server observers).

        The server closed the TCP connection without an answer: the request
        did not arrive in time, or deciding on it took too long.

        Args:
            remote_address: The peer's address, as the transport gives it.
        """

    def queue_changed(self, connection: ClientBase, depth: int) -> None:
        """The offline queue of a ``Client`` grew or shrank (``reconnect`` or ``store``).

        Called once when the queue is loaded from its store, then after each
        CALL queued, answered or given up.

        Args:
            connection: The client.
            depth: The CALLs queued now.
        """

    def call_retried(
        self, connection: ClientBase, action: str, attempts: int, error: BaseException
    ) -> None:
        """A queued CALL failed an attempt and will be sent again (OCPP 1.6 §9.1).

        Args:
            connection: The client.
            action: The CALL's action.
            attempts: The attempts made so far.
            error: Why the last attempt failed (a CALLERROR or a timeout).
        """

    def call_dropped(self, connection: ClientBase, action: str, error: BaseException) -> None:
        """A queued CALL was given up (where ``"message_dropped"`` fires).

        Args:
            connection: The client.
            action: The CALL's action.
            error: Why (its attempts ran out, the queue was full, ...).
        """
