"""The data of one train step, as the step consumes it.

`Batch` is the one type the step reads: `real` [n_critic, B, *data_shape], one real batch per critic update, and the
optional streams a GAN variant adds (a conditional GAN's labels, a semi-supervised GAN's labelled batch). A field a
variant does not use is None, which is an empty pytree: the parallel wrappers split every present leaf along B and
skip the rest. `jaxgan.updates.as_batch` converts what the data pipeline serves (a bare array, `(images, labels)`, a
`SemiSupervisedBatch`) into a `Batch`, once, at the step's boundary.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.struct
import jax


class Batch(flax.struct.PyTreeNode):
  """One train step's data; index it along the first axis (`batch[i]`) for one update's data.

  Attributes:
    real: [n_critic, B, *data_shape] real samples, one batch per critic update.
    labels: int [n_critic, B] classes of `real` (a conditional GAN, AC-GAN), else None.
    labelled: [n_critic, B_l, *data_shape] samples of the labelled subset (the semi-supervised GAN), else None.
    labelled_labels: int [n_critic, B_l] their classes, else None.
  """

  real: jax.Array
  labels: jax.Array | None = None
  labelled: jax.Array | None = None
  labelled_labels: jax.Array | None = None

  def __getitem__(self, index) -> Batch:
    return jax.tree.map(lambda x: x[index], self)


class SemiSupervisedBatch(NamedTuple):
  """One train step's data for the semi-supervised GAN, as its pipeline (`jaxgan.data.make_batch_fn`) serves it.

  Attributes:
    unlabelled: [n_critic, B, *data_shape] real samples whose labels the model never sees.
    labelled: [n_critic, B_l, *data_shape] samples of the labelled subset.
    labels: int32 [n_critic, B_l] their classes.
  """

  unlabelled: jax.Array
  labelled: jax.Array
  labels: jax.Array
