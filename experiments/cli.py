"""What the command-line tools share: the `--config` flag with one-line errors, and configs readable from the shell.

`define_config` and `run` replace `config_flags.DEFINE_config_file` and `app.run`: a bad `--config` or
`--config.*` override (an unknown field, a value of the wrong type, a missing file) is printed as one line naming
the flag and the fix, without a traceback, and the process exits with status 1. ml_collections raises those errors
while the flags are defined (for the default config file) or parsed (for one given with --config), both before
`main`.

`config_docs` reads each field's comment from the config sources with `ast` and `tokenize` (nothing is executed),
`format_config` prints a config with them, and `list_configs` lists the config files with their docstrings' first
lines.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import re
import signal
import sys
import tokenize
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ml_collections
from absl import app, flags
from ml_collections import config_flags

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
_BASE = CONFIG_DIR / "base.py"
_HIDDEN = ("__init__.py", "base.py")  # modules in CONFIG_DIR that are not run configs

_deferred: list[BaseException] = []  # an error raised while defining --config, reported once flags are parsed


def define_config(default: str, help_string: str) -> flags.FlagHolder | None:
  """`config_flags.DEFINE_config_file("config", default, help_string)`, with a bad override kept for `run`.

  ml_collections loads the default file and applies the `--config.*` overrides already here when the command line
  names no --config; an error then would be a traceback at import. It is kept and reported by `run` instead.

  Returns:
    The flag's holder, or None when defining it failed (`run` then exits with the error).
  """
  try:
    return config_flags.DEFINE_config_file("config", default, help_string, lock_config=True)
  except Exception as error:  # whatever the config file or the override raises
    _deferred.append(error)
    return None


def _chain(error: BaseException) -> list[BaseException]:
  """`error` and the exceptions it was raised from or while handling, outermost first."""
  chain = [error]
  while chain[-1].__cause__ is not None or (chain[-1].__context__ is not None and not chain[-1].__suppress_context__):
    chain.append(chain[-1].__cause__ or chain[-1].__context__)
  return chain


def _overrides(argv: Sequence[str]) -> list[str]:
  """The `--config.*` arguments of `argv`, as given."""
  return [arg for arg in argv if re.match(r"^--?(no)?config\.", arg)]


def error_line(error: BaseException, argv: Sequence[str]) -> str:
  """One line naming the flag at fault in `error` (raised while defining or parsing --config) and the fix."""
  chain = _chain(error)
  cause = chain[-1]
  program = "python -m experiments.train"
  missing = [e for e in chain if isinstance(e, (KeyError, AttributeError))]
  if missing:
    # ml_collections raises KeyError('nmu_steps'), re-raised with 'Did you mean "num_steps" instead of ...?'.
    name = str(missing[-1].args[0]) if missing[-1].args else str(missing[-1])
    hint = next((m.group(1) for e in chain if (m := re.search(r"Did you mean [\"']([^\"']+)", str(e)))), None)
    flag = next(
      (arg.split("=", 1)[0] for arg in _overrides(argv) if name in re.split(r"[.=]", arg.split("=", 1)[0])),
      f"--config.{name}",
    )
    suggestion = f" (did you mean {hint!r}?)" if hint else ""
    return (
      f"{flag}: the config has no field {name!r}{suggestion}; {program} --config=... --print_config lists the fields."
    )
  if isinstance(cause, OSError) and getattr(cause, "filename", None) is None:
    # config_flags' "Failed loading config file ..." lists each path it tried; the last line says why.
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"--config: {lines[-1] if lines else cause}; {program} --list_configs lists the config files."
  if isinstance(cause, OSError):
    return f"--config: {cause.strerror}: {cause.filename}; {program} --list_configs lists the config files."
  first = str(error).strip().splitlines()[0] if str(error).strip() else ""
  if isinstance(error, flags.Error) and re.match(r"flag --?config\.", first):
    # absl, for an override's value: "flag --config.num_steps=abc: invalid literal for int() with base 10: 'abc'"
    return f"{first}; {program} --config=... --print_config shows each field's value and type."
  text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
  return (
    f"--config: loading the config file raised {type(cause).__name__}: {text}; fix the file, or pick one "
    f"that {program} --list_configs lists."
  )


def parse_flags(argv: list[str]) -> list[str]:
  """`app.run`'s flags parser: absl's, but a --config error is one line and exit status 1."""
  if _deferred:
    print(f"error: {error_line(_deferred[0], argv)}", file=sys.stderr)
    sys.exit(1)
  try:
    remaining = flags.FLAGS(argv)
    if "config" in flags.FLAGS:
      # A config file that failed to load is a stand-in that raises on first use: make that use here.
      getattr(flags.FLAGS["config"].value, "get", None)
    return remaining
  except Exception as error:  # config_flags raises the config's own errors, absl flags.Error for bad values
    if isinstance(error, flags.Error) and len(_chain(error)) == 1 and not re.match(r"flag --?config[.=]", str(error)):
      return app.parse_flags_with_usage(argv)  # another flag's error: absl's usual message
    print(f"error: {error_line(error, argv)}", file=sys.stderr)
    sys.exit(1)


def run(main: Callable[[list[str]], Any]) -> None:
  """`app.run(main)` with `parse_flags`."""
  app.run(main, flags_parser=parse_flags)


def _comments(source: str) -> tuple[dict[int, str], dict[int, str]]:
  """({line: comment after code on it}, {line: the comment-only lines ending there, joined})."""
  trailing, blocks = {}, {}
  for token in tokenize.generate_tokens(io.StringIO(source).readline):
    if token.type != tokenize.COMMENT:
      continue
    line = token.start[0]
    text = token.string.lstrip("#").strip()
    if token.line[: token.start[1]].strip():
      trailing[line] = text
    else:
      blocks[line] = f"{blocks.pop(line - 1)} {text}" if line - 1 in blocks else text
  return trailing, blocks


def _module_source(module: str) -> Path | None:
  spec = importlib.util.find_spec(module)
  return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


class _SourceDocs:
  """The comments of one source file's config fields."""

  def __init__(self, path: Path):
    self.source = path.read_text()
    self.lines = self.source.splitlines()
    self.tree = ast.parse(self.source)
    self.trailing, self.blocks = _comments(self.source)
    self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, function or None)
    for node in ast.walk(self.tree):
      if isinstance(node, ast.ImportFrom) and node.module:
        for alias in node.names:
          # `from jaxgan import diagnostics` names a module; `from x.base import optimizer` a function.
          self.imports[alias.asname or alias.name] = (node.module, alias.name)
      elif isinstance(node, ast.Import):
        for alias in node.names:
          self.imports[alias.asname or alias.name] = (alias.name, None)
    self.functions = {node.name: node for node in self.tree.body if isinstance(node, ast.FunctionDef)}

  def comment(self, node: ast.expr | ast.stmt) -> str | None:
    """The comment after `node` on its line, or (when `node` starts its line) the comment lines just above."""
    line = node.lineno
    starts_line = not self.lines[line - 1][: node.col_offset].strip()
    return self.trailing.get(line) or (self.blocks.get(line - 1) if starts_line else None)

  def dict_docs(self, node: ast.AST, prefix: str, docs: dict[str, str]) -> None:
    """Adds the comments of the string keys of every dict literal under `node` (not nested in another)."""
    for child in ast.walk(node):
      if isinstance(child, ast.Dict):
        for key in child.keys:
          if isinstance(key, ast.Constant) and isinstance(key.value, str):
            text = self.comment(key)
            if text:
              docs.setdefault(prefix + key.value, text)

  def call_docs(self, call: ast.Call, prefix: str, docs: dict[str, str]) -> None:
    """Adds the docs of a section built by a function call: its own dict literal, or the called function's."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in self.functions:
      self.dict_docs(self.functions[func.id], prefix, docs)
    elif isinstance(func, ast.Name) and func.id in self.imports and self.imports[func.id][1] is not None:
      _function_docs(*self.imports[func.id], prefix, docs)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.imports:
      module, name = self.imports[func.value.id]
      _function_docs(module if name is None else f"{module}.{name}", func.attr, prefix, docs)
    self.dict_docs(call, prefix, docs)

  def docs(self) -> dict[str, str]:
    """{dotted field path: comment} for `c.a.b = ...  # comment` and the sections' dict literals and builders."""
    docs: dict[str, str] = {}
    for node in ast.walk(self.tree):
      if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        continue
      target, parts = node.targets[0], []
      while isinstance(target, ast.Attribute):
        parts.insert(0, target.attr)
        target = target.value
      if not parts or not isinstance(target, ast.Name):
        continue
      path = ".".join(parts)
      text = self.comment(node)
      if text:
        docs[path] = text
      if isinstance(node.value, ast.Call):
        self.call_docs(node.value, path + ".", docs)
      elif isinstance(node.value, ast.Dict):
        self.dict_docs(node.value, path + ".", docs)
    return docs


