"""A TCP relay a test owns, in front of PostgreSQL or RabbitMQ, to cut one process (or everyone) off from a
server without touching the server itself, which other test runs share.

Two kinds of cut, as networks fail:

- `cut()`: every relayed connection is reset and new ones are refused, as when a server restarts or a
  firewall rejects (both ends see the loss at once);
- `stall()`: nothing passes any more, in either direction, but every socket stays open and new connections
  are accepted and left hanging, as when packets are silently dropped (nobody sees a loss until a timeout or
  a heartbeat says so).

`restore()` lets traffic through again (stalled connections resume where they stopped)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy.engine import make_url
from yarl import URL

# Bytes read from one side before they are written to the other.
CHUNK = 65536
# Seconds `close` waits for the handlers of reset connections to end before cancelling them.
CLOSE_WAIT_S = 1.0


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.accepting = True
        self.port = 0

    @classmethod
    async def before(cls, url: str) -> TcpProxy:
        """A started proxy in front of the server an AMQP or SQLAlchemy URL names."""
        if url.startswith("amqp"):
            parsed = URL(url)
            host, port = parsed.host or "127.0.0.1", parsed.port or 5672
        else:
            database = make_url(url)
            host, port = database.host or "127.0.0.1", database.port or 5432
        proxy = cls(host, port)
        await proxy.start()
        return proxy

    def url(self, url: str) -> str:
        """`url` (AMQP or SQLAlchemy) rewritten to go through this proxy."""
        if url.startswith("amqp"):
            return str(URL(url).with_host("127.0.0.1").with_port(self.port))
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def drop(self) -> None:
        """Abort every relayed connection (both sides see a reset), as a network failure would."""
        for writer in list(self._writers):
            writer.transport.abort()

    def cut(self) -> None:
        """Reset every connection and refuse new ones until `restore`: the server looks down."""
        self.accepting = False
        self._flowing.set()
        self.drop()

    def stall(self) -> None:
        """Let nothing through, and reset nothing, until `restore`: packets silently dropped."""
        self._flowing.clear()

    def restore(self) -> None:
        self.accepting = True
        self._flowing.set()

    # The names the broker contract tests use.
    down = cut
    up = restore

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Reset connections end their handlers by themselves; a handler cancelled instead makes asyncio log a
        # spurious "Exception in callback" with a CancelledError traceback.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=CLOSE_WAIT_S)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._flowing.wait()  # a stalled network: the connection hangs before it reaches the server
            if not self.accepting:
                writer.transport.abort()
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
            except OSError:
                writer.transport.abort()
                return
            self._writers.update((writer, upstream_writer))
            try:
                await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
            finally:
                self._writers.difference_update((writer, upstream_writer))
                upstream_writer.close()
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                await self._flowing.wait()  # stalled: hold what was read until restored (or reset)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Whichever side ends first takes the other down with it, like a real TCP connection.
            with contextlib.suppress(Exception):
                writer.transport.abort()
