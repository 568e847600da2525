"""Gradient penalties on the critic.

`gradient_penalty` is the two-sided penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3, Algorithm 1 lines 6-7):
    x_hat = eps * x_real + (1 - eps) * x_fake,  eps ~ U[0, 1] per sample,
    penalty = E_x_hat (||grad_x_hat C(x_hat)||_2 - target)^2.
The gradient of each sample's score is taken with respect to that sample: we differentiate the *sum* of the per-sample
scores, whose gradient w.r.t. x_hat[i] is exactly grad C(x_hat[i]) because samples do not interact in the critic.
(Differentiating the batch *mean* would divide every norm by the batch size.) This is why a penalised critic must not
use batch normalisation, which couples the samples.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

CriticFn = Callable[[jax.Array], jax.Array]


def per_sample_grad_norm(critic_fn: CriticFn, x: jax.Array, epsilon: float = 1e-12) -> jax.Array:
  """||grad_x C(x)[i]||_2 of every sample, the norm over all of a sample's features.

  Args:
    critic_fn: maps x [B, ...] to scores [B]; samples must not interact.
    x: [B, ...] points at which to take the gradient.
    epsilon: added under the square root so the norm's own gradient is finite where the gradient is 0.

  Returns:
    [B] gradient norms.
  """
  grads = jax.grad(lambda inputs: jnp.sum(critic_fn(inputs)))(x)
  squared = jnp.sum(jnp.reshape(grads, (grads.shape[0], -1)) ** 2, axis=-1)
  return jnp.sqrt(squared + epsilon)


def _uniform_per_sample(key: jax.Array, batch: int, dtype) -> jax.Array:
  """eps ~ U[0, 1], one per sample: from one key, or from a [B] batch of per-example keys (so that a batch split
  over devices draws the same eps as on one device)."""
  typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
  if key.ndim == (0 if typed else 1):
    return jax.random.uniform(key, (batch,), dtype)
  if key.shape[0] != batch:
    raise ValueError(f"Got {key.shape[0]} per-example keys for a batch of {batch}; pass one key or one per sample.")
  return jax.vmap(lambda k: jax.random.uniform(k, (), dtype))(key)


def gradient_penalty(critic_fn: CriticFn, real: jax.Array, fake: jax.Array, key: jax.Array, target: float = 1.0,
                     epsilon: float = 1e-12) -> jax.Array:
  """The WGAN-GP penalty E (||grad C(x_hat)|| - target)^2 on random interpolates (Gulrajani et al. 2017, eq. 3).

  Args:
    critic_fn: maps x [B, ...] to scores [B].
    real: [B, ...] real samples.
    fake: [B, ...] generated samples (treated as constants: the caller stops their gradient if needed).
    key: one PRNG key, or [B] per-example keys, for the interpolation weights eps ~ U[0, 1].
    target: the norm the penalty pulls towards (1 in WGAN-GP).
    epsilon: numerical floor under the square root of the norm.

  Returns:
    Scalar penalty.
  """
  if real.shape != fake.shape:
    raise ValueError(f"real and fake must have the same shape; got {real.shape} and {fake.shape}.")
  eps = _uniform_per_sample(key, real.shape[0], real.dtype)
  eps = jnp.reshape(eps, (-1,) + (1,) * (real.ndim - 1))
  x_hat = eps * real + (1.0 - eps) * fake
  norms = per_sample_grad_norm(critic_fn, x_hat, epsilon)
  return jnp.mean((norms - target) ** 2)


PENALTIES = {"gradient_penalty": gradient_penalty}


def get_penalty(name: str):
  """Returns the penalty registered as `name`.

  Raises:
    ValueError: for an unknown name.
  """
  try:
    return PENALTIES[name]
  except KeyError:
    raise ValueError(
        f"Unknown penalty {name!r}; set config.penalty to one of {sorted(PENALTIES)} or to 'none'.") from None
