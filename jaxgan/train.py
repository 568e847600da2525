"""The one train step that every variant runs: `make_train_step` composes the update math of `jaxgan.updates`.

A step is `n_critic` critic updates (one fresh real batch each, as in WGAN's Algorithm 1) followed by `n_generator`
generator updates. The updates are unrolled in Python, not scanned: XLA:CPU runs convolutions inside a loop body
several times slower than outside one, and n_critic and n_generator are small, so compile time stays modest. What
differs between GAN, WGAN and WGAN-GP is data in the config: the loss pair, the penalty and its weight, the optimisers
(WGAN's clipping is an optax transform) and `n_critic`. They are read once, when the GAN is built
(`jaxgan.gan.build_gan`); the compiled step branches on nothing. A classifier critic (`config.classifier`: the
semi-supervised GAN of Salimans et al. 2016 or AC-GAN of Odena et al. 2017, see `jaxgan.semi_supervised`) adds its
class cross-entropy to the critic's loss, and feature matching or AC-GAN's class term to the generator's, in the same
step.

The step is written for one device's shard of the batch. With `axis_name` set it averages gradients, metrics and
BatchNorm statistics over that mapped axis, and draws each example's randomness from the *global* example index, so
a run over D devices draws exactly the latents and interpolation weights of a one-device run on the same global batch.

`GAN`, `GANState`, `Tips`, `build_gan`, `init_state`, `generate`, `sample_latents` and `example_keys` live in
`jaxgan.gan` and `Batch` in `jaxgan.batch`; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import ml_collections

from jaxgan import ema
from jaxgan.batch import Batch, SemiSupervisedBatch
from jaxgan.gan import GAN, GANState, Tips, build_gan, example_keys, generate, init_state, sample_latents
from jaxgan.updates import Metrics, as_batch, critic_update, generator_update

__all__ = [
  "Batch",
  "GAN",
  "GANState",
  "Metrics",
  "SemiSupervisedBatch",
  "Tips",
  "as_batch",
  "build_gan",
  "critic_update",
  "example_keys",
  "generate",
  "generator_update",
  "init_state",
  "make_train_step",
  "sample_latents",
]


def _unrolled(
  update: Callable[[GANState, int], tuple[GANState, Metrics]], state: GANState, length: int
) -> tuple[GANState, Metrics]:
  """`length` updates `update(state, i)` in a row, unrolled in Python (see the module docstring); the last
  update's metrics."""
  metrics: Metrics = {}
  for i in range(length):
    state, metrics = update(state, i)
  return state, metrics


def make_train_step(
  config: ml_collections.ConfigDict | GAN, axis_name: str | None = None
) -> Callable[[GANState, Any, jax.Array], tuple[GANState, Metrics]]:
  """Builds the pure train step `(state, batch, key) -> (state, metrics)`.

  Args:
    config: a run config (or an already built `GAN`, whose axis name must match).
    axis_name: the mapped device axis, or None on one device.

  Returns:
    `train_step(state, batch, key)`, where `batch` is a `Batch` or what `jaxgan.data.make_batch_fn` serves:
    [n_critic, B, *data_shape] (this device's shard; a conditional GAN's `(images, labels)`, a semi-supervised GAN's
    `SemiSupervisedBatch`), converted and checked once by `jaxgan.updates.as_batch`; `key` the run's base key (the
    step folds in `state.step`, then the update's index); and `metrics` holds scalars averaged over devices:
    `critic_loss` (the adversarial part), `generator_loss`, `gradient_penalty`,
    `wasserstein_estimate` = E C(x_real) - E C(x_fake), `real_accuracy` and `fake_accuracy` (the critic's right
    verdicts, `losses.discriminator_accuracy`), and `critic_grad_norm` / `generator_grad_norm` (global norms of the
    averaged gradients), all from the step's last critic and generator updates. With a classifier head
    (`config.classifier`) also `class_loss` and `class_accuracy` (the critic's, on the labelled batch for SSGAN and
    on the real batch for AC-GAN) and, for AC-GAN, `generator_class_loss`. With `config.ema` the step ends by
    moving the generator's average (`jaxgan.ema.update`), which nothing in the step reads.
  """
  gan = config if isinstance(config, GAN) else build_gan(config, axis_name)

  def train_step(state: GANState, batch: Any, key: jax.Array) -> tuple[GANState, Metrics]:
    batch = as_batch(gan, batch)
    step_key = jax.random.fold_in(key, state.step)
    new_state, critic_metrics = _unrolled(
      lambda s, i: critic_update(gan, s, batch[i], jax.random.fold_in(step_key, i), axis_name), state, gan.n_critic
    )
    # The generator trains against the critic just updated, on the last critic update's real batch.
    new_state, g_metrics = _unrolled(
      lambda s, j: generator_update(gan, s, batch[-1], jax.random.fold_in(step_key, gan.n_critic + j), axis_name),
      new_state,
      gan.n_generator,
    )
    metrics = {**critic_metrics, **g_metrics}
    if axis_name is not None:
      metrics = jax.lax.pmean(metrics, axis_name)
    if gan.ema is not None:  # last: the average follows the weights the generator's updates just made
      new_state = new_state.replace(ema=ema.update(gan.ema, new_state.ema, new_state, state.step))
    return new_state.replace(step=state.step + 1), metrics

  return train_step
