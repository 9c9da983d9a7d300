"""Asterisk's `$[...]` expressions, as main/ast_expr2.fl (scanner) and main/ast_expr2.y (grammar)
of Asterisk 22 define them, evaluated on text that variable substitution already produced.

Why it matters: this is where list data that reached a dialplan expression is parsed again. A
string literal is `"[^"]*"` and keeps its quotes (so a quote inside data closes it), a bare word
followed by `(` is a call of any dialplan function (SHELL included), and the operators
`| & = != < > <= >= + - * / % : =~ ~~ ? :: !` and `,` work on whatever the data turns into.

Values are typed as Asterisk types them: a number (result of arithmetic or comparison), a numeric
string (a token of digits), a string (anything else, quotes included). Every operand is evaluated
(no short-circuit, `?::` included), in the order bison reduces them, and a syntax error makes
the whole expression "0" after the function calls already parsed have run, as in Asterisk.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Callable

NUMBER, NUMSTR, STRING = "number", "numeric_string", "string"

# ast_expr2.fl: operators, longest first (flex takes the longest match).
_OPS = ("||", "&&", "==", "=~", "~~", ">=", "<=", "!=", "::", "|", "&", "=", ">", "<", "+", ",", "-", "*", "/",
        "%", "?", "!", ":", "(", ")")
_OP_ALIAS = {"||": "|", "&&": "&", "==": "="}
_WORD_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.';\\_^#@")
_TRAIL_STOP = set("-\t\r \n$():?%/+=*<>!|&")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


class ExprSyntaxError(Exception):
    """The expression does not parse (Asterisk logs a syntax error and the result is "0")."""


@dataclass
class Val:
    type: str
    v: object  # float for NUMBER, str otherwise

    @classmethod
    def number(cls, x: float) -> "Val":
        return cls(NUMBER, float(x))


def make_str(s: str) -> Val:
    """make_str(): a string made of digits and dots (a leading '-' does not count) is numeric."""
    isint = bool(s) and (s[0].isdigit() or s[0] in "-.")
    if isint:
        isint = all(c.isdigit() or c == "." for c in s)
    return Val(NUMSTR if isint else STRING, s)


def fmt_number(x: float) -> str:
    """FP___PRINTF "%.18Lg" (the lab computes in double precision)."""
    if x == int(x) and abs(x) < 1e18:
        return str(int(x))
    return "%.18g" % x


def _strtod(s: str) -> float:
    m = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", s)
    return float(m.group(0)) if m else 0.0


def to_number(a: Val) -> bool:
    if a.type == NUMBER:
        return True
    if a.type == STRING:
        return False
    a.v, a.type = _strtod(a.v), NUMBER
    return True


def to_string(a: Val) -> None:
    if a.type == NUMBER:
        a.v, a.type = fmt_number(a.v), STRING


def as_text(a: Val) -> str:
    return fmt_number(a.v) if a.type == NUMBER else a.v


def strip_quotes(a: Val) -> None:
    """strip_quotes(): only when the value starts and ends with a quote, then every quote goes."""
    if a.type != NUMBER and a.v[:1] == '"' and a.v[-1:] == '"':
        a.v = a.v.replace('"', "")


def is_zero_or_null(a: Val) -> bool:
    if a.type == NUMBER:
        return a.v == 0
    return a.v == "" or (to_number(a) and a.v == 0)


# --- the scanner (ast_expr2.fl) --------------------------------------------------------------------
def tokenize(s: str) -> list[tuple[str, object]]:
    """[(kind, value)]: kind is an operator ("|", "(", ...) or "TOKEN" with a Val."""
    out: list[tuple[str, object]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in " \t\r\n":
            i += 1
            continue
        if s.startswith("${", i):  # <var> and <trail> states: an unsubstituted ${...} and what trails it
            j = _scan_var(s, i)
            out.append(("TOKEN", Val(STRING, s[i:j])))
            i = j
            continue
        if c == '"':
            end = s.find('"', i + 1)
            if end >= 0:
                out.append(("TOKEN", Val(STRING, s[i:end + 1])))
                i = end + 1
                continue
            i += 1  # an unmatched quote: flex's default rule echoes it; no token
            continue
        wj = _scan_word(s, i)
        num = _NUMBER.match(s, i)
        nlen = num.end() - i if num else 0
        wlen = wj - i
        if wlen or nlen:
            if nlen >= wlen:  # same length: the number rule comes first
                out.append(("TOKEN", Val(NUMSTR, s[i:i + nlen])))
                i += nlen
            elif s.startswith("${", wj):  # word${...}
                j = _scan_var(s, wj)
                out.append(("TOKEN", Val(STRING, s[i:j])))
                i = j
            else:
                out.append(("TOKEN", Val(STRING, s[i:wj])))
                i = wj
            continue
        for op in _OPS:
            if s.startswith(op, i):
                out.append((_OP_ALIAS.get(op, op), op))
                i += len(op)
                break
        else:
            i += 1  # any other character: echoed by flex, no token
    return out


def _scan_word(s: str, i: int) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if c in _WORD_CHARS or ord(c) >= 0x80:
            i += 1
        elif c == "$" and i + 1 < n and s[i + 1] != "{":
            i += 2
        else:
            break
    return i


def _scan_var(s: str, i: int) -> int:
    """From `${`: up to the matching `}`, then trailing characters up to an operator/space."""
    depth, j, n = 0, i + 2, len(s)
    while j < n:
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth < 0:
                j += 1
                break
        j += 1
    while j < n and s[j] not in _TRAIL_STOP:
        j += 1
    if s.startswith("${", j):
        return _scan_var(s, j)
    return j


# --- the grammar (ast_expr2.y), evaluated while parsing --------------------------------------------
# Binary operators and their precedence (higher binds tighter); all left-associative.
_BINARY = {"?": 2, "|": 3, "&": 4, "=": 5, ">": 5, "<": 5, ">=": 5, "<=": 5, "!=": 5, "+": 6, "-": 6, "*": 7, "/": 7,
           "%": 7, ":": 9, "=~": 9, "~~": 9}
_UNARY_PREC = 8

FunctionCall = Callable[[str, str], str]  # (NAME, composed args) -> the function's text result


class _Parser:
    def __init__(self, tokens, call: FunctionCall | None):
        self.t = tokens
        self.i = 0
        self.call = call

    def peek(self) -> str | None:
        return self.t[self.i][0] if self.i < len(self.t) else None

    def take(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str) -> None:
        if self.peek() != kind:
            raise ExprSyntaxError(f"expected {kind!r}")
        self.i += 1

    def parse(self) -> Val:
        if not self.t:
            return Val(STRING, "")
        v = self.expr(0)
        if self.i != len(self.t):
            raise ExprSyntaxError(f"unexpected {self.t[self.i][1]!r}")
        return v

    def expr(self, min_prec: int) -> Val:
        left = self.unary()
        while True:
            op = self.peek()
            prec = _BINARY.get(op)
            if prec is None or prec < min_prec:
                return left
            self.i += 1
            if op == "?":
                middle = self.expr(0)
                self.expect("::")
                right = self.expr(prec + 1)
                left = op_cond(left, middle, right)
            else:
                right = self.expr(prec + 1)
                left = _APPLY[op](left, right)

    def unary(self) -> Val:
        kind = self.peek()
        if kind == "-":
            self.i += 1
            return op_negate(self.expr(_UNARY_PREC))
        if kind == "!":
            self.i += 1
            return op_compl(self.expr(_UNARY_PREC))
        if kind == "(":
            self.i += 1
            v = self.expr(0)
            self.expect(")")
            return v
        if kind == "TOKEN":
            tok = self.take()[1]
            if self.peek() == "(":
                self.i += 1
                args = self.arglist()
                self.expect(")")
                return self.op_func(tok, args)
            return Val(tok.type, tok.v)
        raise ExprSyntaxError(f"unexpected {kind!r}")

    def arglist(self) -> list[Val]:
        args = [self.expr(0)]  # the first argument cannot be empty (`F()` is a syntax error)
        while self.peek() == ",":
            self.i += 1
            if self.peek() in (",", ")"):
                args.append(make_str(""))
                continue
            args.append(self.expr(0))
        return args

    def op_func(self, name: Val, args: list[Val]) -> Val:
        fname = as_text(name)
        if not fname or fname.strip("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"):
            return Val.number(0)  # "is not possibly a function name"
        math_fn = _MATH.get(fname)
        if math_fn is not None:
            fn, arity = math_fn
            if len(args) != arity:
                return Val.number(0)
            for a in args:
                to_number(a)
            try:
                return Val.number(fn(*[a.v if a.type == NUMBER else 0.0 for a in args]))
            except (ValueError, OverflowError, ZeroDivisionError):
                return Val.number(float("nan"))
        if self.call is None:
            return Val.number(0)
        composed = ",".join(as_text(a) for a in args)
        result = self.call(fname, composed)
        if result is None:  # no such function
            return Val.number(0)
        result = result[:511]  # char workspace[512]
        if len(result.strip("-0123456789. \t")) == 0:  # is_really_num()
            return Val.number(_strtod(result))
        return make_str(result)


def _cmp(op: Callable[[object, object], bool]):
    def apply(a: Val, b: Val) -> Val:
        if a.type == STRING or b.type == STRING:
            to_string(a)
            to_string(b)
            return Val.number(1 if op(a.v, b.v) else 0)
        to_number(a)
        to_number(b)
        return Val.number(1 if op(a.v, b.v) else 0)
    return apply


def op_or(a: Val, b: Val) -> Val:
    return b if is_zero_or_null(a) else a


def op_and(a: Val, b: Val) -> Val:
    if is_zero_or_null(a) or is_zero_or_null(b):
        return Val.number(0)
    return a


def op_plus(a: Val, b: Val) -> Val:
    if not to_number(a):
        return b if to_number(b) else Val.number(0)
    if not to_number(b):
        return a
    return Val.number(a.v + b.v)


def op_minus(a: Val, b: Val) -> Val:
    if not to_number(a):
        return Val.number(0 - b.v) if to_number(b) else Val.number(0)
    if not to_number(b):
        return a
    return Val.number(a.v - b.v)


def op_times(a: Val, b: Val) -> Val:
    if not to_number(a) or not to_number(b):
        return Val.number(0)
    return Val.number(a.v * b.v)


INT_MAX = 2147483647


def op_div(a: Val, b: Val) -> Val:
    if not to_number(a):
        return Val.number(0)
    if not to_number(b) or b.v == 0:
        return Val.number(INT_MAX)
    return Val.number(a.v / b.v)


def op_rem(a: Val, b: Val) -> Val:
    if not to_number(a) or not to_number(b):
        return Val.number(0)
    if b.v == 0:
        return b
    return Val.number(math.fmod(a.v, b.v))


def op_negate(a: Val) -> Val:
    if not to_number(a):
        return Val.number(0)
    return Val.number(-a.v)


def _atoi(s: str) -> int:
    m = re.match(r"\s*[+-]?\d+", s)
    return int(m.group(0)) if m else 0


def op_compl(a: Val) -> Val:
    if a.type == NUMBER:
        v1 = 0 if a.v == 0 else 1
    elif a.v == "" or a.v == "0":
        v1 = 0
    else:
        v1 = _atoi(a.v)
    return Val.number(0 if v1 else 1)


def op_cond(a: Val, b: Val, c: Val) -> Val:
    if a.type == STRING:
        return b if (a.v and a.v != '""' and a.v != "0") else c
    to_number(a)
    return b if a.v else c


def _posix_regex(pattern: str) -> re.Pattern | None:
    """REG_EXTENDED, near enough: POSIX classes and Python's syntax agree for what dialplans use."""
    try:
        return re.compile(pattern.replace("[[:digit:]]", r"\d").replace("[[:space:]]", r"\s"))
    except re.error:
        return None


