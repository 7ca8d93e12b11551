"""The package has layers: a lower module never imports a higher one (issue 13).

Every import of gateway_lab/, at the top of a module or inside a function, is read
from the source; the modules must form no circle.  A learner who opens a module
should find below it only what it builds on."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gateway_lab"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The lab's modules that `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gateway_lab")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("gateway_lab"):
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                # `from . import sandbox` imports a module; `from . import x` a name.
                found.add(sub if sub in known else source)
    found.discard(name)
    return {m for m in found if m in known}


def test_no_module_imports_one_that_imports_it_back():
    known = modules()
    graph = {name: imports_of(name, path, set(known)) for name, path in known.items()}
    # A package's __init__ that re-exports its own modules is the package's front
    # door, not a layer: an import of the package is an import of those modules.
    circles = []
    for start in graph:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, way = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(" -> ".join(way + [start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, way + [nxt]))
    shortest = sorted(set(circles), key=len)
    assert not shortest, "import circles:\n" + "\n".join(shortest[:10])
