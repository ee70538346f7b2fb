"""Opening the Redis clients a process needs, for one Redis or for a Redis Cluster.

Three kinds of connection per process: the pipelined client for every command
and script, the pub/sub subscriber's own, and a small redis-py pool for blocking
commands (the results workers' BLMOVE). ``redis://`` gives ``RedisMux``,
``Subscriber`` and redis-py's ``Redis``; ``redis+cluster://`` gives their cluster
forms: ``ClusterMux`` and ``ClusterSubscriber`` (cluster.py), and redis-py's
``RedisCluster``.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from server.redis_urls import cluster_seeds, is_cluster
from server.storage.cluster import ClusterMux
from server.storage.cluster_pubsub import ClusterSubscriber
from server.storage.connection import wait_for_redis
from server.storage.mux import Commands, RedisMux
from server.storage.pubsub import Subscriber

# redis-py, for the commands that hold a connection while they block.
BlockingClient = Redis | RedisCluster


def open_redis(url: str, *, pool_size: int, timeout_s: float) -> BlockingClient:
    """redis-py for dedicated connections; callers wait for a free one instead of failing.

    redis-py's default pool raises MaxConnectionsError when it runs out; we block
    (bounded by ``timeout_s``) instead.
    """
    if is_cluster(url):
        seeds = cluster_seeds(url)
        seed = seeds[0]
        return RedisCluster(
            startup_nodes=[ClusterNode(s.host, s.port) for s in seeds],
            ssl=seed.tls,
            ssl_ca_certs=seed.ca_file,
            username=seed.username,
            password=seed.password,
            max_connections=pool_size,
            socket_timeout=timeout_s,
            socket_connect_timeout=min(timeout_s, 1.0),
        )
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 1.0),
        health_check_interval=30,
    )
    return Redis(connection_pool=pool)


def open_mux(url: str, *, timeout_s: float) -> Commands:
    """The pipelined client: of one Redis, or routing by slot over a cluster's masters."""
    kind = ClusterMux if is_cluster(url) else RedisMux
    return kind(url, timeout_s=timeout_s, connect_timeout_s=min(timeout_s, 1.0))


def open_subscriber(url: str, mux: Commands, *, timeout_s: float) -> Subscriber | ClusterSubscriber:
    """The node's pub/sub: one connection, or one per cluster shard (``run`` connects)."""
    if isinstance(mux, ClusterMux):
        return ClusterSubscriber(mux, timeout_s=timeout_s)
    return Subscriber(url, timeout_s=timeout_s)


async def check_redis(url: str, *, within_s: float, timeout_s: float) -> None:
    """Wait for the Redis at ``url`` to answer, then let it go (RedisUnreachable if not):
    for a launcher that starts processes which would each fail the same way."""
    mux = open_mux(url, timeout_s=timeout_s)
    try:
        await wait_for_redis(mux, url, within_s=within_s, timeout_s=timeout_s)
    finally:
        await mux.aclose()
