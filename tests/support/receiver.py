"""A webhook receiver on 127.0.0.1 that records every POST (headers and body) and answers with a status the test
chooses; it can be stopped (its port refuses connections) and started again on the same port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scheduler_core.notifications import EVENT_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers[EVENT_ID_HEADER.lower()]

    @property
    def payload(self) -> dict[str, Any]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document

    def signed_by(self, secret: str, *, now: float) -> bool:
        header = self.headers.get(SIGNATURE_HEADER.lower())
        return header is not None and verify(secret, header, self.body, now=now)


@dataclass
class Receiver:
    status: Callable[[Received], int] = lambda _: 200
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def events(self, event_type: str | None = None) -> list[Received]:
        return [r for r in self.received if event_type is None or r.payload["type"] == event_type]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (item.partition(":") for item in lines if item)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            writer.close()
            return
        received = Received(line.split(" ")[1] if " " in line else "", headers, body)
        self.received.append(received)
        status = self.status(received)
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode("latin-1"))
        try:
            await writer.drain()
        finally:
            writer.close()
