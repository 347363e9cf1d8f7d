"""HTTP listeners on loopback addresses that record what reaches them: what the outbound guard's tests aim at, so
that nothing they do can leave the machine, and so that a refused request is seen to arrive nowhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# (status, headers) a listener answers a request line with.
Answer = Callable[[str], tuple[int, dict[str, str]]]


def ok(_: str) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass
class Received:
    request_line: str
    headers: dict[str, str]


@dataclass
class Listener:
    host: str
    port: int = 0
    answer: Answer = ok
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        line, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (item.partition(":") for item in lines if item)
        }
        self.received.append(Received(line, headers))
        status, extra = self.answer(line)
        body = b"ok"
        response = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        response += [f"{name}: {value}" for name, value in extra.items()]
        writer.write(("\r\n".join(response) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        writer.close()


@asynccontextmanager
async def listening(host: str, port: int = 0, answer: Answer = ok) -> AsyncIterator[Listener]:
    """A listener on host:port (a free port by default) for the duration of the block."""
    listener = Listener(host, answer=answer)
    server = await asyncio.start_server(listener.handle, host, port)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()
