"""The rule "the dialplan never re-parses data", checked on an extensions.conf.

Asterisk substitutes `${VAR}` into a priority's data and then parses the result: inside `$[...]`
(ast_expr2: a quote ends a string literal, `word(` calls any function), in a function's
arguments (`IF(c?a:b)`, `EVAL()`), and in an application's argument list (split on `,` after
substitution). So every `${VAR}` a file reads must be declared in autodialer/telephony/dialplan.py (or set
by the file itself, or be Asterisk's own), and one whose kind is `text` may appear only where
Asterisk does not parse it: as NoOp()'s data or as the value of Set(NAME=...), outside any
expression or function, with a comment on that line or the one above saying "not parsed".
Variables the file sets take the kind of what they are set from (text if any part is text);
Read() sets a DTMF key.

    python -m tests.dialplan_lint path/to/extensions.conf     # prints violations, exit 1 if any
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from autodialer.telephony import dialplan as table
from autodialer.telephony.safety import TEXT, TOKEN, Kind
from autodialer.lab.dialplan.parser import load

NOT_PARSED_NOTE = "not parsed"


@dataclass(frozen=True)
class Ref:
    """One `${...}` read in a priority's data."""

    name: str  # the variable's name; a part built from another variable is `*` (SURVEY_Q${Q} -> SURVEY_Q*)
    where: tuple[str, ...]  # enclosing constructs, outermost first: "$[...]", "IF()", "variable name"
    offset: int  # in the data


@dataclass(frozen=True)
class Violation:
    line: int
    place: str  # context,exten,priority
    app: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line} [{self.place}] {self.app}: {self.message}"


def _close(s: str, i: int, opener: str, closer: str) -> int:
    """Index of the `closer` matching an opener just before `i`, counting nested ${ } and $[ ]."""
    depth = 0
    while i < len(s):
        if s.startswith("${", i) or s.startswith("$[", i):
            depth += 1
            i += 2
            continue
        c = s[i]
        if c in "}]" and depth:
            depth -= 1
        elif c == closer and not depth:
            return i
        i += 1
    return len(s)


def refs(data: str, where: tuple[str, ...] = (), base: int = 0) -> list[Ref]:
    """Every `${...}` in `data` with where it stands."""
    out: list[Ref] = []
    i = 0
    while i < len(data):
        if data.startswith("$[", i):
            j = _close(data, i + 2, "$[", "]")
            out += refs(data[i + 2:j], where + ("$[...]",), base + i + 2)
            i = j + 1
        elif data.startswith("${", i):
            j = _close(data, i + 2, "${", "}")
            out += _var(data[i + 2:j], where, base + i)
            i = j + 1
        else:
            i += 1
    return out


def _var(content: str, where: tuple[str, ...], offset: int) -> list[Ref]:
    """The inside of one `${...}`: a function call `NAME(args)` or a variable `NAME[:o[:l]]`."""
    depth, cut, call = 0, len(content), None
    for k, c in enumerate(content):
        if content.startswith(("${", "$["), k):
            depth += 1
        elif c in "}]" and depth:
            depth -= 1
        elif not depth and c == "(":
            call = k
            break
        elif not depth and c == ":":
            cut = k
            break
    if call is not None:
        func = content[:call]
        end = content.rfind(")")
        args = content[call + 1:end if end > call else len(content)]
        return refs(func, where + ("function name",), offset) + refs(args, where + (f"{func.upper()}()",), offset + call + 1)
    name_part = content[:cut]
    inner = refs(name_part, where + ("variable name",), offset + 2)
    name = name_part
    for r in sorted(inner, key=lambda r: -r.offset):  # nested ${...} in the name: a wildcard
        start = r.offset - offset - 2
        end = _close(name_part, start + 2, "${", "}") + 1
        name = name[:start] + "*" + name[end:]
    return [Ref(name, where, offset)] + inner


def _kind_of(name: str, local: dict[str, Kind]) -> Kind | None:
    if name in local:
        return local[name]
    entry = table.lookup(name.replace("*", "1"))
    return entry.kind if entry is not None else None


def _runs(app: str, data: str) -> list[tuple[str, str]]:
    """The applications a priority runs: itself, and for ExecIf(cond?App(args):App(args)) those."""
    out = [(app.lower(), data)]
    if app.lower() == "execif" and "?" in data:
        for call in re.split(r"(?<=\)):", data.split("?", 1)[1]):
            m = re.match(r"\s*(\w+)\((.*)\)\s*$", call, re.S)
            if m:
                out.append((m.group(1).lower(), m.group(2)))
    return out


def check(path: str | Path) -> list[Violation]:
    """The violations of the rule in the extensions.conf at `path`."""
    path = Path(path)
    plan = load(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    steps = [(ctx.name, ext.name, st) for ctx, ext, st in plan.steps()]

    # What the file itself sets, and the kind that gets: Read() a DTMF key; Set() the weakest of its parts.
    local: dict[str, Kind] = {}
    for _ in range(10):
        before = dict(local)
        for _ctx, _ext, st in steps:
            for app, data in _runs(st.app, st.data):
                if app == "read":
                    local[data.split(",", 1)[0].strip()] = TOKEN
                elif app == "set" and "=" in data:
                    name, value = data.split("=", 1)
                    name = name.strip()
                    if "(" in name:  # Set(FUNC(x)=...) writes a function, not a variable
                        continue
                    kinds = [_kind_of(r.name, local) for r in refs(value)]
                    weakest = TEXT if any(k is None or not k.parsed_safe for k in kinds) else TOKEN
                    if local.get(name) is not TEXT:  # set from text anywhere: text everywhere
                        local[name] = weakest
        if local == before:
            break

    out: list[Violation] = []
    for ctx, ext, st in steps:
        place = f"{ctx},{ext},{st.priority}"
        note = any(NOT_PARSED_NOTE in lines[n - 1].partition(";")[2] for n in (st.line, st.line - 1) if n >= 1)
        for r in refs(st.data):
            kind = _kind_of(r.name, local)
            if kind is None:
                out.append(Violation(st.line, place, st.app, f"${{{r.name}}} is not declared in autodialer/telephony/dialplan.py "
                                                             "(nor set by this file, nor Asterisk's own)"))
                continue
            if kind.parsed_safe:
                continue
            app = st.app.lower()
            unparsed = not r.where and (app == "noop" or (app == "set" and r.offset > st.data.find("=")))
            if not unparsed:
                inside = " inside " + " inside ".join(reversed(r.where)) if r.where else ""
                out.append(Violation(st.line, place, st.app, f"text ${{{r.name}}}{inside} in the arguments of "
                                                             f"{st.app}(), where Asterisk parses it"))
            elif not note:
                out.append(Violation(st.line, place, st.app, f"text ${{{r.name}}} needs a comment saying it is "
                                                             f"{NOT_PARSED_NOTE} (on this line or the one above)"))
    return out


def main(argv: list[str]) -> int:
    found = check(argv[0] if argv else Path(__file__).resolve().parents[1] / "asterisk-lab" / "extensions.conf")
    for v in found:
        print(v)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
