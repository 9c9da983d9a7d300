"""Byte limits as Asterisk 22 counts them (main/manager.c get_input, pbx/pbx_spool.c apply_outgoing).

AMI: `Key: value` + CRLF may be 1,024 bytes; a longer line makes Asterisk answer the whole message
"Failed to parse message: line too long" and never run it; at most 128 lines a message. Call
files: a line + LF may be 1,023 bytes, a longer one is skipped with a warning; `;` starts a
comment unless written `\\;`, `#` after a blank does too. The lab PBX behaves so (over TCP, as a
raw client sees it), and the dialer never sends what Asterisk would throw away: the list ingest
rejects such a row naming its column, the engine and the call-file writer refuse naming the field.
"""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path

import pytest

from autodialer.errors import UnsafeValueError
from autodialer.lab import running_lab
from autodialer.lab.spool import parse_call_file
from autodialer.telephony.callfiles import call_file_text, wait_call_result, write_call_file
from autodialer.telephony.engine import DialEngine
from tests.amitap import AmiTap
from tests.faultkit import dial_due, load_into_store, rows, session_for, write_campaign
from tests.test_lab_rawami import RawAmi

PAD = "X-Pad"


def _user_event(aid: str, pad: str) -> bytes:
    return (f"Action: UserEvent\r\nActionID: {aid}\r\nUserEvent: Probe\r\n{PAD}: {pad}\r\n\r\n").encode()


