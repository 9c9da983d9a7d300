"""The layout's rules that code can check: the core package (`autodialer/`) never imports `flows/`
(a command that starts a run finds the kind's flow by its entry point, autodialer.campaigns.deploy.flow_for);
SQL of our tables runs only inside `autodialer/store/` (the store's front door, issue 18): no other
module imports its schema or runs a statement, except the readers of the PBX's own CDR database
(Asterisk's `cdr` table, not ours); a run is built in one place (autodialer.dialer.run): `flows/` never
constructs the engines, the pacer or the dialer itself, nor claims or finishes an attempt; and
`ls autodialer/` shows the architecture: every module lives in the package of what it is about,
none loose at the top but the entry points and the two every package shares (issue 18;
docs/architecture.md, "The layout")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _parse(source: str, name: str = "<module>") -> ast.AST:
    """ast.parse, or the same parse in a fresh interpreter when this one's AST converter is
    in a state it cannot parse from: CPython 3.11 keeps the AST constructor's recursion depth per
    interpreter, and a conversion that failed, or one running in another thread at the same time
    (Prefect's API server thread, a test's own), leaves later parses raising "SystemError: AST
    constructor recursion depth mismatch" (python/cpython gh-106905). It made this file fail
    after some others in some selections, never alone."""
    try:
        return ast.parse(source, name)
    except SystemError:
        import pickle
        import subprocess
        import sys

        code = "import ast, pickle, sys; sys.stdout.buffer.write(pickle.dumps(ast.parse(sys.stdin.read(), sys.argv[1])))"
        out = subprocess.run([sys.executable, "-c", code, name], input=source.encode("utf-8"), capture_output=True,
                             check=True, timeout=60)
        return pickle.loads(out.stdout)


def _imports(path: Path) -> list[str]:
    return _imported(_parse(path.read_text(encoding="utf-8"), str(path)))


def _imported(tree: ast.AST) -> list[str]:
    """Every module name imported; `from a import b` also gives `a.b` (b may be a module)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names]
    return out


# Readers of the PBX's CDR database (Asterisk's cdr table): they run SQL, on another database.
CDR_READERS = {"autodialer/telephony/cdr.py", "autodialer/recall/missed.py", "autodialer/lab/cdr.py"}
# What a module outside the store may use of sqlalchemy: engines for the CDR database, URLs, errors.
SQLALCHEMY_ALLOWED = {"create_engine", "engine", "exc"}
STATEMENT_CALLS = {"execute", "executemany", "exec_driver_sql", "raw_connection"}


def _sql_offences(source: str, name: str = "<module>") -> list[str]:
    """What in `source` imports the store's schema or runs SQL: a schema import, a call of a
    connection's execute (or of begin/connect on an engine), a statement built with sqlalchemy."""
    tree = _parse(source, name)
    schema = "autodialer.store.schema"
    out = [f"imports {schema}"] if any(m == schema or m.startswith(schema + ".") for m in _imported(tree)) else []
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name == "sqlalchemy"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "sqlalchemy":
            out += [f"from sqlalchemy import {a.name}" for a in node.names if a.name not in SQLALCHEMY_ALLOWED]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in aliases and node.attr not in SQLALCHEMY_ALLOWED:
                out.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
            elif node.attr in STATEMENT_CALLS:
                out.append(f"line {node.lineno}: .{node.attr}")
            elif node.attr in ("begin", "connect") and isinstance(node.value, ast.Attribute) and node.value.attr == "engine":
                out.append(f"line {node.lineno}: .engine.{node.attr}")
    return out


def test_the_core_never_imports_flows():
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "autodialer").rglob("*.py"))
                 for name in _imports(path) if name == "flows" or name.startswith("flows.")]
    assert offenders == []


def test_every_kind_has_its_flow():
    from autodialer.campaigns.deploy import ENTRYPOINTS, flow_for

    for kind, entrypoint in ENTRYPOINTS.items():
        flow = flow_for(kind)
        assert flow.fn.__name__ == entrypoint.partition(":")[2], kind


