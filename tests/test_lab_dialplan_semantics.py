"""The lab's dialplan interpreter against Asterisk 22's semantics (main/ast_expr2.y + .fl,
main/pbx_variables.c, main/app.c __ast_app_separate_args, pbx/pbx_config.c, main/pbx.c ext_cmp):
each expected value below is what those sources compute, not what would be convenient."""

from __future__ import annotations

import pytest

from autodialer.lab.dialplan import expr, parser, subst


class Scope:
    def __init__(self, **variables):
        self.vars = variables
        self.calls: list[tuple[str, str]] = []

    def get_var(self, name):
        return self.vars.get(name)

    def call_function(self, name, args):
        self.calls.append((name, args))
        from autodialer.lab.dialplan import apps

        fn = apps.FUNCTIONS.get(name)
        return fn(None, args) if fn is not None else None


@pytest.mark.parametrize("text, result", [
    ("1 + 1", "2"), ("7 / 2", "3.5"), ("7 % 3", "1"), ("2 * 3 + 1", "7"), ("2 * (3 + 1)", "8"), ("-5 + 2", "-3"),
    ("!0", "1"), ("!abc", "1"), ("!1", "0"), ("1 / 0", "2147483647"),
    ("abc = abc", "1"), ('"abc" = abc', "0"),  # a string literal keeps its quotes
    ('"a" = "a"', "1"), ("10 > 9", "1"), ('"10" > "9"', "0"),  # numbers numerically, quoted strings by strcoll
    ("3 < 10", "1"), ("2 <= 2", "1"), ("2 >= 3", "0"), ("1 != 1", "0"), ("a != b", "1"),
    ("0 | x", "x"), ("y | x", "y"), ('"" | x', '""'),  # "" (two quote characters) is not empty
    ("1 & 2", "1"), ("0 & 2", "0"),
    ('"79061234561" : "[1-6p]"', "0"), ('"1" : "[1-6p]"', "1"), ('"p" : "[1-6p]"', "1"),
    ('"abcdef" : "abc"', "3"), ('"abcdef" : "b"', "0"), ('"abcdef" =~ "b"', "1"), ('"abc123" : "[a-z]*([0-9]+)"', "123"),
    ('"ab" ~~ "cd"', "abcd"), ("1 ? yes :: no", "yes"), ("0 ? yes :: no", "no"), ('"" ? yes :: no', "no"), ('"x" ? yes :: no', "yes"),
    ("", ""), ("1 +", "0"), ("(1", "0"), ("F()", "0"),  # syntax errors give "0"
    ("5 == 5", "1"), ("1 || 0", "1"), ("0 && 1", "0"),
    ('"participant" | "" = "moderator"', '"participant"'),  # dialplan_expression_quote.txt
    ("1, 2", "0"),  # a comma outside a function call is a syntax error
])
def test_expression_values(text, result):
    assert expr.evaluate(text) == result


def test_precedence_follows_the_grammar():
    # | below &, & below comparisons, comparisons below + -, below * / %, unary, then : =~
    assert expr.evaluate("1 | 0 & 0") == "1"
    assert expr.evaluate("2 = 1 + 1") == "1"
    assert expr.evaluate("1 + 2 * 3") == "7"
    assert expr.evaluate('!"abc" : "x"') == "1"  # ! applies to (abc : x) = 0
    assert expr.evaluate("0 ? a :: 1 ? b :: c") == "b"  # left-associative: (0 ? a :: 1) ? b :: c


