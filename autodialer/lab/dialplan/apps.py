"""The applications and functions the lab's dialplan interpreter provides.

Each application parses its (already substituted) data the way its Asterisk 22 module does
(AST_STANDARD_APP_ARGS unless noted) and acts on lab objects: queue agents and conference rooms
stay Python; a callee leg (an originate's ;2, a Dial()'s) is a dialplan leg whose Answer, Busy,
Congestion, Ringing and waits before the answer go to its Exec.callee (the originate or the
Dial); what runs, in what order and with which arguments comes from extensions.conf. Applications and functions that would touch the PBX host
(System, SHELL, ...) are recorded in the trace like every other call and never run.
"""

from __future__ import annotations

import logging
import re

from autodialer.lab import audio, dtmf
from autodialer.lab.calls import OriginateTimedOut
from autodialer.lab.channels import BUSY, RINGING, UP
from autodialer.lab.dialplan import audio_apps, subst
from autodialer.lab.dialplan.engine import Exec, Jump, StopPbx

log = logging.getLogger(__name__)

SAY_DIGIT_SECONDS = 0.6  # one digits/N prompt
PROMPT_SECONDS = {"silence/1": 1.0, "custom/dialer-abandoned": 3.0}  # everything else: DEFAULT_PROMPT_SECONDS
DEFAULT_PROMPT_SECONDS = 1.0  # a survey question, greeting or goodbye


def prompt_seconds(name: str) -> float:
    name = name.strip()
    if not name:
        return 0.0
    if name.startswith("digits/"):
        return SAY_DIGIT_SECONDS
    return PROMPT_SECONDS.get(name, DEFAULT_PROMPT_SECONDS)


def _seconds(text: str | None) -> float | None:
    """ast_app_parse_timelen / atof: a leading number, else None."""
    m = re.match(r"\s*([+-]?(\d+(\.\d*)?|\.\d+))", text or "")
    return float(m.group(1)) if m else None


def _int(text: str | None, default: int) -> int:
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else default


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


def _other_leg(x: Exec):
    if x.peer is not None:
        return x.peer
    legs = x.call.legs
    return legs.get("2") if x.ch is legs.get("1") else legs.get("1")


# --- pbx_builtins ---------------------------------------------------------------------------------
async def app_noop(x: Exec, data: str) -> None:
    return None


async def app_answer(x: Exec, data: str) -> None:
    if x.unanswered_callee:
        await x.callee.answer()
        return
    if x.ch.state != UP:
        x.ch.state = UP
        x.call.emit("Newstate", x.ch.snapshot())


async def app_wait(x: Exec, data: str) -> None:
    s = _seconds(data)
    if s and s > 0:
        await x.wait(s)


async def app_hangup(x: Exec, data: str) -> None:
    cause = _int(data, 0) if data.strip() else 0
    raise StopPbx(cause if cause > 0 else x.hangupcause)  # no cause given: the channel's (Dial() may have set it)


async def _indicate_then_hangup(x: Exec, data: str, state: int, cause: int) -> None:
    if x.ch.state != state:
        x.ch.state = state
        x.call.emit("Newstate", x.ch.snapshot())
    s = _seconds(data)
    if s and s > 0:
        await x.wait(s)
    else:
        await x.wait(None)
    raise StopPbx(cause)


async def app_busy(x: Exec, data: str) -> None:
    """Busy(timeout): before the answer the dial sees it (an originate ends; Dial() returns BUSY
    and hangs the callee up while it goes on indicating)."""
    if x.unanswered_callee and await x.callee.refuse(x, "busy"):
        raise StopPbx(17)
    await _indicate_then_hangup(x, data, BUSY, 17)


async def app_congestion(x: Exec, data: str) -> None:
    if x.unanswered_callee and await x.callee.refuse(x, "congestion"):
        raise StopPbx(34)
    await _indicate_then_hangup(x, data, BUSY, 34)


async def app_ringing(x: Exec, data: str) -> None:
    if x.unanswered_callee:
        await x.callee.ringing()
        return
    if x.ch.state not in (UP, RINGING):
        x.ch.state = RINGING
        x.call.emit("Newstate", x.ch.snapshot())


