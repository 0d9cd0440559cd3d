"""The layering in DESIGN.md: `vault` and `keys` never import `api`.

A witness-side install needs no server code at run time: importing every module of `vault`
and `keys` must not load `api`, and no module of theirs names `api` in an import statement.
The one door is `amanat serve`, which loads `api.server` by name when it runs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_no_import_statement_names_api() -> None:
    offenders = []
    for path in _modules("vault") + _modules("keys"):
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "api" or n.startswith("api.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_importing_vault_and_keys_loads_no_server_code() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import vault, keys\n"
        "for pkg in (vault, keys):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name.endswith('__main__'): continue\n"
        "        importlib.import_module(m.name)\n"
        "loaded = sorted(n for n in sys.modules if n == 'api' or n.startswith('api.')"
        " or n in ('fastapi', 'uvicorn', 'starlette'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