def test_a_bare_word_before_a_parenthesis_calls_a_function_even_inside_data():
    calls = []

    def call(name, args):
        calls.append((name, args))
        return ""

    out = expr.evaluate('"x" | SHELL(cd;touch$IFS\'marker\') | "" = "moderator"', call)
    assert out == '"x"'
    assert calls == [("SHELL", "cd;touch$IFS'marker'")]
    # arguments are joined with ',' (quotes kept); every operand is evaluated, no short-circuit
    calls.clear()
    expr.evaluate('1 | LEN("ab", 3) | 0 ? A(1) :: B(2)', call)
    assert calls == [("LEN", '"ab",3'), ("A", "1"), ("B", "2")]
    calls.clear()
    assert expr.evaluate("shell(x)", call) == "0" and calls == []  # lowercase is no function name
    calls.clear()
    assert expr.evaluate("SHELL(x) )", call) == "0" and calls == [("SHELL", "x")]  # ran before the syntax error


def test_function_results_that_look_numeric_are_numbers():
    assert expr.evaluate("F(1) + 1", lambda n, a: "41") == "42"
    assert expr.evaluate("F(1) = 0", lambda n, a: "") == "1"  # an empty result is the number 0


@pytest.mark.parametrize("text, variables, result", [
    ("${A}", {"A": "x"}, "x"), ("${MISSING}", {}, ""), ("a${A}b", {"A": "-"}, "a-b"),
    ("${N:-1}", {"N": "79061234561"}, "1"), ("${N:0:1}", {"N": "123"}, "1"), ("${N:1}", {"N": "123"}, "23"),
    ("${N:-3:2}", {"N": "12345"}, "34"), ("${N:1:-1}", {"N": "12345"}, "234"), ("${N:10}", {"N": "123"}, ""),
    ("${N:-10}", {"N": "123"}, "123"),
    ("${SURVEY_Q${Q}}", {"Q": "2", "SURVEY_Q2": "q2"}, "q2"),
    ("$[1 + ${A}]", {"A": "2"}, "3"), ("$[$[1 + 1] * 2]", {}, "4"),
    ("${LEN(${A})}", {"A": "hello"}, "5"), ("${EXISTS(${A})}", {"A": ""}, "0"), ("${EXISTS(${A})}", {"A": "0"}, "1"),
    ("${IF($[${A} > 0]?yes:no)}", {"A": "1"}, "yes"), ("${IF($[${A} > 0]?yes:no)}", {"A": "0"}, "no"),
    ("${IF(1?a)}", {}, "a"), ("${IF(0?a)}", {}, ""),
    ("$5 $x", {}, "$5 $x"), ("price $", {}, "price $"),
    # a value is substituted once: its own ${...} is not looked up again
    ("${A}", {"A": "${B}", "B": "no"}, "${B}"),
])
def test_substitution(text, variables, result):
    assert subst.substitute(text, Scope(**variables)) == result


def test_nested_ifs_as_the_robot_uses_them():
    text = ('${IF($["${KEY}" = "1"]?confirmed:${IF($["${KEY}" = "2"]?cancelled:'
            '${IF($["${KEY}" = "3"]?operator:no_input)})})}')
    assert [subst.substitute(text, Scope(KEY=k)) for k in ("1", "2", "3", "", "9")] == [
        "confirmed", "cancelled", "operator", "no_input", "no_input"]


def test_data_inside_an_expression_is_parsed_as_expression():
    """The defect of issue 12: a quote in CONF_ROLE closes the literal."""
    text = '$["${CONF_ROLE}" = "moderator"]'
    assert subst.substitute(text, Scope(CONF_ROLE="moderator")) == "1"
    assert subst.substitute(text, Scope(CONF_ROLE="participant")) == "0"
    assert subst.substitute(text, Scope(CONF_ROLE='participant" | "')) == '"participant"'
    scope = Scope(CONF_ROLE='x" | SHELL(cd;touch$IFS\'marker\') | "')
    assert subst.substitute(text, scope) == '"x"'
    assert ("SHELL", "cd;touch$IFS'marker'") in scope.calls