async def app_set(x: Exec, data: str) -> None:
    """Set(name=value): the value is everything after the first '=' (nothing is split)."""
    name, sep, value = data.partition("=")
    name = name.strip()
    if not sep or not name:
        return
    if name.endswith(")") and "(" in name:  # a function write, e.g. GROUP(trunk)=main
        fname, _, fargs = name[:-1].partition("(")
        x.rt.record(x, "function", fname + "=", f"{fargs}={value}")
        if fname.upper() == "GROUP":
            x.rt.groups[f"{x.ch.name}\0{fargs}"] = value
        return
    x.set_var(name, value)


async def app_goto(x: Exec, data: str) -> None:
    x.parseable_goto(data)
    raise Jump


async def app_gotoif(x: Exec, data: str) -> None:
    """GotoIf(cond?[label1][:label2]): split at the first '?' and the first ':' after it (strsep)."""
    if not data:
        return
    cond, _, rest = data.partition("?")
    branch1, _, branch2 = rest.partition(":")
    branch = branch1 if subst.checkcondition(cond) else branch2
    if not branch:
        return
    x.parseable_goto(branch)
    raise Jump


async def app_gosub(x: Exec, data: str) -> None:
    """Gosub([[context,]exten,]priority[(arg1[,...])]): ARGn are local to the subroutine."""
    where, args = data, ""
    p = data.find("(")
    if p >= 0:
        where, args = data[:p], data[p + 1:]
        q = args.rfind(")")
        args = args[:q] if q >= 0 else args
    argv = subst.standard_args(args) if p >= 0 else []
    before = _int(x.vars.get("ARGC"), 0)
    saved: dict[str, str | None] = {f"ARG{i}": x.vars.get(f"ARG{i}") for i in range(1, max(len(argv), before) + 1)}
    saved["ARGC"] = x.vars.get("ARGC")
    x.gosub.append((x.context, x.exten, x.priority + 1, saved))
    x.parseable_goto(where)
    for i, a in enumerate(argv, 1):
        x.vars[f"ARG{i}"] = a
    x.vars["ARGC"] = str(len(argv))
    raise Jump


async def app_return(x: Exec, data: str) -> None:
    if not x.gosub:
        raise StopPbx()  # "Return without Gosub: stack is empty"
    ctx, ext, prio, saved = x.gosub.pop()
    for k, v in saved.items():
        x.set_var(k, v)
    x.vars["GOSUB_RETVAL"] = data
    x.goto(ctx, ext, prio)
    raise Jump


def _matching_endwhile(x: Exec) -> int | None:
    """The priority of the EndWhile that closes the While at x.priority (nesting counted)."""
    found = x.rt.dialplan.find(x.context, x.exten)
    if found is None:
        return None
    steps = found[1].steps
    depth = 0
    for prio in sorted(p for p in steps if p > x.priority):
        app = steps[prio].app.lower()
        if app == "while":
            depth += 1
        elif app == "endwhile":
            if depth == 0:
                return prio
            depth -= 1
    return None


async def app_while(x: Exec, data: str) -> None:
    """While(expr): false -> continue after the matching EndWhile; true -> remember where to loop."""
    here = (x.context, x.exten, x.priority)
    stack = x.whiles
    if subst.checkcondition(data):
        if not stack or stack[-1] != here:
            stack.append(here)
        return
    if stack and stack[-1] == here:
        stack.pop()
    end = _matching_endwhile(x)
    if end is None:
        raise StopPbx()
    x.goto(x.context, x.exten, end + 1)
    raise Jump


async def app_endwhile(x: Exec, data: str) -> None:
    if not x.whiles:
        return
    ctx, ext, prio = x.whiles[-1]
    x.goto(ctx, ext, prio)
    raise Jump


async def app_execif(x: Exec, data: str) -> None:
    """ExecIf(expr?app(args)[:app(args)]) (app_exec.c): the application's name comes from the data."""
    firstcomma, firstq = data.find(","), data.find("?")
    if firstq < 0 or (0 <= firstcomma < firstq):  # deprecated ExecIf(expr,app,args)
        parts = subst.standard_args(data, 3)
        cond, app_t, true_data, app_f, false_data = _arg(parts, 0), _arg(parts, 1), _arg(parts, 2), "", ""
    else:
        expr_args = subst.separate_args(data, "?", False, 2)
        cond = _arg(expr_args, 0)
        remainder = _arg(expr_args, 1)
        if not remainder:
            raise StopPbx()
        branches = subst.separate_args(remainder, ":", False, 2)
        app_t, app_f = _arg(branches, 0), _arg(branches, 1)
        true_data = false_data = ""
        if "(" in app_t:
            app_t, _, true_data = app_t.partition("(")
            true_data = true_data[:true_data.rfind(")")] if ")" in true_data else true_data
        if "(" in app_f:
            app_f, _, false_data = app_f.partition("(")
            false_data = false_data[:false_data.rfind(")")] if ")" in false_data else false_data
    if subst.checkcondition(cond):
        if not app_t:
            raise StopPbx()
        await _exec_named(x, app_t, true_data)
    elif app_f:
        await _exec_named(x, app_f, false_data)


