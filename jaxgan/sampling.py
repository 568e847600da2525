"""Getting samples out of a trained run: latents (plain, truncated, interpolated), labels, and the files they go to.

* Latents: sample i of a draw comes from `fold_in(key, i)`, as in `jaxgan.train.generate`, so a draw does not depend
  on the batch size it is generated in. The truncation trick (Brock et al. 2019, BigGAN, Sec. 3.1) resamples every
  coordinate of z ~ N(0, I) whose magnitude exceeds a threshold, trading variety for fidelity.
* Interpolation between latent pairs: spherical (slerp; Shoemake 1985, as White 2016 advises for Gaussian latents,
  whose mass lies near a sphere) or linear (lerp).
* Files: a folder of PNGs (one sub-folder per class for conditional runs, as `folder:` data sources read them), an
  .npz, a grid PNG and an animated GIF of interpolations (PIL), a scatter PNG for 2-D toy runs.

Images are float arrays [N, H, W, C] in [-1, 1], the generators' range; toy samples are points [N, 2].
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data as data_lib
from jaxgan import ema, plots
from jaxgan.evaluation import load_run
from jaxgan.train import GAN, GANState, example_keys, sample_latents

CHECKPOINTS = ("latest", "best")
INTERPOLATIONS = ("slerp", "lerp")


# ----------------------------------------------------------------------------------------------- the checkpoint


def load_checkpoint(
  workdir: str | os.PathLike, checkpoint: str = "latest"
) -> tuple[ml_collections.ConfigDict, GAN, GANState, int]:
  """A run's config, GAN and state from its newest checkpoint or from the best one.

  Args:
    workdir: the run directory (config.json, checkpoints/, and best_checkpoint/ when the run keeps one).
    checkpoint: "latest" (checkpoints/, as `jaxgan.evaluation.load_run`) or "best" (best_checkpoint/, the step with
      the best `config.best_metric`).

  Returns:
    (config, gan, state, step).

  Raises:
    ValueError: for an unknown `checkpoint`.
    FileNotFoundError: when the run has no config, or no checkpoint of that kind.
  """
  if checkpoint not in CHECKPOINTS:
    raise ValueError(f"checkpoint must be one of {CHECKPOINTS}; got {checkpoint!r}.")
  if checkpoint == "latest":
    return load_run(workdir)
  workdir = Path(workdir)
  if (workdir / "config.json").exists() and not (workdir / "best_checkpoint").is_dir():
    raise FileNotFoundError(
      f"No best checkpoint in {workdir} (a run keeps one in best_checkpoint/ when "
      "config.best_metric is set); use --checkpoint=latest."
    )
  return load_run(workdir, "best_checkpoint")


# ------------------------------------------------------------------------------------------------------ latents


@functools.partial(jax.jit, static_argnums=(1, 2))
def truncated_normal(key: jax.Array, shape: tuple[int, ...], threshold: float) -> jax.Array:
  """z ~ N(0, I) with every coordinate |z_i| > threshold drawn again until none is (BigGAN's truncation trick).

  Coordinates already within the threshold keep the value of the plain draw `jax.random.normal(key, shape)`; round r
  of redraws uses `fold_in(key, r)`. The result follows N(0, 1) truncated to [-threshold, threshold] per coordinate.

  Args:
    key: a PRNG key.
    shape: the shape of z.
    threshold: T > 0.

  Returns:
    float32 [*shape] with every |z_i| <= threshold.

  Raises:
    ValueError: for a threshold that is not positive.
  """
  if not threshold > 0:
    raise ValueError(f"The truncation threshold must be positive; got {threshold}.")

  def outside(z):
    return jnp.abs(z) > threshold

  def redraw(carry):
    round_, z = carry
    fresh = jax.random.normal(jax.random.fold_in(key, round_), shape)
    return round_ + 1, jnp.where(outside(z), fresh, z)

  _, z = jax.lax.while_loop(
    lambda carry: jnp.any(outside(carry[1])), redraw, (jnp.int32(1), jax.random.normal(key, shape))
  )
  return z


def check_truncation(prior: str, truncation: float | None) -> None:
  """Raises a ValueError unless `truncation` is None, or positive with a normal prior.

  Args:
    prior: the run's `config.prior`.
    truncation: the threshold T, or None for no truncation.
  """
  if truncation is None:
    return
  if not truncation > 0:
    raise ValueError(f"--truncation must be positive (BigGAN uses 0.04 to 2); got {truncation}.")
  if prior != "normal":
    raise ValueError(
      f"--truncation resamples coordinates of z ~ N(0, I); this run's config.prior is {prior!r}. Drop --truncation."
    )


def draw_latents(
  gan: GAN, state: GANState, key: jax.Array, num: int, truncation: float | None = None, use_ema: bool = True
) -> jax.Array:
  """z [num, *latent_shape]: latent i from `fold_in(key, i)`, as `jaxgan.train.generate` draws them.

  Args:
    gan: the run's GAN (its prior and latent shape).
    state: the run's state (the prior's parameters, for DeLiGAN's learned mixture).
    key: a PRNG key.
    num: how many latents.
    truncation: resample coordinates beyond this threshold (normal priors only; `check_truncation` first), or None.
    use_ema: the prior's parameters from the generator's moving average when the state keeps one (`jaxgan.ema`).
  """

  def draw(prior_params, key):
    keys = example_keys(key, num, None)
    if truncation is None:
      return sample_latents(gan, prior_params, keys)
    return jax.vmap(lambda k: truncated_normal(k, gan.latent_shape, truncation))(keys)

  return jax.jit(draw)(ema.generator(state, use_ema)[2], key)


@jax.jit
def lerp(z0: jax.Array, z1: jax.Array, t: jax.Array) -> jax.Array:
  """Linear interpolation (1 - t) z0 + t z1.

  Args:
    z0, z1: [K, *latent_shape], the pairs' endpoints.
    t: [S] fractions in [0, 1].

  Returns:
    [K, S, *latent_shape].
  """
  t = jnp.asarray(t).reshape((1, -1) + (1,) * (z0.ndim - 1))
  return (1 - t) * z0[:, None] + t * z1[:, None]


@jax.jit
def slerp(z0: jax.Array, z1: jax.Array, t: jax.Array) -> jax.Array:
  """Spherical interpolation sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, w the angle between z0 and z1.

  Each pair's latents are taken as flat vectors. Nearly parallel pairs (sin w ~ 0) fall back to `lerp`.

  Args:
    z0, z1: [K, *latent_shape], the pairs' endpoints.
    t: [S] fractions in [0, 1].

  Returns:
    [K, S, *latent_shape]; at t = 0 and 1 the endpoints; for endpoints of equal norm every point keeps that norm.
  """
  k = z0.shape[0]
  a, b = z0.reshape(k, -1), z1.reshape(k, -1)
  cos = jnp.sum(a * b, -1) / (jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1))
  omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))[:, None, None]  # [K, 1, 1]
  t = jnp.asarray(t, jnp.float32)[None, :, None]  # [1, S, 1]
  sin = jnp.sin(omega)
  parallel = sin < 1e-6
  safe = jnp.where(parallel, 1.0, sin)
  w0 = jnp.where(parallel, 1 - t, jnp.sin((1 - t) * omega) / safe)
  w1 = jnp.where(parallel, t, jnp.sin(t * omega) / safe)
  out = w0 * a[:, None] + w1 * b[:, None]
  return out.reshape(k, -1, *z0.shape[1:])


def interpolation_latents(
  gan: GAN,
  state: GANState,
  key: jax.Array,
  pairs: int,
  steps: int,
  mode: str = "slerp",
  truncation: float | None = None,
  use_ema: bool = True,
) -> jax.Array:
  """Latents along `pairs` paths between two draws each, `steps` points a path, endpoints included.

  Args:
    gan, state, key, truncation, use_ema: as `draw_latents`, which draws the 2 * pairs endpoints (pair k: latents
      2k, 2k + 1).
    pairs: K paths.
    steps: S >= 2 points on each.
    mode: "slerp" or "lerp".

  Returns:
    [K, S, *latent_shape].

  Raises:
    ValueError: for K < 1, S < 2 or an unknown mode.
  """
  if pairs < 1:
    raise ValueError(f"--interpolate needs at least one pair; got {pairs}.")
  if steps < 2:
    raise ValueError(f"--interp_steps needs at least 2 points (the two ends); got {steps}.")
  if mode not in INTERPOLATIONS:
    raise ValueError(f"--interp_mode must be one of {INTERPOLATIONS}; got {mode!r}.")
  z = draw_latents(gan, state, key, 2 * pairs, truncation, use_ema)
  t = jnp.linspace(0.0, 1.0, steps)
  return (slerp if mode == "slerp" else lerp)(z[0::2], z[1::2], t)


# ------------------------------------------------------------------------------------------------ labels, images


def class_labels(num_per_class: int, num_classes: int) -> np.ndarray:
  """int32 [num_per_class * num_classes]: 0 repeated num_per_class times, then 1, and so on."""
  return np.repeat(np.arange(num_classes, dtype=np.int32), num_per_class)


def cycling_labels(num: int, num_classes: int) -> np.ndarray:
  """int32 [num]: 0, 1, ..., num_classes - 1, 0, ... (the classes `jaxgan.train.generate` uses by default)."""
  return (np.arange(num) % num_classes).astype(np.int32)


def generate_from_latents(
  gan: GAN, g_params: Any, g_state: Any, z: jax.Array, labels: np.ndarray | None = None, batch_size: int = 500
) -> np.ndarray:
  """The generator in inference mode on given latents, in jit-compiled batches of one size.

  The parameters are passed apart from the state so that a caller picks which generator: the trained one, or the
  moving average of its weights (`jaxgan.ema.generator`).

  Args:
    gan: the run's GAN.
    g_params, g_state: the generator's parameters and BatchNorm statistics.
    z: [N, *latent_shape].
    labels: int [N] classes for a conditional GAN (required then), else None.
    batch_size: samples per compiled call; the last batch is padded.

  Returns:
    [N, *data_shape] as numpy.

  Raises:
    ValueError: when a conditional GAN gets no labels.
  """
  if gan.num_classes and labels is None:
    raise ValueError("A conditional GAN needs labels [N] to generate from.")
  num = z.shape[0]
  batch_size = max(1, min(batch_size, num))

  @jax.jit
  def apply(z, labels):
    inputs = (z, labels) if gan.num_classes else z
    x, _ = gan.generator.apply(g_params, g_state, inputs, False)
    return x

  out = []
  for start in range(0, num, batch_size):
    batch_z = np.resize(np.asarray(z[start : start + batch_size]), (batch_size, *z.shape[1:]))
    batch_labels = None if labels is None else np.resize(np.asarray(labels[start : start + batch_size]), batch_size)
    out.append(np.asarray(jax.device_get(apply(batch_z, batch_labels)))[: num - start])
  return np.concatenate(out)


def to_uint8(images: np.ndarray) -> np.ndarray:
  """uint8 [N, H, W, C] in [0, 255] from images [N, H, W, C] in [-1, 1] (clipped)."""
  return np.round((np.clip(np.asarray(images, np.float32), -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def _pil_image(pixels: np.ndarray):
  from PIL import Image

  return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def write_png_folder(directory: str | os.PathLike, images: np.ndarray, labels: np.ndarray | None = None) -> list[Path]:
  """One PNG per image: `directory/000000.png`, ... or, with labels, `directory/class_<c>/class_<c>_00000.png`.

  Class numbers are zero-padded to one width, so sorted sub-folders come in class order (the order in which a
  `folder:` data source numbers them).

  Args:
    directory: created if missing.
    images: [N, H, W, C] in [-1, 1], C in (1, 3).
    labels: int [N] classes, or None.

  Returns:
    The paths written, in the order of `images`.
  """
  directory = Path(directory)
  pixels = to_uint8(images)
  paths = []
  if labels is None:
    digits = max(6, len(str(len(pixels) - 1)))
    paths = [directory / f"{i:0{digits}d}.png" for i in range(len(pixels))]
  else:
    labels = np.asarray(labels)
    width = len(str(int(labels.max())))
    seen: dict[int, int] = {}
    for label in labels.tolist():
      index = seen.get(label, 0)
      seen[label] = index + 1
      name = f"class_{label:0{width}d}"
      paths.append(directory / name / f"{name}_{index:05d}.png")
  for path, image in zip(paths, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    _pil_image(image).save(path)
  return paths


def interpolation_frames(images: np.ndarray) -> list[np.ndarray]:
  """Frames of an interpolation GIF: frame s tiles the K paths' images at step s, forth and back so the GIF loops.

  Args:
    images: [K, S, H, W, C] in [-1, 1].

  Returns:
    2S - 2 uint8 pictures (`jaxgan.plots.image_grid` of K images, one row), steps 0, 1, ..., S - 1, S - 2, ..., 1.
  """
  steps = images.shape[1]
  order = list(range(steps)) + list(range(steps - 2, 0, -1))
  return [plots.image_grid(images[:, s], rows=1) for s in order]


def write_interpolation(
  png_path: str | os.PathLike, gif_path: str | os.PathLike, images: np.ndarray, frame_ms: int = 120
) -> None:
  """Writes interpolation images as a grid PNG (one row per path) and an animated GIF (all paths move together).

  Args:
    png_path, gif_path: the two files.
    images: [K, S, H, W, C] in [-1, 1].
    frame_ms: how long each GIF frame shows.
  """
  k, s = images.shape[:2]
  _pil_image(plots.image_grid(images.reshape(k * s, *images.shape[2:]), rows=k)).save(png_path)
  frames = [_pil_image(frame) for frame in interpolation_frames(images)]
  frames[0].save(gif_path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)


def save_paths_plot(
  path: str | os.PathLike, paths: np.ndarray, real: np.ndarray, title: str = "", centers: np.ndarray | None = None
) -> None:
  """Writes a PNG of 2-D interpolation paths [K, S, 2] over real points [N, 2] (and mode centres when given)."""
  from matplotlib.figure import Figure  # no pyplot: no backend switch

  fig = Figure(figsize=(5, 5), dpi=100)
  ax = fig.subplots()
  ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.3, c="tab:blue", label="real")
  if centers is not None:
    ax.scatter(centers[:, 0], centers[:, 1], s=20, marker="x", c="black", label="mode centres")
  for k, line in enumerate(paths):
    ax.plot(line[:, 0], line[:, 1], "-o", ms=2, lw=1, c="tab:orange", label="generated paths" if k == 0 else None)
  ax.set_title(title)
  ax.set_xlabel("x1")
  ax.set_ylabel("x2")
  ax.set_aspect("equal")
  ax.legend(loc="upper right", markerscale=2, fontsize=8)
  fig.tight_layout()
  fig.savefig(os.fspath(path))


# --------------------------------------------------------------------------------------------------- a whole run


def _targets(output: str, name: str, suffixes: tuple[str, ...]) -> list[Path]:
  """`output` (an .npz) with files of the other suffixes beside it, or `<output>/<name><suffix>` for a folder."""
  if output.endswith(".npz"):
    stem = Path(output[: -len(".npz")])
    return [stem.with_name(stem.name + suffix) for suffix in suffixes]
  return [Path(output) / f"{name}{suffix}" for suffix in suffixes]


def _refuse_existing(files: list[Path], folder: Path | None = None) -> None:
  if folder is not None and folder.is_dir() and any(folder.iterdir()):
    raise ValueError(f"--output={folder} already holds files; pass a new or empty folder, or --overwrite.")
  for path in files:
    if path.exists():
      raise ValueError(f"{path} exists already; pass another --output, or --overwrite.")


def check_request(num: int | None, interpolate: int | None, interp_steps: int = 8, interp_mode: str = "slerp") -> None:
  """Raises a ValueError unless the request asks for a positive number of samples, or for at least one interpolation
  pair with at least 2 points of a known mode."""
  if interpolate is None and num is None:
    raise ValueError("Pass --num=N samples (or --interpolate=K pairs).")
  if num is not None and num <= 0:
    raise ValueError(f"--num must be positive; got {num}.")
  if interpolate is not None and interpolate <= 0:
    raise ValueError(f"--interpolate needs at least one pair; got {interpolate}.")
  if interpolate is not None and interp_steps < 2:
    raise ValueError(f"--interp_steps needs at least 2 points (the two ends); got {interp_steps}.")
  if interp_mode not in INTERPOLATIONS:
    raise ValueError(f"--interp_mode must be one of {INTERPOLATIONS}; got {interp_mode!r}.")


def sample_run(
  workdir: str | os.PathLike,
  output: str | os.PathLike,
  num: int | None = None,
  checkpoint: str = "latest",
  per_class: bool = False,
  truncation: float | None = None,
  interpolate: int | None = None,
  interp_mode: str = "slerp",
  interp_steps: int = 8,
  seed: int = 0,
  overwrite: bool = False,
  raw_generator: bool = False,
) -> tuple[str, list[Path]]:
  """Writes samples of a trained run to files (what `python -m experiments.sample` does).

  Samples: images to a folder of PNGs (`write_png_folder`) or, for an `output` ending in .npz, to that file
  (`images` float32 [N, H, W, C] in [-1, 1], `labels` int32 [N] for conditional runs); toy points to an .npz (`points`
  [N, 2], `labels`) and a scatter PNG beside it (`samples.npz`, `samples.png` in a folder). Interpolation (with
  `interpolate`): `interpolation.npz` (`images` or `points` [K, S, ...], `latents` [K, S, *latent_shape]), `.png`
  and, for images, `.gif`. Every .npz also holds `step`, `checkpoint`, `generator` ('ema' or 'raw'), `seed` and
  `truncation` (NaN for none).

  Args:
    workdir: the run directory.
    output: a folder, or a path ending in .npz.
    num: samples to draw (per class with `per_class`); ignored with `interpolate`.
    checkpoint: "latest" or "best" (`load_checkpoint`).
    per_class: conditional runs only: `num` samples of each class; otherwise a conditional run's classes cycle.
    truncation: normal priors only: the truncation threshold, or None.
    interpolate: K latent pairs to interpolate between instead of sampling, or None.
    interp_mode: "slerp" or "lerp".
    interp_steps: S points on each path, ends included.
    seed: seed of the latents (sample i from `fold_in(key(seed), i)`).
    overwrite: replace existing files; without it an existing file, or a non-empty PNG folder, is refused.
    raw_generator: sample the trained generator even when the run keeps a moving average of it (`config.ema`),
      which is sampled by default.

  Returns:
    (a sentence saying what was written, the files written; for a PNG folder, the folder).

  Raises:
    ValueError: for a bad request (see `check_request`, `check_truncation`, `interpolation_latents`), `per_class` on
      an unconditional run, or an output that exists.
    FileNotFoundError: when the run has no config or no such checkpoint.
  """
  check_request(num, interpolate, interp_steps, interp_mode)
  output = os.fspath(output)
  config, gan, state, step = load_checkpoint(workdir, checkpoint)
  check_truncation(config.prior, truncation)
  if per_class and not gan.num_classes:
    raise ValueError(
      "--per_class needs a conditional run (config.num_classes > 0); this run is unconditional. Drop --per_class."
    )
  toy = data_lib.is_toy(config.data)
  # Where the files go, refused before any work when they exist already.
  if interpolate is not None:
    files = _targets(output, "interpolation", (".npz", ".png") if toy else (".npz", ".png", ".gif"))
  elif toy:
    files = _targets(output, "samples", (".npz", ".png"))
  else:
    files = [Path(output)]
  png_folder = interpolate is None and not toy and not output.endswith(".npz")
  if not overwrite:
    _refuse_existing([] if png_folder else files, files[0] if png_folder else None)

  key = jax.random.key(seed)
  use_ema = not raw_generator
  g_params, g_state, _ = ema.generator(state, use_ema)
  meta = {
    "step": step,
    "checkpoint": checkpoint,
    "generator": ema.which(state, use_ema),
    "seed": seed,
    "truncation": np.nan if truncation is None else truncation,
  }
  where = f"step {step} of {os.fspath(workdir)} ({checkpoint} checkpoint)"
  title = f"step {step} ({checkpoint} checkpoint)"
  mixture = data_lib.get_toy(config.data.name) if toy else None
  files[0].parent.mkdir(parents=True, exist_ok=True)

  if interpolate is not None:
    z = interpolation_latents(gan, state, key, interpolate, interp_steps, interp_mode, truncation, use_ema)
    pairs, steps = z.shape[:2]
    labels = cycling_labels(pairs, gan.num_classes).repeat(steps) if gan.num_classes else None
    flat = z.reshape(pairs * steps, *z.shape[2:])
    x = generate_from_latents(gan, g_params, g_state, flat, labels).reshape(pairs, steps, *gan.data_shape)
    extra = {} if labels is None else {"labels": labels.reshape(pairs, steps)}
    np.savez(files[0], **{"points" if toy else "images": x}, latents=np.asarray(z), **extra, **meta)
    if toy:
      real = np.asarray(mixture.sample(jax.random.fold_in(key, 1), (1000,)))
      save_paths_plot(files[1], x, real, f"{interp_mode} paths, {title}", mixture.centers)
    else:
      write_interpolation(files[1], files[2], x)
    return f"Wrote {pairs} {interp_mode} paths of {steps} points from {where} to {', '.join(map(str, files))}", files

  labels = None
  if gan.num_classes:
    labels = class_labels(num, gan.num_classes) if per_class else cycling_labels(num, gan.num_classes)
  z = draw_latents(gan, state, key, len(labels) if labels is not None else num, truncation, use_ema)
  x = generate_from_latents(gan, g_params, g_state, z, labels)
  extra = {} if labels is None else {"labels": labels}
  if toy:
    np.savez(files[0], points=x, **extra, **meta)
    real = np.asarray(mixture.sample(jax.random.fold_in(key, 1), (len(x),)))
    plots.save_scatter(files[1], real, x, f"{len(x)} samples, {title}", mixture.centers)
    return f"Wrote {len(x)} points from {where} to {files[0]} and {files[1]}", files
  if not png_folder:
    np.savez(files[0], images=x.astype(np.float32), **extra, **meta)
    return f"Wrote {len(x)} images from {where} to {output}", files
  write_png_folder(output, x, labels)
  return f"Wrote {len(x)} PNG images from {where} to {output}", files
