"""A charge point's session: :class:`ChargePointSession` and :class:`SessionState`."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import random
import ssl as _ssl
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from ocpp16.connection import ClientBase
from ocpp16.errors import ConnectionClosed, HandshakeError, Ocpp16Error, ProtocolStateError
from ocpp16.schemas import Action
from ocpp16.validation import validate

if TYPE_CHECKING:
    from ocpp16.client import Client
    from ocpp16.types import (
        BootNotificationRequest,
        BootNotificationResponse,
    )
from ocpp16.chargepoint._configuration import Configuration, ConfigurationKey, KeyType
from ocpp16.chargepoint._reconnect import _RANDOM, Reconnect, _number

__all__ = ["ChargePointSession", "SessionState"]

_log = logging.getLogger("ocpp16")

T = TypeVar("T")


# ----------------------------------------------------------------------------- the session


class SessionState(enum.Enum):
    """The life cycle of a :class:`ChargePointSession`.

    Transitions: ``IDLE → CONNECTING`` (started); ``CONNECTING → BOOTING`` (the
    connection opened) or ``→ WAITING`` (it did not); ``BOOTING → ONLINE`` (the
    BootNotification was Accepted); ``BOOTING``/``ONLINE → WAITING`` (the
    connection ended, another will follow); ``WAITING → CONNECTING``; and from
    any state to ``CLOSED`` (closed, or given up), which is final.
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    BOOTING = "booting"
    ONLINE = "online"
    WAITING = "waiting"
    CLOSED = "closed"