def _pad_for(line_bytes: int, char: str = "a") -> str:
    """A value making `X-Pad: <value>\\r\\n` exactly `line_bytes` bytes, of `char` (then ASCII)."""
    room = line_bytes - len(f"{PAD}: \r\n")
    width = len(char.encode())
    return char * (room // width) + "a" * (room % width)


def test_lab_ami_takes_a_1024_byte_line_and_refuses_a_1025_byte_one_as_asterisk_does():
    with running_lab(time_scale=0.01) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        for char in ("a", "ж", "😀"):  # counted in UTF-8 bytes, not characters
            pad = _pad_for(1024, char)
            assert len(f"{PAD}: {pad}\r\n".encode()) == 1024
            c.sock.sendall(_user_event(f"ok-{char}", pad))
            seen = c.until(lambda m: m.get("ActionID") == f"ok-{char}")
            assert seen[-1]["Response"] == "Success"
            assert any(m.get("UserEvent") == "Probe" and m.get(PAD) == pad for m in seen[:-1])

            over = pad + "a"
            c.sock.sendall(_user_event(f"long-{char}", over))
            resp = c.until(lambda m: m.get("ActionID") == f"long-{char}")
            assert resp[-1]["Response"] == "Error" and resp[-1]["Message"] == "Failed to parse message: line too long"
            assert not any(m.get("UserEvent") == "Probe" for m in resp)  # never run
        # The session goes on: the next action is answered as usual.
        assert c.action("Ping")[0]["Ping"] == "Pong"

        # 1,023 bytes + CRLF: Asterisk keeps the buffer's last byte (the CR), the LF then makes a
        # blank line, which ends the message right there; the lines after it are a message of their own.
        c.sock.sendall(_user_event("split", "a" * (1023 - len(f"{PAD}: "))))
        first = c.read()
        second = c.read()
        assert (first["ActionID"], first["Message"]) == ("split", "Failed to parse message: line too long")
        assert second["Response"] == "Error" and second["Message"] == "Missing action in request"

        # More than 128 lines: refused as a whole.
        many = "".join(f"H{i}: v\r\n" for i in range(126))
        c.sock.sendall(f"Action: UserEvent\r\nActionID: many\r\nUserEvent: Probe\r\n{many}\r\n".encode())
        resp = c.until(lambda m: m.get("ActionID") == "many")[-1]
        assert (resp["Response"], resp["Message"]) == ("Error", "Too many lines in message or allocation failure")
        c.sock.sendall(f"Action: UserEvent\r\nActionID: fits\r\nUserEvent: Probe\r\n{''.join(f'H{i}: v' + chr(13) + chr(10) for i in range(125))}\r\n".encode())
        assert c.until(lambda m: m.get("ActionID") == "fits")[-1]["Response"] == "Success"  # 128 lines
        c.close()
        assert sum("Line too long" in w for w in lab.warnings) == 4


def _boundary_rows() -> list[tuple[str, str, str]]:
    """(phone, CUSTOMER cell, expected): `Variable: CUSTOMER=<escaped>` + CRLF is 21 bytes + the value."""
    return [
        ("+79061234561", "ж" * 501 + "a", "accept"),    # 1,003 bytes, 502 characters: the line is exactly 1,024
        ("+79061234571", "ж" * 502, "reject"),          # 1,004 bytes, 502 characters
        ("+79061234581", "," * 501 + "a", "accept"),    # 502 characters, 1,003 once escaped for Asterisk
        ("+79061234591", "," * 502, "reject"),          # 1,004 once escaped
        ("+79061234601", ";" * 600, "reject"),          # fits the AMI; as a call-file line `Set: CUSTOMER=\;...` 1,215
        ("+79061234611", "Ivan; #1 \\;", "accept"),
    ]


def test_list_rows_asterisk_could_not_take_are_rejected_and_the_rest_reach_the_lab_whole(tmp_path, pg_url):
    camp = write_campaign(tmp_path, [], name="bytes", list={"phone_columns": ["phone"], "variables": {"CUSTOMER": {"column": "name", "send": True}}})
    cases = _boundary_rows()
    with (tmp_path / "list.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name"])
        for phone, name, _ in cases:
            w.writerow([phone, name])
    campaign, store, cid = load_into_store(camp, pg_url)
    rejects = {r["row_number"]: r for r in rows(pg_url, 'SELECT row_number, "column", value, reason FROM rejects')}
    assert sorted(rejects) == [i + 2 for i, (_, _, e) in enumerate(cases) if e == "reject"]  # row 1 is the header
    for r in rejects.values():
        assert r["column"] == "name" and r["reason"].startswith("variable CUSTOMER: ") and " bytes " in r["reason"], r
    assert "call-file line `Set: ...` would be 1215 bytes" in next(
        r["reason"] for r in rejects.values() if r["value"].startswith(";"))
    assert "would be 1025 bytes" in next(r["reason"] for r in rejects.values() if r["value"].startswith("ж"))

    with running_lab(time_scale=0.01) as lab, AmiTap(lab.host, lab.port) as tap:
        async def go():
            async with session_for(tap.url_for(lab.url)) as ami:
                return await dial_due(campaign, store, cid, ami)

        outcomes = asyncio.run(go())
    store.close()
    assert len(outcomes) == 3
    sent = b"".join(tap.sent_bytes())
    lines = [ln for ln in sent.split(b"\r\n") if ln.startswith(b"Variable: CUSTOMER=")]
    assert len(lines) == 3 and max(len(ln) + 2 for ln in lines) == 1024
    assert sorted(len(ln) + 2 for ln in lines) == [len("Variable: CUSTOMER=Ivan; #1 \\\\;\r\n".encode()), 1024, 1024]
    assert lab.warnings == []  # nothing the PBX had to throw away
    statuses = {r["number"]: r["status"] for r in rows(pg_url, "SELECT number, status FROM attempts")}
    assert set(statuses) == {p for p, _, e in cases if e == "accept"}


