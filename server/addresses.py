"""Client addresses as per-address limits count them.

One IPv6 host usually holds a whole /64 (SLAAC, privacy addresses), so counting
each IPv6 address alone would give one client 2^64 allowances: a limit counts an
IPv6 address by its /64. IPv4 counts whole; an IPv4-mapped IPv6 address
(``::ffff:1.2.3.4``, what a dual-stack socket reports) counts as its IPv4 address.
"""

from __future__ import annotations

import functools
import ipaddress

IPV6_BUCKET_PREFIX = 64


# Every socket open and rate-limited request asks; a crowd comes from few addresses.
@functools.lru_cache(maxsize=4096)
def address_bucket(address: str) -> str:
    """The subject a per-address limit counts ``address`` under.

    ``"2001:db8::1"`` and ``"2001:db8::2"`` -> ``"2001:db8::/64"``; ``"::ffff:10.0.0.1"``
    -> ``"10.0.0.1"``. Anything that is not an IP address (a unix socket's peer) is
    returned as it is.
    """
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])  # no zone id
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_BUCKET_PREFIX), strict=False))
    return str(ip)
