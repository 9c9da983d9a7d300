"""The layout's rules that code can check: the core package (`autodialer/`) never imports `flows/`
(a command that starts a run finds the kind's flow by its entry point, autodialer.deploy.flow_for)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def test_the_core_never_imports_flows():
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "autodialer").rglob("*.py"))
                 for name in _imports(path) if name == "flows" or name.startswith("flows.")]
    assert offenders == []


def test_every_kind_has_its_flow():
    from autodialer.deploy import ENTRYPOINTS, flow_for

    for kind, entrypoint in ENTRYPOINTS.items():
        flow = flow_for(kind)
        assert flow.fn.__name__ == entrypoint.partition(":")[2], kind