def test_sql_of_our_tables_runs_only_in_the_store():
    offenders = []
    for top in ("autodialer", "flows", "blocks"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("autodialer/store/") or rel in CDR_READERS:
                continue
            offenders += [f"{rel}: {o}" for o in _sql_offences(path.read_text(encoding="utf-8"), rel)]
    assert offenders == [], "SQL outside autodialer/store/: move it into a store module or a Store method"


def test_the_sql_rule_sees_a_query():
    """What the recall planner did before the move, and the forms around it, are found."""
    before = (
        "import sqlalchemy as sa\n"
        "from autodialer.store import schema as t\n"
        "def f(store):\n"
        "    with store.engine.begin() as conn:\n"
        "        conn.execute(sa.select(t.contacts.c.id))\n"
    )
    found = _sql_offences(before)
    assert "imports autodialer.store.schema" in found
    assert any(".engine.begin" in o for o in found) and any(".execute" in o for o in found)
    assert any("sa.select" in o for o in found)
    assert _sql_offences("from autodialer.store.schema import contacts\n") == ["imports autodialer.store.schema"]
    assert _sql_offences("from sqlalchemy import text\n") == ["from sqlalchemy import text"]
    assert _sql_offences("import sqlalchemy.exc as e\nfrom sqlalchemy.engine import make_url\n"
                         "def g(engine):\n    return engine.connected\n") == []


# What only autodialer.dialer.run builds, and the store calls only ContactDialer makes for a run.
RUN_PARTS = {"ContactDialer", "DialEngine", "EnginePool", "ConnectedPool", "CallLimiter", "OperatorFirstEngine",
             "AmiSession", "make_pacer", "recover_orphans", "RunLease", "Journal"}
RUN_STORE_CALLS = {"claim_attempt", "finish_attempt", "finish_attempts"}


def _run_offences(source: str, name: str = "<module>") -> list[str]:
    """Where `source` builds a part of a run (a call of one of RUN_PARTS) or claims or finishes
    an attempt itself (the store's claim_attempt / finish_attempt)."""
    out = []
    for node in ast.walk(_parse(source, name)):
        if isinstance(node, ast.Call):
            fn = node.func
            called = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
            if called in RUN_PARTS:
                out.append(f"line {node.lineno}: {called}(...)")
        if isinstance(node, ast.Attribute) and node.attr in RUN_STORE_CALLS:
            out.append(f"line {node.lineno}: .{node.attr}")
    return out


def test_the_flows_build_their_runs_with_the_core():
    offenders = [f"{path.relative_to(ROOT).as_posix()}: {o}" for path in sorted((ROOT / "flows").rglob("*.py"))
                 for o in _run_offences(path.read_text(encoding="utf-8"), str(path))]
    assert offenders == [], "build the run with autodialer.dialer.run.open_run / hold_run"


def test_the_run_rule_sees_a_run_wired_by_hand():
    """What flows/callback.py and flows/conference.py did before autodialer.dialer.run, and its forms."""
    before = (
        "async def _call(store, ami, campaign):\n"
        "    engine = DialEngine(ami, outbound_context='x')\n"
        "    dialer = ContactDialer(campaign, store, engine, CallLimiter(1, 1), campaign_id=1)\n"
        "    await asyncio.to_thread(store.claim_attempt, 1, attempt_id='a')\n"
        "    await asyncio.to_thread(store.finish_attempt, None)\n"
    )
    found = _run_offences(before)
    assert [o.split(": ", 1)[1] for o in found] == ["DialEngine(...)", "ContactDialer(...)", "CallLimiter(...)",
                                                    ".claim_attempt", ".finish_attempt"], found
    assert _run_offences("from autodialer.dialer.run import open_run\nasync def f(c):\n    async with open_run(c) as run:\n"
                         "        await run.dialer.call_once(None, None)\n") == []


# What may sit at autodialer/'s top: the package, the command line, and the settings and
# exception types every package uses. Anything else goes into the package of its concern.
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "cli.py", "config.py", "errors.py"}


def test_no_module_sits_loose_at_the_top():
    loose = sorted(p.name for p in (ROOT / "autodialer").glob("*.py") if p.name not in TOP_LEVEL_MODULES)
    assert loose == [], ("put these modules into the package of what they are about "
                         "(docs/architecture.md, \"The layout\"): " + ", ".join(loose))


def test_every_package_says_what_it_is_about():
    packages = sorted(p for p in (ROOT / "autodialer").iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert len(packages) >= 10
    undocumented = [p.name for p in packages if not ast.get_docstring(_parse((p / "__init__.py").read_text(encoding="utf-8")))]
    assert undocumented == []
    listed = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").partition("## The layout")[2].partition("\n## ")[0]
    assert [p.name for p in packages if f"`{p.name}/`" not in listed] == [], "docs/architecture.md's layout table"
