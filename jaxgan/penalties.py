"""Gradient penalties on the critic.

`gradient_penalty` is the two-sided penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3, Algorithm 1 lines 6-7):
    x_hat = eps * x_real + (1 - eps) * x_fake,  eps ~ U[0, 1] per sample,
    penalty = E_x_hat (||grad_x_hat C(x_hat)||_2 - target)^2.
The gradient of each sample's score is taken with respect to that sample: we differentiate the *sum* of the per-sample
scores, whose gradient w.r.t. x_hat[i] is exactly grad C(x_hat[i]) because samples do not interact in the critic.
(Differentiating the batch *mean* would divide every norm by the batch size.) This is why a penalised critic must not
use batch normalisation, which couples the samples.

`r1_penalty` is the R1 regulariser of Mescheder et al. 2018 ("Which training methods for GANs do actually
converge?", eq. 9), 0.5 * E_real ||grad_x C(x)||^2, and `dragan_penalty` the DRAGAN penalty of Kodali et al. 2017
("On convergence and stability of GANs"), (||grad C(x_hat)|| - 1)^2 at points x_hat perturbed around the real data.
Every penalty has the signature `(critic_fn, real, fake, key, ...)` and returns a scalar; the train step adds
`penalty_weight` times it to the critic's loss.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

CriticFn = Callable[[jax.Array], jax.Array]


def per_sample_squared_grad_norm(critic_fn: CriticFn, x: jax.Array) -> jax.Array:
  """||grad_x C(x)[i]||_2^2 of every sample, from the gradient of the *sum* of the scores.

  Args:
    critic_fn: maps x [B, ...] to scores [B]; samples must not interact.
    x: [B, ...] points at which to take the gradient.

  Returns:
    [B] squared gradient norms.
  """
  grads = jax.grad(lambda inputs: jnp.sum(critic_fn(inputs)))(x)
  return jnp.sum(jnp.reshape(grads, (grads.shape[0], -1)) ** 2, axis=-1)


def per_sample_grad_norm(critic_fn: CriticFn, x: jax.Array, epsilon: float = 1e-12) -> jax.Array:
  """||grad_x C(x)[i]||_2 of every sample, the norm over all of a sample's features.

  Args:
    critic_fn: maps x [B, ...] to scores [B]; samples must not interact.
    x: [B, ...] points at which to take the gradient.
    epsilon: added under the square root so the norm's own gradient is finite where the gradient is 0.

  Returns:
    [B] gradient norms.
  """
  return jnp.sqrt(per_sample_squared_grad_norm(critic_fn, x) + epsilon)


def _is_single_key(key: jax.Array) -> bool:
  typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
  return key.ndim == (0 if typed else 1)


def _uniform_per_sample(key: jax.Array, batch: int, dtype, sample_shape: tuple[int, ...] = ()) -> jax.Array:
  """U[0, 1) draws of shape [batch, *sample_shape]: from one key, or from a [B] batch of per-example keys, sample i
  drawing from key i alone (so that a batch split over devices draws the same numbers as on one device)."""
  if _is_single_key(key):
    return jax.random.uniform(key, (batch, *sample_shape), dtype)
  if key.shape[0] != batch:
    raise ValueError(f"Got {key.shape[0]} per-example keys for a batch of {batch}; pass one key or one per sample.")
  return jax.vmap(lambda k: jax.random.uniform(k, sample_shape, dtype))(key)


def gradient_penalty(
  critic_fn: CriticFn, real: jax.Array, fake: jax.Array, key: jax.Array, target: float = 1.0, epsilon: float = 1e-12
) -> jax.Array:
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


def r1_penalty(critic_fn: CriticFn, real: jax.Array, fake: jax.Array, key: jax.Array) -> jax.Array:
  """The R1 regulariser 0.5 * E_real ||grad_x C(x)||^2 (Mescheder et al. 2018, eq. 9), on real data only.

  The paper writes R1 = (gamma / 2) E ||grad D(x)||^2; the 1/2 is folded in here, so `config.penalty_weight` is the
  paper's gamma.

  Args:
    critic_fn: maps x [B, ...] to scores [B].
    real: [B, ...] real samples, where the gradient is taken.
    fake: unused (R1 looks at real data only); kept for the common penalty signature.
    key: unused (R1 is deterministic).

  Returns:
    Scalar penalty.
  """
  del fake, key
  return 0.5 * jnp.mean(per_sample_squared_grad_norm(critic_fn, real))


def _batch_std(x: jax.Array, axis_name: str | None) -> jax.Array:
  """Population standard deviation over every element of the batch, and over the mapped axis if one is given
  (assuming equal shards), so that a batch split over devices sees the std of the global batch."""
  mean = jnp.mean(x)
  if axis_name is not None:
    mean = jax.lax.pmean(mean, axis_name)
  var = jnp.mean((x - mean) ** 2)
  if axis_name is not None:
    var = jax.lax.pmean(var, axis_name)
  return jnp.sqrt(var)


def dragan_penalty(
  critic_fn: CriticFn,
  real: jax.Array,
  fake: jax.Array,
  key: jax.Array,
  noise_scale: float = 0.5,
  target: float = 1.0,
  interpolate: bool = True,
  epsilon: float = 1e-12,
  axis_name: str | None = None,
) -> jax.Array:
  """The DRAGAN penalty E (||grad C(x_hat)|| - target)^2 at random points near the real data (Kodali et al. 2017).

  The paper perturbs real points with Gaussian noise, x + delta with delta ~ N(0, cI). We implement the rule of the
  authors' reference code (DRAGAN.ipynb in kodalinaveen3/DRAGAN), which their experiments use:
      x_p = x + noise_scale * std(x) * u,    u ~ U[0, 1) per feature,
      x_hat = x + alpha * (x_p - x),         alpha ~ U[0, 1) per sample,
  with std(x) the population standard deviation over all elements of the real batch (numpy's `minibatch.std()`) and
  noise_scale = 0.5. `interpolate=False` drops alpha (x_hat = x_p). Note the noise is one-sided (u >= 0), as there.

  Args:
    critic_fn: maps x [B, ...] to scores [B].
    real: [B, ...] real samples.
    fake: unused (DRAGAN perturbs real data only); kept for the common penalty signature.
    key: one PRNG key, or [B] per-example keys; sample i draws its alpha and u from key i alone, so a batch split over
      devices draws the same perturbations as on one device.
    noise_scale: the 0.5 in front of std(x).
    target: the norm the penalty pulls towards (1 in DRAGAN).
    interpolate: whether to draw x_hat uniformly on the segment [x, x_p] (the authors' code) or use x_p itself.
    epsilon: numerical floor under the square root of the norm.
    axis_name: the mapped device axis, if the batch is split over devices: std(x) is then the global batch's.

  Returns:
    Scalar penalty.
  """
  del fake
  batch = real.shape[0]
  if _is_single_key(key):
    alpha_key, noise_key = jax.random.split(key)
  else:
    if key.shape[0] != batch:
      raise ValueError(f"Got {key.shape[0]} per-example keys for a batch of {batch}; pass one key or one per sample.")
    keys = jax.vmap(jax.random.split)(key)  # [B, 2] keys
    alpha_key, noise_key = keys[:, 0], keys[:, 1]
  noise = _uniform_per_sample(noise_key, batch, real.dtype, real.shape[1:])
  perturbation = noise_scale * _batch_std(real, axis_name) * noise
  if interpolate:
    alpha = _uniform_per_sample(alpha_key, batch, real.dtype)
    perturbation = jnp.reshape(alpha, (-1,) + (1,) * (real.ndim - 1)) * perturbation
  x_hat = real + perturbation
  norms = per_sample_grad_norm(critic_fn, x_hat, epsilon)
  return jnp.mean((norms - target) ** 2)


PENALTIES = {"gradient_penalty": gradient_penalty, "r1": r1_penalty, "dragan": dragan_penalty}


def get_penalty(name: str):
  """Returns the penalty registered as `name`.

  Raises:
    ValueError: for an unknown name.
  """
  try:
    return PENALTIES[name]
  except KeyError:
    raise ValueError(
      f"Unknown penalty {name!r}; set config.penalty to one of {sorted(PENALTIES)} or to 'none'."
    ) from None
