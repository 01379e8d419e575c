"""Which library files a rule runs: its script and every `multihop` module imported from there on.

Rules list these files as inputs, so editing a module reruns exactly the rules that use it (and
what depends on their outputs), not the stages upstream.
"""

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@functools.cache  # every rule asks again for the modules they share: parse each file once
def _imported(path: Path) -> frozenset[str]:
    """Dotted names of the multihop modules (or names in them) a Python file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule, or not
    return frozenset(name for name in names if name.split(".")[0] == "multihop")


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def code_files(*files) -> list[str]:
    """`files` (paths from the project root) and every multihop module they import, transitively,
    packages included; sorted absolute paths."""
    todo, seen = [ROOT / f for f in files], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported(path):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a module runs its packages too
                found = _module_file(".".join(parts[:depth]))
                if found is not None:
                    todo.append(found)
    return sorted(map(str, seen))
