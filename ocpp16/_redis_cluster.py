"""``RedisCluster``: several ``Server`` processes sharing one Redis (see :mod:`ocpp16.cluster`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ocpp16._cluster import Cluster
from ocpp16.errors import (
    CallTimeout,
    ClusterUnavailable,
    ConnectionClosed,
    NotConnected,
    Ocpp16Error,
    OcppError,
    ValidationError,
)
from ocpp16.handshake import Refusal, duplicate_refusal
from ocpp16.registry import DuplicatePolicy, LocalRegistry, Registry
from ocpp16.validation import validate

if TYPE_CHECKING:
    from ocpp16.connection import ClientBase

__all__ = ["RedisCluster"]

_log = logging.getLogger("ocpp16.cluster")


def _digest(text: str) -> str:
    """Return the SHA-256 of ``text``: what a key holds instead of foreign text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _glob_escape(text: str) -> str:
    """Escape the characters that mean something in a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\^-" else c for c in text)


# Set a key to this node's value unless another node owns it (a take-over wins).
_REFRESH = """
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if (not current) or current == ARGV[i + 1] then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  end
end
return 1
"""
# Delete a key only while it still holds this node's value.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _ClusterRegistry(LocalRegistry):
    """A node's own connections, telling the cluster of each claim and release."""

    def __init__(
        self,
        cluster: RedisCluster,
        *,
        max_connections: int | None,
        duplicate_id: DuplicatePolicy,
    ) -> None:
        super().__init__(max_connections=max_connections, duplicate_id=duplicate_id)
        self._cluster = cluster

    async def check_duplicate(self, cp_id: str) -> Refusal | None:
        """Refuse with 409 under ``"reject"`` when ``cp_id`` is connected on any node."""
        refusal = await super().check_duplicate(cp_id)
        if refusal is None and self.duplicate_id == "reject":
            try:
                node = await self._cluster.locate(cp_id)
            except ClusterUnavailable:
                node = None  # without Redis, the node decides alone
            if node is not None:
                return duplicate_refusal()
        return refusal

    async def claim(self, connection: ClientBase) -> ClientBase | None:
        """Claim locally, then in Redis (bounded; skipped while Redis is gone)."""
        previous = await super().claim(connection)
        await self._cluster._apply(self._cluster._claimed, connection.cp_id)
        return previous

    async def release(self, connection: ClientBase) -> None:
        """Release locally, then in Redis (bounded; skipped while Redis is gone)."""
        held = self.get(connection.cp_id) is connection
        await super().release(connection)
        if held:
            await self._cluster._apply(self._cluster._released, connection.cp_id)


