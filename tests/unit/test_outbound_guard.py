"""The outbound guard's decisions, without any connection: the address policy, names resolved through a stub
resolver to blocked addresses, the allow list, and the request the guard hands on (pinned to the address it
checked, the name kept for Host and TLS). Nothing here opens a socket: the connection pools are replaced by one
that records the request and answers 204 itself."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

import httpx
import pytest

from scheduler_core.outbound import AddressPolicy, OutboundGuard, OutboundRefused, parse_allow_entry
from scheduler_core.outbound.guard import GuardedTransport
from scheduler_core.settings import Settings

BLOCKED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "169.254.169.254": "link-local",  # AWS, GCP and Azure metadata
    "fe80::1": "link-local",
    "fd00:ec2::254": "cloud metadata",  # AWS metadata over IPv6
    "100.100.100.200": "cloud metadata",  # Alibaba Cloud
    "192.0.0.192": "cloud metadata",  # Oracle Cloud
    "100.64.0.1": "not a public address",  # shared address space (carrier-grade NAT)
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "private",  # reserved 240/4, which Python files under private
    "192.0.2.10": "private",  # documentation
    "::ffff:127.0.0.1": "loopback address inside an IPv6 address (as 127.0.0.1)",
    "::ffff:10.0.0.1": "private address inside an IPv6 address (as 10.0.0.1)",
    "64:ff9b::a9fe:a9fe": "inside an IPv6 address (as 169.254.169.254)",  # NAT64
    "2002:7f00:1::": "loopback address inside an IPv6 address (as 127.0.0.1)",  # 6to4
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize(("address", "kind"), sorted(BLOCKED.items()))
def test_internal_addresses_are_refused_by_default(address: str, kind: str) -> None:
    reason = AddressPolicy().refusal(ipaddress.ip_address(address))

    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_lets_networks_and_host_names_through() -> None:
    policy = AddressPolicy.from_entries(["10.0.0.0/8", "127.0.0.1", "Hooks.Internal."])

    assert policy.refusal(ipaddress.ip_address("10.20.30.40")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.20.30.40")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) is not None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is not None
    assert policy.host_allowed("hooks.internal")
    assert policy.host_allowed("HOOKS.internal.")
    assert not policy.host_allowed("other.internal")


@pytest.mark.parametrize("entry", ["http://x.org", "x.org/path", "10.0.0.0/33", "*.internal", "a b", ""])
def test_allow_entries_that_are_neither_host_nor_cidr_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="neither a host name nor an IP address or CIDR"):
        parse_allow_entry(entry)
    with pytest.raises(ValueError, match="outbound_allow"):
        Settings(outbound_allow=[entry])


# --- the guard, with a stub resolver -------------------------------------------------------------------


class StubResolver:
    """Answers from a table; counts the questions. Unknown names do not resolve."""

    def __init__(self, answers: Mapping[str, list[str]]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"{host}: name does not resolve")
        return self.answers[host]


class RecordingTransport(GuardedTransport):
    """The guard's transport with its pools replaced: requests are recorded and answered 204, never sent."""

    def __init__(self, guard: OutboundGuard) -> None:
        super().__init__(guard)
        self.sent: list[httpx.Request] = []

    def new_pool(self) -> httpx.AsyncBaseTransport:
        sent = self.sent

        async def answer(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(204)

        return httpx.MockTransport(answer)


async def send(guard: OutboundGuard, url: str) -> tuple[httpx.Response | Exception, list[httpx.Request]]:
    transport = RecordingTransport(guard)
    async with httpx.AsyncClient(transport=transport) as client:
        try:
            return await client.get(url), transport.sent
        except Exception as exc:
            return exc, transport.sent


@pytest.mark.parametrize(
    ("url", "answers", "words"),
    [
        ("http://metadata.google.internal/computeMetadata/v1/", ["169.254.169.254"], "link-local"),
        ("http://db.internal:5432/", ["10.0.0.7"], "private"),
        ("http://localhost:8000/", ["127.0.0.1", "::1"], "loopback"),
        ("http://mixed.example/", ["93.184.216.34", "10.0.0.8"], "private"),  # one internal answer is enough
        ("http://127.0.0.1:9000/", [], "loopback"),  # an address: nothing to resolve
        ("http://[::ffff:169.254.169.254]/", [], "link-local"),
        ("http://0x7f000001/", ["127.0.0.1"], "loopback"),  # what the system resolver makes of such a name
    ],
)
async def test_names_that_resolve_to_internal_addresses_are_refused_before_any_request(
    url: str, answers: list[str], words: str
) -> None:
    resolver = StubResolver({httpx.URL(url).host: answers})

    outcome, sent = await send(OutboundGuard(AddressPolicy(), resolver), url)

    assert isinstance(outcome, OutboundRefused), outcome
    assert words in str(outcome)
    assert "SCHEDULER_OUTBOUND_ALLOW" in str(outcome)
    assert sent == []


@pytest.mark.parametrize("url", ["ftp://files.example/x", "file:///etc/passwd", "gopher://x.example/"])
async def test_only_http_and_https_are_spoken(url: str) -> None:
    resolver = StubResolver({})

    outcome, sent = await send(OutboundGuard(AddressPolicy(), resolver), url)

    assert isinstance(outcome, OutboundRefused | httpx.UnsupportedProtocol), outcome
    assert (sent, resolver.asked) == ([], [])


async def test_a_request_is_pinned_to_the_address_checked_and_keeps_the_name_for_host_and_tls() -> None:
    resolver = StubResolver({"api.example": ["93.184.216.34"]})

    outcome, sent = await send(OutboundGuard(AddressPolicy(), resolver), "https://api.example:8443/hook?x=1")

    assert isinstance(outcome, httpx.Response)
    assert outcome.status_code == 204
    [request] = sent
    assert str(request.url) == "https://93.184.216.34:8443/hook?x=1"
    assert request.headers["Host"] == "api.example:8443"
    assert request.extensions["sni_hostname"] == "api.example"  # TLS checks the certificate of the name
    assert resolver.asked == ["api.example"]  # resolved once: the connection cannot resolve it differently


async def test_an_allowed_name_reaches_its_internal_address() -> None:
    resolver = StubResolver({"hooks.internal": ["10.1.1.1"]})

    outcome, sent = await send(
        OutboundGuard(AddressPolicy.from_entries(["hooks.internal"]), resolver), "http://hooks.internal/x"
    )

    assert isinstance(outcome, httpx.Response)
    assert [str(request.url) for request in sent] == ["http://10.1.1.1/x"]


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    outcome, sent = await send(OutboundGuard(AddressPolicy(), StubResolver({})), "http://nowhere.example/")

    assert isinstance(outcome, httpx.ConnectError)
    assert sent == []


def test_the_default_guard_allows_nothing_internal() -> None:
    guard = OutboundGuard()

    assert guard.policy == AddressPolicy()
    assert OutboundGuard.allowing(Settings().outbound_allow).policy == AddressPolicy()
