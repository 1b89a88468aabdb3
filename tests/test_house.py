"""The import graph of the package, read from the source (imports inside functions included): no
circles, no arrow from a layer to one above it, no module reading another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "vistransfer"

# Lowest first. A module may import from its own subpackage and from any layer below its own.
LAYERS = [
    {"errors", "_version"},
    {"config", "metrics"},
    {"io", "presets"},
    {"viz", "ecg"},
    {"data"},
    {"evaluation", "models"},
    {"synthesis", "students", "privacy"},
    {"export", "pipeline"},
    {"distill"},
    {"experiments", "study"},
    {"cli"},
    {"__main__"},
    {""},  # the package's public face (vistransfer/__init__.py) sits on top
]
# Imports that stay inside a function, because they pull an optional stack (an extra), not to dodge a circle.
EXTRAS = {"vistransfer.study.app", "vistransfer.study.simulate"}  # fastapi, uvicorn and httpx: the [study] extra


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = ("vistransfer",) + p.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _imports(mods: dict[str, Path]) -> list[tuple[str, str, bool, set[str]]]:
    """(importer, imported module, inside a function, names taken) for every internal import."""
    found = []
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        in_fn = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for a in node.names:  # `from . import metrics` imports the module vistransfer.metrics
                    sub = f"{target}.{a.name}"
                    if sub in mods:
                        found.append((m, sub, id(node) in in_fn, set()))
                    elif target in mods:
                        found.append((m, target, id(node) in in_fn, {a.name}))
            elif isinstance(node, ast.Import):
                found += [(m, a.name, id(node) in in_fn, set()) for a in node.names if a.name in mods]
    return [f for f in found if f[0] != f[1]]


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_the_import_graph_has_no_circles():
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for a, b, _, _ in _imports(mods):
        graph[a].add(b)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(v: str) -> None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            assert state.get(w) != 1, "import circle: " + " -> ".join(path[path.index(w) :] + [w])
            if w not in state:
                visit(w)
        path.pop()
        state[v] = 2

    for m in sorted(mods):
        if m not in state:
            visit(m)


def test_every_arrow_points_down_and_no_import_hides_in_a_function():
    mods = _modules()
    up = [f"{a} -> {b}" for a, b, _, _ in _imports(mods) if a.split(".")[:2] != b.split(".")[:2] and _layer(b) >= _layer(a)]
    assert not up, f"imports that run up or sideways between layers: {up}"
    hidden = [f"{a} -> {b}" for a, b, inside, _ in _imports(mods) if inside and b not in EXTRAS]
    assert not hidden, f"imports inside functions (move them to the top of the module): {hidden}"


def test_no_module_reads_another_modules_private_names():
    taken = [
        f"{a} takes {sorted(names)} from {b}"
        for a, b, _, names in _imports(_modules())
        if any(n.startswith("_") and not n.startswith("__") for n in names)
    ]
    assert not taken, f"private names used across modules (make them public or move them): {taken}"


def test_layers_name_every_subpackage():
    tops = {m.split(".")[1] if "." in m else "" for m in _modules()}
    assert tops <= set().union(*LAYERS), f"give these a layer in LAYERS: {sorted(tops - set().union(*LAYERS))}"