def _regex_op(anchored: bool):
    def apply(a: Val, b: Val) -> Val:
        to_string(a)
        to_string(b)
        strip_quotes(a)
        strip_quotes(b)
        rx = _posix_regex(b.v)
        if rx is None:
            return make_str("")
        m = rx.match(a.v) if anchored else rx.search(a.v)
        if m:
            if rx.groups >= 1 and m.start(1) >= 0:
                return make_str(m.group(1))
            return Val.number(m.end() - m.start())
        return Val.number(0) if rx.groups == 0 else make_str("")
    return apply


def op_tildetilde(a: Val, b: Val) -> Val:
    to_string(a)
    to_string(b)
    strip_quotes(a)
    strip_quotes(b)
    return make_str(a.v + b.v)


_APPLY = {
    "|": op_or, "&": op_and,
    "=": _cmp(lambda x, y: x == y), "!=": _cmp(lambda x, y: x != y), ">": _cmp(lambda x, y: x > y),
    "<": _cmp(lambda x, y: x < y), ">=": _cmp(lambda x, y: x >= y), "<=": _cmp(lambda x, y: x <= y),
    "+": op_plus, "-": op_minus, "*": op_times, "/": op_div, "%": op_rem,
    ":": _regex_op(True), "=~": _regex_op(False), "~~": op_tildetilde,
}

