"""The shipped dialplan never re-parses data (issue 12, item 2): tests/dialplan_lint.py on
asterisk-lab/extensions.conf finds nothing; on the file as it was before (tests/fixtures/dialplan/
extensions-prefix.conf) it finds the defects; and each rule of the lint, on small contexts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autodialer.telephony import dialplan as table
from autodialer.telephony.safety import TEXT
from tests.dialplan_lint import check, refs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "asterisk-lab" / "extensions.conf"
PREFIX = ROOT / "tests" / "fixtures" / "dialplan" / "extensions-prefix.conf"


def lint(tmp_path, body: str) -> list[str]:
    path = tmp_path / "extensions.conf"
    path.write_text("[t]\n" + body)
    return [v.message for v in check(path)]


def test_the_shipped_dialplan_never_reparses_data():
    assert [str(v) for v in check(SHIPPED)] == []


def test_the_dialplan_before_issue_12_fails():
    found = check(PREFIX)
    assert [(v.place, v.message) for v in found] == [
        ("dialer-robot-order,s,1", "text ${ORDER_TEXT} needs a comment saying it is not parsed (on this line or the one above)"),
        ("dialer-recall,s,1", "text ${MISSED_AT} needs a comment saying it is not parsed (on this line or the one above)"),
    ]


def test_before_issue_12_nothing_held_conf_role_to_its_kind_and_the_lint_finds_where_it_was_parsed(monkeypatch):
    """Before issue 12 a role cell reached the channel as it was written: text. With CONF_ROLE as
    text the lint points at exactly the GotoIfs where a quoted role became a moderator and reached
    SHELL() on a real Asterisk (shared/asterisk-22/dialplan_expression_quote.txt)."""
    entries = tuple(table.DialplanVariable(v.name, v.owner, TEXT, v.what) if v.name == "CONF_ROLE" else v
                    for v in table.VARIABLES)
    monkeypatch.setattr(table, "VARIABLES", entries)
    role = [v for v in check(PREFIX) if "CONF_ROLE" in v.message and "parses" in v.message]
    assert sorted((v.place, v.app) for v in role) == [
        ("dialer-conference-join,s,2", "UserEvent"), ("dialer-conference-join,s,3", "GotoIf"),
        ("dialer-conference-join,s,4", "GotoIf")]
    assert [v.message for v in role if v.app == "GotoIf"] == ["text ${CONF_ROLE} inside $[...] in the arguments of GotoIf(), where Asterisk parses it"] * 2


@pytest.mark.parametrize("body, words", [
    ('exten => s,1,GotoIf($["${CUSTOMER}" = "x"]?y)\n', "text ${CUSTOMER} inside $[...] in the arguments of GotoIf()"),
    ("exten => s,1,Set(X=${IF($[1]?${CUSTOMER}:b)})\n", "text ${CUSTOMER} inside IF() in the arguments of Set()"),
    ("exten => s,1,Set(X=${EVAL(${ORDER_TEXT})})\n", "text ${ORDER_TEXT} inside EVAL()"),
    ("exten => s,1,ExecIf($[${LEN(${CUSTOMER})} > 0]?Playback(x))\n", "text ${CUSTOMER} inside LEN() inside $[...]"),
    ("exten => s,1,Playback(${CUSTOMER})\n", "text ${CUSTOMER} in the arguments of Playback()"),
    ("exten => s,1,UserEvent(E,Name: ${CUSTOMER})\n", "text ${CUSTOMER} in the arguments of UserEvent()"),
    ("exten => s,1,NoOp(${CUSTOMER})\n", "text ${CUSTOMER} needs a comment saying it is not parsed"),
    ("exten => s,1,Set(N=${CUSTOMER})  ; not parsed: Set keeps all after =\n same => n,GotoIf($[\"${N}\" = \"\"]?x)\n",
     "text ${N} inside $[...] in the arguments of GotoIf()"),  # a variable set from text is text
    ("exten => s,1,Read(${CUSTOMER},,1)\n", "text ${CUSTOMER} in the arguments of Read()"),
    ('exten => s,1,ExecIf($[1]?Set(N=${CUSTOMER}))\n same => n,Playback(${N})\n', "text ${N} in the arguments of Playback()"),
    ("exten => s,1,Set(X=${UNHEARD_OF})\n", "${UNHEARD_OF} is not declared in autodialer/telephony/dialplan.py"),
    ("exten => s,1,Dial(PJSIP/${${CUSTOMER}})\n", "text ${CUSTOMER} inside variable name"),
])
def test_each_rule(tmp_path, body, words):
    found = lint(tmp_path, body)
    assert any(words in m for m in found), found


@pytest.mark.parametrize("body", [
    "exten => s,1,NoOp(${CUSTOMER})  ; CUSTOMER is text: not parsed (NoOp only logs its data)\n",
    "; CUSTOMER is text, not parsed: Set() keeps everything after the first =\nexten => s,1,Set(NAME=${CUSTOMER})\n",
    'exten => s,1,GotoIf($["${CONF_ROLE}" = "moderator"]?m)\n same => n,Goto(role_${CONF_ROLE})\n',  # an enum
    "exten => s,1,Read(KEY,${SURVEY_Q${Q}},1,,2,5)\n same => n,Set(Q=$[${Q} + 1])\n same => n,SendDTMF(${ORDER_ID})\n",
    "exten => s,1,Set(REST=${ORDER_ID})\n same => n,While($[${LEN(${REST})} > 0])\n same => n,EndWhile()\n",
    "exten => s,1,Dial(Local/${CLIENT_NUMBER}@out,${CLIENT_RING},g)\n same => n,Queue(${QUEUE},,,,60)\n",
])
def test_what_is_allowed(tmp_path, body):
    assert lint(tmp_path, body) == []


def test_refs_know_where_each_variable_stands():
    [r] = refs('$["${CONF_ROLE}" = "moderator"]?moderator')
    assert (r.name, r.where) == ("CONF_ROLE", ("$[...]",))
    assert [(r.name, r.where) for r in refs("KEY,${SURVEY_Q${Q}},1")] == [("SURVEY_Q*", ()), ("Q", ("variable name",))]
    assert [(r.name, r.where) for r in refs("${IF($[${A} > 0]?${B:1}:5)}")] == [("A", ("IF()", "$[...]")), ("B", ("IF()",))]


def test_the_table_says_what_the_shipped_file_sets_and_reads():
    text = SHIPPED.read_text()
    sets = set(re.findall(r"\b(?:Set|Read)\((\w+)[=,]", text))
    assert sets == {v.name for v in table.VARIABLES if v.owner == "dialplan"}
    read = {r.name for line in text.splitlines() if not line.lstrip().startswith(";") for r in refs(line.partition(";")[0])}
    data = {v.name for v in table.VARIABLES if v.owner == "data" and v.kind.parsed_safe}
    assert data <= read  # every data-fed variable the table gives a safe kind is one the dialplan reads
    assert not {v.name for v in table.VARIABLES if not v.kind.parsed_safe} & read  # no text variable is read
