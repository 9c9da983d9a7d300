"""AMI framing: `Key: Value` lines ended by CRLF, a blank line ends a message.

Messages keep their headers as an ordered list of pairs because some (Variable) repeat.
Outgoing messages are encoded once to bytes and shared by every session that receives them.
"""

from __future__ import annotations

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


class Message:
    """One received AMI message (an action)."""

    __slots__ = ("pairs", "_index")

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs
        self._index: dict[str, str] = {}
        for key, value in pairs:
            self._index.setdefault(key.lower(), value)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._index.get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self.pairs if k.lower() == key]

    def __repr__(self) -> str:
        # Never show the Secret of a Login.
        shown = [(k, "***" if k.lower() == "secret" else v) for k, v in self.pairs]
        return f"Message({shown!r})"


class FrameParser:
    """Incremental parser: feed bytes, get complete messages. Accepts CRLF or bare LF."""

    def __init__(self, max_buffer: int = 1 << 20):
        self._buf = b""
        self._pairs: list[tuple[str, str]] = []
        self._max = max_buffer

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self._max:
                    raise ValueError("AMI line too long")
                return out
            line = self._buf[:nl].rstrip(b"\r").decode("utf-8", "replace")
            self._buf = self._buf[nl + 1 :]
            if not line:
                if self._pairs:
                    out.append(Message(self._pairs))
                    self._pairs = []
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue  # Asterisk ignores lines without a colon
            self._pairs.append((key.strip(), value.lstrip(" ")))


def encode(pairs) -> bytes:
    """Encode ordered (key, value) pairs as one AMI message."""
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


def response(action_id: str | None, response: str = "Success", message: str | None = None, extra=()) -> bytes:
    """A reply the way Asterisk orders it: Response, ActionID, Message, then the rest."""
    pairs = [("Response", response)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    if message is not None:
        pairs.append(("Message", message))
    pairs.extend(extra)
    return encode(pairs)


def list_ack(action_id: str | None, message: str) -> bytes:
    """The first reply of a list action (astman_send_listack): EventList comes before Message."""
    pairs = [("Response", "Success")]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    pairs += [("EventList", "start"), ("Message", message)]
    return encode(pairs)
