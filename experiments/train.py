"""Train a GAN from a config file.

    python -m experiments.train                                   # WGAN-GP on the 25-Gaussian grid (the default job)
    python -m experiments.train --config=experiments/configs/wgan_toy.py --config.num_steps=2000 --workdir=runs/w

Rerunning with the same --workdir resumes from its newest checkpoint; a larger --config.num_steps trains further.

Exit status: 0 when the run finished (or stopped on its time budget or a diagnostic); 143 after SIGTERM and 130
after SIGINT (Ctrl-C), once the checkpoint is saved, as a shell reports a process those signals end (128 + signal
number), so a scheduler can tell a preempted run from a finished one; 1 with a one-line message for a bad config,
a busy or unwritable workdir, a NaN/inf, or a checkpoint that could not be written.
"""

import logging
import os
import signal
import sys

from absl import app, flags
from absl import logging as absl_logging
from ml_collections import config_flags

_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "wgan_gp_toy.py")

_CONFIG = config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "Run config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: runs/<config name>).")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bar.")


def exit_status(results: dict) -> int:
  """The process's exit status for a run's results: 128 + the signal's number when a signal stopped it, else 0."""
  name = results.get("stop_signal")
  return 128 + int(signal.Signals[name]) if name else 0


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
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
  summary = {k: results[k] for k in ("modes_covered", "high_quality_fraction", "reverse_kl", "steps",
                                     "wall_time_s", "steps_per_s") if k in results}
  print(f"Wrote {workdir}/results.json and samples.png: " + ", ".join(
      f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
  return exit_status(results)


if __name__ == "__main__":
  app.run(main)