@pytest.mark.parametrize("data, args", [
    ("a,b,c", ["a", "b", "c"]), ("a,,c", ["a", "", "c"]), ("a,", ["a", ""]), ("", []), (",", ["", ""]),
    ("support,,,,60", ["support", "", "", "", "60"]),
    ("KEY,digits/1&digits/2,1,,2,5", ["KEY", "digits/1&digits/2", "1", "", "2", "5"]),
    ('a,"b,c",d', ["a", "b,c", "d"]),  # quotes group and are removed
    ("a,f(b,c),d", ["a", "f(b,c)", "d"]), ("a,[b,c],d", ["a", "[b,c]", "d"]),
    (r"a\,b,c", ["a,b", "c"]), (r"a\\,b", ["a\\", "b"]),
    ("a)b,c", ["a)b", "c"]),  # an unmatched ')' does not count
    ("12,s", ["12", "s"]),
])
def test_standard_app_args(data, args):
    assert subst.standard_args(data) == args


def test_the_last_argument_keeps_the_rest():
    assert subst.separate_args("a?b?c", "?", True, 2) == ["a", "b?c"]
    assert subst.standard_args('n,"x,y",z', 2) == ["n", '"x,y",z']


def test_a_comma_in_data_shifts_later_arguments_after_substitution():
    data = subst.substitute("Read(KEY,${PROMPT},1,,2,5)", Scope(PROMPT="digits/1,12"))
    inner = data[len("Read("):-1]
    assert subst.standard_args(inner) == ["KEY", "digits/1", "12", "1", "", "2", "5"]


def test_checkcondition():
    assert [subst.checkcondition(c) for c in ("", "0", "1", " 2", "-1", "abc", '"participant"', "0abc", "00")] == [
        False, False, True, True, True, True, True, False, False]


CONF = """
[general]
static=yes
[a]
exten => s,1,NoOp(one) ; a comment
 same => n(two),Set(X=a\\;b)
 same => n,Goto(two)
exten => _X.,1,NoOp(x.)
exten => _[0-9+].,1,NoOp(set.)
exten => _X,1,NoOp(x)
exten => _7XX,1,NoOp(7xx)
exten => 700,1,NoOp(literal)
exten => _7!,1,NoOp(bang)
 same => 5,NoOp(five)
 same => n,NoOp(six)
include => b
[b]
exten => 55555,1,NoOp(b)
exten => _X.,1,NoOp(b-x.)
"""


def test_parser_priorities_labels_and_data():
    dp = parser.parse(CONF)
    s = dp.contexts["a"].extensions["s"]
    assert sorted(s.steps) == [1, 2, 3] and s.labels == {"two": 2}
    assert (s.steps[1].app, s.steps[1].data) == ("NoOp", "one")
    assert s.steps[2].data == "X=a;b"  # \; is a literal semicolon
    bang = dp.contexts["a"].extensions["_7!"]
    assert sorted(bang.steps) == [1, 5, 6]


@pytest.mark.parametrize("exten, name, context", [
    ("700", "700", "a"),  # plain names before patterns
    ("701", "_7XX", "a"),  # 7 (one character) before X (ten)
    ("7", "_7!", "a"),  # X matches too, but 7 is more specific
    ("5", "_X", "a"), ("12", "_X.", "a"),  # X (10 characters) before [0-9+] (11)
    ("+7", "_[0-9+].", "a"),
    ("55555", "_X.", "a"),  # the context's own extensions before its includes
    ("s", "s", "a"), ("zz", None, None),
])
def test_pattern_match_order(exten, name, context):
    found = parser.parse(CONF).find("a", exten)
    if name is None:
        assert found is None
    else:
        assert (found[1].name, found[0].name) == (name, context)


def test_include_is_searched_after_the_context():
    dp = parser.parse(CONF.replace("exten => _X.,1,NoOp(x.)\n", "").replace("exten => _X,1,NoOp(x)\n", ""))
    assert dp.find("a", "55555")[1].name == "_[0-9+]."
    assert dp.find("b", "55555")[1].name == "55555"