async def _exec_named(x: Exec, name: str, data: str) -> None:
    if name.lower() not in x.rt.apps:
        x.rt.record(x, "app", name, data)
        raise StopPbx()  # "Could not find application"
    await x.exec_app(name, data)


# --- media ----------------------------------------------------------------------------------------
async def app_playback(x: Exec, data: str) -> None:
    args = subst.standard_args(data, 2)
    for name in _arg(args, 0).split("&"):
        # A sound the lab has as a wav plays its length and the other leg hears it; one with a
        # nominal length in PROMPT_SECONDS keeps that length (the tests' timings rest on it).
        seconds = None if name.strip() in PROMPT_SECONDS else audio.start(x, name)
        await x.wait(prompt_seconds(name) if seconds is None else seconds)
        audio.finished(x, name)
    x.vars["PLAYBACKSTATUS"] = "SUCCESS"


async def app_read(x: Exec, data: str) -> None:
    """Read(var[,prompts[,maxdigits[,options[,attempts[,timeout]]]]]): each attempt plays the
    prompts (a key interrupts them) and waits `timeout` s for the next key; '#' ends the input."""
    args = subst.standard_args(data, 6)
    var = _arg(args, 0)
    prompts = [p for p in _arg(args, 1).split("&") if p]
    maxdigits = _int(_arg(args, 2), 0) or 255
    attempts = max(_int(_arg(args, 4), 1), 1)
    timeout = _seconds(_arg(args, 5))
    if not timeout or timeout <= 0:
        timeout = 6.0
    said = sum(prompt_seconds(p) for p in prompts)
    got = ""
    status = "TIMEOUT"
    for _ in range(attempts):
        got = ""
        wait = said + timeout
        while len(got) < maxdigits:
            digit = await _read_digit(x, wait)
            if digit is None:
                break
            if digit == "#":
                status = "OK"
                break
            got += digit
            wait = timeout
        if got:
            status = "OK"
            break
    x.set_var(var, got) if var else None
    x.vars["READSTATUS"] = status


async def _read_digit(x: Exec, timeout: float | None) -> str | None:
    if x.ch.inbox or x.hungup:
        return x.ch.inbox.pop(0) if x.ch.inbox else None
    if not x.unanswered_callee:
        return await dtmf.read_digit(x.call, x.ch, timeout, x.main)
    fut = x.call.pbx.loop.create_future()
    x.ch.digit_waiter = fut
    try:
        return await x.wait(timeout, fut)
    finally:
        x.ch.digit_waiter = None


async def app_senddtmf(x: Exec, data: str) -> None:
    args = subst.standard_args(data, 4)
    digits = "".join(c for c in _arg(args, 0) if c in "0123456789*#ABCDabcdwWfF")
    to = _other_leg(x)
    if to is not None:
        await dtmf.send_dtmf(x.call, to, digits.replace("w", "").replace("W", ""), x.main)


async def app_echo(x: Exec, data: str) -> None:
    await x.wait(None)


async def app_musiconhold(x: Exec, data: str) -> None:
    args = subst.standard_args(data, 2)
    s = _seconds(_arg(args, 1))
    await x.wait(s if s and s > 0 else None)


async def app_userevent(x: Exec, data: str) -> None:
    """UserEvent(name[,Key: value[,...]]): 'Key: value' pairs, the value stripped; no ':' is skipped."""
    if not data:
        raise StopPbx()
    args = subst.standard_args(data, 101)
    headers: dict[str, str] = {}
    for extra in args[1:]:
        key, sep, value = extra.partition(":")
        if not sep:
            continue
        headers[key] = value.strip()
    x.call.user_event(x.ch, args[0], list(headers.items()))


