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

import functools
import hashlib
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import jax
import ml_collections
import numpy as np
import tqdm
from scipy import special

from jaxgan import data as data_lib
from jaxgan.checkpoint import Checkpointer
from jaxgan.data.images import load_images, to_unit_range
from jaxgan.metrics import (classifier_accuracy, feature_statistics, frechet_distance, inception_score,
                            kid_from_features, mode_score, modified_inception_score,
                            modified_inception_score_per_class, nearest_mode, one_nn_accuracy, precision_recall,
                            toy_metrics, wasserstein_distance)
from jaxgan.metrics import classifier, inception
from jaxgan.gan import cycled_labels
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


Extractor = Callable[[np.ndarray, bool, str], tuple[np.ndarray, np.ndarray]]


def _classifier_extractor(dataset: str, inception_weights: str | None) -> Extractor:
  del inception_weights
  classifier.load_classifier(dataset)  # fail now, not after generating samples, if the weights are missing

  def extract(images, progress, desc):
    return classifier.classifier_outputs(images, dataset, progress=progress, desc=desc)

  return extract


def _inception_extractor(dataset: str, inception_weights: str | None) -> Extractor:
  del dataset
  net = inception.load_inception(inception_weights)

  def extract(images, progress, desc):
    pool3, logits = inception.inception_outputs((images + 1.0) / 2.0, net, progress=progress, desc=desc)
    return special.softmax(logits.astype(np.float64), axis=-1), pool3

  return extract


# Feature-extractor name -> factory(name, inception_weights) -> extract(images [-1, 1], progress, desc).
FEATURE_EXTRACTORS: dict[str, Callable[[str, str | None], Extractor]] = {
    "mnist": _classifier_extractor,
    "fashion_mnist": _classifier_extractor,
    "inception": _inception_extractor,
}


def get_extractor(name: str, inception_weights: str | None = None) -> Extractor:
  """The feature extractor `name` ('mnist', 'fashion_mnist' or 'inception').

  Raises:
    ValueError: for an unknown name. FileNotFoundError: when the Inception weights are missing.
  """
  if name not in FEATURE_EXTRACTORS:
    raise ValueError(f"Unknown features {name!r}; choose one of {sorted(FEATURE_EXTRACTORS)}.")
  return FEATURE_EXTRACTORS[name](name, inception_weights)


def features_for_dataset(name: str) -> str:
  """The extractor that fits a dataset: its own classifier for MNIST / Fashion-MNIST, Inception otherwise."""
  return name if name in ("mnist", "fashion_mnist") else "inception"