_S = SessionState
_SESSION_TRANSITIONS: Final[dict[SessionState, frozenset[SessionState]]] = {
    _S.IDLE: frozenset({_S.CONNECTING, _S.CLOSED}),
    _S.CONNECTING: frozenset({_S.BOOTING, _S.WAITING, _S.CLOSED}),
    _S.BOOTING: frozenset({_S.ONLINE, _S.WAITING, _S.CLOSED}),
    _S.ONLINE: frozenset({_S.WAITING, _S.CLOSED}),
    _S.WAITING: frozenset({_S.CONNECTING, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}

# Seconds before the next BootNotification when the last one failed, or its answer gave no interval.
_BOOT_RETRY: Final = 10.0
# OCPP 1.6 §9.1 gives a HeartbeatInterval of 0 no meaning: it is read as a minute.
_HEARTBEAT_DEFAULT: Final = 60.0

_Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]


async def _pause(event: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``event`` is set; tell whether it was set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


class ChargePointSession:
    """Runs a charge point's connection: reconnecting, booting, heartbeats, configuration keys.

    Started (:meth:`start`, or ``async with``), it connects, and for each
    connection sends BootNotification until Accepted (OCPP 1.6 §4.2.1: a
    Pending or Rejected answer is asked again after its ``interval``), takes
    the answer's interval as its HeartbeatInterval, and sends a Heartbeat
    every HeartbeatInterval seconds (§4.6; a new value, set by
    ChangeConfiguration, applies at once). When the connection drops it
    connects again: at once after a connection that lasted ``stable_after``
    seconds, otherwise after the next wait of ``reconnect``. :meth:`close`
    ends it all.

    A :class:`~ocpp16.Client` made with ``reconnect`` opens its connection
    again by itself: the session then follows its connections instead of
    reconnecting (its own ``reconnect`` and ``stable_after`` are not used),
    sends BootNotification as each opens, so that the client's boot gate
    holds its queued CALLs behind it (OCPP 1.6 §4.2.1), and closes the
    client only on purpose (:meth:`close`, :meth:`reconnect`) or when the
    factory gives another client for the next connection.

    Args:
        client: The charge point's :class:`~ocpp16.Client`, connected again
            after each drop; or a function that makes a new one for each
            connection (to give each its own options; it may give the same
            client that reconnects by itself again). A client already
            connected is used as it is.
        url: The central system's URL (``client.connect(url)``).
        boot: The BootNotification request payload.
        reconnect: The backoff between attempts; ``True`` for
            ``Reconnect()``, ``False`` for a single connection.
        configuration: The configuration keys; it must have HeartbeatInterval.
            By default a store of that key alone, ``"60"``.
        answer_configuration: Answer GetConfiguration and ChangeConfiguration
            from ``configuration`` (the handlers are added to each client).
        heartbeat_interval: Seconds between heartbeats, used instead of the
            BootNotification's interval until the central system sets
            HeartbeatInterval; fractions allowed. ``None``: the key's value.
        stable_after: Seconds after which a dropped connection counts as
            having worked: the next attempt is at once, the backoff starts over.
        headers: Extra HTTP headers for the opening handshake.
        ssl: The TLS context for ``wss://``.
        rng: The source of jitter, for a repeatable run.
        connect: Opens a connection, instead of ``client.connect(url,
            headers, ssl)``: to time or pace handshakes. It raises as
            ``Client.connect`` does.
        call: Makes the session's own CALLs (BootNotification, Heartbeat):
            ``await call(action, payload)`` returns the answer, or ``None``
            when the call failed. By default ``client.call_request``, failures
            logged.
        boot_retry_delay: Seconds before the next BootNotification, given the
            answer that was not Accepted (``None`` when the call failed). By
            default the answer's interval, or 10 s. Not used with a client
            that gates its boot (``Client.boot_gate``): the client asks again.
        on_connect: Called with the client once its connection is open.
        on_boot: Called with the client and the answer once the first
            BootNotification of a connection is Accepted. What it returns, if
            awaitable, is awaited in a task of the connection.
        before_close: Awaited with the client when the session ends a
            connection on purpose (:meth:`close`, :meth:`reconnect`), before it
            closes it: to finish work on it. The peer may have closed it already.
        on_close: Called with the client once its connection is closed and
            every task of the connection has ended.

    Raises:
        ValueError: An option out of its range, or ``configuration`` without
            HeartbeatInterval.
        TypeError: ``client`` is neither a client nor a function, or
            ``reconnect`` neither a bool nor a :class:`Reconnect`.
        ValidationError: ``boot`` breaks the BootNotification schema.

    Attributes:
        configuration: The configuration keys.
        url: As given.
        stable_after: As given.
    """

    def __init__(
        self,
        client: Client | Callable[[], Client],
        url: str,
        *,
        boot: BootNotificationRequest,
        reconnect: Reconnect | bool = True,
        configuration: Configuration | None = None,
        answer_configuration: bool = False,
        heartbeat_interval: float | None = None,
        stable_after: float = 30.0,
        headers: Mapping[str, str] | None = None,
        ssl: _ssl.SSLContext | None = None,
        rng: random.Random | None = None,
        connect: Callable[[Client], Awaitable[object]] | None = None,
        call: _Call | None = None,
        boot_retry_delay: Callable[[BootNotificationResponse | None], float] | None = None,
        on_connect: Callable[[Client], object] | None = None,
        on_boot: Callable[[Client, BootNotificationResponse], object] | None = None,
        before_close: Callable[[Client], Awaitable[object]] | None = None,
        on_close: Callable[[Client], object] | None = None,
    ) -> None:
        if isinstance(client, ClientBase):
            given = client
            self._new_client: Callable[[], Client] = lambda: given
        elif callable(client):
            self._new_client = client
        else:
            raise TypeError(f"expected a Client or a function making one, not {client!r}")
        if isinstance(reconnect, bool):
            self._policy: Reconnect | None = Reconnect() if reconnect else None
        elif isinstance(reconnect, Reconnect):
            self._policy = reconnect
        else:
            raise TypeError(f"reconnect must be a bool or a Reconnect, not {reconnect!r}")
        validate("BootNotification", "request", boot)
        if configuration is None:
            configuration = Configuration(
                {"HeartbeatInterval": ConfigurationKey("60", type=KeyType.INTEGER)}
            )
        elif getattr(configuration.get("HeartbeatInterval"), "type", None) is not KeyType.INTEGER:
            raise ValueError(
                "the configuration must have HeartbeatInterval, an integer (OCPP 1.6 §9.1)"
            )
        if (
            heartbeat_interval is not None
            and _number("ChargePointSession", "heartbeat_interval", heartbeat_interval) <= 0
        ):
            raise ValueError(f"heartbeat_interval must be above 0, not {heartbeat_interval!r}")
        if _number("ChargePointSession", "stable_after", stable_after) < 0:
            raise ValueError(f"stable_after must be 0 or more, not {stable_after!r}")
        self.url = url
        self.configuration = configuration
        self.stable_after = float(stable_after)
        self._boot = boot
        self._answer_configuration = answer_configuration
        # The exact interval, until the key changes; and whether the boot's interval is taken.
        self._exact_heartbeat = heartbeat_interval
        self._take_boot_interval = heartbeat_interval is None
        self._headers = headers
        self._ssl = ssl
        self._rng = rng if rng is not None else _RANDOM
        self._connect = connect if connect is not None else self._default_connect
        self._call: _Call = call if call is not None else self._default_call
        self._boot_retry = boot_retry_delay if boot_retry_delay is not None else _boot_retry
        self._on_connect = on_connect
        self._on_boot = on_boot
        self._before_close = before_close
        self._on_close = on_close
        self._state = SessionState.IDLE
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None
        # Tasks of the current connection: cancelled when it ends.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._served: weakref.WeakSet[Client] = weakref.WeakSet()
        # Set by close() and reconnect(): the current connection is to end.
        self._wake = asyncio.Event()
        self._closing = False
        self._restart: float | None = None
        self._heartbeat_changed = asyncio.Event()
        # The client that reconnects by itself which the session follows, if any.
        self._following: _Following | None = None

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> SessionState:
        """Where the session is in its life cycle."""
        return self._state

    @property
    def client(self) -> Client | None:
        """The client of the current connection, from its opening to its closing; else ``None``."""
        return self._client

    @property
    def heartbeat_interval(self) -> float:
        """The seconds between heartbeats now."""
        if self._exact_heartbeat is not None:
            return float(self._exact_heartbeat)
        return float(self.configuration.integer("HeartbeatInterval")) or _HEARTBEAT_DEFAULT

    def _set_state(self, new: SessionState) -> None:
        if new not in _SESSION_TRANSITIONS[self._state]:
            raise ProtocolStateError(f"cannot go from {self._state.name} to {new.name}")
        self._state = new

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Start the session, in a task of the running event loop.

        Raises:
            ProtocolStateError: It was started before.
            RuntimeError: No event loop is running.
        """
        if self._state is not SessionState.IDLE:
            raise ProtocolStateError(f"the session is {self._state.value}: it starts once")
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._task.add_done_callback(_retrieve)
        self._set_state(SessionState.CONNECTING)

    async def __aenter__(self) -> ChargePointSession:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def reconnect(self, delay: float = 0.0) -> None:
        """End the current connection on purpose and open a new one after ``delay`` seconds.

        As after a reboot (OCPP 1.6 §5.14 Reset): ``before_close`` runs, the
        connection closes with 1000, and the backoff starts over. Returns at
        once, so that a handler can call it and still answer first. Does
        nothing when no connection is open.

        Args:
            delay: Seconds between the close and the next attempt.
        """
        if self._state in (SessionState.BOOTING, SessionState.ONLINE) and not self._closing:
            self._restart = max(0.0, float(delay))
            self._wake.set()

    async def close(self) -> None:
        """End the session and return once nothing of it runs.

        An open connection ends on purpose (``before_close``, then a close
        with 1000); a connection attempt or a wait between attempts is cut
        short. Every task the session started has ended when it returns.

        Do not await it in a handler of the session's client either: closing
        the connection waits for its handlers. Schedule it there
        (``asyncio.ensure_future(session.close())``), or use :meth:`reconnect`.

        Raises:
            RuntimeError: Called from a task of the session itself, which it
                would wait for: schedule it instead.
        """
        task = self._task
        if task is None:
            if self._state is SessionState.IDLE:
                self._set_state(SessionState.CLOSED)
            return
        current = asyncio.current_task()
        if current is task or current in self._tasks:
            raise RuntimeError("close() from a task of the session would wait for itself")
        if not self._closing:
            self._closing = True
            self._wake.set()
            if self._state not in (SessionState.BOOTING, SessionState.ONLINE):
                task.cancel()
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            # A task cancelled before its first step never ran its own cleanup.
            if task.done() and self._state is not SessionState.CLOSED:
                self._set_state(SessionState.CLOSED)

    async def wait_closed(self) -> None:
        """Wait until the session has ended, by :meth:`close` or by giving up.

        Raises:
            HandshakeError: It gave up (``reconnect`` attempts spent, or
                ``reconnect=False``): the last attempt's error.
            OSError: Likewise.
            TimeoutError: Likewise.
        """
        task = self._task
        if task is None:
            return
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            raise cast(BaseException, task.exception())

    # ------------------------------------------------------------------ the run

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        policy = self._policy
        stop_listening = self.configuration.on_change(self._changed)
        failures = 0  # attempts in a row that did not open a connection
        step = 0  # waits of the backoff since it last started over
        try:
            while True:
                if self._state is SessionState.WAITING:
                    self._set_state(SessionState.CONNECTING)
                client = self._new_client()
                following = self._following
                if following is not None and following.client is not client:
                    # Another client for the next connection: the last one stops reconnecting.
                    await self._let_go()
                    following = None
                try:
                    if following is not None:
                        await following.reopened()
                    else:
                        if _reconnects(client):
                            self._following = _Following(self, client)
                        if not client.is_open:
                            await self._connect(client)
                except (HandshakeError, OSError, TimeoutError) as exc:
                    failures += 1
                    if _reconnects(client):
                        # It tried as its own Reconnect says, and gave up.
                        client.logger.warning("giving up connecting: %s", exc)
                        raise
                    if policy is None or (
                        policy.attempts is not None and failures >= policy.attempts
                    ):
                        client.logger.warning(
                            "giving up after %d connection attempt(s): %s", failures, exc
                        )
                        raise
                    step += 1
                    delay = policy.delay(step, self._rng)
                    client.logger.info("connection attempt failed (%s); next in %.1f s", exc, delay)
                else:
                    failures = 0
                    opened = loop.time()
                    await self._connection(client)
                    if self._closing:
                        return
                    if self._restart is not None:
                        delay, step, self._restart = self._restart, 0, None
                    elif self._following is not None:
                        delay = 0.0  # the client waits as its own Reconnect says
                    elif policy is None:
                        return
                    elif loop.time() - opened >= self.stable_after:
                        delay, step = 0.0, 0
                    else:
                        # A connection that keeps dropping is not retried at once, so that a
                        # central system which accepts and closes is not hammered.
                        step += 1
                        delay = policy.delay(step, self._rng)
                self._set_state(SessionState.WAITING)
                await asyncio.sleep(delay)
        except (HandshakeError, OSError, TimeoutError):
            raise  # given up, as logged above
        except Exception:
            _log.exception("the charge point session stopped on an unexpected error")
            raise
        finally:
            stop_listening()
            await self._let_go()
            for client in list(self._served):
                with contextlib.suppress(KeyError):  # removed by the application already
                    client.remove_listener("GetConfiguration", self.configuration.get_configuration)
                with contextlib.suppress(KeyError):
                    client.remove_listener(
                        "ChangeConfiguration", self.configuration.change_configuration
                    )
            if self._state is not SessionState.CLOSED:
                self._set_state(SessionState.CLOSED)

    async def _connection(self, client: Client) -> None:
        """One connection, from its opening to its end, with every task of it."""
        self._client = client
        self._set_state(SessionState.BOOTING)
        if not self._closing:
            self._wake.clear()
        if self._answer_configuration and client not in self._served:
            self._served.add(client)
            client.on("GetConfiguration", self.configuration.get_configuration)
            client.on("ChangeConfiguration", self.configuration.change_configuration)
        self._hook("on_connect", self._on_connect, client)
        closed = asyncio.ensure_future(client.wait_closed())
        wake = asyncio.ensure_future(self._wake.wait())
        main = self.spawn(self._online(client))
        try:
            await asyncio.wait({closed, wake}, return_when=asyncio.FIRST_COMPLETED)
            if wake.done():
                if self._state is SessionState.BOOTING:
                    main.cancel()
                if self._before_close is not None:
                    try:
                        await self._before_close(client)
                    except Exception:
                        client.logger.exception("the session's before_close hook failed")
        finally:
            closed.cancel()
            wake.cancel()
            self._client = None
            try:
                await asyncio.wait({closed, wake})
                await self._end_tasks()
            finally:
                try:
                    following = self._following
                    if following is None or following.client is not client:
                        # Even when the peer closed it: close() also waits for the
                        # connection's reader, so that nothing of it outlives the session.
                        await client.close()
                    elif self._closing or self._restart is not None:
                        await self._let_go()  # it stops reconnecting
                finally:
                    self._hook("on_close", self._on_close, client)

    async def _online(self, client: Client) -> None:
        answer = await self.boot()
        if answer is None:
            return
        self._set_state(SessionState.ONLINE)
        self.spawn(self._heartbeats())
        result = self._hook("on_boot", self._on_boot, client, answer)
        if inspect.isawaitable(result):
            await result

    async def _end_tasks(self) -> None:
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    def _hook(self, name: str, hook: Callable[..., object] | None, *args: Any) -> object:
        if hook is None:
            return None
        try:
            return hook(*args)
        except Exception:
            _log.exception("the session's %s hook failed", name)
            return None

    def _changed(self, key: str, value: str) -> None:
        if key == "HeartbeatInterval":
            self._exact_heartbeat = None
            self._heartbeat_changed.set()

    # ------------------------------------------------------------------ tasks of a connection

    def spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``coroutine`` in a task of the current connection.

        The task is cancelled when the connection ends (and :meth:`close`
        waits for it); its exception, if any, is logged.

        Args:
            coroutine: What to run.

        Returns:
            The task.

        Raises:
            ProtocolStateError: No connection is open.
        """
        if self._client is None:
            coroutine.close()
            raise ProtocolStateError("no connection is open: nothing to run a task for")
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("a task of the charge point session failed", exc_info=task.exception())

    def after_reply(self, work: Awaitable[Any] | Callable[[], Any]) -> None:
        """Run ``work`` after the reply being made now has gone out.

        For a handler whose answer must precede what it starts: a
        TriggerMessage handler (OCPP 1.6 §5.17) calls
        ``session.after_reply(send_it())`` and returns Accepted, and the
        triggered message follows the answer. Call it from a handler that
        returns its reply (a plain function, or as the last step of a
        coroutine). ``work`` runs in a task of the connection; with no
        connection open it is dropped.

        Args:
            work: A coroutine, or a function to call (what it returns is
                awaited if it is awaitable).
        """
        if self._client is None:
            if inspect.iscoroutine(work):
                work.close()
            _log.debug("no connection: work after the reply dropped")
            return
        self.spawn(_perform(work))

    # ------------------------------------------------------------------ CALLs

    async def boot(self) -> BootNotificationResponse | None:
        """Send BootNotification until the central system accepts it (OCPP 1.6 §4.2.1).

        A Pending or Rejected answer is followed, after ``boot_retry_delay``,
        by another BootNotification. An Accepted one sets HeartbeatInterval to
        its interval (unless ``heartbeat_interval`` was given, or the interval
        is 0). The session calls it on each connection; call it again to boot
        again (for a TriggerMessage).

        Returns:
            The accepted answer; ``None`` when the connection ended first.
        """
        client = self._client
        following = self._following
        sent = following.take_boot(client) if following is not None else None
        while client is not None and client.is_open:
            if sent is not None:
                answer = cast("BootNotificationResponse | None", await _answer(client, sent))
                sent = None
            else:
                answer = cast(
                    "BootNotificationResponse | None",
                    await self._call("BootNotification", dict(self._boot)),
                )
            if (answer is None or answer["status"] != "Accepted") and getattr(
                client, "boot_gate", False
            ):
                # OCPP 1.6 §4.2.1: a client that gates its boot asks again itself,
                # after the answer's interval; its "boot" event brings each answer.
                answer = await _accepted(client)
            if answer is not None and answer["status"] == "Accepted":
                if self._take_boot_interval and answer["interval"] > 0:
                    self.configuration.set("HeartbeatInterval", str(answer["interval"]))
                return answer
            await asyncio.sleep(self._boot_retry(answer))
        return None

    async def _let_go(self) -> None:
        """Close the client the session follows (it stops reconnecting) and forget it."""
        following, self._following = self._following, None
        if following is not None:
            following.remove()
            await following.client.close()

    async def _heartbeats(self) -> None:
        # OCPP 1.6 §4.6: a Heartbeat each interval; a new interval counts from when it is set.
        changed = self._heartbeat_changed
        while True:
            if not await _pause(changed, self.heartbeat_interval):
                await self._call("Heartbeat", {})
            changed.clear()

    async def _default_connect(self, client: Client) -> None:
        await client.connect(self.url, headers=self._headers, ssl=self._ssl)

    async def _default_call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        client = self._client
        if client is None:
            return None
        try:
            return await client.call_request(Action(action), payload)
        except ConnectionClosed as exc:  # the session sees the close itself
            client.logger.info("%s failed: %s", action, exc)
        except Ocpp16Error as exc:
            client.logger.warning("%s failed: %s", action, exc)
        return None


def _reconnects(client: Client) -> bool:
    """Whether ``client`` opens its connection again by itself (made with ``reconnect``)."""
    return getattr(client, "reconnect_policy", None) is not None


class _Following:
    """A client that reconnects by itself, followed by its session from connection to connection."""

    __slots__ = ("_boot", "_opened", "_session", "client")

    def __init__(self, session: ChargePointSession, client: Client) -> None:
        self._session = session
        self.client = client
        self._opened = asyncio.Event()
        # The BootNotification sent as the latest connection opened, until boot() takes it.
        self._boot: asyncio.Future[dict[str, Any]] | None = None
        client.on("connect", self._connected)

    def _connected(self) -> None:
        client = self.client
        if not self._session._closing:
            # OCPP 1.6 §4.2.1: BootNotification first. Made while the client is
            # opening the connection, before the boot gate lets its queued CALLs
            # out: they wait until this one is Accepted.
            self._boot = client.call_request(Action.BootNotification, dict(self._session._boot))
            self._boot.add_done_callback(_retrieve_future)
        self._opened.set()

    def take_boot(self, client: Client | None) -> asyncio.Future[dict[str, Any]] | None:
        """The BootNotification made as ``client``'s latest connection opened, once."""
        if client is not self.client:
            return None
        boot, self._boot = self._boot, None
        return boot

    async def reopened(self) -> None:
        """Wait until the client has opened its next connection."""
        while not self.client.is_open:
            self._opened.clear()
            await self._opened.wait()

    def remove(self) -> None:
        """Stop listening to the client."""
        with contextlib.suppress(KeyError):
            self.client.remove_listener("connect", self._connected)


async def _answer(client: Client, future: asyncio.Future[dict[str, Any]]) -> dict[str, Any] | None:
    """The answer of a CALL made by the session, or ``None`` (logged) when it failed."""
    try:
        return await asyncio.shield(future)
    except ConnectionClosed as exc:
        client.logger.info("BootNotification failed: %s", exc)
    except Ocpp16Error as exc:
        client.logger.warning("BootNotification failed: %s", exc)
    return None


async def _accepted(client: Client) -> BootNotificationResponse:
    """Wait for the client's next ``"boot"`` event with an Accepted answer."""
    accepted: asyncio.Future[BootNotificationResponse] = asyncio.get_running_loop().create_future()

    def on_boot(answer: BootNotificationResponse) -> None:
        if answer.get("status") == "Accepted" and not accepted.done():
            accepted.set_result(answer)

    client.on("boot", on_boot)
    try:
        return await accepted
    finally:
        with contextlib.suppress(KeyError):
            client.remove_listener("boot", on_boot)


def _retrieve_future(future: asyncio.Future[Any]) -> None:
    # Its failure is logged by whoever awaits it, or by no one when its connection ended first.
    if not future.cancelled():
        future.exception()


def _boot_retry(answer: BootNotificationResponse | None) -> float:
    # OCPP 1.6 §4.2.1: the interval of a Pending or Rejected answer is the wait before asking again.
    if answer is not None and answer["interval"] > 0:
        return float(answer["interval"])
    return _BOOT_RETRY


async def _perform(work: Awaitable[Any] | Callable[[], Any]) -> None:
    result = work() if callable(work) else work
    if inspect.isawaitable(result):
        await result


def _retrieve(task: asyncio.Task[None]) -> None:
    # The session's own error is logged where it happens and raised by wait_closed().
    if not task.cancelled():
        task.exception()
