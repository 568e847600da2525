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
  * `rsgan` — relativistic standard GAN, Jolicoeur-Martineau 2018 ("The relativistic discriminator: a key element
    missing from standard GAN"), Sec. "Relativistic standard GAN": both players compare paired real and fake scores.
  * `rasgan` — relativistic average standard GAN, same paper, Sec. "Relativistic average GANs": each score is compared
    with the batch mean of the other kind.
  * `hinge` — Lim & Ye 2017 ("Geometric GAN"), as used by Miyato et al. 2018 (spectral normalisation).
  * `lsgan` — least squares GAN, Mao et al. 2017, eq. 9 (the 0-1 coding a = 0, b = c = 1).
  * `t_sgan`, `t_wgan` — the Turing-test GANs, Su 2018 (arXiv:1810.10948), eqs. 14 and 17. They need the two-argument
    critic (`jaxgan.nets.TPairCritic`), whose outputs the step passes as `real_scores = T(x_r, x_f)` and
    `fake_scores = T(x_f, x_r)`.

With D = sigmoid(logit), log D = log_sigmoid(logit) and log(1 - D) = log_sigmoid(-logit), which stay finite and have
exact gradients for large |logit| (no sigmoid followed by a log).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

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
    decision_threshold: the score at which the critic's verdict flips from fake to real (0 for logits, 0.5 for
      LSGAN's 0-1 coding), or None for losses whose scores have no fixed origin (Wasserstein, relativistic): their
      verdicts are relative to the other batch's mean score (see `discriminator_accuracy`).
    chance_loss: the critic's loss when it cannot tell real from fake (every score at the decision threshold, or all
      scores equal), e.g. 2 log 2 for the log loss; a critic far below it is winning outright. None for the
      Wasserstein losses, whose critic loss has no floor to race to.
    log_loss: the critic's loss is the log loss, the binary cross-entropy of each sample's own logit with targets
      real = 1 and fake = 0 (the minimax and non-saturating GANs): label smoothing and flipping replace those
      targets, and the semi-supervised GAN's D(x) is trained by it.
  """

  critic_loss: LossFn
  generator_loss: LossFn
  generator_uses_real: bool = False  # if False, the step passes real_scores=None to generator_loss
  decision_threshold: float | None = 0.0
  chance_loss: float | None = 2 * math.log(2)
  log_loss: bool = False


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


def _check_paired(real_scores: Scores, fake_scores: Scores) -> None:
  if real_scores.shape != fake_scores.shape:
    raise ValueError(
      "RSGAN pairs real and fake samples one to one; got real scores of shape "
      f"{real_scores.shape} and fake scores of shape {fake_scores.shape}."
    )


def relativistic_critic_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """RSGAN critic loss -E log sigmoid(C(x_r) - C(x_f)) (Jolicoeur-Martineau 2018, Sec. "Relativistic standard GAN",
  L_D^RSGAN). Real and fake samples are paired elementwise: x_r[i] with x_f[i].

  Args:
    real_logits: [B] critic outputs C(x_r) on real samples.
    fake_logits: [B] critic outputs C(x_f) on generated samples.

  Returns:
    Scalar loss; it falls as C(x_r) rises above C(x_f).
  """
  _check_paired(real_logits, fake_logits)
  return -jnp.mean(jax.nn.log_sigmoid(real_logits - fake_logits))


def relativistic_generator_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """RSGAN generator loss -E log sigmoid(C(x_f) - C(x_r)) (Jolicoeur-Martineau 2018, Sec. "Relativistic standard
  GAN", L_G^RSGAN): the critic loss with real and fake swapped, so real data enters the generator's update.

  Args:
    real_logits: [B] critic outputs on real samples (required, unlike the classic losses).
    fake_logits: [B] critic outputs on generated samples, paired elementwise with `real_logits`.

  Returns:
    Scalar loss; it falls as C(x_f) rises above C(x_r).
  """
  _check_paired(real_logits, fake_logits)
  return -jnp.mean(jax.nn.log_sigmoid(fake_logits - real_logits))


def relativistic_average_critic_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """RaSGAN critic loss -E log sigmoid(C(x_r) - E C(x_f)) - E log(1 - sigmoid(C(x_f) - E C(x_r)))
  (Jolicoeur-Martineau 2018, Sec. "Relativistic average GANs", L_D^RaSGAN).

  The inner expectations are means over this batch and stay inside the gradient, as in the author's code. With data
  parallelism they are means over this device's shard. The author's code halves this sum; we keep the paper's form.

  Args:
    real_logits: [B] critic outputs on real samples.
    fake_logits: [B'] critic outputs on generated samples (B' need not equal B).

  Returns:
    Scalar loss.
  """
  real_vs_fake = real_logits - jnp.mean(fake_logits)
  fake_vs_real = fake_logits - jnp.mean(real_logits)
  # log(1 - sigmoid(t)) = log_sigmoid(-t).
  return -jnp.mean(jax.nn.log_sigmoid(real_vs_fake)) - jnp.mean(jax.nn.log_sigmoid(-fake_vs_real))


def relativistic_average_generator_loss(real_logits: Scores, fake_logits: Scores) -> jax.Array:
  """RaSGAN generator loss -E log sigmoid(C(x_f) - E C(x_r)) - E log(1 - sigmoid(C(x_r) - E C(x_f)))
  (Jolicoeur-Martineau 2018, Sec. "Relativistic average GANs", L_G^RaSGAN): the critic loss with real and fake
  swapped.

  Args:
    real_logits: [B] critic outputs on real samples (required).
    fake_logits: [B'] critic outputs on generated samples.

  Returns:
    Scalar loss.
  """
  fake_vs_real = fake_logits - jnp.mean(real_logits)
  real_vs_fake = real_logits - jnp.mean(fake_logits)
  return -jnp.mean(jax.nn.log_sigmoid(fake_vs_real)) - jnp.mean(jax.nn.log_sigmoid(-real_vs_fake))


def hinge_critic_loss(real_scores: Scores, fake_scores: Scores) -> jax.Array:
  """E relu(1 - C(x_r)) + E relu(1 + C(x_f)): the hinge loss of Lim & Ye 2017 ("Geometric GAN") in the form of
  Miyato et al. 2018 (the critic minimises -V_D with V_D = E min(0, -1 + C(x)) + E min(0, -1 - C(G(z))))."""
  return jnp.mean(jax.nn.relu(1.0 - real_scores)) + jnp.mean(jax.nn.relu(1.0 + fake_scores))


def hinge_generator_loss(real_scores: Scores, fake_scores: Scores) -> jax.Array:
  """-E C(x_f): the generator side of the hinge loss (Lim & Ye 2017; Miyato et al. 2018, V_G)."""
  del real_scores
  return -jnp.mean(fake_scores)


def least_squares_critic_loss(real_scores: Scores, fake_scores: Scores) -> jax.Array:
  """0.5 E (C(x_r) - 1)^2 + 0.5 E C(x_f)^2 (Mao et al. 2017, eq. 9: real target b = 1, fake target a = 0).

  The scores are the critic's raw outputs, without a sigmoid."""
  return 0.5 * jnp.mean((real_scores - 1.0) ** 2) + 0.5 * jnp.mean(fake_scores**2)


def least_squares_generator_loss(real_scores: Scores, fake_scores: Scores) -> jax.Array:
  """0.5 E (C(x_f) - 1)^2 (Mao et al. 2017, eq. 9: the generator's target c = 1 = b)."""
  del real_scores
  return 0.5 * jnp.mean((fake_scores - 1.0) ** 2)


def turing_sgan_critic_loss(t_real_fake: Scores, t_fake_real: Scores) -> jax.Array:
  """T-SGAN, T's loss (Su 2018, eq. 14): E[-log sigmoid(T(x_r, x_f)) - log(1 - sigmoid(T(x_f, x_r)))]."""
  return -jnp.mean(jax.nn.log_sigmoid(t_real_fake)) - jnp.mean(jax.nn.log_sigmoid(-t_fake_real))


def turing_sgan_generator_loss(t_real_fake: Scores, t_fake_real: Scores) -> jax.Array:
  """T-SGAN, G's loss (Su 2018, eq. 14): E[-log sigmoid(T(x_f, x_r)) - log(1 - sigmoid(T(x_r, x_f)))]."""
  return -jnp.mean(jax.nn.log_sigmoid(t_fake_real)) - jnp.mean(jax.nn.log_sigmoid(-t_real_fake))


def turing_wgan_critic_loss(t_real_fake: Scores, t_fake_real: Scores) -> jax.Array:
  """T-WGAN, T's loss (Su 2018, eq. 17): E[T(x_f, x_r) - T(x_r, x_f)], T Lipschitz (spectral normalisation)."""
  return jnp.mean(t_fake_real) - jnp.mean(t_real_fake)


def turing_wgan_generator_loss(t_real_fake: Scores, t_fake_real: Scores) -> jax.Array:
  """T-WGAN, G's loss (Su 2018, eq. 17): E[T(x_r, x_f) - T(x_f, x_r)]."""
  return jnp.mean(t_real_fake) - jnp.mean(t_fake_real)


LOSSES: dict[str, LossPair] = {
  "gan": LossPair(_discriminator_log_loss, minimax_generator_loss, log_loss=True),
  "ns_gan": LossPair(_discriminator_log_loss, non_saturating_generator_loss, log_loss=True),
  "wgan": LossPair(wasserstein_critic_loss, wasserstein_generator_loss, decision_threshold=None, chance_loss=None),
  "rsgan": LossPair(
    relativistic_critic_loss,
    relativistic_generator_loss,
    generator_uses_real=True,
    decision_threshold=None,
    chance_loss=math.log(2),
  ),
  "rasgan": LossPair(
    relativistic_average_critic_loss,
    relativistic_average_generator_loss,
    generator_uses_real=True,
    decision_threshold=None,
  ),
  "hinge": LossPair(hinge_critic_loss, hinge_generator_loss, chance_loss=2.0),
  "lsgan": LossPair(least_squares_critic_loss, least_squares_generator_loss, decision_threshold=0.5, chance_loss=0.25),
  # T's outputs are logits that their first argument is the real sample: T(x_r, x_f) > 0 and T(x_f, x_r) < 0 are
  # right verdicts, the same rule as for one-sample logits.
  "t_sgan": LossPair(turing_sgan_critic_loss, turing_sgan_generator_loss, generator_uses_real=True),
  "t_wgan": LossPair(
    turing_wgan_critic_loss,
    turing_wgan_generator_loss,
    generator_uses_real=True,
    decision_threshold=None,
    chance_loss=None,
  ),
}


# The names of the log losses, for messages.
LOG_LOSSES = tuple(name for name, pair in LOSSES.items() if pair.log_loss)


def discriminator_accuracy(
  real_scores: Scores,
  fake_scores: Scores,
  threshold: float | None,
  real_mean: jax.Array | None = None,
  fake_mean: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """Fractions of right verdicts on real and on fake samples: how clearly the critic is winning.

  With a threshold t, real is right when C(x_r) > t and fake when C(x_f) < t (for logits: D > 1/2 and D < 1/2).
  Without one (Wasserstein and relativistic scores have no fixed origin), a real score is right when it exceeds the
  mean fake score and a fake score when it falls below the mean real score.

  Args:
    real_scores: [B] critic outputs on real samples.
    fake_scores: [B'] critic outputs on generated samples.
    threshold: the loss's `decision_threshold`.
    real_mean, fake_mean: the means to compare with when `threshold` is None (default: this batch's); pass the
      global batch's means under data parallelism, so the verdicts do not depend on the device count.

  Returns:
    (real_accuracy, fake_accuracy), scalars in [0, 1].
  """
  if threshold is None:
    real_mean = jnp.mean(real_scores) if real_mean is None else real_mean
    fake_mean = jnp.mean(fake_scores) if fake_mean is None else fake_mean
    real_cut, fake_cut = fake_mean, real_mean
  else:
    real_cut = fake_cut = threshold
  return jnp.mean(real_scores > real_cut), jnp.mean(fake_scores < fake_cut)


def get_loss(name: str) -> LossPair:
  """Returns the `LossPair` registered as `name`.

  Raises:
    ValueError: for an unknown name, listing the registered ones.
  """
  try:
    return LOSSES[name]
  except KeyError:
    raise ValueError(f"Unknown loss {name!r}; set config.loss to one of {sorted(LOSSES)}.") from None
