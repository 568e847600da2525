"""jaxgan's modules import one way: no module imports a module that imports it back, directly or through others, and
no function imports a jaxgan module (imports inside functions are for optional heavy dependencies only).

The imports are read from the source with `ast`, module-level and function-level alike; `from jaxgan import x` counts
as an import of the submodule `jaxgan.x`, relative imports are resolved, and imports under `if TYPE_CHECKING:` (type
hints only, never run) are left out.
"""

from __future__ import annotations

import ast
import pathlib
from typing import NamedTuple

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1] / "jaxgan"


class Import(NamedTuple):
  importer: str
  imported: str
  line: int
  in_function: bool


def _module_names(root: pathlib.Path) -> dict[str, pathlib.Path]:
  """{dotted module name: file} for every .py file below the package folder `root`."""
  names = {}
  for path in sorted(root.rglob("*.py")):
    parts = path.relative_to(root.parent).with_suffix("").parts
    if parts[-1] == "__init__":
      parts = parts[:-1]
    names[".".join(parts)] = path
  return names


def _is_type_checking(test: ast.expr) -> bool:
  return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
    isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
  )


def _known(name: str, modules: dict[str, pathlib.Path]) -> str:
  """The longest prefix of the dotted `name` that is one of the package's modules."""
  parts = name.split(".")
  for end in range(len(parts), 0, -1):
    candidate = ".".join(parts[:end])
    if candidate in modules:
      return candidate
  return name


class _Collector(ast.NodeVisitor):
  """Collects the package-internal imports of one module."""

  def __init__(self, module: str, is_package: bool, modules: dict[str, pathlib.Path], top: str):
    self.module, self.modules, self.top = module, modules, top
    self.package = module if is_package else module.rpartition(".")[0]
    self.depth = 0
    self.found: list[Import] = []

  def _add(self, imported: str, node: ast.stmt) -> None:
    if (imported == self.top or imported.startswith(self.top + ".")) and imported != self.module:
      self.found.append(Import(self.module, _known(imported, self.modules), node.lineno, self.depth > 0))

  def _function(self, node) -> None:
    self.depth += 1
    self.generic_visit(node)
    self.depth -= 1

  visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

  def visit_If(self, node: ast.If) -> None:
    if _is_type_checking(node.test):
      for child in node.orelse:  # the `else` branch runs
        self.visit(child)
      return
    self.generic_visit(node)

  def visit_Import(self, node: ast.Import) -> None:
    for alias in node.names:
      self._add(alias.name, node)

  def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
    if node.level:
      parts = self.package.split(".")
      base_parts = parts[: len(parts) - (node.level - 1)]
      base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
      base = node.module or ""
    for alias in node.names:
      submodule = f"{base}.{alias.name}"
      self._add(submodule if submodule in self.modules else base, node)


def package_imports(root: pathlib.Path = PACKAGE_ROOT) -> list[Import]:
  """Every import of one of the package's modules by another, read from the sources below `root`."""
  modules = _module_names(root)
  found = []
  for module, path in modules.items():
    collector = _Collector(module, path.name == "__init__.py", modules, root.name)
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    found.extend(collector.found)
  return found


def find_cycle(imports: list[Import]) -> list[str] | None:
  """One import cycle [a, b, ..., a] among `imports`, or None."""
  graph: dict[str, set[str]] = {}
  for imp in imports:
    graph.setdefault(imp.importer, set()).add(imp.imported)
  visiting: list[str] = []
  done: set[str] = set()

  def visit(module: str) -> list[str] | None:
    if module in visiting:
      return visiting[visiting.index(module) :] + [module]
    if module in done:
      return None
    visiting.append(module)
    for imported in sorted(graph.get(module, ())):
      cycle = visit(imported)
      if cycle:
        return cycle
    visiting.pop()
    done.add(module)
    return None

  for module in sorted(graph):
    cycle = visit(module)
    if cycle:
      return cycle
  return None


def test_jaxgan_has_no_import_cycle():
  cycle = find_cycle(package_imports())
  assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_function_imports_a_jaxgan_module():
  inside = [f"{imp.importer} (line {imp.line}) imports {imp.imported}" for imp in package_imports() if imp.in_function]
  assert not inside, "imports of jaxgan modules inside functions (move them to the top):\n" + "\n".join(inside)


def test_the_walker_finds_cycles_through_every_import_form(tmp_path):
  # A package whose modules import each other in each form the walker must read.
  root = tmp_path / "pkg"
  (root / "sub").mkdir(parents=True)
  files = {
    "__init__.py": "",
    "a.py": "from pkg import b\n",
    "b.py": "from .sub import c\n",
    "sub/__init__.py": "X = 1\n",
    "sub/c.py": (
      "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n  from pkg import a\ndef f():\n  from .. import d\n"
    ),
    "d.py": "import pkg.sub\nfrom pkg.sub import X\n",
  }
  for name, text in files.items():
    (root / name).write_text(text)
  found = package_imports(root)
  assert {(imp.importer, imp.imported, imp.in_function) for imp in found} == {
    ("pkg.a", "pkg.b", False),
    ("pkg.b", "pkg.sub.c", False),
    ("pkg.sub.c", "pkg.d", True),
    ("pkg.d", "pkg.sub", False),
  }
  assert find_cycle(found) is None  # c -> a is for type hints only
  (root / "sub" / "__init__.py").write_text("from pkg.a import *\n")
  assert find_cycle(package_imports(root)) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.d", "pkg.sub", "pkg.a"]


def test_names_moved_out_of_semi_supervised_still_import():
  import pytest

  from jaxgan import batch, classifier_eval, semi_supervised
  from jaxgan.data import labelled

  with pytest.warns(DeprecationWarning, match="moved to jaxgan.classifier_eval.test_error"):
    assert semi_supervised.test_error is classifier_eval.test_error
  with pytest.warns(DeprecationWarning):
    assert semi_supervised.make_batch_fn is labelled.make_batch_fn
  with pytest.warns(DeprecationWarning):
    assert semi_supervised.SemiSupervisedBatch is batch.SemiSupervisedBatch
  with pytest.raises(AttributeError):
    semi_supervised.no_such_name  # noqa: B018
