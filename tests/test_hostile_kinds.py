"""The hostile corpus against the variables' kinds (issue 12, items 1 and 3): quotes, `|`, `&`,
parentheses, commas, `;`, `#`, case variants and long UTF-8 in a conference list whose columns are
CONF_ROLE (an enum), ORDER_ID (digits) and CUSTOMER (text). Through `autodialer import` into
PostgreSQL (the rejects and their reasons), then dialed as the campaign core does against the lab
PBX: what the PBX received (tests/amitap.py) and which conference profile each call joined with."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autodialer.lab import running_lab
from autodialer.telephony.safety import ChannelValue
from tests.amitap import AmiTap
from tests.faultkit import dial_due, load_into_store, rows, session_for, write_campaign

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"phone_columns": ["phone"], "variables": {"CONF_ROLE": "role", "ORDER_ID": "order_id", "CUSTOMER": "name"}}
DESTINATION = {"type": "conference", "context": "dialer-conference-join", "room": "r1"}

# id, phone, name, role, order_id -> (reject column, words of the reason) or (sent role, sent order id)
CORPUS = [
    ("moderator", "+79061234511", "Olga Host", "moderator", "1001", ("moderator", "1001")),
    ("case-upper", "+79061234521", "Pavel", "MODERATOR", "1002", ("moderator", "1002")),
    ("case-mixed-spaces", "+79061234531", "Roman", " Listener ", " 1003 ", ("listener", "1003")),
    ("empty-role", "+79061234541", "Sergey", "", "", ("participant", "")),
    ("hostile-text-name", "+79061234551", '"Boss" | (VIP); #1, & co \u00ab\u041e\u041e\u041e\u00bb', "participant", "1005",
     ("participant", "1005")),
    ("long-utf8-name", "+79061234561", "\u6771" * 250, "participant", "1006", ("participant", "1006")),  # 750 bytes: kept, not sent
    ("role-quote", "+79061234571", "x", 'participant" | "', "1007", ("role", "is not one of moderator, listener, participant")),
    ("role-shell", "+79061234581", "x", 'x" | SHELL(touch /tmp/marker) | "', "1008", ("role", "is not one of")),
    ("role-unknown", "+79061234591", "x", "boss", "1009", ("role", "'boss' is not one of")),
    ("role-fullwidth", "+79061234512", "x", "\uff4d\uff4f\uff44\uff45\uff52\uff41\uff54\uff4f\uff52", "1010", ("role", "is not one of")),
    ("role-comma", "+79061234513", "x", "moderator,1", "1011", ("role", "is not one of")),
    ("role-dotted-i", "+79061234514", "x", "L\u0130STENER", "1012", ("role", "is not one of")),
    ("order-comma", "+79061234515", "x", "participant", "12,s", ("order_id", "'12,s' is not digits")),
    ("order-semicolon", "+79061234516", "x", "participant", "7;8", ("order_id", "is not digits")),
    ("order-hash", "+79061234517", "x", "participant", "12#", ("order_id", "is not digits")),
    ("order-amp-pipe", "+79061234518", "x", "participant", "1&2|3", ("order_id", "is not digits")),
    ("order-parens", "+79061234519", "x", "participant", "(12)", ("order_id", "is not digits")),
    ("order-quote", "+79061234522", "x", "participant", '1" = "1', ("order_id", "is not digits")),
    ("order-arabic", "+79061234523", "x", "participant", "\u0661\u0662", ("order_id", "is not digits")),
    ("order-long-utf8", "+79061234524", "x", "participant", "\u0663" * 300, ("order_id", "300 characters, at most 256")),
    ("order-long-digits", "+79061234527", "x", "participant", "1" * 257, ("order_id", "257 characters, at most 256")),
    ("name-too-long", "+79061234525", "\u0416" * 600, "participant", "1013", ("name", "would be 1221 bytes")),
    ("name-expression", "+79061234526", "${SHELL(id)}", "participant", "1014", ("name", "dialplan expressions")),
]


def write_list(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "phone", "name", "role", "order_id"])
        for row in CORPUS:
            w.writerow(row[:5])


def cli(*args: str, db_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTODIALER_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autodialer", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.postgres
def test_hostile_kinds_through_import_and_dialing(tmp_path, pg_url):
    write_list(tmp_path / "corpus.csv")
    campaign_path = write_campaign(tmp_path, [], name="kinds", kind="conference", list=MAPPING, lists=["corpus.csv"],
                                   destination=DESTINATION)
    (tmp_path / "list.csv").unlink()
    proc = cli("import", str(campaign_path), str(tmp_path / "corpus.csv"), db_url=pg_url)
    assert proc.returncode == 0, proc.stderr
    accepted = [r for r in CORPUS if r[5][0] not in ("role", "order_id", "name")]
    rejected = [r for r in CORPUS if r not in accepted]
    assert f"read {len(CORPUS)}, accepted {len(accepted)}, duplicate 0, excluded 0, rejected {len(rejected)}" in proc.stdout

    # Every wrong-kind cell is a reject naming its column, the cell kept as it was written.
    rejects = {r["row_number"]: r for r in rows(pg_url, 'SELECT row_number, "column", value, reason FROM rejects')}
    for i, row in enumerate(CORPUS):
        n = i + 2
        if row in rejected:
            column, words = row[5]
            assert n in rejects, row[0]
            got = rejects[n]
            assert got["column"] == column and words in got["reason"], (row[0], got)
            if column != "name":  # a kind's reason names the column (text: the variable and its line's bytes)
                assert f"column '{column}'" in got["reason"], (row[0], got)
            assert got["value"] == {"role": row[3], "order_id": row[4], "name": row[2]}[column]
        else:
            assert n not in rejects, (row[0], rejects.get(n))
    # The contacts hold the values as they will be sent: the enum in its listed spelling, digits trimmed.
    stored = {r["phone"]: r["variables"] for r in rows(pg_url, "SELECT phone, variables FROM contacts")}
    for row in accepted:
        assert stored[row[1]] == {"CONF_ROLE": row[5][0], "ORDER_ID": row[5][1], "CUSTOMER": row[2]}, row[0]

    # Dialed: each Originate carries the checked values and what the campaign owns; the text
    # column (CUSTOMER) never reaches the PBX. The lab runs dialer-conference-join: the profile
    # joined follows the role (only the two moderators as admins).
    joins: dict[str, str] = {}
    with running_lab(time_scale=0.05) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = load_into_store(campaign_path, pg_url)

        async def main():
            async with session_for(tap.url_for(lab.url)) as ami:
                ami.subscribe("ConfbridgeJoin", lambda e: joins.__setitem__(e.get("Linkedid") or "", e.get("Admin")))
                return await dial_due(campaign, store, cid, ami)

        outcomes = asyncio.run(asyncio.wait_for(main(), 60))
        store.close()
    assert len(outcomes) == len(accepted) == len(tap.originates())
    by_phone = {row[1]: row for row in accepted}
    for o in tap.originates():
        phone = o["Channel"].split("/", 1)[1].split("@", 1)[0]
        role, order = by_phone[phone][5]
        variables = dict(v.split("=", 1) for v in o["Variable"])
        assert variables == {"CONF_ROLE": role, "ORDER_ID": order, "CONF_ROOM": "r1", "ATTEMPT_ID": o["ChannelId"],
                             "CAMPAIGN": "kinds"}, phone
        assert joins.get(o["ChannelId"]) == ("Yes" if role == "moderator" else "No"), (phone, joins)


def test_the_kind_is_checked_again_before_sending():
    """A value that did not come through the import (a contact row edited in the database, a
    caller of the engine) is held to its kind when the Originate is built: nothing is sent."""
    from autodialer.errors import UnsafeValueError
    from autodialer.telephony.dialplan import CONF_ROLE_KIND
    from autodialer.telephony.safety import TOKEN
    from autodialer.telephony.fields import checked_call_fields

    def fields(**variables):
        return checked_call_fields("79061234561", outbound_context="dialer-outbound", context="dialer-conference-join",
                                   variables=variables, attempt_id="a-1").variables

    assert fields(CONF_ROLE="Moderator", ORDER_ID=" 42 ") == {"ATTEMPT_ID": "a-1", "CONF_ROLE": "moderator", "ORDER_ID": "42"}
    for bad, words in [({"CONF_ROLE": 'participant" | "'}, "variable CONF_ROLE"), ({"ORDER_ID": "12,s"}, "variable ORDER_ID"),
                       ({"QUEUE": "support,,,,60,http://x"}, "variable QUEUE"), ({"CONF_ROOM": "r1,admin"}, "variable CONF_ROOM"),
                       ({"SURVEY_Q1": "survey/q1,1"}, "variable SURVEY_Q1"), ({"CLIENT_NUMBER": "1@x"}, "variable CLIENT_NUMBER"),
                       ({"REF": ChannelValue("a,b", TOKEN)}, "variable REF")]:
        with pytest.raises(UnsafeValueError, match=words):
            fields(**bad)
    assert fields(REF=ChannelValue("a-b", TOKEN), CONF_ROLE=ChannelValue("", CONF_ROLE_KIND))["CONF_ROLE"] == "participant"


def test_owned_variables_cannot_be_given_on_the_command_line_or_to_click_to_call():
    import asyncio as aio

    from autodialer.kinds.callback import click_to_call
    from autodialer.errors import UnsafeValueError

    env = {**os.environ, "PYTHONPATH": str(ROOT), "AUTODIALER_AMI_URL": "ami://u:p@127.0.0.1:9"}
    for var, words in [("QUEUE=support,,,,60", "--var QUEUE: QUEUE is set by the campaign's destination"),
                       ("CONF_ROOM=r2", "CONF_ROOM is set by the campaign's destination"),
                       ("ATTEMPT_ID=x", "ATTEMPT_ID is set by the dialer"), ("SURVEY_Q1=x", "set by the survey script"),
                       ("ORDER_ID=12,s", "--var ORDER_ID: '12,s' is not digits"),
                       ("CONF_ROLE=boss", "is not one of moderator, listener, participant")]:
        proc = subprocess.run([sys.executable, "-m", "autodialer", "call", "79061234561", "--var", var], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, (var, proc.stderr)

    class NoEngine:
        async def place(self, spec):
            raise AssertionError("nothing may be sent")

    for name in ("CLIENT_NUMBER", "CLIENT_RING", "OPERATOR", "ATTEMPT_ID"):
        with pytest.raises(UnsafeValueError, match=f"variable {name}: {name} is set by"):
            aio.run(click_to_call(NoEngine(), operator="101", number="79061234561", variables={name: "1"}))


@pytest.mark.parametrize("kind, value, sent", [
    ("digits", " 0042 ", "0042"), ("digits", "", ""), ("digits", "4 2", None), ("digits", "\u0664\u0662", None),
    ("digits", "1" * 257, None), ("token", "A-1_b", "A-1_b"), ("token", "a.b", None), ("token", "a b", None),
    ("number", "+79061234561", "+79061234561"), ("number", "7906@x", None), ("sound", "survey/q1", "survey/q1"),
    ("sound", "../etc/passwd", None), ("sound", "a&b", None), ("text", 'Doe, "John" (x) | y & z; #', 'Doe, "John" (x) | y & z; #'),
    ("text", "a${X}", None), ("text", "a\r\nb", None),
])
def test_each_kind_accepts_and_refuses(kind, value, sent):
    from autodialer.errors import UnsafeValueError
    from autodialer.telephony.safety import Kind

    if sent is None:
        with pytest.raises(UnsafeValueError, match="^v: "):
            Kind(kind).check(value, field="v")
    else:
        assert Kind(kind).check(value, field="v") == sent
    enum = Kind("enum", ("gold", "silver"), default="silver")
    assert [enum.check(v, field="v") for v in ("GOLD", " Silver", "")] == ["gold", "silver", "silver"]
    with pytest.raises(UnsafeValueError, match="v: 'bronze' is not one of gold, silver"):
        enum.check("bronze", field="v")
