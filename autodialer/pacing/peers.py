"""Other dialers pacing the same operators' queue, heard through the PBX.

Two campaigns (or two workers) on one queue each see the same free operators: without word from
each other, each dials for all of them, and even progressive mode leaves answered callers with
nobody. So each queue pacer tells the others how many of the queue's operators its calls still
dialing may claim, and counts theirs as claimed. The PBX carries the word, so no other service
is needed: the AMI action `UserEvent` (manager.conf write class `user`) reaches every AMI client
as an event (read class `user`):

    Action: UserEvent
    UserEvent: DialerPacing
    Queue: support
    Pacer: 3f2a9c0d51e7b6a4      (this pacer's id; its own word comes back to it and is ignored)
    Claims: 2.40                 (progressive: calls dialing; predictive: answers expected from them)
    Active: 1                    (1: it has calls waiting to be dialed)

A pacer speaks when its claims change and on a heartbeat; one not heard for `expire` seconds is
forgotten (a worker that died). A malformed or out-of-range word is ignored.

Claims arrive a round trip late, and every pacer reacts to the same queue event (an operator
frees up) at once. So the active pacers (those with calls waiting to be dialed) split what the
queue allows instead: of k of them, the one of rank r may have calls dialing for the allowed
places r, r + k, r + 2k, ... of the queue's free operators (minus callers waiting, minus the
claims of pacers no longer active). All see the same queue, so the shares do not overlap even
before anyone has heard of the others' new calls. The ranks rotate every `rotate` seconds (by
the wall clock, which the PBX's clients share) so that no pacer always gets the odd operator.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable

from autodialer.telephony.ami import AmiError

PACING_EVENT = "DialerPacing"
MAX_CLAIMS = 100_000.0  # more than any PBX's channels: anything above is not a pacer's word


class QueuePeers:
    def __init__(self, session, queue: str, *, heartbeat: float = 2.0, expire: float = 6.0, rotate: float = 20.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.id = uuid.uuid4().hex[:16]
        self.session = session
        self.queue = queue
        self.heartbeat = heartbeat
        self.expire = expire
        self.rotate = rotate
        self._clock = clock
        self._wall = wall
        self._heard: dict[str, tuple[float, float, bool]] = {}  # pacer id -> (when heard, claims, active)
        self._said: float | None = None
        self._said_at = float("-inf")
        self._active = False
        self.on_change: Callable[[], None] | None = None  # e.g. the pacer's wake: a peer claims less now
        self._unsubscribe = session.subscribe("UserEvent", self._on_event)

    def _on_event(self, event) -> None:
        if event.get("UserEvent") != PACING_EVENT or event.get("Queue") != self.queue:
            return
        pacer = event.get("Pacer")
        if not isinstance(pacer, str) or not pacer or pacer == self.id:
            return
        try:
            claims = float(event.get("Claims"))
        except (TypeError, ValueError):
            return
        if not (0.0 <= claims <= MAX_CLAIMS):  # NaN fails this too
            return
        self._heard[pacer] = (self._clock(), claims, event.get("Active") == "1")
        if self.on_change is not None:
            self.on_change()

    def claims(self, *, inactive_only: bool = False) -> float:
        """Operators the other pacers of this queue may claim, as last heard (only those of
        pacers no longer active: the active ones have their share)."""
        self._forget_silent()
        return sum(c for _, c, a in self._heard.values() if not (inactive_only and a))

    def _forget_silent(self) -> None:
        horizon = self._clock() - self.expire
        for pacer in [p for p, (t, _, _) in self._heard.items() if t < horizon]:
            del self._heard[pacer]

    def share(self, allowed: int, active: bool) -> int:
        """Of `allowed` calls dialing on this queue, how many may be ours: the places at our
        rank among the active pacers (all of them when no other pacer is active)."""
        if allowed <= 0:
            return 0
        self._forget_silent()
        ids = [p for p, (_, _, a) in self._heard.items() if a] + ([self.id] if active else [])
        if not active or len(ids) <= 1:
            return allowed
        turn = int(self._wall() // self.rotate)
        ids.sort(key=lambda p: hashlib.sha256(f"{p}:{turn}".encode()).digest())
        return len(range(ids.index(self.id), allowed, len(ids)))

    def say(self, claims: float, active: bool = True) -> None:
        """Tell the others our claims: at once when they grew or fell by half an operator or
        more (a call placed, in progressive mode), else once a heartbeat."""
        claims = round(max(0.0, min(MAX_CLAIMS, claims)), 2)
        now = self._clock()
        if (self._said is not None and abs(claims - self._said) < 0.5 and active == self._active
                and now - self._said_at < self.heartbeat):
            return
        if not self.session.connected:
            return
        try:
            self.session.send_action_forget({"Action": "UserEvent", "UserEvent": PACING_EVENT, "Queue": self.queue,
                                             "Pacer": self.id, "Claims": f"{claims:.2f}", "Active": "1" if active else "0"})
        except AmiError:
            return
        self._said, self._said_at, self._active = claims, now, active

    def close(self) -> None:
        self._unsubscribe()
        self._heard.clear()


def whole(claims: float) -> int:
    """Claims as operators taken: a part of one is one (the rule counts whole operators)."""
    return math.ceil(claims - 1e-9) if claims > 0 else 0
