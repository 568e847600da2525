"""The semi-supervised GAN's data (Salimans et al. 2016, Sec. 5): a small class-balanced labelled subset beside the
unlabelled rest, served together as `SemiSupervisedBatch`es by `make_batch_fn` (which `jaxgan.data.make_batch_fn`
calls when `config.classifier.name` is 'ssgan')."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import semi_supervised
from jaxgan.batch import SemiSupervisedBatch
from jaxgan.data.images import batch_indices, load_images, to_unit_range
from jaxgan.data.shapes import data_shape, is_toy, shard_rows
from jaxgan.data.toy import get_toy
from jaxgan.nets import SemiSupervisedCritic


def labelled_subset(labels: np.ndarray, per_class: int, num_classes: int, seed: int) -> np.ndarray:
  """Indices [per_class * num_classes] of a class-balanced labelled subset: the first `per_class` examples of each
  class in a seeded permutation (as the paper's code picks its 100 MNIST labels).

  Raises:
    ValueError: if a class has fewer than `per_class` examples.
  """
  order = np.random.default_rng(seed).permutation(len(labels))
  chosen = []
  for k in range(num_classes):
    of_class = order[labels[order] == k][:per_class]
    if len(of_class) < per_class:
      raise ValueError(
        f"Class {k} has {len(of_class)} examples, fewer than config.classifier.labelled_per_class="
        f"{per_class}; lower it."
      )
    chosen.append(of_class)
  return np.sort(np.concatenate(chosen))


def _num_classes(config: ml_collections.ConfigDict) -> int:
  return int(config.critic.get("classes", SemiSupervisedCritic.classes))


def _toy_pools(config: ml_collections.ConfigDict, key: jax.Array, per_class: int, num_classes: int):
  """A fixed labelled set drawn from a toy mixture's modes (the mode is the class); unlabelled data stays a stream."""
  mixture = get_toy(config.data.name)
  if mixture.centers is None or len(mixture.centers) != num_classes:
    modes = 0 if mixture.centers is None else len(mixture.centers)
    raise ValueError(
      f"A semi-supervised GAN on {config.data.name!r} classifies its modes: set config.critic.classes "
      f"to its number of modes ({modes})."
    )
  labels = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)
  noise = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (len(labels), 2)))
  points = (mixture.centers[labels] + mixture.std * noise).astype(np.float32)
  sample = jax.jit(lambda step, shape: mixture.sample(jax.random.fold_in(key, step), shape), static_argnums=1)
  return points, labels, sample


def make_batch_fn(
  config: ml_collections.ConfigDict, key: jax.Array, shard: tuple[int, int] = (0, 1)
) -> Callable[[int], SemiSupervisedBatch]:
  """`next_batch(step) -> SemiSupervisedBatch`, a pure function of (key, step), like `jaxgan.data.make_batch_fn`.

  Images: `config.classifier.labelled_per_class` examples of each class of the training split form the labelled
  subset (chosen by `labelled_subset` from the key); the rest of the split is the unlabelled set. Both are served as
  endless streams of seeded epoch permutations. Toy mixtures: a fixed labelled set drawn around each mode, unlabelled
  samples drawn afresh each step.

  Args:
    shard: (process index, process count): this process keeps its contiguous slice of both global batches.
  """
  section = ml_collections.ConfigDict(
    {**semi_supervised.default_config().to_dict(), **dict(config.get("classifier") or {})}
  )
  per_class, labelled_batch = int(section.labelled_per_class), int(section.labelled_batch_size)
  num_classes = _num_classes(config)
  n_critic, batch_size = int(config.n_critic), int(config.batch_size)
  rows = slice(*shard_rows(batch_size, shard, "batch_size"))
  labelled_rows = slice(*shard_rows(labelled_batch, shard, "classifier.labelled_batch_size"))
  seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
  if is_toy(config.data):
    labelled, labels, sample = _toy_pools(config, key, per_class, num_classes)
    # The whole global batch is drawn (it is cheap), so every shard count sees the same examples.
    unlabelled_batch = lambda step: sample(step, (n_critic, batch_size))[:, rows]
  else:
    images, all_labels = load_images(config.data, data_shape(config.data))
    if all_labels.min() < 0 or all_labels.max() >= num_classes:
      raise ValueError(
        f"Labels of {config.data.name!r} span [{all_labels.min()}, {all_labels.max()}]; set "
        f"config.critic.classes to {all_labels.max() + 1}."
      )
    chosen = labelled_subset(all_labels, per_class, num_classes, seed)
    labelled, labels = to_unit_range(images[chosen]), all_labels[chosen]
    unlabelled_pool = np.delete(images, chosen, axis=0)
    if n_critic * batch_size > len(unlabelled_pool):
      raise ValueError(
        f"n_critic * batch_size = {n_critic * batch_size} exceeds the {len(unlabelled_pool)} "
        "unlabelled images; lower config.batch_size."
      )

    def unlabelled_batch(step):
      index = batch_indices(seed, len(unlabelled_pool), step * n_critic * batch_size, n_critic * batch_size)
      return jnp.asarray(to_unit_range(unlabelled_pool[index.reshape(n_critic, batch_size)[:, rows]]))

  def next_batch(step: int) -> SemiSupervisedBatch:
    # A stream of its own (seed + 1) over the labelled set, which is tiny: each batch revisits it many times.
    index = batch_indices(seed + 1, len(labels), step * n_critic * labelled_batch, n_critic * labelled_batch)
    index = index.reshape(n_critic, labelled_batch)[:, labelled_rows]
    return SemiSupervisedBatch(
      unlabelled_batch(step), jnp.asarray(labelled[index]), jnp.asarray(labels[index], jnp.int32)
    )

  return next_batch
