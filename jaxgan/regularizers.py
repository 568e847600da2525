"""The LeCam regulariser of the critic (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data", eq. 3), in the form of the authors' released code (google/lecam-gan, `biggan_cifar/losses.py`
`lecam_reg` and `third_party/utils.py` `ema_losses`):

  R = mean_i relu(D(x_i) - alpha_F)^2 + mean_j relu(alpha_R - D(G(z_j)))^2,

where alpha_R and alpha_F are exponential moving averages of the critic's mean score on real and on generated
samples. Only the scores above the fake anchor (real) or below the real anchor (fake) are penalised, as the code does
(the paper's eq. 3 writes the squares without the relu). The authors' loop updates the anchors with the current
batch's means (as constants: `.item()`), with decay 0 before a start iteration (the anchors follow the batch), and
adds lambda * R to the critic's loss once the iteration passes that start; `anchor_decay` gives that schedule.
The anchors are a small pytree (`LeCamAnchors`) meant to live in the train state; under a data-parallel step the
batch means should be averaged over devices before `update_anchors`, so every replica keeps the same anchors.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class LeCamAnchors(NamedTuple):
  """The EMA anchors of the critic's scores.

  Attributes:
    real: alpha_R, the moving average of the mean score on real samples (scalar).
    fake: alpha_F, the moving average of the mean score on generated samples (scalar).
  """

  real: jax.Array
  fake: jax.Array


def init_anchors() -> LeCamAnchors:
  """Zero anchors. With `anchor_decay` (decay 0 before the start step) the first update replaces them."""
  return LeCamAnchors(real=jnp.zeros((), jnp.float32), fake=jnp.zeros((), jnp.float32))


def anchor_decay(step: jax.Array, decay: float, start_step: int) -> jax.Array:
  """The EMA decay at `step`: 0 before `start_step` (the anchors track the current batch), `decay` from then on."""
  return jnp.where(step < start_step, 0.0, decay)


def update_anchors(
  anchors: LeCamAnchors, real_mean: jax.Array, fake_mean: jax.Array, decay: float | jax.Array
) -> LeCamAnchors:
  """alpha <- decay * alpha + (1 - decay) * mean, for real and fake; the means enter as constants (no gradient).

  Args:
    anchors: the current anchors.
    real_mean: the critic's mean score on the real batch (scalar).
    fake_mean: the critic's mean score on the generated batch (scalar).
    decay: EMA decay in [0, 1] (0.99 in the authors' code).

  Returns:
    The updated anchors.
  """
  real_mean, fake_mean = jax.lax.stop_gradient(real_mean), jax.lax.stop_gradient(fake_mean)
  return LeCamAnchors(
    real=decay * anchors.real + (1 - decay) * real_mean, fake=decay * anchors.fake + (1 - decay) * fake_mean
  )


def lecam_regularizer(
  real_scores: jax.Array, fake_scores: jax.Array, anchor_real: jax.Array, anchor_fake: jax.Array
) -> jax.Array:
  """mean(relu(D(x) - alpha_F)^2) + mean(relu(alpha_R - D(G(z)))^2).

  Args:
    real_scores: the critic's scores [B] on real samples.
    fake_scores: the critic's scores [B'] on generated samples.
    anchor_real: alpha_R (scalar), held constant: no gradient flows into it.
    anchor_fake: alpha_F (scalar), held constant.

  Returns:
    The regulariser, a scalar.
  """
  anchor_real, anchor_fake = jax.lax.stop_gradient(anchor_real), jax.lax.stop_gradient(anchor_fake)
  return jnp.mean(jnp.square(jax.nn.relu(real_scores - anchor_fake))) + jnp.mean(
    jnp.square(jax.nn.relu(anchor_real - fake_scores))
  )
