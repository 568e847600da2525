"""Evaluation of generated samples: a trained run (`evaluate_run`) or two sets of images (`evaluate_image_sets`).

The metrics are those of `jaxgan.metrics`, on the features that fit the data:
  * 2-D toy mixtures: mode coverage, high-quality fraction and reverse KL (PacGAN, Lin et al. 2018, Sec. 5.1), the
    1-Wasserstein distance and the 1-NN two-sample test against fresh real samples; for conditional runs, how often
    a sample's nearest mode is the mode it was conditioned on.
  * MNIST and Fashion-MNIST: the shipped classifier (`jaxgan.metrics.classifier`): Inception, modified Inception and
    mode scores on its softmax; FID, KID and precision/recall on its 128-d penultimate features against the real test
    images, and the 1-NN two-sample accuracy on up to 2,000 of each; for conditional runs `classifier_accuracy` (how
    often a sample is classified as its conditioning label).
  * Other images: the FID Inception network (`jaxgan.metrics.inception`, weights from a user-supplied file): IS on the
    softmax of its 1008 logits, FID, KID, precision/recall and 1-NN on its 2048-d pool3 features.

Images are float arrays [N, H, W, C] in [-1, 1], the generators' range. Real statistics of an image set (feature mean
and covariance, and the features themselves when small) are cached in an .npz beside the data, as torch-fidelity
does, so evaluating many generators against the same real set extracts its features once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import ml_collections
import numpy as np
import tqdm
from scipy import special

from jaxgan import data as data_lib
from jaxgan import ema
from jaxgan.checkpoint import Checkpointer
from jaxgan.data.images import as_unit_range_images, load_images, to_unit_range
from jaxgan.data.resize import resize_bilinear
from jaxgan.gan import complete_state, cycled_labels
from jaxgan.metrics import (
  classifier,
  classifier_accuracy,
  feature_statistics,
  frechet_distance,
  inception,
  inception_score,
  kid_from_features,
  mode_score,
  modified_inception_score,
  modified_inception_score_per_class,
  nearest_mode,
  one_nn_accuracy,
  precision_recall,
  toy_metrics,
  wasserstein_distance,
)
from jaxgan.train import GAN, GANState, build_gan, generate, init_state

log = logging.getLogger(__name__)

# Largest sets compared pairwise (O(n^2) distances): precision/recall on image features; 1-NN, and the exact
# Wasserstein assignment on toy samples.
_MAX_PR_SAMPLES = 10_000
_MAX_TOY_PAIRWISE = 2_000
# Real features are cached with the statistics when they take at most this many bytes (float32).
_MAX_CACHED_FEATURE_BYTES = 64 * 2**20


# ------------------------------------------------------------------------------------------- feature extractors


class Features(NamedTuple):
  """What the image metrics read about one image set.

  Attributes:
    probs: [N, classes] softmax outputs, or only their mean [classes] when read from a statistics cache.
    features: [N, dim] features, or None when read from a cache that does not hold them.
    mu, sigma: [dim] mean and [dim, dim] covariance of the features.
    count: N.
  """

  probs: np.ndarray
  features: np.ndarray | None
  mu: np.ndarray
  sigma: np.ndarray
  count: int


def weights_digest(variables: Any) -> str:
  """SHA-256 of a parameter pytree: its leaves' paths, dtypes, shapes and bytes, in flattening order."""
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]:
    leaf = np.ascontiguousarray(jax.device_get(leaf))
    digest.update(f"{jax.tree_util.keystr(path)}:{leaf.dtype.str}:{leaf.shape};".encode())
    digest.update(leaf.tobytes())
  return digest.hexdigest()


class Extractor(NamedTuple):
  """A feature extractor: `extractor(images [N, H, W, C] in [-1, 1], progress, desc) -> (probs, features)`.

  Attributes:
    extract: the function.
    weights_digest: `weights_digest` of the network's variables, which keys the real-statistics cache.
    resize: the resize mode.
  """

  extract: Callable[[np.ndarray, bool, str], tuple[np.ndarray, np.ndarray]]
  weights_digest: str
  # How images are resized to the network's input ('pytorch_fid' or 'clean' for Inception; 'none' for the
  # classifiers, which take their datasets' size and resize others bilinearly to it): it changes the features, so
  # it keys the caches too.
  resize: str = "none"

  def __call__(self, images: np.ndarray, progress: bool, desc: str) -> tuple[np.ndarray, np.ndarray]:
    return self.extract(images, progress, desc)


