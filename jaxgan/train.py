"""The one train step that every variant runs: `make_train_step` composes the update math of `jaxgan.updates`.

A step is `n_critic` critic updates (one fresh real batch each, as in WGAN's Algorithm 1) followed by `n_generator`
generator updates (`config.update_order = 'critic_first'`, the default). The critic updates run in a `jax.lax.scan`
over the batch's leading n_critic axis when neither net convolves: one loop body keeps XLA's temporaries to one
update's (14.9 MB against 38 MB for the MLP WGAN-GP at n_critic 5) and measured 1.14-1.38x faster on CPU. With a
convolution in either net they are unrolled in Python, because XLA:CPU runs convolutions inside a loop body several
times slower than outside one. `config.critic_loop` ('auto', 'scan', 'unroll') overrides the choice; scanned and
unrolled steps agree up to float reassociation. The generator updates (n_generator is 1, or T-GAN's 2) are unrolled.

Two other orders make one update of each player per step (n_critic = n_generator = 1), each drawing the fakes with
one generator forward: 'generator_first' (PyTorch-GAN's DCGAN loop: the generator's update, then the critic's on the
same fakes; `jaxgan.updates.generator_first_update`) and 'simultaneous' (both gradients at the current parameters,
as Goodfellow et al. 2014's released code; `jaxgan.updates.simultaneous_update`).

What differs between GAN, WGAN and WGAN-GP is data in the config: the loss pair, the penalty and its weight, the
optimisers (WGAN's clipping is an optax transform) and `n_critic`. They are read once, when the GAN is built
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

import functools
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.extend as jex
import jax.numpy as jnp
import ml_collections

from jaxgan import ema
from jaxgan.batch import Batch, SemiSupervisedBatch
from jaxgan.gan import GAN, GANState, Tips, build_gan, example_keys, generate, init_state, sample_latents
from jaxgan.updates import (
  Metrics,
  as_batch,
  critic_update,
  generator_first_update,
  generator_update,
  simultaneous_update,
)

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
  "has_conv",
  "init_state",
  "make_train_step",
  "sample_latents",
  "scans_critic_loop",
]


def _has_primitive(jaxpr: jex.core.Jaxpr, name: str) -> bool:
  """Whether `jaxpr` or a jaxpr inside it (a custom_vjp's, a scan's body) calls primitive `name`."""
  return any(eqn.primitive.name == name for eqn in jaxpr.eqns) or any(
    _has_primitive(sub, name) for sub in jex.core.subjaxprs(jaxpr)
  )


def has_conv(gan: GAN) -> bool:
  """Whether the generator or the critic convolves: a convolution in their initialisation, traced (not run)."""
  jaxpr = jax.make_jaxpr(functools.partial(init_state, gan))(jax.random.key(0))
  return _has_primitive(jaxpr.jaxpr, "conv_general_dilated")


def scans_critic_loop(gan: GAN) -> bool:
  """Whether the train step scans its critic updates (see the module docstring): `gan.critic_loop` 'scan' or
  'unroll', or for 'auto', whether there are several and neither net convolves (`has_conv`)."""
  if gan.critic_loop != "auto":
    return gan.critic_loop == "scan"
  return gan.n_critic > 1 and not has_conv(gan)


def _loop(
  update: Callable[[GANState, Any, Any], tuple[GANState, Metrics]], state: GANState, xs: Any, length: int, scan: bool
) -> tuple[GANState, Metrics]:
  """`length` updates in a row, `state, metrics = update(state, xs[i], i)` for i = 0 .. length - 1 (a traced index
  when scanned), in a `jax.lax.scan` over xs's leading axis or unrolled in Python; the last update's metrics."""
  if scan:
    state, metrics = jax.lax.scan(lambda s, x_i: update(s, *x_i), state, (xs, jnp.arange(length)))
    return state, jax.tree.map(lambda m: m[-1], metrics)
  metrics: Metrics = {}
  for i in range(length):
    state, metrics = update(state, jax.tree.map(operator.itemgetter(i), xs), i)
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
  scan = scans_critic_loop(gan)

  def train_step(state: GANState, batch: Any, key: jax.Array) -> tuple[GANState, Metrics]:
    batch = as_batch(gan, batch)
    step_key = jax.random.fold_in(key, state.step)
    critic_key, generator_key = jax.random.fold_in(step_key, 0), jax.random.fold_in(step_key, 1)
    if gan.update_order == "generator_first":
      new_state, metrics = generator_first_update(gan, state, batch[0], critic_key, generator_key, axis_name)
    elif gan.update_order == "simultaneous":
      new_state, metrics = simultaneous_update(gan, state, batch[0], generator_key, axis_name)
    else:
      new_state, critic_metrics = _loop(
        lambda s, b, i: critic_update(gan, s, b, jax.random.fold_in(step_key, i), axis_name),
        state,
        batch,
        gan.n_critic,
        scan,
      )
      # The generator trains against the critic just updated, on the last critic update's real batch.
      new_state, g_metrics = _loop(
        lambda s, _, j: generator_update(gan, s, batch[-1], jax.random.fold_in(step_key, gan.n_critic + j), axis_name),
        new_state,
        None,
        gan.n_generator,
        False,
      )
      metrics = {**critic_metrics, **g_metrics}
    if axis_name is not None:
      metrics = jax.lax.pmean(metrics, axis_name)
    if gan.ema is not None:  # last: the average follows the weights the generator's updates just made
      new_state = new_state.replace(ema=ema.update(gan.ema, new_state.ema, new_state, state.step))
    return new_state.replace(step=state.step + 1), metrics

  return train_step
