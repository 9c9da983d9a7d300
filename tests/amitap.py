"""A recording TCP tap in front of the lab PBX: what the dialer really sent, byte for byte.

The dialer connects to the tap; the tap forwards both directions unchanged and keeps every byte
the dialer sent (per connection). Tests count Originates per number at the PBX's door from this
record and compare them with the `attempts` table. It runs on its own event-loop thread, so the
dialer under test can be in this process (any loop) or in a subprocess.

    with AmiTap(lab.host, lab.port) as tap:
        url = tap.url_for(lab.url)           # same credentials, the tap's port
        ... run the dialer ...
        tap.originates()                     # [{"Channel": ..., "ChannelId": ..., "Variable": [...]}, ...]
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from urllib.parse import urlsplit, urlunsplit


def split_actions(raw: bytes) -> list[list[tuple[str, str]]]:
    """The AMI messages in `raw` (CRLF lines, a blank line ends one), as (key, value) lists.
    A line without ': ' is kept as (line, None) so a test can see it."""
    out = []
    for block in raw.split(b"\r\n\r\n"):
        if not block.strip(b"\r\n"):
            continue
        headers = []
        for line in block.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(": ")
            headers.append((key, value if sep else None))
        out.append(headers)
    return out


def as_dict(headers: list[tuple[str, str]]) -> dict:
    """Headers as a dict; repeated keys (Variable) become lists."""
    d: dict = {}
    for k, v in headers:
        if k in d:
            d[k] = (d[k] if isinstance(d[k], list) else [d[k]]) + [v]
        else:
            d[k] = [v] if k == "Variable" else v
    return d


class AmiTap:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ami-tap", daemon=True)
        self._server = None
        self._lock = threading.Lock()
        self._sent: list[bytearray] = []  # per connection, dialer -> PBX
        self._writers: set = set()
        self.connections = 0
        self._cut_until = 0.0  # monotonic: while now < this, the link is down (see cut())
        self.refused_while_cut = 0
        # (monotonic time, action name) of every action, in order (for rates)
        self._action_times: list[tuple[float, str]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "AmiTap":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)
        return self

    async def _start(self):
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)

    def stop(self) -> None:
        async def stop():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    def url_for(self, lab_url: str) -> str:
        parts = urlsplit(lab_url)
        return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{self.port}"))

    # -- forwarding --------------------------------------------------------------------------
    async def _client(self, reader, writer):
        if time.monotonic() < self._cut_until:  # the link is down: the connection dies at once
            self.refused_while_cut += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        with self._lock:
            self.connections += 1
            sent = bytearray()
            self._sent.append(sent)
        self._writers.update((writer, up_writer))
        partial = [b""]

        async def pump(src, dst, record: bytearray | None):
            try:
                while data := await src.read(65536):
                    if record is not None:
                        with self._lock:
                            record.extend(data)
                            self._note_actions(partial, data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()  # a reset on one side is a reset on the other

        await asyncio.gather(pump(reader, up_writer, sent), pump(up_reader, writer, None))
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    def _note_actions(self, partial: list[bytes], data: bytes) -> None:
        buf = partial[0] + data
        *blocks, partial[0] = buf.split(b"\r\n\r\n")
        now = time.monotonic()
        for block in blocks:
            for line in block.split(b"\r\n"):
                if line.lower().startswith(b"action:"):
                    self._action_times.append((now, line[7:].strip().decode("utf-8", "replace")))
                    break

    # -- faults -----------------------------------------------------------------------------
    def cut(self, seconds: float) -> None:
        """The network between dialer and PBX fails for `seconds`: every connection is reset now
        and every new one is reset at once until then. The PBX and its calls are untouched."""
        async def cut():
            self._cut_until = time.monotonic() + seconds
            for w in list(self._writers):
                w.transport.abort()
        asyncio.run_coroutine_threadsafe(cut(), self.loop).result(timeout=10)

    @property
    def is_cut(self) -> bool:
        return time.monotonic() < self._cut_until

    # -- the record --------------------------------------------------------------------------
    def sent_bytes(self) -> list[bytes]:
        with self._lock:
            return [bytes(b) for b in self._sent]

    def actions(self) -> list[list[tuple[str, str]]]:
        """Every action the dialer sent, in order, connection after connection."""
        return [a for raw in self.sent_bytes() for a in split_actions(raw)]

    def originates(self) -> list[dict]:
        return [as_dict(a) for a in self.actions() if dict(a).get("Action", "").lower() == "originate"]

    def originates_per_number(self) -> collections.Counter:
        """'Local/<digits>@ctx' -> digits, counted."""
        return collections.Counter(o["Channel"].split("/", 1)[1].split("@", 1)[0] for o in self.originates())

    def action_times(self, name: str) -> list[float]:
        with self._lock:
            return [t for t, n in self._action_times if n.lower() == name.lower()]