def _classifier_extractor(
  dataset: str, inception_weights: str | None, resize: str = "none", download: bool = False
) -> Extractor:
  del inception_weights, resize, download
  net = classifier.load_classifier(dataset)  # fail now, not after generating samples, if the weights are missing

  def extract(images, progress, desc):
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1:3] != classifier.IMAGE_SHAPE[:2]:
      # Nets trained on resized data (PyTorch-GAN's 32x32 DCGAN on MNIST) are scored at the classifier's size; the
      # real test images of such a run are loaded at the run's size and come back the same way.
      images = resize_bilinear(images, classifier.IMAGE_SHAPE[:2])
    return classifier.classifier_outputs(images, net, progress=progress, desc=desc)

  return Extractor(extract, weights_digest(net.variables))


def _inception_extractor(
  dataset: str, inception_weights: str | None, resize: str = "pytorch_fid", download: bool = False
) -> Extractor:
  del dataset
  resize = inception.check_resize("pytorch_fid" if resize == "none" else resize)
  net = inception.load_inception(inception_weights, download=download)

  def extract(images, progress, desc):
    pool3, logits = inception.inception_outputs((images + 1.0) / 2.0, net, progress=progress, desc=desc, resize=resize)
    return special.softmax(logits.astype(np.float64), axis=-1), pool3

  return Extractor(extract, weights_digest(net.variables), resize)


# Feature-extractor name -> factory(name, inception_weights, resize, download) -> Extractor.
FEATURE_EXTRACTORS: dict[str, Callable[..., Extractor]] = {
  "mnist": _classifier_extractor,
  "fashion_mnist": _classifier_extractor,
  "inception": _inception_extractor,
}


def get_extractor(
  name: str, inception_weights: str | None = None, resize: str = "pytorch_fid", download: bool = False
) -> Extractor:
  """The feature extractor `name` ('mnist', 'fashion_mnist' or 'inception').

  Args:
    name: the features.
    inception_weights: the FID Inception weights file (default: `$JAXGAN_INCEPTION_WEIGHTS` or the cached download).
    resize: Inception's resize mode, 'pytorch_fid' or 'clean' (the classifiers take their own size: 'none').
    download: fetch the Inception weights into the cache when no file is given (`inception.download_weights`).

  Raises:
    ValueError: for an unknown name or resize mode. FileNotFoundError: when the Inception weights are missing.
  """
  if name not in FEATURE_EXTRACTORS:
    raise ValueError(f"Unknown features {name!r}; choose one of {sorted(FEATURE_EXTRACTORS)}.")
  return FEATURE_EXTRACTORS[name](name, inception_weights, resize, download)


def features_for_dataset(name: str) -> str:
  """The extractor that fits a dataset: its own classifier for MNIST / Fashion-MNIST, Inception otherwise."""
  return name if name in ("mnist", "fashion_mnist") else "inception"


def extract_features(
  images: np.ndarray, extractor: Extractor, progress: bool = False, desc: str = "features"
) -> Features:
  """Softmax probabilities, features and their statistics of images [N, H, W, C] in [-1, 1]."""
  probs, features = extractor(np.asarray(images, np.float32), progress, desc)
  mu, sigma = feature_statistics(features)
  return Features(np.asarray(probs), np.asarray(features), mu, sigma, len(features))


# ---------------------------------------------------------------------------------------------------- metrics


class ImageEval(NamedTuple):
  """Inputs of the image metrics: generated and real `Features`, and conditioning labels (or None)."""

  fake: Features
  real: Features
  labels: np.ndarray | None


def _inception_score(e: ImageEval) -> dict[str, float]:
  splits = 10 if len(e.fake.probs) >= 1000 else 1
  mean, std = inception_score(e.fake.probs, splits=splits)
  return {"inception_score": mean, "inception_score_std": std, "inception_score_splits": splits}


def _modified_inception_score(e: ImageEval) -> dict[str, float]:
  # Over all pairs a confident classifier makes the score huge (cross-class pairs); DeLiGAN's authors report the
  # mean over classes of the score within each predicted class, which measures within-class diversity.
  per_class = list(modified_inception_score_per_class(e.fake.probs).values())
  return {
    "modified_inception_score": modified_inception_score(e.fake.probs),
    "modified_inception_score_per_class": float(np.mean(per_class)),
    "modified_inception_score_per_class_std": float(np.std(per_class)),
  }


