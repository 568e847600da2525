"""Evaluate a trained run, or compare two sets of images.

    python -m experiments.evaluate --workdir=runs/dcgan_mnist [--num_samples=10000]
    python -m experiments.evaluate --real=real.npz --fake=samples.npz --features=mnist
    python -m experiments.evaluate --real=cifar_test/ --fake=samples/ --features=inception \
        --inception_weights=pt_inception-2015-12-05-6726825d.pth
    python -m experiments.evaluate --download_inception        # fetch, check and cache pytorch-fid's weights
    python -m experiments.evaluate --reference=cifar10:train   # cache the reference's statistics once
    python -m experiments.evaluate --workdir=RUN --reference=cifar10:train [--resize=clean]

With --workdir: restores the run's newest checkpoint, generates the samples and writes `<workdir>/eval.json` with the
metrics that fit its data (toy: mode coverage and distances; MNIST / Fashion-MNIST: IS, modified IS, mode score, FID,
KID, precision/recall on the shipped classifier, and classifier accuracy for conditional runs; other images: the FID
Inception network). With --real/--fake: the same image metrics between two sets (.npz with `images`, or folders of
PNG/JPEG); the real set's statistics are cached beside it (`<real>.<features>_stats.npz`). With --reference
(a tfds NAME[:SPLIT], npz:PATH[:train|test] or folder:DIR): the reference's statistics are computed once and cached
in $JAXGAN_CACHE_DIR (default $XDG_CACHE_HOME/jaxgan), keyed by the reference, the extractor's weights and the resize
mode; alone it only fills the cache, with --workdir or --fake it replaces the real images. The logic lives in
`jaxgan.evaluation`.
"""

import os
import sys

from absl import app, flags
from absl import logging as absl_logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory to evaluate (config.json, checkpoints/).")
_NUM_SAMPLES = flags.DEFINE_integer(
  "num_samples",
  None,
  "Samples to generate (default: config.eval_samples for toy data, 10,000 for images).",
  lower_bound=1,
)
_NUM_REAL = flags.DEFINE_integer("num_real", None, "Real test images to compare with (default: all).", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the generated samples.")
_METRICS = flags.DEFINE_list("metrics", None, "Metrics to compute (default: all that fit the data).")
_SAVE_SAMPLES = flags.DEFINE_string("save_samples", None, "Also write the generated samples to this .npz.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Override the run's config.data.manual_dir.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Override the run's config.data.data_dir.")
_REAL = flags.DEFINE_string("real", None, "Real images: an .npz (`images`) or a folder.")
_FAKE = flags.DEFINE_string("fake", None, "Generated images: an .npz (`images`) or a folder.")
_FEATURES = flags.DEFINE_enum(
  "features",
  None,
  ["mnist", "fashion_mnist", "inception"],
  "Feature extractor (default: mnist for --real/--fake; the one that fits the data for --workdir and --reference).",
)
_INCEPTION_WEIGHTS = flags.DEFINE_string(
  "inception_weights",
  None,
  "FID Inception weights (.pth or .npz); default $JAXGAN_INCEPTION_WEIGHTS, else the cached download.",
)
_DOWNLOAD_INCEPTION = flags.DEFINE_bool(
  "download_inception",
  False,
  "Fetch pytorch-fid's Inception weights into the cache (SHA-256 checked) unless cached; alone, only that.",
)
_REFERENCE = flags.DEFINE_string(
  "reference",
  None,
  "Reference dataset whose statistics are cached once: a tfds "
  "NAME[:SPLIT] (cifar10:train), npz:PATH[:train|test] or folder:DIR.",
)
_RESIZE = flags.DEFINE_enum(
  "resize",
  "pytorch_fid",
  ["pytorch_fid", "clean"],
  "Resize to Inception's 299x299: pytorch-fid's bilinear without antialiasing, or clean-fid's antialiased PIL bicubic.",
)
_NO_CACHE = flags.DEFINE_bool("no_cache", False, "Neither read nor write the real-statistics cache.")
_OUTPUT = flags.DEFINE_string("output", None, "With --real/--fake: also write the results to this JSON file.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bars.")
_RAW_GENERATOR = flags.DEFINE_bool(
  "raw_generator",
  False,
  "Use the trained generator, not the moving average of it that runs with config.ema keep (used by default).",
)


def _print(results):
  print(", ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in results.items()))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  two_sets = _REAL.value is not None or _FAKE.value is not None
  reference_only = _REFERENCE.value is not None and not two_sets and _WORKDIR.value is None
  download_only = _DOWNLOAD_INCEPTION.value and not (two_sets or _REFERENCE.value or _WORKDIR.value)
  if not (reference_only or download_only) and two_sets == (_WORKDIR.value is not None):
    raise app.UsageError(
      "Pass either --workdir=RUN, or --fake with --real or --reference, or --reference or --download_inception alone."
    )
  if two_sets and not _FAKE.value or two_sets and bool(_REAL.value) == bool(_REFERENCE.value):
    raise app.UsageError("The two-set mode needs --fake and one of --real and --reference.")
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs restores at INFO
  from jaxgan import evaluation  # after flag parsing, so --help stays fast

  progress = not _NO_PROGRESS.value
  try:
    if download_only:
      from jaxgan.metrics import inception

      print(f"FID Inception weights (SHA-256 checked): {inception.download_weights()}")
      return
    if reference_only:
      results = evaluation.reference_statistics(
        _REFERENCE.value,
        _FEATURES.value,
        _INCEPTION_WEIGHTS.value,
        _RESIZE.value,
        _NUM_REAL.value,
        _DATA_DIR.value,
        _MANUAL_DIR.value,
        _DOWNLOAD_INCEPTION.value,
        progress,
      )
      output = _OUTPUT.value
    elif two_sets:
      features = _FEATURES.value or (
        evaluation.features_for_reference(_REFERENCE.value) if _REFERENCE.value else "mnist"
      )
      results = evaluation.evaluate_image_sets(
        _REAL.value,
        _FAKE.value,
        features,
        _METRICS.value,
        cache=not _NO_CACHE.value,
        inception_weights=_INCEPTION_WEIGHTS.value,
        progress=progress,
        reference=_REFERENCE.value,
        resize=_RESIZE.value,
        download_inception=_DOWNLOAD_INCEPTION.value,
        num_real=_NUM_REAL.value,
      )
      output = _OUTPUT.value
    else:
      results = evaluation.evaluate_run(
        _WORKDIR.value,
        _NUM_SAMPLES.value,
        _METRICS.value,
        seed=_SEED.value,
        num_real=_NUM_REAL.value,
        inception_weights=_INCEPTION_WEIGHTS.value,
        progress=progress,
        save_samples=_SAVE_SAMPLES.value,
        data_overrides={"manual_dir": _MANUAL_DIR.value, "data_dir": _DATA_DIR.value},
        write=False,
        reference=_REFERENCE.value,
        features=_FEATURES.value,
        resize=_RESIZE.value,
        download_inception=_DOWNLOAD_INCEPTION.value,
        raw_generator=_RAW_GENERATOR.value,
      )
      output = os.path.join(_WORKDIR.value, "eval.json")
  except (ValueError, OSError) as error:  # bad input, no network: one line, no traceback
    sys.exit(f"evaluate: {error}")
  # The metrics are printed even when the results file cannot be written (a read-only workdir): write_results
  # warns where.
  if output and evaluation.write_results(output, results):
    print(f"Wrote {output}:")
  _print(results)


if __name__ == "__main__":
  app.run(main)
