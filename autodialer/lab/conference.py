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

    def _head(self) -> str:
        return (f"Conference: {self.name}\r\nBridgeUniqueid: {self.bridge}\r\nBridgeType: base\r\n"
                f"BridgeTechnology: softmix\r\nBridgeCreator: ConfBridge\r\nBridgeName: {self.name}\r\n"
                f"BridgeNumChannels: {len(self.members)}\r\nBridgeVideoSourceMode: none\r\n")

    async def attend(self, call, ch: Channel, main: bool) -> None:
        """ConfBridge(room): stay in the room until this channel's call ends."""
        if not self.members:
            self.pbx.emit("ConfbridgeStart", self._head(), "call")
        self.members.append(ch)
        ch.bridge_id = self.bridge
        self.pbx.emit("ConfbridgeJoin", self._head() + ch.snapshot() + "Admin: No\r\nMuted: No\r\n", "call")
        try:
            await call.wait(None, main)
        except (HungUp, asyncio.CancelledError):
            self.members.remove(ch)
            ch.bridge_id = ""
            self.pbx.emit("ConfbridgeLeave", self._head() + ch.snapshot() + "Admin: No\r\n", "call")
            if not self.members:
                self.pbx.emit("ConfbridgeEnd", self._head(), "call")
                self.pbx.conferences.pop(self.name, None)
            raise