def _fid(e: ImageEval) -> dict[str, float]:
  smallest, dim = min(e.real.count, e.fake.count), len(e.real.mu)
  if smallest <= dim:
    warnings.warn(
      f"FID from {smallest} samples of {dim}-d features: the covariance is singular, so the value is "
      "finite but strongly biased upwards and not comparable with published ones; use more samples.",
      UserWarning,
      stacklevel=3,
    )
  return {"fid": frechet_distance(e.real.mu, e.real.sigma, e.fake.mu, e.fake.sigma)}


def _kid(e: ImageEval) -> dict[str, float]:
  size = min(1000, len(e.real.features), len(e.fake.features))
  mean, std = kid_from_features(e.real.features, e.fake.features, num_subsets=100, subset_size=size)
  return {"kid": mean, "kid_std": std, "kid_subset_size": size}


def _precision_recall(e: ImageEval) -> dict[str, float]:
  precision, recall = precision_recall(e.real.features[:_MAX_PR_SAMPLES], e.fake.features[:_MAX_PR_SAMPLES], k=3)
  return {"precision": precision, "recall": recall}


def _one_nn_accuracy(e: ImageEval) -> dict[str, float]:
  m = min(_MAX_TOY_PAIRWISE, len(e.real.features), len(e.fake.features))
  return {"one_nn_accuracy": one_nn_accuracy(e.real.features[:m], e.fake.features[:m])}


def _classifier_accuracy(e: ImageEval) -> dict[str, float]:
  if e.labels is None:
    return {}
  return {"classifier_accuracy": classifier_accuracy(e.fake.probs, e.labels)}


# Metric name -> function of an ImageEval returning {result name: value}.
IMAGE_METRICS: dict[str, Callable[[ImageEval], dict[str, float]]] = {
  "inception_score": _inception_score,
  "modified_inception_score": _modified_inception_score,
  "mode_score": lambda e: {"mode_score": mode_score(e.fake.probs, e.real.probs)},
  "fid": _fid,
  "kid": _kid,
  "precision_recall": _precision_recall,
  "one_nn_accuracy": _one_nn_accuracy,
  "classifier_accuracy": _classifier_accuracy,
}
# Metrics that need the real features themselves, not only their statistics and class marginal.
_NEEDS_REAL_FEATURES = ("kid", "precision_recall", "one_nn_accuracy")


def check_metric_names(metrics: Sequence[str] | None, available: Sequence[str]) -> list[str]:
  if not metrics:
    return list(available)
  unknown = [m for m in metrics if m not in available]
  if unknown:
    raise ValueError(f"Unknown metrics {unknown} for this data; choose from {list(available)}.")
  return list(metrics)


def image_metrics(
  fake: Features, real: Features, labels: np.ndarray | None = None, metrics: Sequence[str] | None = None
) -> dict[str, float]:
  """The image metrics named in `metrics` (default all of `IMAGE_METRICS`) of generated vs real features."""
  names = check_metric_names(metrics, list(IMAGE_METRICS))
  results: dict[str, float] = {}
  for name in names:
    results.update(IMAGE_METRICS[name](ImageEval(fake, real, labels)))
  return results


TOY_METRICS = ("toy_metrics", "wasserstein", "one_nn_accuracy", "mode_accuracy")


def toy_run_metrics(
  samples: np.ndarray,
  data_name: str,
  key: jax.Array,
  labels: np.ndarray | None = None,
  metrics: Sequence[str] | None = None,
) -> dict[str, float]:
  """Metrics of 2-D samples [N, 2] from the toy mixture `data_name`, against fresh real samples drawn with `key`.

  `toy_metrics` (modes covered, high-quality fraction, reverse KL) for mixtures with known modes; the exact
  1-Wasserstein distance and the 1-NN accuracy on up to 2,000 samples of each; with `labels` (a conditional run),
  `mode_accuracy`, the fraction of samples whose nearest mode is their conditioning label.
  """
  names = check_metric_names(metrics, TOY_METRICS)
  mixture = data_lib.get_toy(data_name)
  samples = np.asarray(samples, np.float64)
  real = np.asarray(mixture.sample(key, (len(samples),)), np.float64)
  m = min(len(samples), _MAX_TOY_PAIRWISE)
  results: dict[str, float] = {}
  has_modes = mixture.centers is not None
  if "toy_metrics" in names and has_modes:
    results.update(toy_metrics(samples, mixture.centers, mixture.std))
  if "wasserstein" in names:
    results["wasserstein"] = wasserstein_distance(real[:m], samples[:m])
  if "one_nn_accuracy" in names:
    results["one_nn_accuracy"] = one_nn_accuracy(real[:m], samples[:m])
  if "mode_accuracy" in names and has_modes and labels is not None:
    results["mode_accuracy"] = float(np.mean(nearest_mode(samples, mixture.centers)[0] == np.asarray(labels)))
  return results


