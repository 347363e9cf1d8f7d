"""Which addresses an outbound call may reach: public unicast addresses, and what SCHEDULER_OUTBOUND_ALLOW lists.

Refused (unless allowed): loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 and fe80::/10, where
cloud metadata services answer), the cloud metadata addresses outside those ranges, shared (100.64/10), multicast,
unspecified, reserved and documentation ranges, anything else Python's `ipaddress` does not call global, and IPv6
addresses that carry one of those IPv4 addresses (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services that are not in a link-local range (those in 169.254/16 and fe80::/10 are refused
# as link-local anyway): AWS IPv6, Alibaba Cloud, Oracle Cloud.
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(address) for address in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local-use): the last 32 bits are an IPv4 address.
_NAT64: Final = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
# A host name as SCHEDULER_OUTBOUND_ALLOW may list it (letters, digits, hyphens, dots; no scheme, port or path).
_HOST_NAME: Final = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")


def parse_allow_entry(entry: str) -> IPNetwork | str:
    """An allow-list entry: a CIDR or address (as a network), or a host name (lowercase, without a final dot).
    Raises ValueError naming the entry."""
    text = entry.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if not _HOST_NAME.match(name):
        raise ValueError(f"{entry!r} is neither a host name nor an IP address or CIDR")
    return name


def host_key(host: str) -> str:
    """A host name as the allow list compares it."""
    return host.lower().rstrip(".")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in prefix for prefix in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """What makes this address unreachable for outbound calls, in words (None: a public unicast address)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The rule, with the operator's exceptions: hosts (by name) and networks that are allowed whatever their
    addresses."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AddressPolicy:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            parsed = parse_allow_entry(entry)
            if isinstance(parsed, str):
                hosts.add(parsed)
            else:
                networks.append(parsed)
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        return host_key(host) in self.allowed_hosts

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` may not be reached (None: it may), the allow list's networks taken into account."""
        embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        candidates = [address] if embedded is None else [address, embedded]
        if any(candidate in network for candidate in candidates for network in self.allowed_networks):
            return None
        if address in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if embedded is None:
            return _kind(address)
        # An IPv6 address carrying an IPv4 one reaches that IPv4 address (through a translator, or as the same
        # socket): it is judged by the IPv4 address, so a public one stays reachable from an IPv6-only network.
        kind = _kind(embedded)
        return None if kind is None else f"{kind} inside an IPv6 address (as {embedded})"
