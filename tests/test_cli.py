"""The command line's config tools: --print_config with each field's comment, --list_configs, and one-line errors
for bad --config flags. The helpers are called in-process on a private FlagValues (absl's global flags belong to
whichever CLI module a test imported); one subprocess checks the real command."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags
from ml_collections import config_flags

from experiments import cli

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "experiments" / "configs"


def _trailing_comment(path: Path, pattern: str) -> str:
  """The comment at the end of the first line of `path` matching `pattern` (an independent, line-based reading)."""
  line = next(line for line in path.read_text().splitlines() if re.search(pattern, line))
  return line.split("#", 1)[1].strip()


def test_config_docs_read_the_comments_of_base_the_config_and_section_builders():
  docs = cli.config_docs(CONFIGS / "dcgan_mnist.py")
  base = CONFIGS / "base.py"
  assert docs["n_critic"] == _trailing_comment(base, r"^\s*c\.n_critic =")
  assert docs["tips.flip_fraction"] == _trailing_comment(base, r'"flip_fraction":')
  # Sections built by functions: base.image_data, base.optimizer (a comment line above the key), and a library's
  # default_config.
  assert docs["data.manual_dir"] == _trailing_comment(base, r'"manual_dir":')
  assert docs["g_optimizer.schedule"].startswith("learning-rate schedule")
  assert docs["diagnostics.window"] == _trailing_comment(ROOT / "jaxgan" / "diagnostics.py", r'"window":')
  # A section's comment line above `c.deligan = ConfigDict({...` is the section's, not its first keys'.
  assert docs["deligan"].startswith("The DeLiGAN prior's options") and "deligan.num_components" not in docs


def test_a_config_files_own_comment_wins(tmp_path):
  source = tmp_path / "mine.py"
  source.write_text(
    '"""Mine."""\n\n\ndef get_config():\n  c = base_config()\n  c.n_critic = 2  # my reason\n  return c\n'
  )
  assert cli.config_docs(source)["n_critic"] == "my reason"


def test_list_configs_names_every_config_file_with_its_docstring():
  lines = cli.list_configs().splitlines()
  files = sorted(p for p in CONFIGS.glob("*.py") if p.name not in ("__init__.py", "base.py"))
  assert len(lines) == len(files)
  for line, path in zip(lines, files):
    first_words = " ".join(ast.get_docstring(ast.parse(path.read_text())).split()[:3])
    assert line.split()[0].endswith(f"configs/{path.name}") and first_words in line, line


def _parse_error(argv: list[str]) -> BaseException:
  """The error config_flags raises for `argv`, whether while defining the flag or while parsing it."""
  values = flags.FlagValues()
  try:
    config_flags.DEFINE_config_file("config", str(CONFIGS / "wgan_toy.py"), flag_values=values, sys_argv=argv)
    values(argv)
    values["config"].value.get  # noqa: B018  (a file that failed to load raises on first use)
  except Exception as error:  # noqa: BLE001  (whatever config_flags raises is the subject)
    return error
  raise AssertionError(f"no error for {argv}")


@pytest.mark.parametrize(
  "argv, expected",
  [
    (["train", "--config.critic.nrom=x"], ["--config.critic.nrom:", "no field 'nrom'", "--print_config"]),
    (
      ["train", f"--config={CONFIGS / 'gan_toy.py'}", "--config.nmu_steps=3"],
      ["--config.nmu_steps:", "did you mean 'num_steps'?"],
    ),
    (["train", "--config.num_steps=abc"], ["--config.num_steps=abc", "int()", "--print_config"]),
    (["train", "--config=no_such_config.py"], ["--config:", "No such file", "no_such_config.py", "--list_configs"]),
  ],
)
def test_config_errors_are_one_line_naming_the_flag_and_the_fix(argv, expected):
  line = cli.error_line(_parse_error(argv), argv)
  assert "\n" not in line and all(part in line for part in expected), line


def test_print_config_shows_overrides_with_comments_and_trains_nothing(tmp_path):
  done = subprocess.run(
    [
      sys.executable,
      "-m",
      "experiments.train",
      "--config=experiments/configs/wgan_toy.py",
      "--config.n_critic=3",
      f"--workdir={tmp_path / 'run'}",
      "--print_config",
    ],
    cwd=ROOT,
    env=dict(os.environ, PYTHONPATH=str(ROOT)),
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert done.returncode == 0, done.stderr[-2000:]
  lines = done.stdout.splitlines()
  assert lines[0].startswith("# experiments/configs/wgan_toy.py: WGAN")
  n_critic = next(line for line in lines if line.startswith("n_critic = "))
  assert re.fullmatch(r"n_critic = 3 +# critic updates per step", n_critic), n_critic
  assert "name = 'wgan_toy'" in lines and not (tmp_path / "run").exists()
