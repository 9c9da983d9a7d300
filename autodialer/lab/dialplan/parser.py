"""extensions.conf as pbx_config.c reads it: contexts, `exten =>`, `same =>`, priorities (numbers,
`n`, `n(label)`), `include =>`, and extension patterns matched in Asterisk's order.

Only the dialplan's structure is read here; nothing is substituted (that happens when a channel
executes a priority, main/pbx.c).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
import functools
from functools import cmp_to_key
from pathlib import Path

from autodialer.errors import ConfigError


class DialplanError(ConfigError):
    """extensions.conf cannot be loaded (names file and line)."""


@dataclass(frozen=True)
class Step:
    """One priority: `app(data)` as written (data unsubstituted)."""

    priority: int
    app: str
    data: str
    label: str | None
    line: int


@dataclass
class Extension:
    name: str
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")


@dataclass
class Context:
    name: str
    extensions: dict[str, Extension] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)
    _order: list[Extension] | None = None

    def ordered(self) -> list[Extension]:
        """Extensions in Asterisk's order: plain names first, then patterns, most specific first."""
        if self._order is None:
            self._order = sorted(self.extensions.values(), key=cmp_to_key(lambda a, b: ext_cmp(a.name, b.name)))
        return self._order


@dataclass
class Dialplan:
    contexts: dict[str, Context]
    path: str = ""
    _found: dict = field(default_factory=dict, repr=False)

    def find(self, context: str, exten: str) -> tuple[Context, Extension] | None:
        """The extension `exten` runs in `context`: the context's own best match, else its includes in order."""
        key = (context, exten)
        if key not in self._found:
            if len(self._found) > 100_000:  # the dialplan does not change; the numbers do
                self._found.clear()
            self._found[key] = self._find(context, exten)
        return self._found[key]

    def _find(self, context: str, exten: str, _seen: frozenset = frozenset()) -> tuple[Context, Extension] | None:
        ctx = self.contexts.get(context)
        if ctx is None or context in _seen:
            return None
        for ext in ctx.ordered():
            if matches(ext.name, exten):
                return ctx, ext
        for inc in ctx.includes:
            found = self._find(inc, exten, _seen | {context})
            if found is not None:
                return found
        return None

    def steps(self):
        """Every (context, extension, step) in file order."""
        for ctx in self.contexts.values():
            for ext in ctx.extensions.values():
                for st in ext.steps.values():
                    yield ctx, ext, st