# ------------------------------------------------------------------------------------------------ a trained run


def load_run(
  workdir: str | os.PathLike, folder: str = "checkpoints"
) -> tuple[ml_collections.ConfigDict, GAN, GANState, int]:
  """Reads a run's `config.json` and restores the newest checkpoint in `workdir/folder`.

  Args:
    workdir: the run directory.
    folder: `checkpoints` (the newest state) or `best_checkpoint` (the best by `config.best_metric`).

  Returns:
    (config, gan, state, step).

  Raises:
    FileNotFoundError: when `workdir` holds no run config or no checkpoint.
  """
  workdir = Path(workdir)
  config_path = workdir / "config.json"
  if not config_path.exists():
    raise FileNotFoundError(
      f"{config_path} not found: --workdir must be a run directory written by "
      "`python -m experiments.train --workdir=...`."
    )
  config = ml_collections.ConfigDict(json.loads(config_path.read_text()))
  if not (workdir / folder).is_dir():
    raise FileNotFoundError(f"No {folder}/ in {workdir}; train the run first.")
  gan = build_gan(config)
  # Shapes and dtypes are all a restore needs; eval_shape gets them without running (or compiling) the init.
  template = jax.eval_shape(functools.partial(init_state, gan), jax.random.key(0))
  checkpointer = Checkpointer(workdir / folder)
  try:
    restored = checkpointer.restore_latest(template)
  finally:
    checkpointer.close()
  if restored is None:
    raise FileNotFoundError(f"No checkpoint in {workdir / folder}; train the run first.")
  state, step = restored
  return config, gan, complete_state(gan, state), step


def generate_samples(
  gan: GAN,
  state: GANState,
  key: jax.Array,
  num: int,
  labels: np.ndarray | None = None,
  batch_size: int = 500,
  progress: bool = False,
  use_ema: bool = True,
) -> np.ndarray:
  """num samples [num, *data_shape] as numpy, generated in jit-compiled batches (batch i from fold_in(key, i)).

  Args:
    labels: int [num] conditioning labels for a conditional GAN (required then), else None.
    use_ema: the generator's moving average when the state keeps one (see `jaxgan.gan.generate`); False: the raw one.
  """
  if gan.num_classes and labels is None:
    raise ValueError("A conditional GAN needs labels [num] to generate from.")
  batch_size = min(batch_size, num)
  sample = jax.jit(lambda state, key, labels: generate(gan, state, key, batch_size, labels, use_ema))
  out = []
  for i, start in enumerate(tqdm.trange(0, num, batch_size, desc="generate", disable=not progress, dynamic_ncols=True)):
    batch_labels = None
    if labels is not None:
      batch_labels = np.resize(np.asarray(labels[start : start + batch_size], np.int32), batch_size)
    x = sample(state, jax.random.fold_in(key, i), batch_labels)
    out.append(np.asarray(jax.device_get(x))[: num - start])
  return np.concatenate(out)


