"""The outbound guard against real listeners, all on loopback addresses this test starts (127.0.0.1 and 127.0.0.2):
a refused request reaches no listener, an allowed one arrives with the name in its Host header, a redirect to a
refused address is not followed, and a name that resolves elsewhere after it was checked (DNS rebinding) still
gets its request at the address checked. Names resolve through a stub resolver: nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from scheduler_core.outbound import OutboundGuard, OutboundRefused
from tests.support.listeners import listening


class SequenceResolver:
    """Answers each name with its next address list (the last one repeats); counts the questions."""

    def __init__(self, answers: Mapping[str, list[list[str]]]) -> None:
        self.answers = {name: list(sequence) for name, sequence in answers.items()}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        sequence = self.answers[host]
        return sequence.pop(0) if len(sequence) > 1 else sequence[0]


async def test_a_loopback_listener_is_not_reached_by_default() -> None:
    async with listening("127.0.0.1") as listener, OutboundGuard().client(timeout=5) as client:
        with pytest.raises(OutboundRefused, match="a loopback address"):
            await client.get(f"{listener.url}/hook")

    assert listener.received == []


async def test_a_name_resolving_to_loopback_is_not_reached_by_default() -> None:
    resolver = SequenceResolver({"internal.test": [["127.0.0.1"]]})
    async with listening("127.0.0.1") as listener, OutboundGuard(resolver=resolver).client(timeout=5) as client:
        with pytest.raises(OutboundRefused, match=r"internal\.test resolves to 127\.0\.0\.1, a loopback address"):
            await client.get(f"http://internal.test:{listener.port}/")

    assert listener.received == []


async def test_an_allowed_address_is_reached_with_the_name_in_the_host_header() -> None:
    resolver = SequenceResolver({"service.test": [["127.0.0.1"]]})
    guard = OutboundGuard.allowing(["127.0.0.1/32"], resolver)
    async with listening("127.0.0.1") as listener, guard.client(timeout=5) as client:
        response = await client.post(f"http://service.test:{listener.port}/hook", json={"a": 1})

    assert response.status_code == 200
    assert [(got.request_line, got.headers["host"]) for got in listener.received] == [
        ("POST /hook HTTP/1.1", f"service.test:{listener.port}")
    ]


async def test_a_redirect_to_a_refused_address_is_not_followed() -> None:
    async with listening("127.0.0.2") as inner:

        def redirect(line: str) -> tuple[int, dict[str, str]]:
            if line.startswith("GET /elsewhere"):
                return 200, {}
            target = f"{inner.url}/admin" if "/inside" in line else "/elsewhere"
            return 302, {"Location": target}

        guard = OutboundGuard.allowing(["127.0.0.1"])
        async with listening("127.0.0.1", answer=redirect) as outer, guard.client(timeout=5) as client:
            followed = await client.get(f"{outer.url}/start")  # a redirect within the allowed address
            with pytest.raises(OutboundRefused, match=r"127\.0\.0\.2.*a loopback address"):
                await client.get(f"{outer.url}/inside")

    assert followed.status_code == 200
    assert [got.request_line for got in outer.received] == [
        "GET /start HTTP/1.1",
        "GET /elsewhere HTTP/1.1",
        "GET /inside HTTP/1.1",
    ]
    assert inner.received == []


async def test_a_name_that_resolves_elsewhere_after_the_check_still_gets_its_request_at_the_checked_address() -> None:
    # 127.0.0.1 is allowed, 127.0.0.2 is not. The name answers 127.0.0.1 to the guard's question, and 127.0.0.2 to
    # any later one: a client that resolved the name again to connect would reach 127.0.0.2.
    async with listening("127.0.0.1") as checked, listening("127.0.0.2", checked.port) as rebound:
        resolver = SequenceResolver({"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
        guard = OutboundGuard.allowing(["127.0.0.1"], resolver)
        async with guard.client(timeout=5) as client:
            response = await client.get(f"http://rebind.test:{checked.port}/")
            with pytest.raises(OutboundRefused, match=r"127\.0\.0\.2"):  # asked again: now refused
                await client.get(f"http://rebind.test:{checked.port}/again")

    assert response.status_code == 200
    assert [got.headers["host"] for got in checked.received] == [f"rebind.test:{checked.port}"]
    assert rebound.received == []
    assert resolver.asked == ["rebind.test", "rebind.test"]  # once per request, by the guard alone
