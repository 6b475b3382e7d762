"""A central system on one node or many: the cluster seam of ``Server``.

A :class:`Cluster` answers three questions for a ``Server`` about charge points
it may not hold itself: where is a charge point connected (:meth:`Cluster.locate`),
which charge points are connected (:meth:`Cluster.connected_ids`), and how to send
a CALL to one held by another node (:meth:`Cluster.call_request`). It also makes
the server's :class:`~ocpp16.registry.Registry`, so that duplicate ids and
presence are decided cluster-wide.

:class:`LocalCluster` is the default: the process alone, no shared store.
:class:`RedisCluster` shares presence and carries calls over Redis (redis-py's
asyncio API, the ``redis`` extra: ``pip install "ocpp16[redis]"``).

Redis data layout (``prefix`` defaults to ``"ocpp16"``; a charge point id or a
node id is never part of a key or a channel as text, only as its SHA-256)::

    {prefix}:cp:{sha256(cp_id)}      JSON {"cp": cp_id, "node": node_id}, PX presence_ttl,
                                     refreshed every presence_ttl / 3 by its node
    {prefix}:node:{sha256(node_id)}  the node's pub/sub channel (calls, answers, take-overs)

Cross-node traffic is JSON over pub/sub, one message a line::

    {"t": "call", "id": ..., "from": node, "cp": cp_id, "action": ..., "payload": {...},
     "timeout": seconds}
    {"t": "result", "id": ..., "payload": {...}}
    {"t": "error", "id": ..., "kind": "ocpp" | "validation" | "timeout" | "closed"
     | "not_connected" | "other", ...}
    {"t": "cancel", "id": ..., "from": node}   (the caller cancelled that call)
    {"t": "kick", "cp": cp_id, "node": the node that took it over}
"""

from ocpp16._cluster import Cluster, ClusterHost, LocalCluster
from ocpp16._redis_cluster import RedisCluster

__all__ = ["Cluster", "ClusterHost", "LocalCluster", "RedisCluster"]
