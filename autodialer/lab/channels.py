"""Simulated channels and the header blocks Asterisk 22 prints for them (channel snapshots)."""

from __future__ import annotations

import re

STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7

# Q.850 cause texts as Asterisk prints them in Cause-txt.
CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
    38: "Network out of order",
}

UNKNOWN = "<unknown>"


def parse_callerid(value: str | None) -> tuple[str, str]:
    """`"Name" <num>` -> (num, name); a bare number has no name. Missing parts are <unknown>."""
    if not value:
        return UNKNOWN, UNKNOWN
    m = re.fullmatch(r'\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*', value)
    if m:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return (m.group(3) or UNKNOWN), (name or UNKNOWN)
    return value.strip() or UNKNOWN, UNKNOWN


class Channel:
    """One simulated channel (a Local ;1 or ;2 leg, an agent leg...)."""

    __slots__ = (
        "name", "cid_num", "cid_name", "conn_num", "conn_name", "account", "context", "exten",
        "priority", "uniqueid", "linkedid", "app", "appdata", "created", "bridge_id", "call", "leg", "inbox",
        "digit_waiter", "alive", "_state", "up_at", "ended_at", "cause",
    )

    def __init__(self, name: str, uniqueid: str, linkedid: str, context: str, exten: str, state: int, created: float,
                 call=None, leg: str = ""):
        self.name = name
        self.up_at: float | None = None  # monotonic: when it went Up (answered), for its CDR
        self.ended_at: float | None = None  # monotonic: its Hangup
        self.cause: int | None = None  # its Hangup cause
        self._state = DOWN
        self.state = state
        self.cid_num = self.cid_name = self.conn_num = self.conn_name = UNKNOWN
        self.account = ""
        self.context = context
        self.exten = exten
        self.priority = 1
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.app = "AppDial2" if leg == "1" else ""
        self.appdata = "(Outgoing Line)" if leg == "1" else ""
        self.created = created
        self.bridge_id = ""
        self.call = call
        self.leg = leg
        self.inbox: list[str] = []  # DTMF digits received, not yet read
        self.digit_waiter = None
        self.alive = True

    @property
    def state(self) -> int:
        return self._state

    @state.setter
    def state(self, value: int) -> None:
        if value == UP and self.up_at is None:
            import time

            self.up_at = time.monotonic()
        self._state = value

    def at(self, context: str | None = None, exten: str | None = None, priority: int | None = None,
           app: str | None = None, appdata: str | None = None) -> "Channel":
        if context is not None:
            self.context = context
        if exten is not None:
            self.exten = exten
        if priority is not None:
            self.priority = priority
        if app is not None:
            self.app = app
            self.appdata = appdata or ""
        return self

    def snapshot(self, prefix: str = "") -> str:
        p = prefix
        return (
            f"{p}Channel: {self.name}\r\n{p}ChannelState: {self.state}\r\n"
            f"{p}ChannelStateDesc: {STATE_DESC.get(self.state, 'Unknown')}\r\n"
            f"{p}CallerIDNum: {self.cid_num}\r\n{p}CallerIDName: {self.cid_name}\r\n"
            f"{p}ConnectedLineNum: {self.conn_num}\r\n{p}ConnectedLineName: {self.conn_name}\r\n"
            f"{p}Language: en\r\n{p}AccountCode: {self.account}\r\n"
            f"{p}Context: {self.context}\r\n{p}Exten: {self.exten}\r\n{p}Priority: {self.priority}\r\n"
            f"{p}Uniqueid: {self.uniqueid}\r\n{p}Linkedid: {self.linkedid}\r\n"
        )

    def __repr__(self) -> str:
        return f"<Channel {self.name} state={self.state} {self.context},{self.exten},{self.priority}>"