class RedisCluster(Cluster):
    """Several ``Server`` processes sharing one Redis.

    Args:
        url: A Redis URL, such as ``"redis://127.0.0.1:6379/0"``.
        node_id: This node's name, unique in the cluster; a random one by default
            (fine for a node that only calls).
        presence_ttl: Seconds after which a node that stopped refreshing (killed)
            is forgotten with its charge points.
        prefix: The prefix of every key and channel.
        retry_interval: Seconds between attempts to reach Redis while it is gone.

    Raises:
        ValueError: An argument is out of range.
        ImportError: redis-py is not installed (``pip install "ocpp16[redis]"``).
    """

    def __init__(
        self,
        url: str,
        *,
        node_id: str | None = None,
        presence_ttl: float = 15.0,
        prefix: str = "ocpp16",
        retry_interval: float = 0.5,
    ) -> None:
        super().__init__()
        try:
            import redis.asyncio as aioredis
            import redis.exceptions
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - the redis extra is in dev
            raise ImportError('RedisCluster needs redis-py: pip install "ocpp16[redis]"') from exc
        if not isinstance(presence_ttl, int | float) or not (
            math.isfinite(presence_ttl) and presence_ttl > 0
        ):
            raise ValueError(f"presence_ttl must be a positive number, not {presence_ttl!r}")
        if node_id is not None and (not isinstance(node_id, str) or not node_id):
            raise ValueError(f"node_id must be a non-empty str, not {node_id!r}")
        self.node_id = node_id if node_id is not None else f"node-{uuid.uuid4().hex[:12]}"
        self.presence_ttl = float(presence_ttl)
        self.prefix = prefix
        self.retry_interval = retry_interval
        self._errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            OSError,
        )
        self._faults: tuple[type[BaseException], ...] = (*self._errors, TimeoutError)
        timeouts = {
            "socket_connect_timeout": min(2.0, self.presence_ttl),
            "socket_timeout": min(5.0, self.presence_ttl),
        }
        # Commands: a pooled connection that Redis closed (it restarted) fails once,
        # then the command goes again on a new one; while Redis is gone both fail at
        # once (connection refused). Without the retry, the first answer a node
        # published after a restart was lost, and its caller waited out its timeout.
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(NoBackoff(), 1, (redis.exceptions.ConnectionError,)),
            **timeouts,  # type: ignore[arg-type]
        )
        # The subscription: no retry, so that a lost connection reaches _listen, which
        # fails the calls whose answers were on it and subscribes again.
        self._subscriber = aioredis.Redis.from_url(url, decode_responses=True, **timeouts)  # type: ignore[arg-type]
        self._refresh = self._redis.register_script(_REFRESH)
        self._release = self._redis.register_script(_RELEASE)
        self._channel = self._node_channel(self.node_id)
        self._started = False
        self._closed = False
        self._available = False
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()  # set by close(): the loops end at their next wait
        self._tasks: set[asyncio.Task[Any]] = set()
        self._order: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any]], str]] = {}
        # Every remote call of this node not yet ended, sent or not: close() ends them.
        self._outstanding: set[asyncio.Future[dict[str, Any]]] = set()
        # Calls of other nodes that this node's connections are making: (origin, id) -> future.
        self._serving: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ keys

    def _cp_key(self, cp_id: str) -> str:
        return f"{self.prefix}:cp:{_digest(cp_id)}"

    def _node_channel(self, node_id: str) -> str:
        return f"{self.prefix}:node:{_digest(node_id)}"

    def _value(self, cp_id: str) -> str:
        return json.dumps({"cp": cp_id, "node": self.node_id})

    @property
    def available(self) -> bool:
        """Whether Redis answered the last time this node tried it."""
        return self._available

    def make_registry(
        self, *, max_connections: int | None, duplicate_id: DuplicatePolicy
    ) -> Registry:
        """Return a registry that registers claims in Redis and decides duplicates cluster-wide.

        Args:
            max_connections: The per-node cap.
            duplicate_id: The duplicate-id policy, applied cluster-wide.
        """
        return _ClusterRegistry(self, max_connections=max_connections, duplicate_id=duplicate_id)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Subscribe to this node's channel and start refreshing its presence (idempotent).

        Redis need not be up: the node keeps trying in the background.
        """
        if self._started or self._closed:
            return
        self._started = True
        self._spawn(self._listen())
        try:
            async with asyncio.timeout(min(2.0, self.presence_ttl)):
                await self._redis.ping()
                self._back(0)
                await self._ready.wait()
        except self._faults as exc:
            self._lost(exc)
        self._spawn(self._heartbeat())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Unregister this node's charge points at once, then disconnect."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # A cancel can be lost on Python 3.11: asyncio.wait_for (gh-86296, fixed in
            # 3.12), which redis-py's Connection.send_packed_command awaits whenever a
            # socket_timeout is set, returns the inner result when the cancel arrives
            # just after that inner write finished, and the task goes on uncancelled.
            # That is why close() once hung: the heartbeat went on beating. The loops
            # therefore also end on _stopping, at their next wait; a one-shot task that
            # lost its cancel ends with its Redis command, bounded by socket_timeout.
            # The bound here is only a safety net for such a task.
            await asyncio.wait(tasks, timeout=2.0)
        # Sent or still waiting their turn (a task cancelled before it ran ends nothing).
        closed = ClusterUnavailable("the cluster was closed")
        for future in list(self._outstanding):
            if not future.done():
                future.set_exception(closed)
        if self._server is not None:
            ids = list(self._server.registry.connections)
            with contextlib.suppress(*self._errors, asyncio.TimeoutError):
                async with asyncio.timeout(2.0):
                    for cp_id in ids:
                        await self._release(keys=[self._cp_key(cp_id)], args=[self._value(cp_id)])
        with contextlib.suppress(*self._faults):
            async with asyncio.timeout(2.0):
                await self._redis.aclose()
                await self._subscriber.aclose()

    async def _apply(self, op: Callable[[str], Awaitable[None]], cp_id: str) -> None:
        """Apply a claim or a release to Redis; never fail or hold local work for long.

        While Redis is gone nothing is tried: the heartbeat registers what this
        node holds when it is back, and a released key expires with its TTL.
        """
        if self._closed or not self._available:
            return
        try:
            async with asyncio.timeout(min(1.0, self.presence_ttl)):
                await op(cp_id)
        except TimeoutError as exc:
            self._lost(exc)
        except self._errors as exc:
            self._lost(exc)
        except Exception:  # pragma: no cover - defensive: a claim never fails locally
            _log.exception("cluster: %s of %r failed", op.__name__, cp_id)

    async def _claimed(self, cp_id: str) -> None:
        key = self._cp_key(cp_id)
        previous = await self._redis.set(
            key, self._value(cp_id), px=int(self.presence_ttl * 1000), get=True
        )
        node = _node_of(previous, cp_id)
        if node is not None and node != self.node_id:
            # Duplicate ids, cluster-wide ("replace"): the node that held it closes its own.
            await self._redis.publish(
                self._node_channel(node),
                json.dumps({"t": "kick", "cp": cp_id, "node": self.node_id}),
            )

    async def _released(self, cp_id: str) -> None:
        await self._release(keys=[self._cp_key(cp_id)], args=[self._value(cp_id)])

    async def _heartbeat(self) -> None:
        """Refresh (or, after Redis came back, recreate) this node's charge point keys."""
        interval = self.presence_ttl / 3
        while not self._closed:
            try:
                ids = list(self._server.registry.connections) if self._server else []
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    await self._refresh(
                        keys=[self._cp_key(i) for i in chunk],
                        args=[int(self.presence_ttl * 1000), *(self._value(i) for i in chunk)],
                    )
                if not ids:
                    await self._redis.ping()
                self._back(len(ids))
            except self._errors as exc:
                self._lost(exc)
                await self._pause(min(interval, self.retry_interval))
                continue
            await self._pause(interval)

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or until close() began."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    def _lost(self, exc: BaseException) -> None:
        if self._available:
            _log.warning("cluster: Redis is unreachable (%s); local work goes on", exc)
        self._available = False

    def _back(self, count: int) -> None:
        if not self._available:
            _log.info(
                "cluster: Redis reachable; node %r holds %d charge points", self.node_id, count
            )
        self._available = True

    async def _listen(self) -> None:
        """Read this node's channel; resubscribe after Redis comes back."""
        while not self._closed:
            pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._ready.set()
                while not self._closed:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_message(message.get("data"))
            except self._errors as exc:
                self._ready.clear()
                self._lost(exc)
                # Answers travel on the channel that was lost: calls in flight cannot end well.
                self._fail_pending(ClusterUnavailable(f"lost the connection to Redis: {exc}"))
            finally:
                # Exception only: a cancel arriving here must end the loop.
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await self._pause(self.retry_interval)

    def _fail_pending(self, exc: Exception) -> None:
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(exc)

    # ------------------------------------------------------------------ the channel

    def _on_message(self, data: Any) -> None:
        """Handle one message of this node's channel; a malformed one is logged and dropped."""
        try:
            message = json.loads(data)
            if not isinstance(message, dict) or not isinstance(message.get("t"), str):
                raise ValueError("not an object with a string 't'")
            kind = message["t"]
            if kind == "call":
                self._serve_call(message)
            elif kind in ("result", "error"):
                self._on_answer(message)
            elif kind == "kick":
                self._on_kick(message)
            elif kind == "cancel":
                self._on_cancel(message)
            else:
                raise ValueError(f"unknown message type {kind!r}")
        except Exception as exc:
            _log.warning("cluster: dropped a malformed message %.200r: %s", data, exc)

    def _serve_call(self, message: dict[str, Any]) -> None:
        call_id, origin, cp_id = message["id"], message["from"], message["cp"]
        action, payload, timeout = message["action"], message["payload"], message["timeout"]
        if not all(isinstance(v, str) for v in (call_id, origin, cp_id, action)):
            raise ValueError("id, from, cp and action must be strings")
        if not isinstance(payload, dict):
            raise ValueError("payload must be an object")
        if timeout is not None and (
            not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
        ):
            raise ValueError("timeout must be a positive number or null")
        connection = self.server.registry.get(cp_id)
        reply = self._node_channel(origin)
        if connection is None:
            self._spawn(
                self._publish(reply, {"t": "error", "id": call_id, "kind": "not_connected"})
            )
            return
        # Queued with the local calls of this connection: order and call_concurrency hold.
        future = connection.call_request(action, payload, timeout=timeout)
        key = (origin, call_id)
        self._serving[key] = future

        def answer(done: asyncio.Future[dict[str, Any]]) -> None:
            self._serving.pop(key, None)
            if not done.cancelled():  # cancelled by its caller, who awaits nothing more
                self._spawn(self._publish(reply, _answer(call_id, done)))

        future.add_done_callback(answer)

    def _on_cancel(self, message: dict[str, Any]) -> None:
        """The calling node cancelled a call: cancel it here, as a local cancel would."""
        call_id, origin = message["id"], message["from"]
        if not isinstance(call_id, str) or not isinstance(origin, str):
            raise ValueError("id and from must be strings")
        future = self._serving.pop((origin, call_id), None)
        if future is not None:
            # Frees its place in the connection's queue (a CALL not yet sent is never sent).
            future.cancel()

    async def _publish(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await self._redis.publish(channel, json.dumps(message))
        except self._errors as exc:
            self._lost(exc)

    def _on_answer(self, message: dict[str, Any]) -> None:
        entry = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if entry is None:
            return  # late (timed out here) or not ours
        future, cp_id = entry
        if future.done():
            return
        if message["t"] == "result":
            payload = message.get("payload")
            if not isinstance(payload, dict):
                future.set_exception(Ocpp16Error("malformed answer from the owning node"))
            else:
                future.set_result(payload)
        else:
            future.set_exception(_error_of(message, cp_id))

    def _on_kick(self, message: dict[str, Any]) -> None:
        cp_id = message["cp"]
        if not isinstance(cp_id, str):
            raise ValueError("cp must be a string")
        connection = self.server.registry.get(cp_id)
        if connection is not None:
            self.server.logger.info(
                "%r reconnected to node %r; closing its connection here",
                cp_id,
                message.get("node"),
            )
            self._spawn(connection.close(1000, "replaced by a new connection"))

    # ------------------------------------------------------------------ the three methods

    def call_request(
        self, cp_id: str, action: str, payload: dict[str, Any], timeout: float | None
    ) -> asyncio.Future[dict[str, Any]]:
        """Send a CALL to ``cp_id`` through the node that holds it.

        Args:
            cp_id: The charge point id.
            action: The action.
            payload: The payload.
            timeout: Seconds; ``None`` for the server's ``call_timeout``.

        Returns:
            A future of the CALLRESULT payload; it fails with what the owning node's
            call failed with, with :class:`~ocpp16.errors.NotConnected` when no live
            node holds ``cp_id``, or :class:`~ocpp16.errors.ClusterUnavailable`.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        options = self.server.options
        if options.validation_overrides.get(action, options.validation) == "strict":
            try:
                validate(action, "request", payload)
            except ValidationError as exc:
                future.set_exception(exc)
                return future
            except LookupError:
                pass  # not an OCPP action: the owning node's connection decides
        if self._closed:
            future.set_exception(ClusterUnavailable("the cluster was closed"))
            return future
        self._outstanding.add(future)
        future.add_done_callback(self._outstanding.discard)
        seconds = timeout if timeout is not None else options.call_timeout
        self._spawn(self._call(future, cp_id, action, payload, seconds))
        return future

    async def _call(
        self,
        future: asyncio.Future[dict[str, Any]],
        cp_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float,
    ) -> None:
        call_id = uuid.uuid4().hex
        await self._in_order(
            cp_id, lambda: self._send_call(future, call_id, cp_id, action, payload, timeout)
        )

    async def _in_order(self, cp_id: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` once this node's earlier messages about ``cp_id`` have left.

        Calls and cancels for one charge point leave this node in the order made (the
        lock is FIFO), so they reach its owning node in that order.
        """
        lock = self._order.get(cp_id)
        if lock is None:
            lock = self._order[cp_id] = asyncio.Lock()
        try:
            async with lock:
                await step()
        finally:
            if not lock.locked() and self._order.get(cp_id) is lock:
                del self._order[cp_id]

    async def _send_call(
        self,
        future: asyncio.Future[dict[str, Any]],
        call_id: str,
        cp_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float,
    ) -> None:
        try:
            await self.start()
            if not self._ready.is_set():
                async with asyncio.timeout(min(2.0, self.presence_ttl)):
                    await self._ready.wait()
            if future.done():
                return  # cancelled by its caller before it left: nothing is sent
            node = await self._locate(cp_id)
            if node is None or node == self.node_id:
                raise NotConnected(cp_id)
            if future.done():
                return
            if self._closed:  # its task lost the cancel of close() (see close)
                raise ClusterUnavailable("the cluster was closed")
            self._pending[call_id] = (future, cp_id)
            message = {
                "t": "call",
                "id": call_id,
                "from": self.node_id,
                "cp": cp_id,
                "action": action,
                "payload": payload,
                "timeout": timeout,
            }
            receivers = await self._redis.publish(self._node_channel(node), json.dumps(message))
            if not receivers:
                raise NotConnected(cp_id)  # its node is gone: presence not yet expired
        except (NotConnected, ClusterUnavailable) as exc:
            self._finish(call_id, future, exc)
            return
        except TimeoutError as exc:
            self._finish(call_id, future, ClusterUnavailable(f"Redis is unreachable: {exc!r}"))
            return
        except self._errors as exc:
            self._lost(exc)
            self._finish(call_id, future, ClusterUnavailable(f"Redis is unreachable: {exc!r}"))
            return
        except Exception as exc:  # a Redis error of another kind: never leave the future hanging
            self._finish(call_id, future, ClusterUnavailable(f"the cluster failed: {exc!r}"))
            return
        # The caller's timeout governs, whatever happens on the owning node.
        handle = asyncio.get_running_loop().call_later(
            timeout, self._finish, call_id, future, CallTimeout(action, call_id, timeout)
        )

        def done(ended: asyncio.Future[dict[str, Any]]) -> None:
            handle.cancel()
            self._pending.pop(call_id, None)
            if ended.cancelled():
                # The owning node cancels its own future: the CALL leaves its queue.
                self._spawn(self._in_order(cp_id, lambda: self._cancel_remote(node, call_id)))

        future.add_done_callback(done)

    async def _cancel_remote(self, node: str, call_id: str) -> None:
        message = {"t": "cancel", "id": call_id, "from": self.node_id}
        await self._publish(self._node_channel(node), message)

    def _finish(self, call_id: str, future: asyncio.Future[Any], exc: BaseException) -> None:
        self._pending.pop(call_id, None)
        if not future.done():
            future.set_exception(exc)

    async def _locate(self, cp_id: str) -> str | None:
        try:
            value = await self._redis.get(self._cp_key(cp_id))
        except self._errors as exc:
            self._lost(exc)
            raise ClusterUnavailable(f"Redis is unreachable: {exc}") from exc
        return _node_of(value, cp_id)

    async def locate(self, cp_id: str) -> str | None:
        """Return the node that holds ``cp_id``, or ``None``.

        Args:
            cp_id: The charge point id.

        Raises:
            ClusterUnavailable: Redis cannot be reached (this node's own charge
                points are still answered).
        """
        if self._server is not None and self._server.registry.get(cp_id) is not None:
            return self.node_id
        return await self._locate(cp_id)

    async def connected_ids(self) -> dict[str, str]:
        """Return every charge point connected on any node, with its node.

        Raises:
            ClusterUnavailable: Redis cannot be reached.
        """
        result: dict[str, str] = {}
        try:
            pattern = _glob_escape(self.prefix) + ":cp:*"
            keys = [key async for key in self._redis.scan_iter(match=pattern, count=500)]
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                for key, value in zip(chunk, await self._redis.mget(chunk), strict=True):
                    entry = _entry(value)
                    if entry is not None and self._cp_key(entry[0]) == key:
                        result[entry[0]] = entry[1]
        except self._errors as exc:
            self._lost(exc)
            raise ClusterUnavailable(f"Redis is unreachable: {exc}") from exc
        if self._server is not None:
            result.update(dict.fromkeys(self._server.registry.connections, self.node_id))
        return result


def _entry(value: Any) -> tuple[str, str] | None:
    """Read a charge point key's value: ``(cp_id, node)``, or ``None`` when malformed."""
    if not isinstance(value, str):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    cp_id, node = data.get("cp"), data.get("node")
    if isinstance(cp_id, str) and isinstance(node, str):
        return cp_id, node
    return None


def _node_of(value: Any, cp_id: str) -> str | None:
    """Return the node in a key's value, when the value is for ``cp_id``."""
    entry = _entry(value)
    return entry[1] if entry is not None and entry[0] == cp_id else None


def _answer(call_id: str, future: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
    """Encode a finished local call's outcome for the calling node."""
    if future.cancelled():
        return {"t": "error", "id": call_id, "kind": "other", "message": "cancelled"}
    exc = future.exception()
    if exc is None:
        return {"t": "result", "id": call_id, "payload": future.result()}
    out: dict[str, Any] = {"t": "error", "id": call_id}
    if isinstance(exc, CallTimeout):
        out.update(
            kind="timeout", action=exc.action, message_id=exc.message_id, timeout=exc.timeout
        )
    elif isinstance(exc, NotConnected):
        out.update(kind="not_connected")
    elif isinstance(exc, ValidationError):
        out.update(
            kind="validation",
            code=exc.code,
            description=exc.description,
            details=exc.details,
            path=exc.path,
            keyword=exc.keyword,
        )
    elif isinstance(exc, OcppError):
        out.update(kind="ocpp", code=exc.code, description=exc.description, details=exc.details)
    elif isinstance(exc, ConnectionClosed):
        out.update(kind="closed", code=exc.code, reason=exc.reason)
    else:
        out.update(kind="other", message=str(exc))
    return out


def _error_of(message: Mapping[str, Any], cp_id: str) -> Exception:
    """Decode an error answer into the exception the local call would have raised."""
    kind = message.get("kind")
    try:
        if kind == "ocpp":
            return OcppError(
                str(message["code"]), str(message["description"]), dict(message["details"])
            )
        if kind == "validation":
            return ValidationError(
                str(message["code"]),
                str(message["description"]),
                path=str(message["path"]),
                keyword=str(message["keyword"]),
                details=dict(message["details"]),
            )
        if kind == "timeout":
            return CallTimeout(
                str(message["action"]), str(message["message_id"]), float(message["timeout"])
            )
        if kind == "closed":
            return ConnectionClosed(int(message["code"]), str(message["reason"]))
        if kind == "not_connected":
            return NotConnected(cp_id)
        return Ocpp16Error(f"the call failed on the owning node: {message.get('message')}")
    except (KeyError, TypeError, ValueError):
        return Ocpp16Error("malformed error answer from the owning node")