def load_test_split(
  config: ml_collections.ConfigDict, num: int | None = None, data_overrides: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
  """(images [N, *data_shape] float32 in [-1, 1], labels int32 [N]): the first `num` (default all) examples of the
  test split of the run's image dataset, with `data_overrides` replacing fields of `config.data`."""
  data = ml_collections.ConfigDict(config.data.to_dict())
  data.update({k: v for k, v in (data_overrides or {}).items() if v is not None})
  data.split, data.max_examples = "test", 0
  images, labels = load_images(data, data_lib.data_shape(config.data))
  if num:
    images, labels = images[:num], labels[:num]
  return to_unit_range(images), labels


def real_test_images(config: ml_collections.ConfigDict, num_real: int | None) -> np.ndarray:
  """The first `num_real` (default all) test images [N, *data_shape] in [-1, 1]; see `load_test_split`."""
  return load_test_split(config, num_real)[0]


def write_results(path: str | os.PathLike, results: dict[str, Any]) -> bool:
  """Writes `results` as JSON to `path`; on failure (read-only folder, full disk) logs one warning and returns False.

  A temporary file renamed into place, so a failed write leaves any earlier file whole.
  """
  path = Path(path)
  temporary = path.with_name(f".{path.name}.tmp")
  try:
    temporary.write_text(json.dumps(results, indent=2))
    os.replace(temporary, path)
  except OSError as error:
    with contextlib.suppress(OSError):
      temporary.unlink(missing_ok=True)
    log.warning("Could not write %s (%s); the results were not saved.", path, error.strerror or error)
    return False
  return True


def _check_count(value: int | None, name: str) -> None:
  if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
    raise ValueError(f"{name} must be a positive integer (or None for the default); got {value!r}.")


def evaluate_run(
  workdir: str | os.PathLike,
  num_samples: int | None = None,
  metrics: Sequence[str] | None = None,
  seed: int = 0,
  num_real: int | None = None,
  inception_weights: str | None = None,
  data_overrides: dict[str, Any] | None = None,
  progress: bool = True,
  save_samples: str | None = None,
  write: bool = True,
  reference: str | None = None,
  features: str | None = None,
  resize: str = "pytorch_fid",
  download_inception: bool = False,
  raw_generator: bool = False,
) -> dict[str, Any]:
  """Evaluates the newest checkpoint of a run and writes `workdir/eval.json`.

  Args:
    workdir: the run directory (config.json and checkpoints/).
    num_samples: samples to generate (default: `config.eval_samples` for toy data, 10,000 for images).
    metrics: names to compute (default all that fit the data; see `TOY_METRICS` and `IMAGE_METRICS`); default
      `config.eval_metrics` when the config has that field.
    seed: seed of the generated samples (and of the real toy samples).
    num_real: real test images to compare with (default all).
    inception_weights: FID Inception weights file, for image data other than MNIST / Fashion-MNIST.
    data_overrides: fields replacing the run's `config.data` (e.g. `manual_dir`, `data_dir` on another machine).
    progress: show progress bars.
    save_samples: also write the generated samples (and labels) to this .npz, for `evaluate_image_sets`.
    write: write `workdir/eval.json` (`write_results`: a workdir that cannot be written gets a warning, not an
      error, so the metrics are still returned).
    reference: compare with this reference's cached statistics (`reference_features`, e.g. 'cifar10:train')
      instead of the run's own test split.
    features: the feature extractor (default: the one that fits the run's data, `features_for_dataset`).
    resize: Inception's resize mode, 'pytorch_fid' or 'clean'.
    download_inception: fetch the Inception weights into the cache when no file is given.
    raw_generator: evaluate the trained generator even when the run keeps a moving average of it (`config.ema`),
      which is evaluated by default.

  Returns:
    The results written to eval.json: the metrics, the step, the number of samples, `generator` ('ema' or 'raw':
    which generator made the samples), the protocol of image runs
    (`protocol`: reference, num_real, features, features_weights_digest, resize) and timings.

  Raises:
    ValueError: for a `num_samples` or `num_real` below 1.
  """
  _check_count(num_samples, "num_samples")
  _check_count(num_real, "num_real")
  start = time.perf_counter()
  workdir = Path(workdir)
  config, gan, state, step = load_run(workdir)
  if data_overrides:
    config.data.update({k: v for k, v in data_overrides.items() if v is not None})
  metrics = metrics or config.get("eval_metrics") or None
  toy = data_lib.is_toy(config.data)
  num = int(num_samples or (config.eval_samples if toy else 10_000))
  key_samples, key_real = jax.random.split(jax.random.key(seed))
  labels = cycled_labels(num, gan.num_classes) if gan.num_classes else None
  extractor = None
  if not toy:  # load the feature extractor first: a missing weights file fails before any work
    features_name = features or features_for_dataset(config.data.name)
    extractor = get_extractor(features_name, inception_weights, resize, download_inception)
  use_ema = not raw_generator
  samples = generate_samples(gan, state, key_samples, num, labels, progress=progress, use_ema=use_ema)
  if save_samples:
    np.savez(save_samples, images=samples, **({"labels": labels} if labels is not None else {}))
  if toy:
    results = toy_run_metrics(samples, config.data.name, key_real, labels, metrics)
    features_name = None
  else:
    if reference:
      need_features = any(m in _NEEDS_REAL_FEATURES for m in check_metric_names(metrics, list(IMAGE_METRICS)))
      real, _ = reference_features(
        reference,
        features_name,
        extractor,
        need_features,
        num_real,
        config.data.get("data_dir"),
        config.data.get("manual_dir"),
        progress=progress,
      )
    else:
      real = extract_features(real_test_images(config, num_real), extractor, progress, "real features")
    fake = extract_features(samples, extractor, progress, "fake features")
    results = image_metrics(fake, real, labels, metrics)
    source = config.data.get("source", "tfds") or "tfds"
    own_test = f"{config.data.name}:test" if source == "tfds" else f"{source}:test"
    results.update(protocol(features_name, extractor, reference or own_test, real.count))
  results.update(
    {
      "step": step,
      "generator": ema.which(state, use_ema),
      "num_samples": num,
      "features": features_name,
      "seed": seed,
      "eval_seconds": round(time.perf_counter() - start, 2),
    }
  )
  if write:
    write_results(workdir / "eval.json", results)
  return results


# ------------------------------------------------------------------------------------------ two sets of images


def load_image_set(path: str | os.PathLike) -> np.ndarray:
  """Images [N, H, W, C] float32 in [-1, 1] from an .npz or a folder of PNG/JPEG files.

  An .npz holds `images` (or `samples`, or a single array): integers in [0, 255], or floats in [0, 1] or [-1, 1]
  (told apart by their range: with negative values [-1, 1], generator outputs; see
  `jaxgan.data.images.as_unit_range_images`). Folders are decoded as the training data is.

  Raises:
    FileNotFoundError: when `path` does not exist. ValueError: for arrays that are not images, or values out of
      range.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no such file or folder (pass an .npz with `images` or a folder of images).")
  if os.path.isdir(path):
    images, _ = load_images(ml_collections.ConfigDict({"name": os.path.basename(path), "source": f"folder:{path}"}))
  else:
    with np.load(path) as archive:
      keys = [k for k in ("images", "samples") if k in archive.files] or archive.files
      if len(keys) != 1 and "images" not in keys and "samples" not in keys:
        raise ValueError(f"{path} holds {archive.files}; name the image array `images`.")
      images = archive[keys[0]]
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"{path}: expected images [N, H, W, C] with C in (1, 3); got shape {images.shape}.")
  return as_unit_range_images(images, path)


def _fingerprint(path: str) -> str:
  """SHA-256 of the files of an image set (their relative names and contents): changes when any file changes."""
  paths = [path] if os.path.isfile(path) else sorted(str(p) for p in Path(path).rglob("*") if p.is_file())
  digest = hashlib.sha256()
  for p in paths:
    if os.path.basename(p).endswith("_stats.npz"):
      continue
    digest.update(os.path.relpath(p, path).encode())
    with open(p, "rb") as f:
      for chunk in iter(lambda: f.read(2**24), b""):
        digest.update(chunk)
  return digest.hexdigest()


def stats_cache_path(path: str | os.PathLike, features: str) -> str:
  """Where the real statistics of the image set at `path` are cached: `<path without .npz>.<features>_stats.npz`."""
  path = os.fspath(path).rstrip(os.sep)
  root = path[:-4] if path.endswith(".npz") else path
  return f"{root}.{features}_stats.npz"


def _cached_resize(cached) -> str:
  # Caches written before the resize mode was recorded used pytorch-fid's resize for Inception.
  if "resize" in cached.files:
    return str(cached["resize"])
  return "pytorch_fid" if str(cached["extractor"]) == "inception" else "none"


def real_features(
  path: str | os.PathLike,
  features: str,
  extractor: Extractor,
  need_features: bool,
  cache: bool = True,
  progress: bool = False,
) -> Features:
  """Features of the real image set at `path`, read from or written to its statistics cache.

  The cache holds the mean and covariance of the features, the mean class probabilities and, when they take at most
  64 MB, the features; it is rebuilt when the files change or the extractor's weights do (`weights_digest`).
  Without cached features and with `need_features` (KID, precision/recall), the features are extracted again.
  """
  path = os.fspath(path)
  cache_path = stats_cache_path(path, features)
  fingerprint = _fingerprint(path)
  digest = extractor.weights_digest
  if cache and os.path.exists(cache_path):
    with np.load(cache_path) as cached:
      same_weights = "weights_digest" in cached.files and str(cached["weights_digest"]) == digest
      same_weights = same_weights and _cached_resize(cached) == extractor.resize
      if not same_weights:
        log.info("Rebuilding %s: it was computed with other %s weights or resize mode.", cache_path, features)
      elif str(cached["fingerprint"]) == fingerprint and (not need_features or "features" in cached.files):
        log.info("Real statistics from %s.", cache_path)
        return Features(
          cached["marginal"],
          cached["features"] if "features" in cached.files else None,
          cached["mu"],
          cached["sigma"],
          int(cached["count"]),
        )
  real = extract_features(load_image_set(path), extractor, progress, "real features")
  if cache:
    extra = {"features": real.features} if real.features.size * 4 <= _MAX_CACHED_FEATURE_BYTES else {}
    try:
      np.savez(
        cache_path,
        mu=real.mu,
        sigma=real.sigma,
        marginal=real.probs.astype(np.float64).mean(axis=0),
        count=real.count,
        fingerprint=fingerprint,
        extractor=features,
        weights_digest=digest,
        resize=extractor.resize,
        **extra,
      )
    except OSError as error:  # a read-only data folder must not stop the evaluation
      log.warning("Cannot write the statistics cache %s (%s).", cache_path, error)
  return real


def evaluate_image_sets(
  real: str | os.PathLike | None,
  fake: str | os.PathLike,
  features: str = "mnist",
  metrics: Sequence[str] | None = None,
  cache: bool = True,
  inception_weights: str | None = None,
  progress: bool = True,
  reference: str | None = None,
  resize: str = "pytorch_fid",
  download_inception: bool = False,
  num_real: int | None = None,
) -> dict[str, Any]:
  """Metrics of a generated image set against a real one, each an .npz or a folder (see `load_image_set`).

  Args:
    real: the real images; their statistics are cached beside them (`stats_cache_path`). None with `reference`.
    fake: the generated images.
    features: 'mnist', 'fashion_mnist' (the shipped classifiers, 28x28x1) or 'inception' (any size).
    metrics: names from `IMAGE_METRICS` (default all except classifier_accuracy, which needs labels).
    cache: read and write the real statistics cache.
    inception_weights: the FID Inception weights file, for features='inception'.
    progress: show progress bars.
    reference: instead of `real`, a reference dataset whose statistics are cached once (`reference_features`).
    resize: Inception's resize mode, 'pytorch_fid' or 'clean'.
    download_inception: fetch the Inception weights into the cache when no file is given.
    num_real: with `reference`, use its first this many images (default all).

  Returns:
    {metric: value} plus the protocol (`protocol`), the sample counts and timings.
  """
  start = time.perf_counter()
  if (real is None) == (reference is None):
    raise ValueError("Pass either the real images or a reference dataset, not both or neither.")
  metrics = check_metric_names(metrics, [m for m in IMAGE_METRICS if m != "classifier_accuracy"])
  extractor = get_extractor(features, inception_weights, resize, download_inception)
  need_features = any(m in _NEEDS_REAL_FEATURES for m in metrics)
  if reference is not None:
    real_set, _ = reference_features(
      reference, features, extractor, need_features, num_real, cache=cache, progress=progress
    )
  else:
    real_set = real_features(real, features, extractor, need_features, cache, progress)
  fake_set = extract_features(load_image_set(fake), extractor, progress, "fake features")
  results = image_metrics(fake_set, real_set, None, metrics)
  results.update(
    protocol(features, extractor, reference or f"{'folder' if os.path.isdir(real) else 'npz'}:{real}", real_set.count)
  )
  results.update({"num_fake": fake_set.count, "eval_seconds": round(time.perf_counter() - start, 2)})
  return results


# ----------------------------------------------------------------------------------------- reference statistics


def reference_data_config(
  spec: str, num_real: int | None = None, data_dir: str | None = None, manual_dir: str | None = None
) -> ml_collections.ConfigDict:
  """The data config of a reference spec: `NAME[:SPLIT]` (a tfds dataset, split default 'train', e.g.
  'cifar10:train'), `npz:PATH[:train|test]` (see `jaxgan.data.images`; the split picks by `is_test`) or
  `folder:DIR`.

  Raises:
    ValueError: for an empty spec or name.
  """
  spec = spec.strip()
  if spec.startswith(("npz:", "folder:")):
    kind, path = spec.split(":", 1)
    split = "train"
    if kind == "npz" and path.rsplit(":", 1)[-1] in ("train", "test") and ":" in path:
      path, split = path.rsplit(":", 1)
    if not path:
      raise ValueError(f"--reference={spec} names no file; pass {kind}:PATH.")
    fields = {"name": os.path.basename(path.rstrip(os.sep)) or path, "source": f"{kind}:{path}", "split": split}
  else:
    name, _, split = spec.rpartition(":") if ":" in spec else (spec, "", "train")
    if not name or not split:
      raise ValueError(f"--reference={spec!r}: pass a tfds NAME[:SPLIT] (e.g. cifar10:train), npz:PATH or folder:DIR.")
    fields = {"name": name, "source": "tfds", "split": split, "data_dir": data_dir, "manual_dir": manual_dir}
  fields["max_examples"] = int(num_real or 0)
  return ml_collections.ConfigDict(fields)


def features_for_reference(spec: str) -> str:
  """The extractor that fits a reference spec: the dataset's classifier for MNIST / Fashion-MNIST, else Inception."""
  data = reference_data_config(spec)
  return features_for_dataset(data.name) if data.source == "tfds" else "inception"


def reference_cache_path(spec: str, features: str, extractor: Extractor, num_real: int | None = None) -> Path:
  """Where the statistics of a reference are cached: the jaxgan cache folder's `reference_stats/`, one file per
  (spec, file contents for npz/folder specs, number of images, features, weights digest, resize mode)."""
  data = reference_data_config(spec, num_real)
  contents = _fingerprint(data.source.split(":", 1)[1]) if data.source != "tfds" else ""
  key = json.dumps(
    {
      "reference": spec,
      "contents": contents,
      "num_real": int(num_real or 0),
      "features": features,
      "weights_digest": extractor.weights_digest,
      "resize": extractor.resize,
    },
    sort_keys=True,
  )
  slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in spec)[-60:]
  digest = hashlib.sha256(key.encode()).hexdigest()[:16]
  return inception.cache_dir() / "reference_stats" / f"{slug}.{features}.{digest}.npz"


