"""A small CNN classifier for 28x28x1 images (MNIST, Fashion-MNIST): the feature extractor of the image metrics.

The Inception network of IS and FID (Salimans et al. 2016; Heusel et al. 2017) was trained on ImageNet and says
little about digits, so on MNIST-like data GAN papers (DeLiGAN's modified Inception Score among them) score samples
with a classifier trained on the dataset itself. Here its softmax feeds the Inception, modified Inception and mode
scores and `classifier_accuracy`, and its penultimate layer (128-d) feeds FID, KID, precision/recall and 1-NN. The
weights ship inside the package (`jaxgan/metrics/weights/<dataset>_classifier.msgpack`, written by
`experiments/train_classifier.py`), so scores are comparable between runs and machines.

Inputs are images in [-1, 1], the range of the generators' tanh output and of `jaxgan.data.images.to_unit_range`.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

CLASSIFIER_DATASETS = ("mnist", "fashion_mnist")
IMAGE_SHAPE = (28, 28, 1)


class MNISTClassifier(nn.Module):
  """images [B, 28, 28, 1] in [-1, 1] -> (logits [B, num_classes], penultimate features [B, hidden]).

  Blocks of 3x3 convolution, BatchNorm, ReLU and 2x2 max pooling (28 -> 14 -> 7 -> 4), then dropout (training only),
  a hidden ReLU layer on the flattened maps (the features) and the linear classifier. Small on purpose: XLA:CPU
  convolutions are slow, and this net trains in minutes on two CPU cores and scores thousands of images per second.

  Attributes:
    features: channels of the convolution blocks.
    hidden: width of the penultimate layer (the feature dimension of FID/KID).
    num_classes: number of classes.
    dropout_rate: dropout on the flattened maps while training (needs a 'dropout' rng then).
  """

  features: Sequence[int] = (16, 32, 64)
  hidden: int = 128
  num_classes: int = 10
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    x = images
    for width in self.features:
      x = nn.Conv(width, (3, 3), use_bias=False)(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
      x = nn.max_pool(x, (2, 2), (2, 2), padding="SAME")  # SAME keeps the last row and column of 7x7 maps
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x.reshape(x.shape[0], -1))
    features = nn.relu(nn.Dense(self.hidden)(x))
    return nn.Dense(self.num_classes)(features), features


class Classifier(NamedTuple):
  """A classifier with its weights: `module.apply(variables, images)`; `meta` records how it was trained."""

  module: MNISTClassifier
  variables: Any
  meta: dict[str, Any]


def weights_path(dataset: str) -> str:
  """Path of the shipped weights of `dataset`'s classifier (a file inside the installed package)."""
  _check_dataset(dataset)
  return str(importlib.resources.files("jaxgan.metrics") / "weights" / f"{dataset}_classifier.msgpack")


def _check_dataset(dataset: str) -> None:
  if dataset not in CLASSIFIER_DATASETS:
    raise ValueError(
      f"No classifier for dataset {dataset!r}; the shipped ones are {CLASSIFIER_DATASETS}. For "
      "natural images use jaxgan.metrics.inception."
    )


def save_classifier(path: str | os.PathLike, classifier: Classifier) -> None:
  """Writes `classifier` (architecture in `meta`, variables) as one flax msgpack file."""
  module = classifier.module
  meta = {
    **classifier.meta,
    "features": list(module.features),
    "hidden": module.hidden,
    "num_classes": module.num_classes,
  }
  variables = jax.tree.map(lambda v: np.asarray(v, np.float32), jax.device_get(classifier.variables))
  payload = {"meta": meta, "variables": flax.core.unfreeze(variables)}
  with open(path, "wb") as f:
    f.write(flax.serialization.msgpack_serialize(payload))


