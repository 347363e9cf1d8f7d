"""The outbound guard: every call the product makes to an address a user supplied (the `http_request` task
today, webhooks tomorrow) goes through `OutboundGuard.client()`, an httpx client that

- speaks only http and https;
- resolves the host itself, refuses the request unless every address the name resolves to is allowed
  (`AddressPolicy`), and connects to the address it checked: the URL's host is replaced by that address, while
  the Host header and TLS (SNI and certificate check) keep the name, so a DNS answer that changes between the
  check and the connection (DNS rebinding) cannot send the request elsewhere;
- checks every redirect the same way (each hop is a new request through the guard);
- ignores proxy environment variables (a proxy would make the connection, not the guard).

So a Super Admin cannot turn the executors into a proxy into the cluster: loopback, private, link-local and cloud
metadata addresses are refused unless SCHEDULER_OUTBOUND_ALLOW lists them. Refusals raise `OutboundRefused`."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import httpx

from scheduler_core.outbound.policy import AddressPolicy, IPAddress

# Redirects a guarded client follows, each one checked.
MAX_REDIRECTS: Final = 5
SCHEMES: Final = frozenset({"http", "https"})
DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to the addresses a connection may use, as text."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), off the event loop."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class OutboundRefused(httpx.RequestError):
    """The guard refused a request: its scheme, or an address its host resolves to."""


class OutboundGuard:
    """The policy and the resolver it is applied with (tests pass a stub resolver)."""

    def __init__(self, policy: AddressPolicy | None = None, resolver: Resolver = system_resolver) -> None:
        self.policy = policy or AddressPolicy()
        self._resolver = resolver
        self._ssl_context: ssl.SSLContext | None = None

    @classmethod
    def allowing(cls, entries: Iterable[str], resolver: Resolver = system_resolver) -> OutboundGuard:
        """A guard with SCHEDULER_OUTBOUND_ALLOW's entries (host names, addresses, CIDRs)."""
        return cls(AddressPolicy.from_entries(entries), resolver)

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An httpx.AsyncClient whose every request (and redirect) goes through the guard; `options` are
        AsyncClient's (timeout, headers, ...), except transport, proxies and trust_env."""
        options.setdefault("follow_redirects", True)
        options.setdefault("max_redirects", MAX_REDIRECTS)
        return httpx.AsyncClient(transport=GuardedTransport(self), trust_env=False, **options)

    async def vet(self, url: httpx.URL) -> str:
        """The address to connect to for `url`, or OutboundRefused. Every address the host resolves to must be
        allowed (a name that also resolves to an internal address is refused whichever one would be used)."""
        scheme = url.scheme.lower()
        if scheme not in SCHEMES:
            raise OutboundRefused(f"refused {scheme}:// URL: only http and https are allowed")
        host = url.host
        port = url.port or DEFAULT_PORTS[scheme]
        if not host:
            raise OutboundRefused("refused a URL without a host")
        where = f"{scheme}://{host}:{port}"
        literal = _literal_address(host)
        try:
            answers = [str(literal)] if literal is not None else await self._resolver(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers]
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {host}: no address")
        if self.policy.host_allowed(host):
            return str(addresses[0])
        for address in addresses:
            if (reason := self.policy.refusal(address)) is not None:
                shown = f"{host} resolves to {address}" if literal is None else str(address)
                raise OutboundRefused(f"refused {where}: {shown}, {reason}; SCHEDULER_OUTBOUND_ALLOW can allow it")
        return str(addresses[0])

    def ssl_context(self) -> ssl.SSLContext:
        """One verifying TLS context for every connection of this guard (building one reads the CA bundle)."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """Sends each request to the address the guard vetted. Connections are pooled per host name, so that a
    connection made (and its certificate checked) for one name is never reused for another name on the same
    address."""

    def __init__(self, guard: OutboundGuard) -> None:
        self._guard = guard
        self._pools: dict[tuple[str, str, int | None], httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connect_timeout = timeouts.get("connect") if isinstance(timeouts, dict) else None
        async with asyncio.timeout(connect_timeout):
            address = await self._guard.vet(request.url)
        host = request.url.host
        extensions = dict(request.extensions)
        if request.url.scheme == "https":
            extensions["sni_hostname"] = host  # TLS names the host (SNI, certificate check), not the address
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=request.headers,  # keeps Host: the name
            stream=request.stream,
            extensions=extensions,
        )
        key = (request.url.scheme, host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = self.new_pool()
        return await pool.handle_async_request(pinned)

    def new_pool(self) -> httpx.AsyncBaseTransport:
        """The connection pool of one host name (it connects to whatever address a request's URL holds)."""
        return httpx.AsyncHTTPTransport(verify=self._guard.ssl_context(), trust_env=False)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
