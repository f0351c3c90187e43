"""The demo is the top floor: it uses every app, and no module under src/steward outside it imports it.

Read from the source (every import statement, inside functions too), so an import that only runs on
some path is caught as well as one at the top of a module. bench/ and tests/ may import the demo.
"""

from __future__ import annotations

import ast
from pathlib import Path

import steward

SRC = Path(steward.__file__).parent


def _imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Each absolute module name an import statement in `path` (under the package `root`) names, with its line."""
    package = ["steward", *path.relative_to(root).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def demo_importers(root: Path) -> list[str]:
    """`path:line: module` for every import of steward.demo by a module outside steward/demo."""
    return [
        f"{path.relative_to(root)}:{line}: {module}"
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).parts[0] != "demo"
        for line, module in _imported_modules(path, root)
        if module == "steward.demo" or module.startswith("steward.demo.")
    ]


def test_no_module_outside_the_demo_imports_it() -> None:
    assert (SRC / "demo" / "loader.py").exists()  # the walk reads the real tree
    assert demo_importers(SRC) == []


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "loader.py").write_text("from steward.core import paths\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "late.py").write_text("def f():\n    from steward.demo import loader\n")
    (tmp_path / "core" / "plain.py").write_text("import steward.demo.synthetic\n")
    (tmp_path / "core" / "rel.py").write_text("from ..demo import mis\n")
    (tmp_path / "core" / "ok.py").write_text("from steward.demonstration import x\nfrom . import paths\n")
    assert demo_importers(tmp_path) == [
        "core/late.py:2: steward.demo.loader",
        "core/plain.py:1: steward.demo.synthetic",
        "core/rel.py:1: steward.demo.mis",
    ]
