"""The library keeps its layers: each workflow stage imports only earlier stages, and no module
imports itself back through others (the runner's by-name imports of analysis modules included)."""

import ast
from pathlib import Path

from multihop.analyses.catalog import CATALOG

PACKAGE = Path(__file__).resolve().parents[1] / "multihop"
# the stages in workflow order; a module may import its own stage's and earlier stages' modules
STAGES = ["errors", "files", "configuration", "dependencies", "dataset", "models", "engine", "evaluation"]
STAGES += ["analyses", "report", "scripting", "api"]
LEVEL = {name: (0 if i < 4 else i) for i, name in enumerate(STAGES)}  # the first four: shared helpers


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the multihop modules it imports, anywhere in it (lazy imports in functions too);
    `from package import module` counts as importing the module."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {other for other in found if other in modules and other != name}
    return graph


def stage(module: str) -> int:
    parts = module.split(".")
    return LEVEL[parts[1]] if len(parts) > 1 else 0


def test_no_module_imports_a_later_stage():
    upward = [(a, b) for a, targets in imports().items() for b in targets if stage(b) > stage(a)]
    assert not upward, upward


def test_no_import_cycle():
    graph = imports()
    # the runner imports each analysis module by name (importlib): count those edges too
    graph["multihop.analyses.runner"] |= {analysis.module for analysis in CATALOG.values()}
    done, path = set(), []

    def visit(module):
        assert module not in path, " -> ".join([*path[path.index(module) :], module])
        if module in done:
            return
        path.append(module)
        for other in sorted(graph[module]):
            if not other.startswith(module + "."):  # a package importing its own modules is no cycle
                visit(other)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


# past five parameters a call names them: everything after the first few is keyword-only (`*`)
MOST_POSITIONAL = 5
CHECKED = ["multihop", "scripts", "benchmarks"]


def functions(tree: ast.AST, outer: str = ""):
    """(qualified name, node) of every function and lambda in `tree`, methods and nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{outer}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from functions(node, f"{name}.")
        elif isinstance(node, ast.Lambda):
            yield f"{outer}<lambda, line {node.lineno}>", node
            yield from functions(node, outer)
        else:
            yield from functions(node, outer)


def positional(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    """The parameters a call may pass by position (self and cls not counted; *args is not one)."""
    return [a.arg for a in [*function.args.posonlyargs, *function.args.args] if a.arg not in ("self", "cls")]


def test_no_function_takes_more_than_five_parameters_by_position():
    root = PACKAGE.parent
    found = [
        f"{path.relative_to(root)}:{name} ({len(positional(node))}: {', '.join(positional(node))})"
        for folder in CHECKED
        for path in sorted((root / folder).rglob("*.py"))
        for name, node in functions(ast.parse(path.read_text()))
        if len(positional(node)) > MOST_POSITIONAL
    ]
    assert not found, "more than five parameters that may be passed by position:\n" + "\n".join(found)
