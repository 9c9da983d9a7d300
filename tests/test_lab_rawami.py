"""A minimal raw-socket AMI client for the lab tests (deliberately not panoramisk, so the lab is
validated independently of the client library the engine uses), and a transcript reader."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path


class RawAmi:
    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.banner = self._line(timeout)
        self.seq = 0

    def _line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the lab")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the lab")
        self.buf += data

    def send(self, action: str, *pairs: tuple[str, str], **headers: str) -> str:
        self.seq += 1
        aid = headers.pop("ActionID", f"t-{self.seq}")
        lines = [f"Action: {action}", f"ActionID: {aid}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"{k}: {v}" for k, v in pairs]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return aid

    def read(self, timeout: float = 5.0) -> dict[str, str]:
        """The next message as a dict (first value of a repeated header wins) with '_order' list."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        msg: dict = {"_order": []}
        for line in raw.decode().split("\r\n"):
            k, _, v = line.partition(": ")
            if not _ and line.endswith(":"):
                k, v = line[:-1], ""
            msg["_order"].append(k)
            msg.setdefault(k, v)
        return msg

    def until(self, pred, timeout: float = 5.0) -> list[dict]:
        """Read messages until pred(msg) is true; return all read (including the matching one)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.read(max(0.01, deadline - time.monotonic()))
            out.append(m)
            if pred(m):
                return out

    def action(self, action: str, *pairs, timeout: float = 5.0, **headers) -> tuple[dict, list[dict]]:
        """Send; return (the response, events seen before it)."""
        aid = self.send(action, *pairs, **headers)
        seen = self.until(lambda m: "Response" in m and m.get("ActionID") == aid, timeout)
        return seen[-1], seen[:-1]

    def login(self, username="dialer", secret="dialer-secret", **extra) -> dict:
        resp, _ = self.action("Login", Username=username, Secret=secret, **extra)
        return resp

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def read_transcript(path: Path) -> tuple[list[list[tuple[str, str]]], list[dict]]:
    """(actions sent, as header lists; messages received, as dicts with '_order') of an ami_*.txt file."""
    actions: list[list[tuple[str, str]]] = []
    received: list[dict] = []
    current_action: list | None = None
    current_msg: dict | None = None
    for line in path.read_text().splitlines():
        if line.startswith(">> "):
            k, _, v = line[3:].partition(": ")
            if k == "Action":
                current_action = []
                actions.append(current_action)
            current_action.append((k, v))
            current_msg = None
        elif line.startswith("--- +"):
            current_msg = {"_order": []}
            received.append(current_msg)
        elif line.startswith("<< "):
            current_msg = None
        elif current_msg is not None and line:
            k, _, v = line.partition(":")
            current_msg["_order"].append(k)
            current_msg.setdefault(k, v[1:] if v.startswith(" ") else v)
    return actions, received


_SEQ = re.compile(r"-[0-9a-f]{8};")


def family(channel: str) -> str:
    """Local/79061234561@sim-pstn-0000000c;1 -> Local/79061234561@sim-pstn;1"""
    return _SEQ.sub(";", channel)