def read_classifier(path: str | os.PathLike) -> Classifier:
  """Reads a file written by `save_classifier`.

  Raises:
    FileNotFoundError: if `path` does not exist, saying how to produce it.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(
      f"Classifier weights {path} not found. They ship with jaxgan (reinstall the package) "
      "or are written by `python -m experiments.train_classifier --dataset=...`."
    )
  with open(path, "rb") as f:
    payload = flax.serialization.msgpack_restore(f.read())
  meta = dict(payload["meta"])
  module = MNISTClassifier(
    features=tuple(int(f) for f in meta["features"]), hidden=int(meta["hidden"]), num_classes=int(meta["num_classes"])
  )
  return Classifier(module, jax.tree.map(jnp.asarray, payload["variables"]), meta)


@functools.lru_cache(maxsize=len(CLASSIFIER_DATASETS))
def load_classifier(dataset: str = "mnist") -> Classifier:
  """The shipped classifier of `dataset` ('mnist' or 'fashion_mnist'), read once per process.

  `meta['test_accuracy']` is its accuracy on the dataset's 10,000 test images.
  """
  return read_classifier(weights_path(dataset))


@functools.partial(jax.jit, static_argnums=0)
def _apply(module: MNISTClassifier, variables: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  logits, features = module.apply(variables, images, train=False)
  return jax.nn.softmax(logits, axis=-1), features


def _check_images(images) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
    raise ValueError(
      f"The classifier takes images [N, 28, 28, 1] (or [N, 28, 28]) in [-1, 1]; got shape {images.shape}."
    )
  if images.dtype == np.uint8:
    raise ValueError("Got uint8 images; scale them to [-1, 1] first: jaxgan.data.images.to_unit_range(images).")
  return images.astype(np.float32)


def classifier_outputs(
  images, dataset: str | Classifier = "mnist", batch_size: int = 500, progress: bool = False, desc: str = "classifier"
) -> tuple[np.ndarray, np.ndarray]:
  """Softmax probabilities and penultimate features of `images`, in one batched, jit-compiled pass.

  The last batch is padded to `batch_size`, so one compiled function serves any number of images.

  Args:
    images: [N, 28, 28, 1] (or [N, 28, 28]) float images in [-1, 1].
    dataset: 'mnist' or 'fashion_mnist' (the shipped weights), or a `Classifier`.
    batch_size: images per compiled call.
    progress: show a progress bar over the batches.
    desc: the progress bar's label.

  Returns:
    (probs [N, num_classes] float32, features [N, hidden] float32) as numpy arrays.

  Raises:
    ValueError: for images of another shape, uint8 images or an unknown dataset.
  """
  classifier = dataset if isinstance(dataset, Classifier) else load_classifier(dataset)
  images = _check_images(images)
  num = images.shape[0]
  probs, features = [], []
  for start in tqdm.tqdm(range(0, num, batch_size), desc=desc, disable=not progress, dynamic_ncols=True):
    batch = images[start : start + batch_size]
    pad = batch_size - batch.shape[0]
    if pad:
      batch = np.concatenate([batch, np.zeros((pad, *IMAGE_SHAPE), np.float32)])
    p, f = jax.device_get(_apply(classifier.module, classifier.variables, batch))
    probs.append(p[: batch_size - pad])
    features.append(f[: batch_size - pad])
  hidden, classes = classifier.module.hidden, classifier.module.num_classes
  if not probs:
    return np.zeros((0, classes), np.float32), np.zeros((0, hidden), np.float32)
  return np.concatenate(probs), np.concatenate(features)


def softmax_probs(images, dataset: str | Classifier = "mnist", batch_size: int = 500) -> np.ndarray:
  """Class probabilities p(y|x) [N, 10] of images [N, 28, 28, 1] in [-1, 1] (for IS, MIS, mode score)."""
  return classifier_outputs(images, dataset, batch_size)[0]


def penultimate_features(images, dataset: str | Classifier = "mnist", batch_size: int = 500) -> np.ndarray:
  """Penultimate-layer features [N, 128] of images [N, 28, 28, 1] in [-1, 1] (for FID, KID, precision/recall)."""
  return classifier_outputs(images, dataset, batch_size)[1]