def test_the_lab_refuses_a_dialplan_with_an_unknown_application_or_function(tmp_path):
    from autodialer.lab.dialplan import DialplanError, load_runtime

    bad = tmp_path / "extensions.conf"
    bad.write_text("[x]\nexten => s,1,Festival(hello)\n same => n,Set(A=${FIELDQTY(B,-)})\n"
                   " same => n,ExecIf($[1]?MixMonitor(f.wav))\n same => n,Set(B=$[NOPE(1) + 1])\n")
    with pytest.raises(DialplanError) as err:
        load_runtime(bad)
    text = str(err.value)
    for name in ("Festival()", "FIELDQTY()", "MixMonitor()", "NOPE()"):
        assert name in text
    assert "extensions.conf:2" in text


def test_the_shipped_dialplans_load():
    from autodialer.lab.dialplan import load_runtime
    from conftest import ROOT

    load_runtime(ROOT / "asterisk-lab" / "extensions.conf")
    load_runtime(ROOT / "tests" / "fixtures" / "dialplan" / "extensions-prefix.conf")


ENGINE_CONTEXTS = r"""
[t-loop]
exten => s,1,Set(I=0)
 same => n,While($[${I} < 3])
 same => n,Set(I=$[${I} + 1])
 same => n,ExecIf($[${I} = 2]?UserEvent(Two,I: ${I}):NoOp(not two))
 same => n,EndWhile()
 same => n,Gosub(t-sub,s,1(a,b c))
 same => n,GotoIf($["${GOSUB_RETVAL}" = "ab c"]?ok:bad)
 same => n(ok),NoOp(ok ${ARG1})
 same => n,Goto(t-pat,123,1)
 same => n(bad),NoOp(bad)

[t-sub]
exten => s,1,Return(${ARG1}${ARG2})

[t-pat]
exten => _1XX,1,NoOp(pattern ${EXTEN})
 same => n,Hangup(21)
exten => h,1,NoOp(h ${HANGUPCAUSE})
"""


def test_engine_loops_subroutines_labels_patterns_and_h(tmp_path):
    """While/EndWhile, ExecIf (true and false branch), Gosub with ARGn and Return's GOSUB_RETVAL,
    GotoIf to a label, Goto into a pattern extension of another context, Hangup(cause), h."""
    import asyncio

    from conftest import ROOT
    from test_lab_dialplan_defects import _run

    conf = tmp_path / "extensions.conf"
    conf.write_text((ROOT / "asterisk-lab" / "extensions.conf").read_text() + ENGINE_CONTEXTS)
    _, trace = asyncio.run(_run(conf, "t-loop", {}))
    ran = [(e.context, e.exten, e.priority, e.name, e.args) for e in trace if e.kind == "app"]
    assert [r[3] for r in ran[:14]] == ["Set", "While", "Set", "ExecIf", "NoOp", "EndWhile", "While", "Set", "ExecIf",
                                        "UserEvent", "EndWhile", "While", "Set", "ExecIf"]
    assert ("t-loop", "s", 4, "UserEvent", "Two,I: 2") in ran
    assert ("t-loop", "s", 4, "NoOp", "not two") in ran
    assert ("t-sub", "s", 1, "Return", "ab c") in ran
    assert ("t-loop", "s", 8, "NoOp", "ok ") in ran  # ARGn are the subroutine's only
    assert ("t-pat", "123", 1, "NoOp", "pattern 123") in ran
    assert ("t-pat", "123", 2, "Hangup", "21") in ran
    assert ran[-1] == ("t-pat", "h", 1, "NoOp", "h 21")
    assert not any(r[3] == "NoOp" and r[4] == "bad" for r in ran)


