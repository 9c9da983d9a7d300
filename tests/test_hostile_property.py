"""Property: no spreadsheet row, however hostile, makes the dialer send anything but the intended
Originate with validated fields. Rows (phone + variables) are drawn from hostile alphabets, go
through the list normalisation (prepare_chunk) and the dial engine to the lab PBX over TCP; a
recording tap (tests/amitap.py) keeps the raw bytes the PBX received."""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodialer.config import parse_ami_url
from autodialer.lab import running_lab
from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import PhoneNormalizer
from autodialer.lists.prepare import prepare_chunk
from autodialer.lists.reading import ROW
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.engine import DialEngine
from tests.amitap import AmiTap, split_actions

MAPPING = ListMapping(phone_columns=["phone"], variables={"CUSTOMER": "name", "ORDER_ID": "order_id"})
COLUMNS = ["phone", "name", "order_id"]
HOSTILE_CHARS = (
    "\r\n\t\x00\x1b\x7f\u2028\u2029\u202e\u200b\ufeff"  # control, separators, bidi, zero-width, BOM
    ":;,&@/\\|$.{}[]()\"'=+-_ *!?#%^~`<>"  # AMI and dialplan syntax
    "0123456789"  # ASCII digits
    "\u0660\u0661\u0667\u0669\u06f7\uff10\uff17\uff19\uff0b\u0967\u00b2"  # other digits: Arabic-Indic, full-width, ...
    "ActionOrigntChlLcaVbe"  # letters of `Action: Originate` / `Channel: Local` / `Variable`
    "éЖ東😀\u00a0"
)
INJECTIONS = ["\r\nAction: Originate\r\nChannel: Local/666@evil\r\n\r\n", "${SHELL(id)}", "$[1+1]", "1,EVIL=2",
              "=HYPERLINK(\"http://x\")", "Action: Hangup", "\n", "\r", "\\", ","]
hostile_text = st.one_of(
    st.text(alphabet=HOSTILE_CHARS, max_size=30),
    st.builds(lambda a, inj, b: a + inj + b, st.text(alphabet=HOSTILE_CHARS, max_size=8), st.sampled_from(INJECTIONS),
              st.text(alphabet=HOSTILE_CHARS, max_size=8)),
    st.text(max_size=20),  # anything Unicode
)
# Printable AMI/dialplan syntax, no control characters: these rows are accepted and must reach the
# PBX as written, inside their one header line.
printable_syntax = st.text(alphabet=":;,&@/\\|$.{}[]()\"'=+-_ *!?#%^~`<>ActionOrigntéЖ東😀", max_size=30)
valid_phone = st.builds(lambda p, n: f"{p}906{n:07d}", st.sampled_from(["+7", "7", "8", " +7 ", "+7-"]),
                        st.integers(0, 9_999_999))
phone = st.one_of(valid_phone, hostile_text, st.builds(lambda p, t: p + t, valid_phone, hostile_text))
row = st.one_of(
    st.fixed_dictionaries({"phone": phone, "name": hostile_text, "order_id": hostile_text}),
    st.fixed_dictionaries({"phone": valid_phone, "name": printable_syntax, "order_id": printable_syntax}),
)
UNSAFE = re.compile(r"\$[{\[]")


def _unsafe(value: str) -> bool:
    return bool(UNSAFE.search(value)) or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)


def unescape_variable(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def test_no_generated_row_sends_anything_but_the_intended_originate():
    normalizer = PhoneNormalizer("RU")
    with running_lab(time_scale=0.001) as lab, AmiTap(lab.host, lab.port) as tap:
        url = tap.url_for(lab.url)
        examples = {"n": 0, "accepted": 0, "rejected": 0}

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(rows=st.lists(row, min_size=1, max_size=4))
        def check(rows):
            frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
            frame[ROW] = range(2, 2 + len(frame))
            prepared = prepare_chunk(frame, MAPPING, normalizer, COLUMNS)
            good = prepared.good
            rejected_rows = {r[0] for r in prepared.rejects}
            blank = prepared.blank
            assert len(good) + len(rejected_rows) + blank == len(rows)
            for r in prepared.rejects:
                assert r[3]  # a reason
            # Oracle: a row with a control character or a dialplan expression in a variable is never accepted.
            # ORDER_ID is of kind digits, read stripped: a cell of only whitespace (U+2028 included) is empty.
            for i, cells in enumerate(rows):
                if _unsafe(cells["name"]) or _unsafe(cells["order_id"].strip()):
                    assert i + 2 not in set(good["row"]), cells
            intended = [(str(p), json.loads(v)) for p, v in zip(good["phone"], good["variables"])]
            examples["n"] += 1
            examples["accepted"] += len(intended)
            examples["rejected"] += len(rejected_rows)
            if not intended:
                return
            before = len(tap.sent_bytes())

            async def dial():
                ami = await AmiSession(parse_ami_url(url), ping_interval=0, reconnect=False).connect()
                try:
                    engine = DialEngine(ami, result_grace=0.5, settle=0.01)
                    return await asyncio.gather(*(
                        engine.originate(p, context="from-dialer", variables=v, ring_timeout=15, attempt_id=f"prop{examples['n']}x{i}")
                        for i, (p, v) in enumerate(intended)
                    ))
                finally:
                    await ami.close()

            results = asyncio.run(asyncio.wait_for(dial(), 20))
            assert len(results) == len(intended)
            [raw] = tap.sent_bytes()[before:]  # this example's one connection, byte for byte
            originates = []
            for action in split_actions(raw):
                for key, value in action:
                    assert value is not None and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key), (key, value)
                    assert "\r" not in value and "\n" not in value
                if action[0] == ("Action", "Originate"):
                    originates.append(action)
                else:
                    assert action[0][0] == "Action" and action[0][1] in ("Login", "Logoff"), action
            assert len(originates) == len(intended)  # exactly one per accepted row
            for action, (p, variables) in zip(originates, intended):
                d = dict(action)
                assert re.fullmatch(r"\+?[0-9]{2,20}", p)
                assert d["Channel"] == f"Local/{p}@dialer-outbound"
                sent_vars = {}
                for key, value in action:
                    if key == "Variable":
                        name, _, val = value.partition("=")
                        assert re.fullmatch(r"(?:[^\\,\"()\[\]]|\\.)*", val), value  # every separator escaped
                        sent_vars[name] = unescape_variable(val)
                assert sent_vars == {**variables, "ATTEMPT_ID": d["ChannelId"]}

        check()
    print("property examples:", examples)
    assert examples["accepted"] > 20 and examples["rejected"] > 20  # both paths were exercised
