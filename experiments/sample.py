"""Samples from a trained run's generator, as files.

    python -m experiments.sample --workdir=runs/dcgan_mnist --num=64 --output=samples/      # 64 PNGs
    python -m experiments.sample --workdir=runs/dcgan_mnist --num=10000 --output=samples.npz # for evaluate --fake
    python -m experiments.sample --workdir=runs/cgan_mnist --num=8 --per_class --output=by_class/
    python -m experiments.sample --workdir=runs/dcgan_mnist --num=64 --truncation=0.7 --output=truncated/
    python -m experiments.sample --workdir=runs/dcgan_mnist --interpolate=6 --interp_steps=10 --output=walk/
    python -m experiments.sample --workdir=runs/wgan_gp_toy --num=2000 --output=points/     # toy: .npz + scatter

Images go to a folder of PNGs (sub-folders `class_<c>/` for conditional runs), or to one .npz (`images` float32
[N, H, W, C] in [-1, 1], `labels`) when --output ends in .npz. Toy (2-D) runs write the points as an .npz (`points`,
`labels`) and a scatter PNG beside it (`samples.npz` and `samples.png` in a folder). --interpolate=K walks between K
pairs of latents (slerp, or --interp_mode=lerp) in --interp_steps points and writes `interpolation.png` (one row per
pair), `interpolation.gif` and `interpolation.npz` (for an .npz output: that file, with .png and .gif beside it).
Sample i comes from fold_in(key(seed), i), as during training, so a draw does not depend on the batch size. Existing
files are never overwritten without --overwrite. The logic lives in `jaxgan.sampling.sample_run`.
"""

import sys

from absl import app, flags
from absl import logging as absl_logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (config.json, checkpoints/).")
_OUTPUT = flags.DEFINE_string("output", None, "A folder, or a file ending in .npz.")
_NUM = flags.DEFINE_integer("num", None, "Samples to draw (with --per_class: per class).")
_CHECKPOINT = flags.DEFINE_enum(
  "checkpoint",
  "latest",
  ["latest", "best"],
  "The newest checkpoint, or the best one by config.best_metric (best_checkpoint/).",
)
_PER_CLASS = flags.DEFINE_bool("per_class", False, "Conditional runs: --num samples of every class.")
_TRUNCATION = flags.DEFINE_float(
  "truncation",
  None,
  "Normal priors: redraw latent coordinates with |z_i| above this "
  "(BigGAN's truncation trick; smaller is less varied and cleaner).",
)
_INTERPOLATE = flags.DEFINE_integer(
  "interpolate", None, "Instead of samples: interpolate between this many latent pairs."
)
_INTERP_MODE = flags.DEFINE_enum("interp_mode", "slerp", ["slerp", "lerp"], "Spherical or linear interpolation.")
_INTERP_STEPS = flags.DEFINE_integer("interp_steps", 8, "Points on each interpolation path, both ends included.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latents.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
_RAW_GENERATOR = flags.DEFINE_bool(
  "raw_generator",
  False,
  "Use the trained generator, not the moving average of it that runs with config.ema keep (used by default).",
)

flags.mark_flags_as_required(["workdir", "output"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs restores at INFO
  if _NUM.value is not None and _NUM.value <= 0:  # before importing JAX: a typo costs no wait
    sys.exit(f"Error: --num must be positive; got {_NUM.value}.")
  from jaxgan import sampling  # after flag parsing, so --help stays fast

  try:
    message, _ = sampling.sample_run(
      _WORKDIR.value,
      _OUTPUT.value,
      _NUM.value,
      checkpoint=_CHECKPOINT.value,
      per_class=_PER_CLASS.value,
      truncation=_TRUNCATION.value,
      interpolate=_INTERPOLATE.value,
      interp_mode=_INTERP_MODE.value,
      interp_steps=_INTERP_STEPS.value,
      seed=_SEED.value,
      overwrite=_OVERWRITE.value,
      raw_generator=_RAW_GENERATOR.value,
    )
  except (ValueError, FileNotFoundError) as error:
    # One line naming the problem and the fix (a checkpoint error lists the steps it tried on later lines).
    sys.exit(f"Error: {str(error).splitlines()[0]}")
  print(message)


if __name__ == "__main__":
  app.run(main)