def reference_features(
  spec: str,
  features: str,
  extractor: Extractor,
  need_features: bool = True,
  num_real: int | None = None,
  data_dir: str | None = None,
  manual_dir: str | None = None,
  cache: bool = True,
  progress: bool = False,
) -> tuple[Features, Path]:
  """Features of a reference dataset (`reference_data_config`), computed once and then read from the cache.

  The cache (`reference_cache_path`) holds the features' mean and covariance, the mean class probabilities and,
  when they take at most 64 MB, the features (for KID, precision/recall and 1-NN); it is keyed by the spec, the
  extractor's weights digest and resize mode, and the number of images, so changing any of them computes anew.

  Args:
    spec: the reference, e.g. 'cifar10:train', 'npz:PATH', 'folder:DIR'.
    features: the extractor's name (recorded in the cache).
    extractor: from `get_extractor`.
    need_features: the metrics need the features themselves (recomputed when the cache lacks them).
    num_real: use only the first this many images (default all).
    data_dir, manual_dir: tfds's folders, for tfds specs.
    cache: read and write the cache.
    progress: show progress bars.

  Returns:
    (the reference's Features, the cache path).
  """
  _check_count(num_real, "num_real")
  path = reference_cache_path(spec, features, extractor, num_real)
  if cache and path.is_file():
    with np.load(path) as cached:
      if not need_features or "features" in cached.files:
        log.info("Reference statistics of %s from %s.", spec, path)
        return Features(
          cached["marginal"],
          cached["features"] if "features" in cached.files else None,
          cached["mu"],
          cached["sigma"],
          int(cached["count"]),
        ), path
  images, _ = load_images(reference_data_config(spec, num_real, data_dir, manual_dir))
  real = extract_features(to_unit_range(images), extractor, progress, f"reference {spec}")
  if cache:
    extra = {"features": real.features} if real.features.size * 4 <= _MAX_CACHED_FEATURE_BYTES else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    try:
      np.savez(
        temporary,
        mu=real.mu,
        sigma=real.sigma,
        marginal=real.probs.astype(np.float64).mean(axis=0),
        count=real.count,
        reference=spec,
        extractor=features,
        weights_digest=extractor.weights_digest,
        resize=extractor.resize,
        **extra,
      )
      os.replace(temporary, path)
    except OSError as error:  # an unwritable cache must not stop the evaluation
      log.warning("Cannot write the reference statistics cache %s (%s).", path, error)
      with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)
  return real, path


def protocol(features: str, extractor: Extractor, reference: str, num_real: int) -> dict[str, Any]:
  """What a number was measured against, for eval.json: the reference and its size, the feature extractor, the
  SHA-256 of its parameters (`weights_digest`) and the resize mode."""
  return {
    "reference": reference,
    "num_real": num_real,
    "features": features,
    "features_weights_digest": extractor.weights_digest,
    "resize": extractor.resize,
  }


def reference_statistics(
  spec: str,
  features: str | None = None,
  inception_weights: str | None = None,
  resize: str = "pytorch_fid",
  num_real: int | None = None,
  data_dir: str | None = None,
  manual_dir: str | None = None,
  download_inception: bool = False,
  progress: bool = True,
) -> dict[str, Any]:
  """Computes (or finds) and caches the statistics of a reference, for later evaluations against it.

  Returns:
    The protocol (`protocol`) and the cache file's path.
  """
  features = features or features_for_reference(spec)
  extractor = get_extractor(features, inception_weights, resize, download_inception)
  real, path = reference_features(spec, features, extractor, True, num_real, data_dir, manual_dir, progress=progress)
  return {**protocol(features, extractor, spec, real.count), "cache": str(path)}
