"""Redis URLs as Arena reads them: which Redis (or cluster nodes) a URL names, and how.

Pure parsing, no I/O: the settings check a URL with it at start, and the storage
clients connect with what it gives.
"""

from __future__ import annotations

import dataclasses
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

CLUSTER_SCHEME = "redis+cluster"
# rediss:// and rediss+cluster://: the same over TLS (managed Redis services ask for it).
SCHEMES = ("redis", "rediss", CLUSTER_SCHEME, "rediss+cluster")
CLUSTER_SCHEMES = (CLUSTER_SCHEME, "rediss+cluster")


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    tls: bool = False
    ca_file: str | None = None  # ?ssl_ca_certs=PATH; else the system's trusted CAs

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """``redis://`` names one Redis; ``redis+cluster://`` a node of a cluster (the
        first, when the URL lists several: see ``cluster_seeds``); ``rediss`` either, over
        TLS, verifying the server against ``ssl_ca_certs`` or the system's CAs."""
        if urlparse(url).scheme in CLUSTER_SCHEMES:
            url = _first_seed(url)
        parsed = urlparse(url)
        if parsed.scheme not in SCHEMES:
            raise ValueError(
                f"Arena speaks {', '.join(s + '://' for s in SCHEMES)}, not {url[:20]}"
            )
        db = parsed.path.lstrip("/")
        if parsed.scheme in CLUSTER_SCHEMES and db not in ("", "0"):
            raise ValueError("a Redis cluster has database 0 only")
        query = parse_qs(parsed.query)
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 6379,
            db=int(db) if db else 0,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            tls=parsed.scheme.startswith("rediss"),
            ca_file=query.get("ssl_ca_certs", [None])[0],
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS for ``rediss``: the server's certificate checked, its name included."""
        return ssl.create_default_context(cafile=self.ca_file) if self.tls else None

    def at(self, host: str, port: int) -> Endpoint:
        """Another node of the same deployment: same credentials, database 0."""
        return dataclasses.replace(self, host=host, port=port, db=0)


def is_cluster(url: str) -> bool:
    return urlparse(url).scheme in CLUSTER_SCHEMES


def _split_seeds(url: str) -> tuple[str, str, list[str], str]:
    """``redis+cluster://[user:pass@]h1:p1,h2:p2[/0][?query]`` -> (scheme, credentials,
    hosts, the path and query as they were)."""
    scheme, _, rest = url.partition("://")
    rest, mark, query = rest.partition("?")  # first: a CA file's path holds slashes
    netloc, slash, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    return scheme, credentials + at, hosts.split(","), slash + path + mark + query


def _first_seed(url: str) -> str:
    scheme, credentials, hosts, rest = _split_seeds(url)
    return f"{scheme}://{credentials}{hosts[0]}{rest}"


def cluster_seeds(url: str) -> list[Endpoint]:
    """Every node a ``redis+cluster://`` URL lists (comma-separated): any that answers
    gives the slot map, so one node down does not keep a server from starting."""
    first = Endpoint.from_url(url)
    seeds = []
    for host in _split_seeds(url)[2]:
        parsed = urlparse(f"redis://{host}")
        seeds.append(first.at(parsed.hostname or "127.0.0.1", parsed.port or 6379))
    return seeds
