"""The periodic evaluation of a training run: metrics of freshly generated samples at `eval_every` steps.

Toy mixtures get PacGAN's mode coverage, high-quality fraction and reverse KL. MNIST and Fashion-MNIST get FID and the
Inception score (by default; `config.eval_metrics` picks others) on the shipped classifier's features, against the
real test split, whose features are extracted once, at the first evaluation. Other image data is evaluated on the FID
Inception network when `config.inception_weights` names its weights file, and otherwise not at all (said once).
The same samples (a fixed key) are drawn at every evaluation, so the curves compare like with like.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import jax
import ml_collections
import numpy as np

from jaxgan import data as data_lib
from jaxgan import evaluation
from jaxgan.gan import cycled_labels
from jaxgan.metrics import toy_metrics
from jaxgan.train import GAN, GANState

log = logging.getLogger(__name__)

Evaluator = Callable[[GANState, jax.Array], dict[str, float]]

# The metric each kind of data keeps its best checkpoint by when `config.best_metric` is "auto".
_AUTO_BEST = {"toy": ("reverse_kl", "min"), "image": ("fid", "min")}
DEFAULT_IMAGE_METRICS = ("fid", "inception_score")


def _toy_evaluator(gan: GAN, config: ml_collections.ConfigDict) -> Evaluator | None:
  mixture = data_lib.get_toy(config.data.name)
  if mixture.centers is None:
    return None
  num = int(config.eval_samples)

  def evaluate(state: GANState, key: jax.Array) -> dict[str, float]:
    samples = evaluation.generate_samples(gan, state, key, num, _labels(gan, num))
    return toy_metrics(samples, mixture.centers, mixture.std)

  return evaluate


def _labels(gan: GAN, num: int) -> np.ndarray | None:
  return cycled_labels(num, gan.num_classes) if gan.num_classes else None


def _image_evaluator(gan: GAN, config: ml_collections.ConfigDict) -> Evaluator | None:
  features = evaluation.features_for_dataset(config.data.name)
  weights = config.get("inception_weights") or None
  if features == "inception" and not weights:
    log.info(
      "No periodic image metrics for %r: set config.inception_weights to the FID Inception weights file.",
      config.data.name,
    )
    return None
  metrics = list(config.get("eval_metrics") or DEFAULT_IMAGE_METRICS)
  evaluation.check_metric_names(metrics, list(evaluation.IMAGE_METRICS))
  num = int(config.eval_samples)
  cache: dict[str, evaluation.Features] = {}

  def evaluate(state: GANState, key: jax.Array) -> dict[str, float]:
    extractor = cache.get("extractor") or evaluation.get_extractor(features, weights)
    cache["extractor"] = extractor
    if "real" not in cache:
      cache["real"] = evaluation.extract_features(evaluation.real_test_images(config, None), extractor)
    labels = _labels(gan, num)
    fake = evaluation.extract_features(evaluation.generate_samples(gan, state, key, num, labels), extractor)
    results = evaluation.image_metrics(fake, cache["real"], labels, metrics)
    return {k: float(v) for k, v in results.items()}

  return evaluate


def make_evaluator(gan: GAN, config: ml_collections.ConfigDict) -> Evaluator | None:
  """`evaluate(state, key) -> {metric: value}` for the run's data, or None when nothing can be measured."""
  if data_lib.is_toy(config.data):
    return _toy_evaluator(gan, config)
  return _image_evaluator(gan, config)


def best_metric(config: ml_collections.ConfigDict, evaluator: Evaluator | None) -> tuple[str, str] | None:
  """(metric, "min" | "max") that ranks the run's best checkpoint, or None to keep no best checkpoint.

  `config.best_metric`: "auto" (reverse KL on toy data, FID on images), "none", or a metric name with
  `config.best_mode`.
  """
  name = config.get("best_metric", "auto") or "none"
  if name == "none" or evaluator is None:
    return None
  if name == "auto":
    toy = data_lib.is_toy(config.data)
    if not toy and "fid" not in (config.get("eval_metrics") or DEFAULT_IMAGE_METRICS):
      return None
    return _AUTO_BEST["toy" if toy else "image"]
  return name, config.get("best_mode", "min")