def test_strftime_with_fractions_of_a_second_and_the_arithmetic_the_predictive_queue_does():
    """STRFTIME(epoch,zone,format) as func_strings.c and ast_strftime (main/stdtime/localtime.c)
    give it: %[1-6]q the fraction with that many digits (%q: 3), %s the epoch; then the
    dialer-predictive computation of what is left of 2 s, in whole seconds."""
    from autodialer.lab.dialplan import apps

    when = "1796186562.293456"  # 2026-12-02 04:42:42.293456 UTC
    fn = apps.fn_strftime
    assert fn(None, f"{when},UTC,%Y-%m-%d %H:%M:%S.%3q") == "2026-12-02 04:42:42.293"
    assert fn(None, f"{when},Europe/Moscow,%H:%M:%S.%1q %6q %q %%q") == "07:42:42.2 293456 293 %q"
    assert fn(None, f"{when},UTC,%s.%3q") == "1796186562.293"
    started, now = "1796186562.293", "1796186563.653"
    elapsed = expr.evaluate(f"{now} - {started}")
    assert float(elapsed) == pytest.approx(1.36)
    assert expr.evaluate(f"FLOOR(2000 / 1000 - {elapsed})") == "0"  # under a second left: abandoned at once
    assert expr.evaluate(f"FLOOR(4000 / 1000 - {elapsed})") == "2"


class _Cutting(Scope):
    """A scope whose functions get a channel that substitutes (CUT reads its variable by name)."""

    def call_function(self, name, args):
        from autodialer.lab.dialplan import apps

        scope = self

        class Channel:
            def substitute(self, text):
                return subst.substitute(text, scope)

        fn = apps.FUNCTIONS.get(name)
        return fn(Channel(), args) if fn is not None else None


@pytest.mark.parametrize("data, result", [
    ("AMDCAUSE,-,2", "820"), ("AMDCAUSE,-,3", "800"), ("AMDCAUSE,-,1", "HUMAN"),
    ("AMDCAUSE,-,2-", "820-800"), ("AMDCAUSE,-,-2", "HUMAN-820"), ("AMDCAUSE,-,2-3", "820-800"),
    ("AMDCAUSE,-,9", ""),  # past the last field: nothing
    ("AMDCAUSE,,2", "820"),  # no delimiter: "-" (ast_get_encoded_char fails on an empty one)
    ("LIST,\\,,2&4", "b,d"),  # several ranges, rejoined by the delimiter (the backslash quotes the comma)
    ("LIST,\\,,4&2", "d"),  # a range already passed gives nothing (and a warning)
    ("NONE,-,1", ""),  # an empty variable
    ("AMDCAUSE,-", ""), ("AMDCAUSE,-,x", ""),  # too few arguments, a bad range: the read fails, nothing substituted
])
def test_cut_splits_a_variable_as_func_cut_does(data, result):
    """CUT(varname,char-delim,range-spec), funcs/func_cut.c cut_internal (strsep on one character,
    the sscanf()s of each range), as [dialer-amd] reads the silence after the greeting from
    AMDCAUSE HUMAN-<silence>-<afterGreetingSilence> (apps/app_amd.c)."""
    scope = _Cutting(AMDCAUSE="HUMAN-820-800", LIST="a,b,c,d,e")
    assert subst.substitute("${CUT(" + data + ")}", scope) == result


def test_the_greeting_end_arithmetic_of_dialer_amd():
    """The verdict's time less the silence in ms / 1000 (division first, ast_expr2's precedence;
    numbers are long doubles, so 820 / 1000 is 0.82), and the predictive queue's wait from it."""
    scope = _Cutting(AMDCAUSE="HUMAN-820-800", NOW="1796186563.653")
    start = subst.substitute("$[${NOW} - ${CUT(AMDCAUSE,-,2)} / 1000]", scope)
    assert float(start) == pytest.approx(1796186562.833)
    elapsed = expr.evaluate(f"1796186563.700 - {start}")
    assert float(elapsed) == pytest.approx(0.867)
    assert expr.evaluate(f"FLOOR(2000 / 1000 - {elapsed})") == "1"  # a second left for the queue
