"""Data sources: toy 2-D mixtures (`toy`), image datasets (`images`: tensorflow-datasets, .npz, folders) and the
semi-supervised GAN's labelled subset (`labelled`), served by `make_batch_fn` as deterministic batches.

`data_shape(data_config)` (from `shapes`) tells the shape of one sample without loading anything, so nets can be
built first.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import ml_collections

from jaxgan import semi_supervised
from jaxgan.data import images, labelled
from jaxgan.data.shapes import IMAGE_SHAPES, data_shape, is_toy, shard_rows
from jaxgan.data.toy import TOY_DATASETS, ToyMixture, get_toy, mode_centers


def make_batch_fn(
  config: ml_collections.ConfigDict, key: jax.Array, shard: tuple[int, int] = (0, 1)
) -> Callable[[int], jax.Array]:
  """`next_batch(step) -> [n_critic, batch_size, *data_shape]`, a pure function of `key` and the step; with
  `config.num_classes > 0` it returns `(samples, labels [n_critic, batch_size])`.

  Because a batch depends only on (key, step), a resumed run sees exactly the batches of an uninterrupted one. A
  semi-supervised GAN (`config.classifier.name='ssgan'`) gets `jaxgan.batch.SemiSupervisedBatch`es
  (unlabelled, labelled, labels) instead.

  Args:
    shard: (process index, process count): each process of a multi-host run takes its own contiguous slice
      [n_critic, batch_size / count, ...] of the global batch, and only reads and converts those examples.
  """
  if semi_supervised.uses_labelled_batch(config):
    return labelled.make_batch_fn(config, key, shard)
  lo, hi = shard_rows(int(config.batch_size), shard)
  shape = (int(config.n_critic), int(config.batch_size))
  conditional = int(config.get("num_classes", 0)) > 0
  if is_toy(config.data):
    mixture = get_toy(config.data.name)
    if conditional:
      if mixture.sample_labeled is None or len(mixture.centers) != config.num_classes:
        raise ValueError(
          f"A conditional GAN on {config.data.name!r} labels samples by mode: set config.num_classes "
          f"to its number of modes ({0 if mixture.centers is None else len(mixture.centers)})."
        )
      draw = mixture.sample_labeled
    else:
      draw = mixture.sample
    # The whole global batch is drawn (it is cheap) so that every shard count sees the same examples.
    sample = jax.jit(lambda step: jax.tree.map(lambda x: x[:, lo:hi], draw(jax.random.fold_in(key, step), shape)))
    return lambda step: sample(step)
  return images.make_image_batch_fn(config, key, (lo, hi))


__all__ = [
  "make_batch_fn",
  "IMAGE_SHAPES",
  "TOY_DATASETS",
  "ToyMixture",
  "data_shape",
  "get_toy",
  "is_toy",
  "mode_centers",
  "shard_rows",
]
