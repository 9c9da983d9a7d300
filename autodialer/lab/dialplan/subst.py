"""Variable and expression substitution (main/pbx_variables.c) and argument splitting
(main/app.c `__ast_app_separate_args`), as Asterisk 22 does them.

Order matters and is the point: `${...}` and `$[...]` are replaced first, in one pass whose
results are not scanned again; only then does an application (or a function such as IF) split
its arguments, on the text the data is now part of. So a comma, quote, parenthesis or `?`/`:`
inside a value moves argument boundaries, and a value inside `$[...]` is parsed as expression.
"""

from __future__ import annotations

import re
from typing import Callable, Protocol

from autodialer.lab.dialplan import expr

MAX_DEPTH = 15  # MAX_VARIABLE_SUB_RECURSE_DEPTH
VAR_BUF_SIZE = 4096


class Scope(Protocol):
    def get_var(self, name: str) -> str | None: ...
    def call_function(self, name: str, args: str) -> str | None: ...


def _parse_variable_name(var: str) -> tuple[str, int, int, bool]:
    """parse_variable_name(): NAME[:offset[:length]] outside parentheses; a '(' means a function."""
    parens = 0
    isfunc = False
    for i, c in enumerate(var):
        if c == "(":
            isfunc = True
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == ":" and parens == 0:
            offset, length = 0, 2**31 - 1
            m = re.match(r"\s*([+-]?\d+)(?::\s*([+-]?\d+))?", var[i + 1:])
            if m:
                offset = int(m.group(1))
                if m.group(2) is not None:
                    length = int(m.group(2))
            return var[:i], offset, length, isfunc
    return var, 0, 2**31 - 1, isfunc


def substring(value: str, offset: int, length: int) -> str:
    """substring(): a negative offset counts from the end, a negative length leaves that many off."""
    lr = len(value)
    if offset == 0 and length >= lr:
        return value
    if offset < 0:
        offset = max(lr + offset, 0)
    if offset >= lr:
        return ""
    rest = value[offset:]
    if length >= 0:
        return rest[:length]
    if lr > offset - length:
        return value[offset:lr + length]
    return ""


_SPECIAL = re.compile(r"[${}\[\]]")


def _find_end(s: str, start: int, open_: str, close: str, other: str) -> tuple[int, bool, bool]:
    """From just after `${`/`$[`: (index after the closing char, closed?, needs substitution?).
    Only `$`, brackets and braces matter, so the scan jumps from one to the next."""
    brackets, needsub, j, n = 1, False, start, len(s)
    search = _SPECIAL.search
    while brackets and j < n:
        m = search(s, j)
        if m is None:
            return n, False, needsub
        j = m.start()
        c = s[j]
        if c == "$" and j + 1 < n and s[j + 1] == open_:
            needsub = True
            brackets += 1
            j += 1
        elif c == open_:
            brackets += 1
        elif c == close:
            brackets -= 1
        elif c == "$" and j + 1 < n and s[j + 1] == other:
            needsub = True
            j += 1
        j += 1
    return j, brackets == 0, needsub


def substitute(text: str, scope: Scope, depth: int = 0) -> str:
    """pbx_substitute_variables_helper_full(): `${VAR}`, `${VAR:o:l}`, `${FUNC(args)}`, `$[expr]`."""
    if depth >= MAX_DEPTH:
        return ""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        d = text.find("$", i)
        if d < 0:
            out.append(text[i:])
            break
        nxt = text[d + 1:d + 2]
        if nxt not in ("{", "["):
            out.append(text[i:d + 1])
            i = d + 1
            continue
        out.append(text[i:d])
        start = d + 2
        if nxt == "{":
            end, closed, needsub = _find_end(text, start, "{", "}", "[")
            inner = text[start:end - 1] if closed else text[start:end]
            i = end
            if needsub:
                inner = substitute(inner, scope, depth + 1)
            name, offset, length, isfunc = _parse_variable_name(inner)
            if isfunc:
                value = _call(name, scope)
            else:
                value = scope.get_var(name)
            if value is not None:
                out.append(substring(value, offset, length))
        else:
            end, closed, needsub = _find_end(text, start, "[", "]", "{")
            inner = text[start:end - 1] if closed else text[start:end]
            i = end
            if needsub:
                inner = substitute(inner, scope, depth + 1)
            out.append(expr.evaluate(inner, scope.call_function))
    return "".join(out)


def _call(function: str, scope: Scope) -> str | None:
    """ast_func_read(): NAME(args) -- args between the first '(' and the last ')'."""
    p = function.find("(")
    if p < 0:
        return scope.call_function(function, "")
    name, args = function[:p], function[p + 1:]
    q = args.rfind(")")
    if q >= 0:
        args = args[:q]
    return scope.call_function(name, args)


def separate_args(buf: str | None, delim: str = ",", remove_chars: bool = True, arraylen: int = 128) -> list[str]:
    """__ast_app_separate_args(): split on `delim` outside (), [] and quotes; with remove_chars
    (AST_STANDARD_APP_ARGS) quotes and backslashes are removed. The last of `arraylen`
    arguments keeps the rest of the text unsplit."""
    if buf is None:
        return []
    args: list[str] = []
    s = buf
    i, n = 0, len(s)
    paren = bracket = 0
    quote = False
    wasdelim = -1
    cur: list[str] = []
    while i < n and len(args) < arraylen - 1:
        cur = []
        ended = False
        while i < n:
            c = s[i]
            if c == "(":
                paren += 1
            elif c == ")":
                if paren:
                    paren -= 1
            elif c == "[":
                bracket += 1
            elif c == "]":
                if bracket:
                    bracket -= 1
            elif c == '"' and delim != '"':
                quote = not quote
                if remove_chars:
                    i += 1
                    continue
            elif c == "\\":
                if remove_chars:
                    i += 1  # the next character is literal
                    if i < n:
                        cur.append(s[i])
                        i += 1
                    continue
                cur.append(c)
                i += 1
                if i < n:
                    cur.append(s[i])
                    i += 1
                continue
            elif c == delim and not paren and not quote and not bracket:
                wasdelim = i
                i += 1
                ended = True
                break
            cur.append(c)
            i += 1
        args.append("".join(cur))
        if not ended:
            break
    if i < n or (i > 0 and i - 1 == wasdelim):
        args.append(_raw_rest(s[i:], delim, remove_chars) if i < n else "")
    return args


def _raw_rest(rest: str, delim: str, remove_chars: bool) -> str:
    """The unsplit last argument (Asterisk hands it over as it is)."""
    return rest


def standard_args(data: str, arraylen: int = 128) -> list[str]:
    """AST_STANDARD_APP_ARGS."""
    return separate_args(data, ",", True, arraylen)


def checkcondition(condition: str | None) -> bool:
    """pbx_checkcondition(): empty is false, a leading integer is its truth, other text is true."""
    if not condition:
        return False
    m = re.match(r"\s*[+-]?\d+", condition)
    if m:
        return int(m.group(0)) != 0
    return True


Function = Callable[..., str | None]

__all__ = ["substitute", "separate_args", "standard_args", "checkcondition", "substring", "Scope"]
