"""asterisk-lab/*.conf: lint with asterisklint, and check the structure the dialer and the lab PBX
rely on (numbering plan priorities, least-privilege AMI user, queue members, conference profiles)."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "asterisk-lab"
ASTERISKLINT = Path(sys.executable).with_name("asterisklint")


def _lint_tool() -> str:
    if not ASTERISKLINT.exists():
        pytest.fail("asterisklint is not installed (a dev dependency): pip install -e .[dev]")
    return str(ASTERISKLINT)


def _config(name: str) -> dict[str, list[tuple[str, str]]]:
    """Parse a .conf with asterisklint's config parser; fail on any message it raises."""
    from asterisklint import FileConfigParser
    from asterisklint.defines import MessageDefManager

    MessageDefManager.reset()
    parser = FileConfigParser()
    parser.include(str(LAB / name))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        sections = list(parser)
    raised = {k: v for k, v in MessageDefManager.raised.items() if v}
    assert not raised, f"asterisklint on {name}: {err.getvalue()}"
    return {s.name: [(v.variable, v.value) for v in s._varsets] for s in sections}


def _dialplan() -> dict[str, dict[str, dict]]:
    """`asterisklint dialplan-show`: {context: {exten: {priority: app, 'labels': {...}}}, '#include': [...]}"""
    out = subprocess.run([_lint_tool(), "dialplan-show", str(LAB / "extensions.conf")], capture_output=True, text=True,
                         check=True).stdout
    plan: dict[str, dict] = {}
    ctx = exten = None
    for line in out.splitlines():
        m = re.match(r"\[ Context '([^']+)'", line)
        if m:
            ctx = m.group(1)
            plan[ctx] = {"#include": []}
            continue
        m = re.match(r"\s+Include =>\s+'([^']+)'", line)
        if m:
            plan[ctx]["#include"].append(m.group(1))
            continue
        m = re.match(r"\s+(?:'([^']+)' =>)?\s+(?:\[(\w+)\])?\s+(\d+)\. (\w+)\((.*)\)\s+\[pbx_config\]", line)
        if m:
            if m.group(1):
                exten = m.group(1)
                plan[ctx][exten] = {"labels": {}}
            prio = int(m.group(3))
            plan[ctx][exten][prio] = (m.group(4), m.group(5))
            if m.group(2):
                plan[ctx][exten]["labels"][m.group(2)] = prio
    return plan


# Applications of Asterisk 22 that asterisklint (last released 2016) has no definition of:
# apps/app_amd.c (AMD) and apps/app_waitforsilence.c (WaitForSilence, WaitForNoise).
ASTERISKLINT_LACKS = frozenset({"AMD", "WaitForSilence", "WaitForNoise"})


def test_extensions_conf_passes_asterisklint():
    res = subprocess.run([_lint_tool(), "dialplan-check", str(LAB / "extensions.conf")], capture_output=True, text=True)
    messages = [m for m in res.stderr.strip().splitlines() if m.strip()]
    other = [m for m in messages
             if not any(f"E_APP_MISSING: app '{app}' does not exist" in m for app in ASTERISKLINT_LACKS)]
    assert not other, "\n".join(other)
    assert res.returncode == (1 if messages else 0)


def test_other_configs_parse_cleanly():
    for name in ("manager.conf", "queues.conf", "confbridge.conf"):
        assert _config(name), name


def test_numbering_plan_has_the_recorded_priorities():
    """sim-pstn's branches sit at the priorities the recordings show (tests/fixtures/asterisk-22:
    Busy at 10, Wait(40) at 13, Hangup(1) at 17...); the lab reports them by running this file.
    The lab-only branches come after every recorded one, so they shift nothing."""
    sim = _dialplan()["sim-pstn"]
    main = sim["_[0-9+]."]
    labels = main["labels"]
    assert labels == {"o1": 7, "o2": 10, "o3": 12, "o4": 15, "o5": 17, "o6": 18, "op": 23, "og": 28, "or": 34}
    assert main[labels["o1"]][0] == "Answer" and main[8] == ("Wait", "2") and main[9][0] == "Hangup"
    assert main[labels["o2"]] == ("Busy", "5")
    assert main[labels["o3"]][0] == "Ringing" and main[13] == ("Wait", "40")
    assert main[labels["o4"]] == ("Congestion", "5")
    assert main[labels["o5"]] == ("Hangup", "1")
    assert main[19] == ("Read", "SIM_DIGIT,,1,,1,10") and main[20][0] == "UserEvent" and main[22][0] == "Hangup"
    assert main[4][0] == "Answer" and main[5] == ("Wait", "1") and main[6][0] == "Hangup"  # "other"
    assert main[25] == ("SendDTMF", "${SIM_PRESS}")
    assert [main[p][0] for p in range(34, 39)] == ["Ringing", "Wait", "Answer", "Wait", "Hangup"]
    # Without SIM_PRESS nothing can reach `op`, without SIM_RANDOM (the lab's, random mode) not `or`.
    assert '"${SIM_PRESS}" != ""' in main[2][1] and main[2][1].startswith('SIM_OUTCOME=${IF($["${SIM_RANDOM}" != ""]?')


