"""Adversarial losses over critic outputs, looked up by name.

Every loss is a `LossPair` of two pure functions of the critic's raw outputs (logits or scores, shape [batch]):
`critic_loss(real_scores, fake_scores)` and `generator_loss(real_scores, fake_scores)`, each a scalar to *minimise*.
Both players get both arguments so that losses in which real data enters the generator's update (relativistic GANs)
fit the same signature; the classic losses simply ignore `real_scores` in the generator loss.

References:
  * `gan` — minimax GAN, Goodfellow et al. 2014, eq. 1: D maximises E log D(x) + E log(1 - D(G(z))), G minimises
    E log(1 - D(G(z))) (the *saturating* loss).
  * `ns_gan` — the non-saturating variant from the same paper (Sec. 3): G maximises E log D(G(z)).
  * `wgan` — Arjovsky et al. 2017, eq. 3 / Algorithm 1: the critic maximises E C(x) - E C(G(z)); G minimises -E C(G(z)).

With D = sigmoid(logit), log D = log_sigmoid(logit) and log(1 - D) = log_sigmoid(-logit), which stay finite and have
exact gradients for large |logit| (no sigmoid followed by a log).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Scores = jax.Array
LossFn = Callable[[Scores, Scores], jax.Array]


class LossPair(NamedTuple):
  """The two players' losses (scalars to minimise) as functions of `(real_scores [B], fake_scores [B])`.

  Attributes:
    critic_loss: the critic's loss.
    generator_loss: the generator's loss.
    generator_uses_real: whether `generator_loss` reads `real_scores`; if not, the step skips scoring the real batch
      in the generator's update and passes None.
  """

  critic_loss: LossFn
  generator_loss: LossFn
  generator_uses_real: bool = False  # if False, the step passes real_scores=None to generator_loss


def _discriminator_log_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """-E log D(x) - E log(1 - D(G(z))): binary cross-entropy with real = 1, fake = 0."""
  return -jnp.mean(jax.nn.log_sigmoid(real_logits)) - jnp.mean(jax.nn.log_sigmoid(-fake_logits))


def minimax_generator_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """E log(1 - D(G(z))) (Goodfellow et al. 2014, eq. 1). Its gradient w.r.t. a fake logit l is -sigmoid(l) / B,
  which vanishes as D(G(z)) -> 0: the saturation the paper warns about."""
  del real_logits
  return jnp.mean(jax.nn.log_sigmoid(-fake_logits))


def non_saturating_generator_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """-E log D(G(z)) (Goodfellow et al. 2014, Sec. 3). Its gradient w.r.t. a fake logit l is -(1 - sigmoid(l)) / B,
  which tends to -1/B as D(G(z)) -> 0: a strong signal exactly when the generator is losing."""
  del real_logits
  return -jnp.mean(jax.nn.log_sigmoid(fake_logits))


def wasserstein_critic_loss(real_scores: Scores, fake_scores: Scores) -> jax.Array:
  """E C(G(z)) - E C(x): minus the critic's estimate of W1 (Arjovsky et al. 2017, eq. 3)."""
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wasserstein_generator_loss(real_scores: Scores, fake_scores: Scores) -> jax.Array:
  """-E C(G(z)) (Arjovsky et al. 2017, Algorithm 1, line 10)."""
  del real_scores
  return -jnp.mean(fake_scores)


LOSSES: dict[str, LossPair] = {
    "gan": LossPair(_discriminator_log_loss, minimax_generator_loss),
    "ns_gan": LossPair(_discriminator_log_loss, non_saturating_generator_loss),
    "wgan": LossPair(wasserstein_critic_loss, wasserstein_generator_loss),
}


def get_loss(name: str) -> LossPair:
  """Returns the `LossPair` registered as `name`.

  Raises:
    ValueError: for an unknown name, listing the registered ones.
  """
  try:
    return LOSSES[name]
  except KeyError:
    raise ValueError(f"Unknown loss {name!r}; set config.loss to one of {sorted(LOSSES)}.") from None