def extract_features(images: np.ndarray, extractor: Extractor, progress: bool = False, desc: str = "features"
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
  return {"modified_inception_score": modified_inception_score(e.fake.probs),
          "modified_inception_score_per_class": float(np.mean(per_class)),
          "modified_inception_score_per_class_std": float(np.std(per_class))}


def _fid(e: ImageEval) -> dict[str, float]:
  smallest, dim = min(e.real.count, e.fake.count), len(e.real.mu)
  if smallest <= dim:
    warnings.warn(f"FID from {smallest} samples of {dim}-d features: the covariance is singular, so the value is "
                  "finite but strongly biased upwards and not comparable with published ones; use more samples.",
                  UserWarning, stacklevel=3)
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


def image_metrics(fake: Features, real: Features, labels: np.ndarray | None = None,
                  metrics: Sequence[str] | None = None) -> dict[str, float]:
  """The image metrics named in `metrics` (default all of `IMAGE_METRICS`) of generated vs real features."""
  names = check_metric_names(metrics, list(IMAGE_METRICS))
  results: dict[str, float] = {}
  for name in names:
    results.update(IMAGE_METRICS[name](ImageEval(fake, real, labels)))
  return results


TOY_METRICS = ("toy_metrics", "wasserstein", "one_nn_accuracy", "mode_accuracy")


def toy_run_metrics(samples: np.ndarray, data_name: str, key: jax.Array, labels: np.ndarray | None = None,
                    metrics: Sequence[str] | None = None) -> dict[str, float]:
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


def load_run(workdir: str | os.PathLike) -> tuple[ml_collections.ConfigDict, GAN, GANState, int]:
  """Reads a run's `config.json` and restores its newest checkpoint.

  Returns:
    (config, gan, state, step).

  Raises:
    FileNotFoundError: when `workdir` holds no run config or no checkpoint.
  """
  workdir = Path(workdir)
  config_path = workdir / "config.json"
  if not config_path.exists():
    raise FileNotFoundError(f"{config_path} not found: --workdir must be a run directory written by "
                            "`python -m experiments.train --workdir=...`.")
  config = ml_collections.ConfigDict(json.loads(config_path.read_text()))
  if not (workdir / "checkpoints").is_dir():
    raise FileNotFoundError(f"No checkpoints/ in {workdir}; train the run first.")
  gan = build_gan(config)
  # Shapes and dtypes are all a restore needs; eval_shape gets them without running (or compiling) the init.
  template = jax.eval_shape(functools.partial(init_state, gan), jax.random.key(0))
  checkpointer = Checkpointer(workdir / "checkpoints")
  try:
    restored = checkpointer.restore_latest(template)
  finally:
    checkpointer.close()
  if restored is None:
    raise FileNotFoundError(f"No checkpoint in {workdir / 'checkpoints'}; train the run first.")
  state, step = restored
  return config, gan, state, step


def generate_samples(gan: GAN, state: GANState, key: jax.Array, num: int, labels: np.ndarray | None = None,
                     batch_size: int = 500, progress: bool = False) -> np.ndarray:
  """num samples [num, *data_shape] as numpy, generated in jit-compiled batches (batch i from fold_in(key, i)).

  Args:
    labels: int [num] conditioning labels for a conditional GAN (required then), else None.
  """
  if gan.num_classes and labels is None:
    raise ValueError("A conditional GAN needs labels [num] to generate from.")
  batch_size = min(batch_size, num)
  sample = jax.jit(lambda state, key, labels: generate(gan, state, key, batch_size, labels))
  out = []
  for i, start in enumerate(tqdm.trange(0, num, batch_size, desc="generate", disable=not progress,
                                        dynamic_ncols=True)):
    batch_labels = None
    if labels is not None:
      batch_labels = np.resize(np.asarray(labels[start:start + batch_size], np.int32), batch_size)
    x = sample(state, jax.random.fold_in(key, i), batch_labels)
    out.append(np.asarray(jax.device_get(x))[:num - start])
  return np.concatenate(out)


def load_test_split(config: ml_collections.ConfigDict, num: int | None = None,
               data_overrides: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
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


def evaluate_run(workdir: str | os.PathLike, num_samples: int | None = None, metrics: Sequence[str] | None = None,
                 seed: int = 0, num_real: int | None = None, inception_weights: str | None = None,
                 data_overrides: dict[str, Any] | None = None, progress: bool = True,
                 save_samples: str | None = None) -> dict[str, Any]:
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

  Returns:
    The results written to eval.json: the metrics, the step, the number of samples, the features and timings.
  """
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
    features_name = features_for_dataset(config.data.name)
    extractor = get_extractor(features_name, inception_weights)
  samples = generate_samples(gan, state, key_samples, num, labels, progress=progress)
  if save_samples:
    np.savez(save_samples, images=samples, **({"labels": labels} if labels is not None else {}))
  if toy:
    results = toy_run_metrics(samples, config.data.name, key_real, labels, metrics)
    features_name = None
  else:
    real = extract_features(real_test_images(config, num_real), extractor, progress, "real features")
    fake = extract_features(samples, extractor, progress, "fake features")
    results = image_metrics(fake, real, labels, metrics)
    results["num_real"] = real.count
  results.update({"step": step, "num_samples": num, "features": features_name, "seed": seed,
                  "eval_seconds": round(time.perf_counter() - start, 2)})
  (workdir / "eval.json").write_text(json.dumps(results, indent=2))
  return results


# ------------------------------------------------------------------------------------------ two sets of images


def load_image_set(path: str | os.PathLike) -> np.ndarray:
  """Images [N, H, W, C] float32 in [-1, 1] from an .npz or a folder of PNG/JPEG files.

  An .npz holds `images` (or `samples`, or a single array): uint8 in [0, 255], or floats; float arrays with negative
  values are taken as [-1, 1] (generator outputs), others as [0, 1].

  Raises:
    FileNotFoundError: when `path` does not exist. ValueError: for arrays that are not images.
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
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 127.5 - 1.0
  images = images.astype(np.float32)
  if images.min() < -1.001 or images.max() > 1.001:
    raise ValueError(f"{path}: float images must lie in [-1, 1] or [0, 1]; got [{images.min()}, {images.max()}].")
  return images if images.min() < 0 else 2.0 * images - 1.0


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


def real_features(path: str | os.PathLike, features: str, extractor: Extractor, need_features: bool,
                  cache: bool = True, progress: bool = False) -> Features:
  """Features of the real image set at `path`, read from or written to its statistics cache.

  The cache holds the mean and covariance of the features, the mean class probabilities and, when they take at most
  64 MB, the features; it is rebuilt when the files change. Without cached features and with `need_features`
  (KID, precision/recall), the features are extracted again.
  """
  path = os.fspath(path)
  cache_path = stats_cache_path(path, features)
  fingerprint = _fingerprint(path)
  if cache and os.path.exists(cache_path):
    with np.load(cache_path) as cached:
      if str(cached["fingerprint"]) == fingerprint and (not need_features or "features" in cached.files):
        log.info("Real statistics from %s.", cache_path)
        return Features(cached["marginal"], cached["features"] if "features" in cached.files else None,
                        cached["mu"], cached["sigma"], int(cached["count"]))
  real = extract_features(load_image_set(path), extractor, progress, "real features")
  if cache:
    extra = {"features": real.features} if real.features.size * 4 <= _MAX_CACHED_FEATURE_BYTES else {}
    try:
      np.savez(cache_path, mu=real.mu, sigma=real.sigma, marginal=real.probs.astype(np.float64).mean(axis=0),
               count=real.count, fingerprint=fingerprint, extractor=features, **extra)
    except OSError as error:  # a read-only data folder must not stop the evaluation
      log.warning("Cannot write the statistics cache %s (%s).", cache_path, error)
  return real


def evaluate_image_sets(real: str | os.PathLike, fake: str | os.PathLike, features: str = "mnist",
                        metrics: Sequence[str] | None = None, cache: bool = True,
                        inception_weights: str | None = None, progress: bool = True) -> dict[str, Any]:
  """Metrics of a generated image set against a real one, each an .npz or a folder (see `load_image_set`).

  Args:
    real: the real images; their statistics are cached beside them (`stats_cache_path`).
    fake: the generated images.
    features: 'mnist', 'fashion_mnist' (the shipped classifiers, 28x28x1) or 'inception' (any size).
    metrics: names from `IMAGE_METRICS` (default all except classifier_accuracy, which needs labels).
    cache: read and write the real statistics cache.
    inception_weights: the FID Inception weights file, for features='inception'.
    progress: show progress bars.

  Returns:
    {metric: value} plus the sample counts and timings.
  """
  start = time.perf_counter()
  metrics = check_metric_names(metrics, [m for m in IMAGE_METRICS if m != "classifier_accuracy"])
  extractor = get_extractor(features, inception_weights)
  need_features = any(m in _NEEDS_REAL_FEATURES for m in metrics)
  real_set = real_features(real, features, extractor, need_features, cache, progress)
  fake_set = extract_features(load_image_set(fake), extractor, progress, "fake features")
  results = image_metrics(fake_set, real_set, None, metrics)
  results.update({"num_real": real_set.count, "num_fake": fake_set.count, "features": features,
                  "eval_seconds": round(time.perf_counter() - start, 2)})
  return results
