"""Latent priors p(z), sampled with explicit keys.

`normal` is N(0, I) and `uniform` is U[-1, 1]^d (the DCGAN paper's prior, Radford et al. 2016, Sec. 4).
"""

from __future__ import annotations

from typing import Callable

import jax

Sampler = Callable[[jax.Array, tuple[int, ...]], jax.Array]


def normal(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """z ~ N(0, I) of `shape`."""
  return jax.random.normal(key, shape)


def uniform(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """z ~ U[-1, 1] of `shape`."""
  return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)


PRIORS: dict[str, Sampler] = {"normal": normal, "uniform": uniform}


def get_prior(name: str) -> Sampler:
  """Returns the sampler registered as `name`.

  Raises:
    ValueError: for an unknown name.
  """
  try:
    return PRIORS[name]
  except KeyError:
    raise ValueError(f"Unknown prior {name!r}; set config.prior to one of {sorted(PRIORS)}.") from None