# --- queues, rooms, dialing ----------------------------------------------------------------------
async def app_queue(x: Exec, data: str) -> None:
    """Queue(name[,options[,URL[,announceoverride[,timeout[,AGI[,...]]]]]])."""
    args = subst.standard_args(data, 10)
    name = _arg(args, 0)
    if not name:
        raise StopPbx()
    timeout = _seconds(_arg(args, 4))
    timeout = timeout if timeout and timeout > 0 else None
    queue = x.call.pbx.queue(name)
    if x.unanswered_callee:  # option r: the caller hears ringing, unanswered, until an operator takes it
        if not x.call.ringing:
            x.call.ringing = True
            x.call.legs["1"].state = RINGING
            x.call.emit("Newstate", x.call.legs["1"].snapshot())
        remaining = x.call.callee_remaining()
        by_deadline = timeout is None or timeout >= remaining
        status = await queue.enter(x.call, x.ch, remaining if by_deadline else timeout, True,
                                   on_connect=x.call.callee_connected)
        if status != "ANSWERED" and by_deadline:
            raise OriginateTimedOut
    else:
        status = await queue.enter(x.call, x.ch, timeout, x.main)
    if status == "ANSWERED":
        x.queue_ended = True
        raise StopPbx()  # the agent hung up: the queue hangs the caller up
    x.vars["QUEUESTATUS"] = status


async def app_confbridge(x: Exec, data: str) -> None:
    """ConfBridge(room[,bridge_profile[,user_profile[,menu]]]): the user profile (confbridge.conf)
    says whether the channel is a marked user (moderator), admin, muted, end_marked."""
    args = subst.standard_args(data, 4)
    room = _arg(args, 0)
    if not room:
        raise StopPbx()
    users, bridges = x.rt.conf_profiles
    bridge = _arg(args, 1) or "default_bridge"
    user = users.get(_arg(args, 2) or "default_user")
    if user is None or bridge not in bridges:
        raise StopPbx()  # "Conference ... profile does not exist"
    await x.call.pbx.conference(room).attend(x.call, x.ch, x.main, marked=user.marked, admin=user.admin,
                                             end_marked=user.end_marked, muted=user.startmuted)


_LOCAL = re.compile(r"Local/([^@/&]+)@([^/&,]+)(?:/n)?$", re.IGNORECASE)


async def app_dial(x: Exec, data: str) -> None:
    """Dial(Local/<number>@<context>[&...][,timeout[,options]]): the callee is a Local pair whose
    ;2 runs <number>@<context> in the dialplan (autodialer/lab/dialed.py); what it does sets
    DIALSTATUS and HANGUPCAUSE. Without option g an answered call that the callee ends hangs the
    caller up too."""
    from autodialer.lab.dialed import dial_local

    args = subst.standard_args(data, 4)
    peers = [p for p in _arg(args, 0).split("&") if p]
    timeout = _seconds(_arg(args, 1))
    options = _arg(args, 2)
    m = _LOCAL.match(peers[0]) if peers else None
    if m is None or x.rt.dialplan.find(m.group(2), m.group(1)) is None:
        status, cause = "CHANUNAVAIL", 66
    else:
        status, cause = await dial_local(x, m.group(1), m.group(2), timeout if timeout and timeout > 0 else None)
    x.vars["DIALSTATUS"] = status
    x.vars["HANGUPCAUSE"] = str(cause)
    if status == "ANSWER" and "g" not in options:
        raise StopPbx(cause)


async def app_recorded_only(x: Exec, data: str) -> None:
    """System(), TrySystem(), AGI()...: recorded in the trace (exec_app did), never run."""
    x.vars["SYSTEMSTATUS"] = "SUCCESS"


APPS = {
    "NoOp": app_noop, "Answer": app_answer, "Wait": app_wait, "Hangup": app_hangup, "Busy": app_busy,
    "Congestion": app_congestion, "Ringing": app_ringing, "Set": app_set, "Goto": app_goto, "GotoIf": app_gotoif,
    "Gosub": app_gosub, "Return": app_return, "While": app_while, "EndWhile": app_endwhile, "ExecIf": app_execif,
    "Playback": app_playback, "Read": app_read, "SendDTMF": app_senddtmf, "Echo": app_echo,
    "MusicOnHold": app_musiconhold, "UserEvent": app_userevent, "Queue": app_queue, "ConfBridge": app_confbridge,
    "Dial": app_dial,
    # never run, recorded
    "System": app_recorded_only, "TrySystem": app_recorded_only, "AGI": app_recorded_only, "EAGI": app_recorded_only,
}
APPS.update(audio_apps.APPS)  # AMD(), WaitForSilence(), WaitForNoise(): they listen to the far end
RECORDED_ONLY_APPS = frozenset({"System", "TrySystem", "AGI", "EAGI"})