# --- patterns ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _pattern_elements(pattern: str) -> tuple[tuple[str, str], ...]:
    """'_X[0-9+].' -> [('set', '0123456789'), ('set', '0..9+'), ('dot', '')] (sets as strings)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "-":
            continue
        u = c.upper()
        if u == "X":
            out.append(("set", "0123456789"))
        elif u == "Z":
            out.append(("set", "123456789"))
        elif u == "N":
            out.append(("set", "23456789"))
        elif c == ".":
            out.append(("dot", ""))
        elif c == "!":
            out.append(("bang", ""))
        elif c == "[":
            end = pattern.find("]", i)
            if end < 0:
                out.append(("set", "["))
                continue
            body, i = pattern[i:end], end + 1
            chars: list[str] = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    chars.extend(chr(x) for x in range(ord(body[k]), ord(body[k + 2]) + 1))
                    k += 3
                else:
                    chars.append(body[k])
                    k += 1
            if chars:
                out.append(("set", "".join(sorted(set(chars)))))
        else:
            out.append(("set", c))
    return tuple(out)


def matches(name: str, exten: str) -> bool:
    if not name.startswith("_"):
        return name == exten
    return _match(_pattern_elements(name[1:]), exten)


def _match(elems, s: str) -> bool:
    if not elems:
        return s == ""
    kind, chars = elems[0]
    if kind == "dot":  # one or more of anything
        return len(s) >= 1
    if kind == "bang":  # zero or more
        return True
    return bool(s) and s[0] in chars and _match(elems[1:], s[1:])


def _pos_key(elem) -> tuple[int, tuple]:
    """ext_cmp_pattern_pos(): (score, set bits) -- fewer possible characters sort first."""
    kind, chars = elem
    if kind == "dot":
        return 0x18000, ()
    if kind == "bang":
        return 0x28000, ()
    score = (len(chars) << 8) | min(ord(c) for c in chars)
    return score, tuple(sorted((-ord(c) for c in chars)))


def ext_cmp(left: str, right: str) -> int:
    """main/pbx.c ext_cmp(): non-pattern extensions first, then patterns by specificity."""
    lp, rp = left.startswith("_"), right.startswith("_")
    if not lp or not rp:
        if lp != rp:
            return 1 if lp else -1
        return (left > right) - (left < right)
    le, re_ = _pattern_elements(left[1:]), _pattern_elements(right[1:])
    for k in range(max(len(le), len(re_)) + 1):
        a = _pos_key(le[k]) if k < len(le) else (0x30000, ())
        b = _pos_key(re_[k]) if k < len(re_) else (0x30000, ())
        if a != b:
            return -1 if a < b else 1
        if k >= len(le):
            return 0
    return 0


# --- the file ------------------------------------------------------------------------------------
_PRIORITY = re.compile(r"^(\d+|n|s|hint)(?:\(([^)]+)\))?$", re.IGNORECASE)


def _strip_comment(line: str) -> str:
    """config.c: ';' starts a comment unless escaped as '\\;' (the backslash is kept off)."""
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def _split_app(appl: str) -> tuple[str, str]:
    """pbx_config: app(data) -- the data runs from the first '(' to the last ')'."""
    p = appl.find("(")
    if p >= 0:
        data = appl[p + 1:]
        q = data.rfind(")")
        if q >= 0:
            data = data[:q]
        return appl[:p].strip(), data
    c = appl.find(",")
    if c >= 0:
        return appl[:c].strip(), appl[c + 1:]
    return appl.strip(), ""


def parse(text: str, path: str = "extensions.conf") -> Dialplan:
    contexts: dict[str, Context] = {}
    ctx: Context | None = None
    last_ext: Extension | None = None
    last_prio = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        where = f"{path}:{lineno}"
        if line.startswith("["):
            m = re.match(r"^\[([^\]]+)\]", line)
            if not m:
                raise DialplanError(f"{where}: bad context header {line!r}")
            name = m.group(1).strip()
            ctx = contexts.setdefault(name, Context(name))
            last_ext, last_prio = None, 0
            continue
        m = re.match(r"^(\w+)\s*=>?\s*(.*)$", line)
        if not m or ctx is None:
            raise DialplanError(f"{where}: cannot read {line!r}")
        key, value = m.group(1).lower(), m.group(2)
        if ctx.name in ("general", "globals"):
            continue
        if key == "include":
            ctx.includes.append(value.strip())
            continue
        if key not in ("exten", "same"):
            raise DialplanError(f"{where}: unknown statement {key!r}")
        if key == "exten":
            name, _, rest = value.partition(",")
            name = name.strip()
            ext = ctx.extensions.setdefault(name, Extension(name))
            if ext is not last_ext:
                last_prio = max(ext.steps, default=0)
            last_ext = ext
        else:
            if last_ext is None:
                raise DialplanError(f"{where}: 'same =>' without an extension before it")
            ext, rest = last_ext, value
        prio_s, _, appl = rest.partition(",")
        prio_s = prio_s.strip()
        pm = _PRIORITY.match(prio_s)
        if not pm:
            pm2 = re.match(r"^n\+(\d+)$", prio_s)
            if not pm2:
                raise DialplanError(f"{where}: bad priority {prio_s!r}")
            prio, label = last_prio + int(pm2.group(1)), None
        else:
            p, label = pm.group(1).lower(), pm.group(2)
            if p == "hint":
                continue
            if p == "n":
                prio = last_prio + 1
            elif p == "s":
                prio = last_prio
            else:
                prio = int(p)
        if prio in ext.steps:
            raise DialplanError(f"{where}: priority {prio} of {ext.name}@{ctx.name} defined twice")
        app, data = _split_app(appl.strip())
        if not app:
            raise DialplanError(f"{where}: no application")
        ext.steps[prio] = Step(prio, app, data, label, lineno)
        if label:
            ext.labels[label] = prio
        last_prio = prio
    return Dialplan(contexts, path)


def load(path: str | Path) -> Dialplan:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DialplanError(f"cannot read the dialplan {p}: {exc}") from exc
    return parse(text, str(p))


__all__ = ["Dialplan", "Context", "Extension", "Step", "DialplanError", "parse", "load", "matches", "ext_cmp"]