def test_engine_refuses_an_originate_asterisk_would_discard_and_sends_nothing():
    with running_lab(time_scale=0.01) as lab, AmiTap(lab.host, lab.port) as tap:
        async def go():
            async with session_for(tap.url_for(lab.url)) as ami:
                engine = DialEngine(ami, result_grace=1.0)
                room = 1024 - len("Variable: NOTE=\r\n")
                with pytest.raises(UnsafeValueError, match=r"variable NOTE: the AMI line `Variable: \.\.\.` would be 1025 bytes"):
                    await engine.originate("79061234561", context="dialer-robot-order", variables={"NOTE": "(" * (room // 2) + "ab"},
                                           attempt_id="too-long")
                with pytest.raises(UnsafeValueError, match="caller_id"):
                    await engine.originate("79061234561", context="dialer-robot-order", caller_id="ж" * 130,
                                           attempt_id="too-long-cid")
                with pytest.raises(UnsafeValueError, match="header lines"):
                    await engine.originate("79061234561", context="dialer-robot-order",
                                           variables={f"V{i}": "1" for i in range(120)}, attempt_id="too-many")
                # Any action, not only an Originate: the session refuses before writing.
                with pytest.raises(UnsafeValueError, match="UserEvent header Note"):
                    await ami.send_action({"Action": "UserEvent", "UserEvent": "X", "Note": "n" * 1100})
                result = await engine.originate("79061234561", context="dialer-robot-order",
                                                variables={"NOTE": "(" * (room // 2) + "a"}, attempt_id="fits")
                return result

        result = asyncio.run(go())
    assert result.attempt_id == "fits"
    originates = tap.originates()
    assert [o["ChannelId"] for o in originates] == ["fits"]
    assert not any(b"UserEvent: X" in b for b in tap.sent_bytes())
    assert lab.warnings == []


def test_call_files_escape_semicolons_refuse_what_pbx_spool_would_cut_and_the_lab_spool_reads_them_back(tmp_path):
    values = {"NOTE": "a;b \\; c", "PLAIN": "x#y", "UTF": "Ёжик"}
    text = call_file_text("79061234561", context="from-dialer", variables=values, attempt_id="cf-1")
    assert "Set: NOTE=a\\;b \\\\; c\n" in text
    assert {k: v for k, v in parse_call_file(text).variables.items() if k != "ATTEMPT_ID"} == values
    # `Data: ` + value + LF may be 1,023 bytes, the escapes counted.
    text = call_file_text("79061234561", application="Wait", data="ж" * 508)
    assert max(len(line.encode()) + 1 for line in text.splitlines()) == 1023
    call_file_text("79061234561", application="Wait", data="a" * 1010 + ";" * 3)
    with pytest.raises(UnsafeValueError, match=r"data: the call-file line `Data: \.\.\.` would be 1025 bytes"):
        call_file_text("79061234561", application="Wait", data="a" * 1010 + ";" * 4)
    with pytest.raises(UnsafeValueError, match=r"data: the call-file line `Data: \.\.\.` would be 1024 bytes"):
        call_file_text("79061234561", application="Wait", data="ж" * 508 + "a")
    # A variable must fit both ways (the ingest cannot know which): here the AMI line is the tighter.
    with pytest.raises(UnsafeValueError, match=r"variable NOTE: the call-file line `Set: \.\.\.` would be 1024 bytes"):
        call_file_text("79061234561", context="from-dialer", variables={"NOTE": "a" * 1001 + ";" * 6})
    with pytest.raises(UnsafeValueError, match="variable NOTE: `#` after a blank"):
        call_file_text("79061234561", context="from-dialer", variables={"NOTE": "order #5"})
    with pytest.raises(UnsafeValueError, match="caller_id: `#` after a blank"):
        call_file_text("79061234561", context="from-dialer", caller_id="#100")
    with pytest.raises(UnsafeValueError, match="variable NOTE: a trailing blank"):
        call_file_text("79061234561", context="from-dialer", variables={"NOTE": "x "})

    # Through the lab's spool: the file written by the dialer goes through whole; a hand-written
    # file with a 1,024-byte Set line loses that line (with Asterisk's warning), not the call.
    with running_lab(time_scale=0.01, spool_dir=tmp_path) as lab:
        write_call_file(tmp_path, "79061234561", context="from-dialer", variables=values, attempt_id="cf-ok")
        long_line = "Set: LONG=" + "x" * (1023 - len("Set: LONG="))  # + LF = 1,024 bytes
        edge_line = "Set: EDGE=" + "y" * (1022 - len("Set: EDGE="))  # + LF = 1,023 bytes: read
        hand = ("Channel: Local/79061234561@dialer-outbound\nContext: from-dialer\nExtension: s\n"
                f"{long_line}\n{edge_line}\nSet: AFTER=1 ; a comment\nArchive: yes\n")
        tmp = tmp_path / ".hand.tmp"
        tmp.write_text(hand)
        tmp.rename(tmp_path / "outgoing" / "hand.call")

        async def results():
            return [await wait_call_result(tmp_path, n, timeout=10) for n in ("cf-ok.call", "hand.call")]

        ok, hand_outcome = asyncio.run(results())
        warnings = list(lab.warnings)
    assert ok.archive_status == "Completed" and hand_outcome.archive_status == "Completed"
    assert warnings == [f"Skipping extremely long line at line 4 of {tmp_path / 'outgoing' / 'hand.call'}"]
    read = parse_call_file(hand)
    assert "LONG" not in read.variables and read.variables["EDGE"] == "y" * 1012 and read.variables["AFTER"] == "1"
