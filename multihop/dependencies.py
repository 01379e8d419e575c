"""What code a rule runs: its script and every `multihop` module imported from there on, and a
digest of that code's meaning.

Each rule has the digest as a param, so editing a module's code reruns exactly the rules that use
it (and what depends on their outputs), not the stages upstream; a comment, a docstring or a
reformatting changes no digest and reruns nothing.
"""

import ast
import functools
import hashlib
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


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:]
    return tree


@functools.cache
def _meaning(path: str) -> str:
    """The file's abstract syntax without docstrings (no comments, layout or line numbers either)."""
    tree = ast.parse(Path(path).read_text(), path)
    return ast.dump(_without_docstrings(tree), annotate_fields=False)


def code_digest(*files, leave_out=()) -> str:
    """A digest of what `files` and every multihop module they import mean as code (their
    abstract syntax less docstrings), by path from the project root: what a rule's outputs
    depend on besides its inputs and settings. `leave_out`: files (from the project root) whose
    code is not digested (the modules they import still are), where the rule's params carry
    what it uses of them instead."""
    digest, skipped = hashlib.sha256(), {str(ROOT / path) for path in leave_out}
    for path in code_files(*files):
        if path in skipped:
            continue
        digest.update(str(Path(path).relative_to(ROOT)).encode() + b"\0" + _meaning(path).encode() + b"\0")
    return digest.hexdigest()[:16]
