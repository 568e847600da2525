"""Train a GAN from a config file.

    python -m experiments.train                                   # WGAN-GP on the 25-Gaussian grid (the default job)
    python -m experiments.train --config=experiments/configs/wgan_toy.py --config.num_steps=2000 --workdir=runs/w

Rerunning with the same --workdir resumes from its newest checkpoint; a larger --config.num_steps trains further.

    python -m experiments.train --list_configs                    # the config files, with what each one runs
    python -m experiments.train --config=experiments/configs/wgan_toy.py --config.n_critic=3 --print_config

--print_config prints every field of the resolved config (after the --config.* overrides), one per line as
`path = value  # comment`, with the comments of experiments/configs/base.py and the config file, and exits without
training: each field is a --config.<path>=VALUE override. A bad override (an unknown field, a value of the wrong
type) or config file is reported in one line naming the flag.

Exit status: 0 when the run finished (or stopped on its time budget or a diagnostic); 143 after SIGTERM and 130
after SIGINT (Ctrl-C), once the checkpoint is saved, as a shell reports a process those signals end (128 + signal
number), so a scheduler can tell a preempted run from a finished one; 1 with a one-line message for a bad config,
a busy or unwritable workdir, a NaN/inf, or a checkpoint that could not be written (or a bad --config / --config.*
flag, before anything runs).
"""

import logging
import os
import sys
from pathlib import Path

from absl import app, flags
from absl import logging as absl_logging

from experiments import cli

# The default job: WGAN-GP on the 25-Gaussian grid, its tuned variant (see the config file).
_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "wgan_gp_toy.py") + ":tuned"

_CONFIG = cli.define_config(
  _DEFAULT_CONFIG,
  "Run config file; override any field with --config.<field>=VALUE "
  "(--print_config lists the fields with their comments, --list_configs the files).",
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: runs/<config name>).")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bar.")
_PRINT_CONFIG = flags.DEFINE_bool(
  "print_config",
  False,
  "Print the resolved config (after the --config.* overrides), each field with its comment, and exit without training.",
)
_LIST_CONFIGS = flags.DEFINE_bool(
  "list_configs",
  False,
  "List the config files in experiments/configs with the first line of their docstrings, and exit.",
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _LIST_CONFIGS.value:
    print(cli.list_configs())
    return 0
  if _PRINT_CONFIG.value:
    config_file = flags.FLAGS["config"].config_filename  # without a ":argument" for get_config
    print(f"# {os.path.relpath(config_file)}: {cli.docstring_line(Path(config_file))}")
    print(cli.format_config(_CONFIG.value, cli.config_docs(config_file)))
    return 0
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every checkpoint step at INFO
  logging.getLogger("jaxgan").setLevel(logging.INFO)
  from jaxgan.checkpoint import CheckpointSaveError  # after flag parsing, so --help stays fast
  from jaxgan.experiment import train_and_evaluate
  from jaxgan.parallel import initialize_distributed

  initialize_distributed()  # a no-op unless JAXGAN_COORDINATOR etc. describe a multi-process run

  config = _CONFIG.value
  workdir = _WORKDIR.value or os.path.join("runs", config.name)
  try:
    results = train_and_evaluate(config, workdir, progress=not _NO_PROGRESS.value)
  except (ValueError, FloatingPointError, CheckpointSaveError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  summary = {
    k: results[k]
    for k in ("modes_covered", "high_quality_fraction", "reverse_kl", "steps", "wall_time_s", "steps_per_s")
    if k in results
  }
  print(
    f"Wrote {workdir}/results.json and samples.png: "
    + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items())
  )
  return cli.exit_status(results)


if __name__ == "__main__":
  cli.run(main)
