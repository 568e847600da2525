"""Evaluate a trained run, or compare two sets of images.

    python -m experiments.evaluate --workdir=runs/dcgan_mnist [--num_samples=10000]
    python -m experiments.evaluate --real=real.npz --fake=samples.npz --features=mnist
    python -m experiments.evaluate --real=cifar_test/ --fake=samples/ --features=inception \
        --inception_weights=pt_inception-2015-12-05-6726825d.pth

With --workdir: restores the run's newest checkpoint, generates the samples and writes `<workdir>/eval.json` with the
metrics that fit its data (toy: mode coverage and distances; MNIST / Fashion-MNIST: IS, modified IS, mode score, FID,
KID, precision/recall on the shipped classifier, and classifier accuracy for conditional runs; other images: the FID
Inception network). With --real/--fake: the same image metrics between two sets (.npz with `images`, or folders of
PNG/JPEG); the real set's statistics are cached beside it (`<real>.<features>_stats.npz`). The logic lives in
`jaxgan.evaluation`.
"""

import os
import sys

from absl import app, flags
from absl import logging as absl_logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory to evaluate (config.json, checkpoints/).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "Samples to generate (default: config.eval_samples for "
                                    "toy data, 10,000 for images).", lower_bound=1)
_NUM_REAL = flags.DEFINE_integer("num_real", None, "Real test images to compare with (default: all).",
                                 lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the generated samples.")
_METRICS = flags.DEFINE_list("metrics", None, "Metrics to compute (default: all that fit the data).")
_SAVE_SAMPLES = flags.DEFINE_string("save_samples", None, "Also write the generated samples to this .npz.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Override the run's config.data.manual_dir.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Override the run's config.data.data_dir.")
_REAL = flags.DEFINE_string("real", None, "Real images: an .npz (`images`) or a folder.")
_FAKE = flags.DEFINE_string("fake", None, "Generated images: an .npz (`images`) or a folder.")
_FEATURES = flags.DEFINE_enum("features", "mnist", ["mnist", "fashion_mnist", "inception"],
                              "Feature extractor for --real/--fake.")
_INCEPTION_WEIGHTS = flags.DEFINE_string("inception_weights", None, "FID Inception weights (.pth or .npz); default "
                                         "$JAXGAN_INCEPTION_WEIGHTS.")
_NO_CACHE = flags.DEFINE_bool("no_cache", False, "Neither read nor write the real-statistics cache.")
_OUTPUT = flags.DEFINE_string("output", None, "With --real/--fake: also write the results to this JSON file.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bars.")


def _print(results):
  print(", ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in results.items()))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  two_sets = _REAL.value is not None or _FAKE.value is not None
  if two_sets == (_WORKDIR.value is not None):
    raise app.UsageError("Pass either --workdir=RUN, or both --real and --fake.")
  if two_sets and not (_REAL.value and _FAKE.value):
    raise app.UsageError("The two-set mode needs both --real and --fake.")
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs restores at INFO
  from jaxgan import evaluation  # after flag parsing, so --help stays fast

  progress = not _NO_PROGRESS.value
  try:
    if two_sets:
      results = evaluation.evaluate_image_sets(_REAL.value, _FAKE.value, _FEATURES.value, _METRICS.value,
                                               cache=not _NO_CACHE.value, inception_weights=_INCEPTION_WEIGHTS.value,
                                               progress=progress)
      output = _OUTPUT.value
    else:
      results = evaluation.evaluate_run(
          _WORKDIR.value, _NUM_SAMPLES.value, _METRICS.value, seed=_SEED.value, num_real=_NUM_REAL.value,
          inception_weights=_INCEPTION_WEIGHTS.value, progress=progress, save_samples=_SAVE_SAMPLES.value,
          data_overrides={"manual_dir": _MANUAL_DIR.value, "data_dir": _DATA_DIR.value}, write=False)
      output = os.path.join(_WORKDIR.value, "eval.json")
  except (ValueError, OSError) as error:  # bad input: one line, no traceback
    sys.exit(f"evaluate: {error}")
  # The metrics are printed even when the results file cannot be written (a read-only workdir): write_results
  # warns where.
  if output and evaluation.write_results(output, results):
    print(f"Wrote {output}:")
  _print(results)


if __name__ == "__main__":
  app.run(main)