def _function_docs(module: str, function: str, prefix: str, docs: dict[str, str]) -> None:
  """Adds the docs of the dict literals in `module.function`'s body (a section builder such as `default_config`)."""
  try:
    path = _module_source(module)
  except (ImportError, ValueError):
    return
  if path is None:
    return
  source = _SourceDocs(path)
  if function in source.functions:
    source.dict_docs(source.functions[function], prefix, docs)


def config_docs(config_file: str | os.PathLike) -> dict[str, str]:
  """Each config field's comment, from `base.py` and then `config_file` (whose comments win).

  A field's comment is the one on its assignment's (or dict key's) line, or the comment lines just above it.

  Returns:
    {dotted field path: comment}; fields without a comment are absent.
  """
  docs: dict[str, str] = {}
  for path in dict.fromkeys([_BASE, Path(config_file).resolve()]):
    if path.exists():
      docs.update(_SourceDocs(path).docs())
  return docs


def _leaves(config: ml_collections.ConfigDict, prefix: str = "") -> list[tuple[str, Any]]:
  out = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      out += _leaves(value, f"{prefix}{key}.")
    else:
      out.append((f"{prefix}{key}", value))
  return out


def format_config(config: ml_collections.ConfigDict, docs: dict[str, str]) -> str:
  """One line per field: `path = value  # comment`, sections' comments on a line of their own before them."""
  leaves = _leaves(config)
  width = min(max((len(f"{k} = {v!r}") for k, v in leaves), default=0), 56)
  lines, seen = [], set()
  for path, value in leaves:
    section = path.rpartition(".")[0]
    if section and section not in seen:
      seen.add(section)
      if section in docs:
        lines.append(f"# {section}: {docs[section]}")
    text = f"{path} = {value!r}"
    lines.append(f"{text:<{width}}  # {docs[path]}" if path in docs else text)
  return "\n".join(lines)


def docstring_line(path: Path, max_chars: int = 110) -> str:
  """The first paragraph of a Python file's module docstring on one line, cut to `max_chars` ("" without one)."""
  try:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
  except (OSError, SyntaxError, ValueError):
    return ""
  paragraph = " ".join(doc.strip().split("\n\n")[0].split())
  return paragraph if len(paragraph) <= max_chars else paragraph[: max_chars - 3].rsplit(" ", 1)[0] + "..."


def list_configs(directory: Path = CONFIG_DIR) -> str:
  """One line per config file in `directory`: its path and its docstring's first line."""
  paths = sorted(p for p in directory.glob("*.py") if p.name not in _HIDDEN)
  try:
    names = [os.path.relpath(p) for p in paths]
  except ValueError:  # another drive (Windows)
    names = [str(p) for p in paths]
  width = max((len(n) for n in names), default=0)
  return "\n".join(f"{name:<{width}}  {docstring_line(path)}" for name, path in zip(names, paths))


def exit_status(results: dict) -> int:
  """The process's exit status for a run's results: 128 + the signal's number when a signal stopped it, else 0."""
  name = results.get("stop_signal")
  return 128 + int(signal.Signals[name]) if name else 0