# --- functions ------------------------------------------------------------------------------------
def fn_if(x: Exec, data: str) -> str | None:
    """IF(expr?true[:false]) (func_logic.c): quotes and backslashes are removed while splitting."""
    a1 = subst.separate_args(data, "?", True, 2)
    expr_, remainder = _arg(a1, 0), (a1[1] if len(a1) > 1 else None)
    a2 = subst.separate_args(remainder, ":", True, 2) if remainder is not None else []
    iftrue = a2[0] if len(a2) > 0 else None
    iffalse = a2[1] if len(a2) > 1 else None
    if not expr_ or (iftrue is None and iffalse is None):
        return None
    return (iftrue or "").strip() if subst.checkcondition(expr_.strip()) else (iffalse or "").strip()


def fn_len(x: Exec, data: str) -> str:
    return str(len(data))


def fn_exists(x: Exec, data: str) -> str:
    return "1" if data else "0"


def fn_isnull(x: Exec, data: str) -> str:
    return "0" if data else "1"


def fn_group(x: Exec, data: str) -> str:
    return x.rt.groups.get(f"{x.ch.name}\0{data}", "")


def fn_group_count(x: Exec, data: str) -> str:
    """GROUP_COUNT([group][@category]): channels whose GROUP(category) is group."""
    group, _, category = data.partition("@")
    if not group:
        group = x.rt.groups.get(f"{x.ch.name}\0{category}", "")
    live = {ch for ch in x.call.pbx.channels}
    n = sum(1 for k, v in x.rt.groups.items() if v == group and k.split("\0", 1)[1] == category and k.split("\0", 1)[0] in live)
    return str(n)


def fn_eval(x: Exec, data: str) -> str:
    return x.substitute(data)


def lab_epoch(x: Exec) -> float:
    """The lab's wall clock (epoch seconds) in lab time: the machine's clock when the lab first
    read it, then the loop's clock over the time scale, so differences of STRFTIME() readings
    are the lab seconds that passed (AMD()'s analysis, a Wait()) whatever the scale."""
    import time

    pbx = x.call.pbx
    base = getattr(pbx, "_lab_epoch_base", None)
    if base is None:
        base = pbx._lab_epoch_base = (time.time(), pbx.loop.time())
    return base[0] + (pbx.loop.time() - base[1]) / x.call.scale


_STRFTIME_TOKEN = re.compile(r"%(%|[1-6]?q|s)")