def test_dialplan_has_every_context_the_dialer_and_the_lab_use():
    from autodialer.lab import server

    dp = _dialplan()
    destinations = {"from-dialer", "dialer-robot-order", "dialer-queue", "dialer-conference", "dialer-predictive",
                    "dialer-recall", "dialer-callback", "dialer-robot-survey", "dialer-conference-join"}
    for ctx in server.LAB_CONTEXTS | destinations | {"dialer-done"}:
        assert ctx in dp, f"context {ctx} missing from extensions.conf"
    assert dp["dialer-outbound"]["#include"] == ["sim-pstn"]
    for ctx in ("from-dialer", "dialer-robot-order", "dialer-queue", "dialer-conference"):
        assert "h" in dp[ctx], f"{ctx} needs an h extension (the lab reports Exten h on hangup)"
    robot = dp["dialer-robot-order"]["s"]
    assert robot[9] == ("Read", "KEY,${PROMPT:1},1,,2,5")  # the lab's dests._robot_order uses these priorities
    assert robot[11][1].startswith("DialerResult,AttemptId: ${ATTEMPT_ID},Key: ${KEY},Result: ")
    assert robot[13][0] == "Hangup" and robot[15][1].startswith("DialerQueue,") and robot[16][0] == "Hangup"
    assert robot[robot["labels"]["operator"]] == ("Queue", "support,,,,60")
    assert dp["dialer-queue"]["s"][2] == ("Queue", "support,,,,60")
    assert dp["dialer-conference"]["s"][2][1].startswith("${CONF_ROOM},")
    fd = dp["from-dialer"]
    assert set(fd) >= {"s", "_[0-9+].", "dtmf", "queue", "echo", "h"}
    # dialer-conference-join picks the profile by Goto(role_<role>) (5 participant, 7 moderator,
    # 9 listener; another role names no label and hangs up at 4).
    join = dp["dialer-conference-join"]["s"]
    assert join["labels"] == {"role_participant": 5, "role_moderator": 7, "role_listener": 9}
    assert join[3] == ("GotoIf", "$[${LEN(${CONF_ROLE})} = 0]?role_participant") and join[4] == ("Goto", "role_${CONF_ROLE}")
    assert [join[p] for p in (5, 7, 9)] == [("ConfBridge", f"${{CONF_ROOM}},dialer_bridge,dialer_{r}")
                                            for r in ("participant", "moderator", "listener")]


def test_manager_conf_is_loopback_only_with_least_privileges():
    conf = _config("manager.conf")
    general = dict(conf["general"])
    assert general["bindaddr"] == "127.0.0.1" and general["enabled"] == "yes" and general["webenabled"] == "no"
    user = conf["dialer"]
    d = dict(user)
    assert d["secret"] == "dialer-secret"
    keys = [k for k, _ in user]
    assert keys.index("deny") < keys.index("permit"), "deny everything first, then permit loopback"
    assert d["deny"] == "0.0.0.0/0.0.0.0" and d["permit"] == "127.0.0.1/255.255.255.255"
    read, write = set(d["read"].split(",")), set(d["write"].split(","))
    assert read == {"call", "user", "agent", "dtmf"}
    assert write == {"originate", "call", "reporting", "user"}
    assert not ({"all", "system", "command", "config"} & (read | write))
    assert d["eventfilter"].startswith("!Event: (")
    assert list(conf) == ["general", "dialer"], "one AMI user only"


def test_queue_support_members_exist_in_the_dialplan():
    conf = _config("queues.conf")
    support = conf["support"]
    d = dict(support)
    assert d["strategy"] == "rrmemory" and d["joinempty"] == "yes"
    members = [v for k, v in support if k == "member"]
    assert members == ["Local/agent1@sim-agents/n,0,Agent One", "Local/agent2@sim-agents/n,0,Agent Two"]
    agents = _dialplan()["sim-agents"]
    for m in members:
        exten = re.match(r"Local/(\w+)@sim-agents/n", m).group(1)
        assert exten in agents and agents[exten][3] == ("Wait", "5")


def test_confbridge_profiles_used_by_the_dialplan_exist():
    conf = _config("confbridge.conf")
    _, bridge, user = _dialplan()["dialer-conference"]["s"][2][1].split(",")
    assert dict(conf[bridge])["type"] == "bridge"
    assert dict(conf[user])["type"] == "user"


def test_every_custom_prompt_the_dialplan_plays_ships_in_sounds():
    """A missing prompt plays nothing on a real Asterisk (a warning, then the next step): an
    abandoned callee would hear silence instead of the message regulators require."""
    import wave

    text = (LAB / "extensions.conf").read_text()
    prompts = sorted(set(re.findall(r"Playback\((custom/[\w-]+)\)", text)))
    assert "custom/dialer-abandoned" in prompts
    for prompt in prompts:
        with wave.open(str(LAB / "sounds" / f"{prompt}.wav")) as w:  # Asterisk's wav: 8 kHz 16-bit mono
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1), prompt
            assert w.getnframes() > 8000, prompt  # more than a second of it
