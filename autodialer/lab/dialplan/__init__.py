"""The lab PBX's dialplan interpreter: it executes asterisk-lab/extensions.conf itself.

    rt = load_runtime()                     # parses the file, checks every app/function is known
    x = Exec(rt, call, channel, variables, main=False)
    await x.run("dialer-robot-order", "s")  # runs priorities; rt.trace says what ran

Modules: parser (extensions.conf, patterns), subst (${...}, $[...], argument splitting), expr
(the $[...] grammar), engine (the pbx loop, Gosub, h), apps (the applications and functions).
"""

from __future__ import annotations

import re
from pathlib import Path

from autodialer.lab.dialplan import profiles
from autodialer.lab.dialplan.engine import Exec, Executed, Runtime, StopPbx
from autodialer.lab.dialplan.parser import Dialplan, DialplanError, load, parse

ASTERISK_LAB = Path(__file__).resolve().parents[3] / "asterisk-lab"
DEFAULT_DIALPLAN = ASTERISK_LAB / "extensions.conf"

_FUNC_IN_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\(")
_FUNC_IN_EXPR = re.compile(r"([A-Za-z0-9_]+)\s*\(")
_EXECIF_APPS = re.compile(r"(?:\?|:)\s*([A-Za-z][A-Za-z0-9_]*)\(")


def _functions_used(data: str) -> set[str]:
    names = set(_FUNC_IN_VAR.findall(data))
    for expr_text in _expressions(data):
        names |= {n for n in _FUNC_IN_EXPR.findall(re.sub(r"\$\{[^}]*\}", "", expr_text)) if not n.isdigit()}
    return names


def _expressions(data: str) -> list[str]:
    out, i = [], 0
    while (i := data.find("$[", i)) >= 0:
        depth, j = 1, i + 2
        while j < len(data) and depth:
            depth += {"[": 1, "]": -1}.get(data[j], 0)
            j += 1
        out.append(data[i + 2:j - 1])
        i = j
    return out


def check(dialplan: Dialplan, apps, functions) -> None:
    """Every application and function the file uses must be one the lab has: else an error naming
    the line (a dialplan the lab cannot execute must not pass for tested)."""
    known_apps = {a.lower() for a in apps}
    missing = []
    for ctx, ext, st in dialplan.steps():
        where = f"{dialplan.path}:{st.line} ({ext.name}@{ctx.name}, priority {st.priority})"
        names = [st.app]
        if st.app.lower() == "execif":
            names += _EXECIF_APPS.findall(st.data)
        for name in names:
            if name.lower() not in known_apps:
                missing.append(f"{where}: application {name}() is not in the lab")
        for fname in _functions_used(st.data):
            if fname.upper() not in functions and fname.upper() not in _EXPR_BUILTINS:
                missing.append(f"{where}: function {fname}() is not in the lab")
        for target in ctx.includes:
            if target not in dialplan.contexts:
                missing.append(f"{dialplan.path}: context {ctx.name} includes {target}, which does not exist")
    if missing:
        raise DialplanError("the lab PBX cannot execute this dialplan:\n  " + "\n  ".join(sorted(set(missing))))


_EXPR_BUILTINS = frozenset({"COS", "SIN", "TAN", "ACOS", "ASIN", "ATAN", "ATAN2", "POW", "SQRT", "FLOOR", "CEIL", "ROUND",
                            "RINT", "TRUNC", "EXP", "EXP2", "EXP10", "LOG", "LOG2", "LOG10", "REMAINDER", "ABS"})


def load_runtime(dialplan_path: str | Path | None = None, confbridge_path: str | Path | None = None,
                 trace_limit: int = 200_000) -> Runtime:
    from autodialer.lab.dialplan import apps

    path = Path(dialplan_path) if dialplan_path is not None else DEFAULT_DIALPLAN
    dp = load(path)
    check(dp, apps.APPS, apps.FUNCTIONS)
    conf = Path(confbridge_path) if confbridge_path is not None else ASTERISK_LAB / "confbridge.conf"
    rt = Runtime(dp, {k.lower(): v for k, v in apps.APPS.items()}, dict(apps.FUNCTIONS),
                 {k.lower(): k for k in apps.APPS}, trace_limit=trace_limit)
    rt.conf_profiles = profiles.load(conf)
    return rt


__all__ = ["Dialplan", "DialplanError", "Exec", "Executed", "Runtime", "StopPbx", "load", "parse", "load_runtime",
           "check", "DEFAULT_DIALPLAN"]