def fn_strftime(x: Exec, data: str) -> str:
    """STRFTIME([epoch][,timezone[,format]]) (func_strings.c acf_strftime, ast_strftime): the
    epoch given (ast_get_timeval: seconds, optionally .fraction) or now (the lab's clock), in
    `timezone` (default the machine's), format default %c; %[1-6]q is the fraction of the second
    with that many digits (%q: 3), %s the epoch seconds, the rest strftime(3)'s."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    args = subst.standard_args(data, 3)
    m = re.match(r"\s*(\d+)(\.(\d+))?", _arg(args, 0))
    when = float(m.group(0)) if m else lab_epoch(x)
    tzname = _arg(args, 1).strip()
    try:
        tz = ZoneInfo(tzname) if tzname else None
    except Exception:
        tz = None  # ast_localtime: an unknown zone is the default one
    local = datetime.fromtimestamp(when, tz) if tz else datetime.fromtimestamp(when).astimezone()
    usec = local.microsecond

    def token(t: re.Match) -> str:
        spec = t.group(1)
        if spec == "%":
            return "%%"
        if spec == "s":
            return str(int(when))
        digits = int(spec[0]) if spec[0].isdigit() else 3
        return "%0*d" % (digits, usec // 10 ** (6 - digits))

    fmt = _arg(args, 2) or "%c"
    return local.strftime(_STRFTIME_TOKEN.sub(token, fmt))


def _encoded_char(stream: str) -> str | None:
    """ast_get_encoded_char (main/app.c): the first character of `stream`, a backslash escape
    (\\n, \\r, \\t, \\xHH, \\0ooo octal, \\c: c) decoded; None for an empty stream or a bad hex digit."""
    if not stream:
        return None
    if stream[0] != "\\":
        return stream[0]
    nxt = stream[1:2]
    if nxt in ("n", "r", "t"):
        return {"n": "\n", "r": "\r", "t": "\t"}[nxt]
    if nxt == "x":
        digits = re.match(r"[0-9A-Fa-f]{1,2}", stream[2:])
        return chr(int(digits.group(0), 16)) if digits else None
    if nxt == "0":
        octal = re.match(r"[0-7]*", stream[2:]).group(0)
        return chr(int(octal, 8) & 0xFF) if octal else "\0"
    return nxt if nxt else "\0"  # "\\" alone: the string's terminating NUL


_INT = r"\s*[+-]?\d{1,30}"


def _cut_range(spec: str) -> tuple[int, int] | None:
    """func_cut.c's sscanf()s of one range: "a-b", "-b", "a-", "a" (what follows a number other
    than "-" is ignored); None: an invalid field spec."""
    big = 2**31 - 1  # INT_MAX
    m = re.match(rf"({_INT})-({_INT})", spec)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.match(rf"-({_INT})", spec)
    if m:
        return 1, int(m.group(1))
    m = re.match(rf"({_INT})(.)?", spec, re.S)
    if m:
        start = int(m.group(1))
        return (start, big) if m.group(2) == "-" else (start, start)
    return None


def fn_cut(x: Exec, data: str) -> str | None:
    """CUT(varname,char-delim,range-spec) (funcs/func_cut.c cut_internal): the value of the
    variable `varname` split on the one character `char-delim` (ast_get_encoded_char; none or a
    bad one: "-"), the fields of `range-spec` ("2", "2-3", "-2", "2-", several joined by "&"),
    in order, rejoined with the delimiter. Fewer than 3 arguments or a bad range: the read fails
    (nothing is substituted)."""
    args = subst.standard_args(data, 3)
    if len(args) < 3:
        log.error("Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!")
        return None
    value = x.substitute("${" + args[0] + "}")
    ds = _encoded_char(args[1])
    if ds is None:
        ds = "-"
    out: list[str] = []
    if value:
        rest: str | None = value  # strsep()'s pointer: None once the last field was taken

        def strsep() -> str:
            nonlocal rest
            if ds == "\0" or ds not in rest:
                field, rest = rest, None
            else:
                field, rest = rest.split(ds, 1)
            return field

        ranges: str | None = args[2]
        curfield = 1
        while rest is not None and ranges is not None:
            next_range, _, more = ranges.partition("&")
            ranges = more if _ else None
            bounds = _cut_range(next_range)
            if bounds is None:
                log.error("Usage: CUT(<varname>,<char-delim>,<range-spec>)")
                return None
            start, stop = bounds
            while rest is not None and curfield < start:
                strsep()
                curfield += 1
            if curfield > start:
                log.warning("We're already past the field you wanted?")
            while rest is not None and curfield <= stop:
                out.append(strsep())
                curfield += 1
    return ("" if ds == "\0" else ds).join(out)


def fn_recorded_only(x: Exec, data: str) -> str:
    """SHELL() and the like: the trace has the call (call_function recorded it); nothing runs."""
    return ""


FUNCTIONS = {
    "IF": fn_if, "LEN": fn_len, "EXISTS": fn_exists, "ISNULL": fn_isnull, "GROUP": fn_group,
    "GROUP_COUNT": fn_group_count, "EVAL": fn_eval, "STRFTIME": fn_strftime, "CUT": fn_cut,
    "SHELL": fn_recorded_only, "FILE": fn_recorded_only, "CURL": fn_recorded_only, "ODBC": fn_recorded_only,
    "DB": fn_recorded_only, "SYSINFO": fn_recorded_only, "ENV": fn_recorded_only,
}
RECORDED_ONLY_FUNCTIONS = frozenset({"SHELL", "FILE", "CURL", "ODBC", "DB", "SYSINFO", "ENV"})

__all__ = ["APPS", "FUNCTIONS", "RECORDED_ONLY_APPS", "RECORDED_ONLY_FUNCTIONS", "prompt_seconds"]
