"""The discriminator as a classifier: its class predictions and test error, for the semi-supervised GAN (Salimans
et al. 2016, Table 1 reports the test error) and AC-GAN (`config.classifier`, see `jaxgan.semi_supervised`).

`evaluate_run(workdir)` measures a trained run's newest checkpoint on the test split (images) or on fresh draws
labelled by their mode (toy mixtures) and writes `workdir/classifier_eval.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data as data_lib
from jaxgan.evaluation import load_run, load_test_split
from jaxgan.gan import GAN, GANState
from jaxgan.nets import CriticOutput


def classify(gan: GAN, state: GANState, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
  """The critic's class predictions int [N] for samples [N, *data_shape] (images in [-1, 1]), in inference mode
  (no noise, BatchNorm running statistics).

  Raises:
    ValueError: if the GAN's critic is not a classifier.
  """
  probe = jax.eval_shape(
    lambda p, s, x: gan.critic.apply(p, s, _inputs(gan, x), False)[0],
    state.d_params,
    state.d_state,
    jax.ShapeDtypeStruct((1, *gan.data_shape), jnp.float32),
  )
  if not isinstance(probe, CriticOutput):
    raise ValueError("This GAN's critic has no class head; train with config.classifier.name='ssgan' or 'acgan'.")
  predict = jax.jit(lambda p, s, x: jnp.argmax(gan.critic.apply(p, s, _inputs(gan, x), False)[0].class_logits, -1))
  images = np.asarray(images, np.float32)
  out = []
  for start in range(0, len(images), batch_size):
    chunk = images[start : start + batch_size]
    padded = np.resize(chunk, (batch_size, *chunk.shape[1:])) if len(chunk) < batch_size else chunk
    out.append(np.asarray(predict(state.d_params, state.d_state, padded))[: len(chunk)])
  return np.concatenate(out) if out else np.zeros((0,), np.int64)


def _inputs(gan: GAN, x: jax.Array):
  # An AC-GAN critic is called as a conditional net, (x, labels); it does not read the labels.
  return (x, jnp.zeros((x.shape[0],), jnp.int32)) if gan.num_classes else x


def test_error(gan: GAN, state: GANState, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> float:
  """Classification error of the critic: the fraction of images [N, *data_shape] in [-1, 1] whose predicted class
  differs from labels [N]."""
  if len(images) != len(labels) or len(images) == 0:
    raise ValueError(f"test_error needs as many labels as images (> 0); got {len(images)} and {len(labels)}.")
  return float(np.mean(classify(gan, state, images, batch_size) != np.asarray(labels)))


test_error.__test__ = False  # a library function, not a pytest test


def _labelled_test_set(
  config: ml_collections.ConfigDict, data_overrides: dict[str, Any] | None, num_toy: int
) -> tuple[np.ndarray, np.ndarray]:
  """(samples [N, *data_shape] in the data's range, labels [N]): the test split of an image dataset, or `num_toy`
  fresh draws of a toy mixture labelled by their mode."""
  if data_lib.is_toy(config.data):
    mixture = data_lib.get_toy(config.data.name)
    if mixture.sample_labeled is None:
      raise ValueError(f"Toy dataset {config.data.name!r} has no modes to classify.")
    samples, labels = mixture.sample_labeled(jax.random.key(12345), (num_toy,))  # not a key any run draws from
    return np.asarray(samples), np.asarray(labels)
  return load_test_split(config, data_overrides=data_overrides)


def evaluate_run(
  workdir: str | os.PathLike,
  data_overrides: dict[str, Any] | None = None,
  batch_size: int = 1000,
  num_toy: int = 10_000,
) -> dict[str, Any]:
  """Test-set classification error of a run's newest checkpoint; writes and returns `workdir/classifier_eval.json`.

  Args:
    workdir: the run directory (config.json, checkpoints/).
    data_overrides: fields replacing the run's `config.data` (e.g. `data_dir`, `manual_dir` on another machine).
    batch_size: samples per compiled batch.
    num_toy: test samples drawn from a toy mixture (image datasets use their whole test split).
  """
  config, gan, state, step = load_run(workdir)
  samples, labels = _labelled_test_set(config, data_overrides, num_toy)
  error = test_error(gan, state, samples, labels, batch_size)
  results = {"test_error": error, "num_test": int(len(labels)), "step": int(step), "config": config.name}
  (Path(workdir) / "classifier_eval.json").write_text(json.dumps(results, indent=2))
  return results
