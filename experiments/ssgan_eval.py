"""Test-set classification error of a run's discriminator (semi-supervised GAN or AC-GAN).

    python -m experiments.ssgan_eval --workdir=runs/ssgan_mnist_100labels [--data_dir=... --manual_dir=...]

Restores the run's newest checkpoint, classifies the test split of its dataset with the discriminator (inference
mode: no noise) and writes `<workdir>/classifier_eval.json` with `test_error`. The logic lives in
`jaxgan.classifier_eval.evaluate_run`.
"""

from absl import app, flags
from absl import logging as absl_logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (config.json, checkpoints/).", required=True)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Override the run's config.data.data_dir.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Override the run's config.data.manual_dir.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 1000, "Test images per compiled batch.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs restores at INFO
  from jaxgan import classifier_eval  # after flag parsing, so --help stays fast

  results = classifier_eval.evaluate_run(
    _WORKDIR.value, {"data_dir": _DATA_DIR.value, "manual_dir": _MANUAL_DIR.value}, _BATCH_SIZE.value
  )
  print(
    f"Wrote {_WORKDIR.value}/classifier_eval.json: test_error={results['test_error']:.4%} on "
    f"{results['num_test']} test images at step {results['step']}"
  )


if __name__ == "__main__":
  app.run(main)
