"""ConfBridge rooms (asterisk-lab/confbridge.conf): join/leave events, the room ends when empty."""

from __future__ import annotations

import asyncio
import uuid

from autodialer.lab.calls import HungUp
from autodialer.lab.channels import Channel


class Conference:
    def __init__(self, pbx, name: str):
        self.pbx = pbx
        self.name = name
        self.bridge = str(uuid.uuid4())
        self.members: list[Channel] = []
        self.end_marked: set[str] = set()  # channel names of members who leave when the last marked user leaves
        self.marked: set[str] = set()  # channel names of marked users (moderators)

    def _head(self) -> str:
        return (f"Conference: {self.name}\r\nBridgeUniqueid: {self.bridge}\r\nBridgeType: base\r\n"
                f"BridgeTechnology: softmix\r\nBridgeCreator: ConfBridge\r\nBridgeName: {self.name}\r\n"
                f"BridgeNumChannels: {len(self.members)}\r\nBridgeVideoSourceMode: none\r\n")

    async def attend(self, call, ch: Channel, main: bool, *, marked: bool = False, end_marked: bool = False,
                     muted: bool = False, admin: bool | None = None) -> None:
        """ConfBridge(room): stay in the room until this channel's call ends. A `marked` user is
        the moderator (user profile marked=yes, admin=yes); `end_marked` users are hung up when the
        last marked user leaves (end_marked=yes)."""
        if not self.members:
            self.pbx.emit("ConfbridgeStart", self._head(), "call")
        self.members.append(ch)
        if marked:
            self.marked.add(ch.name)
        if end_marked:
            self.end_marked.add(ch.name)
        admin = "Yes" if (marked if admin is None else admin) else "No"
        ch.bridge_id = self.bridge
        self.pbx.emit("ConfbridgeJoin", self._head() + ch.snapshot() + f"Admin: {admin}\r\nMuted: {'Yes' if muted else 'No'}\r\n", "call")
        try:
            await call.wait(None, main)
        except (HungUp, asyncio.CancelledError):
            self.members.remove(ch)
            ch.bridge_id = ""
            self.pbx.emit("ConfbridgeLeave", self._head() + ch.snapshot() + f"Admin: {admin}\r\n", "call")
            self.end_marked.discard(ch.name)
            if ch.name in self.marked:
                self.marked.discard(ch.name)
                if not self.marked:
                    for other in list(self.members):
                        if other.name in self.end_marked and other.call is not None:
                            other.call.request_hangup("dest", "1", 16)
            if not self.members:
                self.pbx.emit("ConfbridgeEnd", self._head(), "call")
                self.pbx.conferences.pop(self.name, None)
            raise
