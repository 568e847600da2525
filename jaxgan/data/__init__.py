"""Data sources: toy 2-D mixtures now; image datasets through tensorflow-datasets.

`data_shape(data_config)` tells the shape of one sample without loading anything, so nets can be built first.
"""

from __future__ import annotations

from typing import Callable

import jax
import ml_collections

from jaxgan.data.toy import TOY_DATASETS, ToyMixture, get_toy, mode_centers

# Shapes of the image datasets the configs name, [H, W, C].
IMAGE_SHAPES = {
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "celeb_a": (64, 64, 3),
}


def data_shape(data_config: ml_collections.ConfigDict) -> tuple[int, ...]:
  """Shape of one sample of the dataset `data_config.name`: (2,) for toy data, (H, W, C) for images.

  Raises:
    ValueError: for an unknown dataset name.
  """
  name = data_config.name
  if data_config.get("image_shape"):
    return tuple(int(d) for d in data_config.image_shape)
  if name in TOY_DATASETS:
    return (2,)
  if name in IMAGE_SHAPES:
    return IMAGE_SHAPES[name]
  raise ValueError(f"Unknown dataset {name!r}; set config.data.name to a toy set {sorted(TOY_DATASETS)} or an "
                   f"image set {sorted(IMAGE_SHAPES)}, or give config.data.image_shape=(H, W, C) for other images.")


def is_toy(data_config: ml_collections.ConfigDict) -> bool:
  """True for the 2-D toy mixtures."""
  return data_config.name in TOY_DATASETS


def _check_shard(batch_size: int, shard: tuple[int, int]) -> tuple[int, int]:
  index, count = shard
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"A data shard (index, count) needs 0 <= index < count; got {shard}.")
  if batch_size % count:
    raise ValueError(f"config.batch_size={batch_size} must be divisible by the process count {count}; each process "
                     f"reads batch_size / {count} examples.")
  per_shard = batch_size // count
  return index * per_shard, (index + 1) * per_shard


def make_batch_fn(config: ml_collections.ConfigDict, key: jax.Array, shard: tuple[int, int] = (0, 1)
                  ) -> Callable[[int], jax.Array]:
  """`next_batch(step) -> [n_critic, batch_size, *data_shape]`, a pure function of `key` and the step; with
  `config.num_classes > 0` it returns `(samples, labels [n_critic, batch_size])`.

  Because a batch depends only on (key, step), a resumed run sees exactly the batches of an uninterrupted one. A
  semi-supervised GAN (`config.classifier.name='ssgan'`) gets `jaxgan.semi_supervised.SemiSupervisedBatch`es
  (unlabelled, labelled, labels) instead.

  Args:
    shard: (process index, process count): each process of a multi-host run takes its own contiguous slice
      [n_critic, batch_size / count, ...] of the global batch, and only reads and converts those examples.
  """
  from jaxgan import semi_supervised  # imported here: it imports this package's loaders

  if semi_supervised.uses_labelled_batch(config):
    return semi_supervised.make_batch_fn(config, key, shard)
  lo, hi = _check_shard(int(config.batch_size), shard)
  shape = (int(config.n_critic), int(config.batch_size))
  conditional = int(config.get("num_classes", 0)) > 0
  if is_toy(config.data):
    mixture = get_toy(config.data.name)
    if conditional:
      if mixture.sample_labeled is None or len(mixture.centers) != config.num_classes:
        raise ValueError(f"A conditional GAN on {config.data.name!r} labels samples by mode: set config.num_classes "
                         f"to its number of modes ({0 if mixture.centers is None else len(mixture.centers)}).")
      draw = mixture.sample_labeled
    else:
      draw = mixture.sample
    # The whole global batch is drawn (it is cheap) so that every shard count sees the same examples.
    sample = jax.jit(lambda step: jax.tree.map(lambda x: x[:, lo:hi], draw(jax.random.fold_in(key, step), shape)))
    return lambda step: sample(step)
  from jaxgan.data import images  # tensorflow-datasets is only imported for image data

  return images.make_image_batch_fn(config, key, (lo, hi))


__all__ = ["make_batch_fn", "IMAGE_SHAPES", "TOY_DATASETS", "ToyMixture", "data_shape", "get_toy", "is_toy", "mode_centers"]
