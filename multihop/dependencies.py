"""What code a rule runs: its script and every `multihop` module imported from there on, and a
digest of that code's meaning.

Each rule has the digest as a param, so editing a module's code reruns exactly the rules that use
it (and what depends on their outputs), not the stages upstream; a comment, a docstring, a
reformatting or a log message's wording changes no digest and reruns nothing. The digest is over
a canonical text of the syntax tree, not `ast.dump` (whose text changes between Pythons), so it is
the same under any Python from 3.11 on.
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


# logging calls by the name they are made through, and the methods whose messages are only words
_LOGGERS = {"logging", "logger", "log"}
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}


def _without_log_messages(tree: ast.AST) -> ast.AST:
    """Drops the str literals passed to logging calls, and the literal parts of f-strings passed
    to them; the formatted expressions stay (they run, and could have effects)."""
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if not (
            isinstance(node, ast.Call)
            and isinstance(func, ast.Attribute)
            and func.attr in _LOG_METHODS
            and isinstance(func.value, ast.Name)
            and func.value.id in _LOGGERS
        ):
            continue
        args = []
        for arg in node.args:
            if isinstance(arg, ast.JoinedStr):
                arg.values = [part for part in arg.values if not isinstance(part, ast.Constant)]
                if not arg.values:
                    continue
            elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                continue
            args.append(arg)
        node.args = args
    return tree


def _canonical(value) -> str:
    """`value` (a node, a list, or a field's plain value) as text that is the same on any Python
    from 3.11 on: fields by name in sorted order, those None or empty left out (newer Pythons add
    fields such as type_params, empty where unused), no positions."""
    if isinstance(value, ast.Constant):  # by type and repr: 1 and 1.0 and True differ; kind="u" is no meaning
        return f"Constant({type(value.value).__name__} {value.value!r})"
    if isinstance(value, ast.JoinedStr):  # f-string literal parts: merged, empty ones left out, as 3.12.1 adds some
        values = []
        for part in value.values:
            if isinstance(part, ast.Constant) and values and isinstance(values[-1], ast.Constant):
                values[-1] = ast.Constant(values[-1].value + part.value)
            else:
                values.append(part)
        value = ast.JoinedStr([part for part in values if not (isinstance(part, ast.Constant) and part.value == "")])
    if isinstance(value, ast.AST):
        fields = (
            f"{name}={_canonical(field)}"
            for name in sorted(value._fields)
            if (field := getattr(value, name, None)) is not None and not (isinstance(field, list) and not field)
        )
        return f"{type(value).__name__}({', '.join(fields)})"
    if isinstance(value, list):  # its None items stay: a dict's keys hold one for each **mapping
        return f"[{', '.join(map(_canonical, value))}]"
    return repr(value)


@functools.cache
def _meaning(path: str) -> str:
    """The file's abstract syntax without docstrings or log messages (no comments, layout or line
    numbers either), the same text on any Python from 3.11 on."""
    tree = ast.parse(Path(path).read_text(), path)
    return _canonical(_without_log_messages(_without_docstrings(tree)))


def code_digest(*files, leave_out=()) -> str:
    """A digest of what `files` and every multihop module they import mean as code (their
    abstract syntax less docstrings and log messages), by path from the project root: what a
    rule's outputs depend on besides its inputs and settings. `leave_out`: files (from the project
    root) whose code is not digested (the modules they import still are), where the rule's params
    carry what it uses of them instead."""
    digest, skipped = hashlib.sha256(), {str(ROOT / path) for path in leave_out}
    for path in code_files(*files):
        if path in skipped:
            continue
        digest.update(str(Path(path).relative_to(ROOT)).encode() + b"\0" + _meaning(path).encode() + b"\0")
    return digest.hexdigest()[:16]
