"""AMI framing: `Key: Value` lines ended by CRLF, a blank line ends a message.

Messages keep their headers as an ordered list of pairs because some (Variable) repeat.
Outgoing messages are encoded once to bytes and shared by every session that receives them.
"""

from __future__ import annotations

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


# Asterisk 22 main/manager.c: a session reads into `char inbuf[1025]` (maxlen 1,024) and a
# message holds at most AST_MAX_MANHEADERS lines.
LINE_BUFFER = 1024
MAX_HEADERS = 128
LINE_TOO_LONG = "Failed to parse message: line too long"
TOO_MANY_LINES = "Too many lines in message or allocation failure"


class Message:
    """One received AMI message (an action). `error` is set when Asterisk would not run it but
    answer `Response: Error` with that message (a line too long, too many lines)."""

    __slots__ = ("pairs", "_index", "error")

    def __init__(self, pairs: list[tuple[str, str]], error: str | None = None):
        self.pairs = pairs
        self.error = error
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
        return f"Message({shown!r}{'' if self.error is None else f', error={self.error!r}'})"


class FrameParser:
    """Incremental parser: feed bytes, get complete messages, as Asterisk 22 reads them
    (manager.c get_input and do_message):

    - a line ends at LF (a CR before it is dropped) found within the first LINE_BUFFER bytes of
      the buffer, which always starts at the current line: `Key: value` + CRLF may be 1,024 bytes;
    - with no LF in a full buffer the first 1,023 bytes are thrown away (the last one is kept, in
      case it is the CR of a CRLF) and the message is marked "line too long": its remaining lines
      are read as usual, the blank line ends it, and it is answered with an error, never run.
      (So the tail of an over-long line is read as a line of its own; a line of exactly 1,023
      bytes + CRLF leaves a bare CRLF, which ends the message there.)
    - a NUL ends a line's text; a blank line ends a message, even one with no lines (Asterisk
      answers that with "Missing action in request");
    - over MAX_HEADERS lines, the rest are dropped and the message answered TOO_MANY_LINES (the
      line-too-long mark then stays for the next message, as in Asterisk).
    """

    def __init__(self):
        self._buf = bytearray()
        self._lines: list[str] = []
        self._too_long = False
        self._lost = False
        self.warnings: list[str] = []  # as Asterisk logs them; the session hands them to the lab

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        out: list[Message] = []
        while True:
            nl = buf.find(b"\n", 0, LINE_BUFFER)
            if nl < 0:
                if len(buf) >= LINE_BUFFER:
                    head = bytes(buf[:25]).decode("utf-8", "replace")
                    self.warnings.append(f"Discarding message. Line too long: {head}...")
                    del buf[: LINE_BUFFER - 1]
                    self._too_long = True
                    continue
                return out
            raw = bytes(buf[:nl])
            del buf[: nl + 1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            raw = raw.split(b"\0", 1)[0]
            if raw:
                if len(self._lines) < MAX_HEADERS:
                    self._lines.append(raw.decode("utf-8", "replace"))
                else:
                    self._lost = True
                continue
            out.append(self._end_message())

    def _end_message(self) -> Message:
        pairs = []
        for line in self._lines:
            key, sep, value = line.partition(":")
            if sep:  # a line without a colon matches no header
                pairs.append((key.strip(), value.lstrip(" \t")))
        error = None
        if self._lost:
            error = TOO_MANY_LINES
        elif self._too_long:
            error = LINE_TOO_LONG
            self._too_long = False
        self._lines, self._lost = [], False
        return Message(pairs, error)


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