_MATH = {
    "COS": (math.cos, 1), "SIN": (math.sin, 1), "TAN": (math.tan, 1), "ACOS": (math.acos, 1), "ASIN": (math.asin, 1),
    "ATAN": (math.atan, 1), "ATAN2": (math.atan2, 2), "POW": (math.pow, 2), "SQRT": (math.sqrt, 1),
    "FLOOR": (math.floor, 1), "CEIL": (math.ceil, 1), "ROUND": (lambda x: math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1), 1),
    "RINT": (lambda x: float(round(x)), 1), "TRUNC": (math.trunc, 1), "EXP": (math.exp, 1), "EXP2": (lambda x: 2.0 ** x, 1),
    "EXP10": (lambda x: 10.0 ** x, 1), "LOG": (math.log, 1), "LOG2": (math.log2, 1), "LOG10": (math.log10, 1),
    "REMAINDER": (math.remainder, 2), "ABS": (abs, 1),
}


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple:
    return tuple(tokenize(text))


def _fresh_tokens(text: str) -> list:
    """tokenize(text), from a cache (a call runs the same few expressions): the Vals are copied,
    since evaluating converts them in place."""
    return [(k, Val(v.type, v.v)) if isinstance(v, Val) else (k, v) for k, v in _tokens(text)]


def evaluate(text: str, call: FunctionCall | None = None) -> str:
    """The text `$[text]` turns into. `call(NAME, args)` runs a dialplan function (None: not found)."""
    try:
        v = _Parser(_fresh_tokens(text), call).parse()
    except ExprSyntaxError:
        return "0"
    except RecursionError:
        return "0"
    return as_text(v)


__all__ = ["evaluate", "tokenize", "ExprSyntaxError", "FunctionCall"]
