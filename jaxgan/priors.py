"""Latent priors p(z), sampled one example at a time from explicit keys.

* `normal`: z ~ N(0, I). `uniform`: z ~ U[-1, 1]^d (the DCGAN paper's prior, Radford et al. 2016, Sec. 4).
  `uniform_unit_variance`: z ~ U[-sqrt 3, sqrt 3]^d (the original GAN's released code, Goodfellow et al. 2014).
* `deligan`: DeLiGAN's learnable mixture of Gaussians (Gurumurthy et al. 2017, Sec. 3, eqs. 3-5):
  z = mu_i + sigma_i * eps with i uniform over N components and eps ~ N(0, I). The sample is reparameterised, so
  mu and sigma get gradients from the generator's loss and are trained by the generator's optimiser; the paper's
  regulariser lambda * mean((1 - sigma)^2) (eq. 6; lambda = 0.05 in the authors' code) keeps sigma from collapsing.
  The authors draw sigma ~ U(-0.2, 0.2) and let the regulariser drag it through 0; we keep sigma positive by storing
  rho with sigma = softplus(rho), initialised so that sigma ~ U(sigma_init_min, sigma_init_max].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections


class Prior(NamedTuple):
  """A latent prior as pure functions.

  Attributes:
    init: `init(key, latent_shape) -> params` ({} for fixed priors).
    sample: `sample(params, key, latent_shape) -> z [*latent_shape]`, one example.
    regularizer: `regularizer(params) -> scalar` added to the generator's loss.
  """

  init: Callable[[jax.Array, tuple[int, ...]], Any]
  sample: Callable[[Any, jax.Array, tuple[int, ...]], jax.Array]
  regularizer: Callable[[Any], jax.Array]


def _no_params(key, shape):
  del key, shape
  return {}


def _zero(params):
  del params
  return jnp.zeros(())


def normal_prior() -> Prior:
  """z ~ N(0, I)."""
  return Prior(_no_params, lambda params, key, shape: jax.random.normal(key, shape), _zero)


def uniform_prior() -> Prior:
  """z ~ U[-1, 1]."""
  return Prior(_no_params, lambda params, key, shape: jax.random.uniform(key, shape, minval=-1.0, maxval=1.0), _zero)


def uniform_unit_variance_prior() -> Prior:
  """z ~ U[-sqrt(3), sqrt(3)]^d, unit variance per coordinate: the noise of Goodfellow et al.'s released GAN code
  (`adversarial.Generator(noise='uniform')`)."""
  limit = math.sqrt(3.0)
  return Prior(
    _no_params, lambda params, key, shape: jax.random.uniform(key, shape, minval=-limit, maxval=limit), _zero
  )


def _inverse_softplus(y: jax.Array) -> jax.Array:
  return y + jnp.log(-jnp.expm1(-y))


def deligan_sigma(params) -> jax.Array:
  """[N, *latent_shape] component scales sigma = softplus(rho) > 0."""
  return jax.nn.softplus(params["rho"])


def deligan_prior(
  num_components: int = 50, sigma_init_min: float = 0.05, sigma_init_max: float = 0.2, sigma_reg: float = 0.05
) -> Prior:
  """DeLiGAN's learnable mixture-of-Gaussians prior (Gurumurthy et al. 2017, eqs. 3-6).

  Args:
    num_components: N, the number of Gaussian components (the paper uses 50).
    sigma_init_min, sigma_init_max: sigma starts uniform in (min, max].
    sigma_reg: lambda of the regulariser lambda * mean((1 - sigma)^2).

  Raises:
    ValueError: for a non-positive component count or an empty sigma range.
  """
  if num_components < 1:
    raise ValueError(f"DeLiGAN needs num_components >= 1; got {num_components}.")
  if not 0 < sigma_init_min < sigma_init_max:
    raise ValueError(f"DeLiGAN needs 0 < sigma_init_min < sigma_init_max; got {sigma_init_min}, {sigma_init_max}.")

  def init(key, shape):
    k_mu, k_sigma = jax.random.split(key)
    mu = jax.random.uniform(k_mu, (num_components, *shape), minval=-1.0, maxval=1.0)
    sigma = jax.random.uniform(k_sigma, (num_components, *shape), minval=sigma_init_min, maxval=sigma_init_max)
    return {"mu": mu, "rho": _inverse_softplus(sigma)}

  def sample(params, key, shape):
    k_component, k_eps = jax.random.split(key)
    i = jax.random.randint(k_component, (), 0, num_components)
    return params["mu"][i] + deligan_sigma(params)[i] * jax.random.normal(k_eps, shape)

  def regularizer(params):
    return sigma_reg * jnp.mean((1.0 - deligan_sigma(params)) ** 2)

  return Prior(init, sample, regularizer)


PRIORS: dict[str, Callable[..., Prior]] = {
  "normal": normal_prior,
  "uniform": uniform_prior,
  "uniform_unit_variance": uniform_unit_variance_prior,
  "deligan": deligan_prior,
}


def get_prior(name: str, options: ml_collections.ConfigDict | dict | None = None) -> Prior:
  """Builds the prior registered as `name`, with keyword `options` (e.g. config.deligan for 'deligan').

  Raises:
    ValueError: for an unknown name or option.
  """
  if name not in PRIORS:
    raise ValueError(f"Unknown prior {name!r}; set config.prior to one of {sorted(PRIORS)}.")
  options = dict(options or {})
  try:
    return PRIORS[name](**options)
  except TypeError as error:
    raise ValueError(f"Bad options {sorted(options)} for prior {name!r}: {error}.") from None
