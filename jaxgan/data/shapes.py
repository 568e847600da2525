"""What the data looks like before any of it is loaded: the shape of one sample, and each process's share of a batch.

`data_shape(data_config)` tells the shape of one sample without loading anything, so nets can be built first.
"""

from __future__ import annotations

import ml_collections

from jaxgan.data.toy import TOY_DATASETS

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
  raise ValueError(
    f"Unknown dataset {name!r}; set config.data.name to a toy set {sorted(TOY_DATASETS)} or an "
    f"image set {sorted(IMAGE_SHAPES)}, or give config.data.image_shape=(H, W, C) for other images."
  )


def is_toy(data_config: ml_collections.ConfigDict) -> bool:
  """True for the 2-D toy mixtures."""
  return data_config.name in TOY_DATASETS


def shard_rows(batch_size: int, shard: tuple[int, int], field: str = "batch_size") -> tuple[int, int]:
  """(lo, hi): the contiguous rows of a global batch of `batch_size` that process `shard = (index, count)` reads.

  Raises:
    ValueError: for a bad shard, or a batch size (the config field `field`) that does not divide by the count.
  """
  index, count = shard
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"A data shard (index, count) needs 0 <= index < count; got {shard}.")
  if batch_size % count:
    raise ValueError(
      f"config.{field}={batch_size} must be divisible by the process count {count}; each process "
      f"reads {field} / {count} examples."
    )
  per_shard = batch_size // count
  return index * per_shard, (index + 1) * per_shard
