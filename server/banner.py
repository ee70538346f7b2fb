"""Where a started Arena can be reached: the line a newcomer reads to open the pages."""

from __future__ import annotations


def local_url(host: str, port: int) -> str:
    """The base URL a browser on this machine uses for a server bound to ``host``."""
    if host in ("", "0.0.0.0", "::"):  # every address: this machine's own is one of them
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def pages(host: str, port: int) -> str:
    """``dashboard http://.../, game http://.../play``: the two shipped pages."""
    base = local_url(host, port)
    return f"dashboard {base}/, game {base}/play"
