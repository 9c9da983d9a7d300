"""The lab's destination for predictive dialing: `dialer-predictive` of asterisk-lab/extensions.conf.

The answered callee goes to queue `support` for at most 2 s (Queue(support,,,,2)). If no operator
took the call by then, it is abandoned: the dialplan reports `UserEvent(DialerAbandoned,AttemptId:
${ATTEMPT_ID},QueueStatus: ${QUEUESTATUS})`, plays a short message and hangs up. A call an operator
took ends when the operator hangs up (the queue hangs the caller up).
"""

from __future__ import annotations

from autodialer.lab.channels import Channel

CONNECT_WITHIN = 2.0  # Queue timeout: regulators' "connected to an operator within 2 s"
MESSAGE_SECONDS = 3.0  # Playback(custom/dialer-abandoned): who called, and a number to call back


async def _dialer_predictive(call, l1: Channel, exten: str) -> None:
    if exten != "s":
        return
    l1.at("dialer-predictive", "s", 2, "Queue", f"support,,,,{CONNECT_WITHIN:g}")
    status = await call.pbx.queue("support").enter(call, l1, CONNECT_WITHIN, False)
    if status == "ANSWERED":
        return
    l1.at(priority=3, app="UserEvent", appdata="DialerAbandoned")
    call.user_event(l1, "DialerAbandoned", (("AttemptId", call.vars.get("ATTEMPT_ID", "")), ("QueueStatus", status)))
    l1.at(priority=4, app="Playback", appdata="custom/dialer-abandoned")
    await call.wait(MESSAGE_SECONDS, False)
    l1.at(priority=5, app="Hangup", appdata="")


CONTEXTS = {"dialer-predictive": _dialer_predictive}
