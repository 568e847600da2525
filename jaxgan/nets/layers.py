"""Small shared pieces of the nets: activations by name."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


def leaky_relu(x: jax.Array) -> jax.Array:
  """LeakyReLU with slope 0.2, the DCGAN paper's choice (Radford et al. 2016, Sec. 3)."""
  return jax.nn.leaky_relu(x, negative_slope=0.2)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
  "relu": jax.nn.relu,
  "leaky_relu": leaky_relu,
  "elu": jax.nn.elu,
  "gelu": jax.nn.gelu,
  "silu": jax.nn.silu,
  "tanh": jnp.tanh,
  "sigmoid": jax.nn.sigmoid,
  "identity": lambda x: x,
}


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
  """Returns the activation registered as `name`.

  Raises:
    ValueError: for an unknown name.
  """
  try:
    return ACTIVATIONS[name]
  except KeyError:
    raise ValueError(f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.") from None


def maybe_spectral(layer: nn.Module, spectral_norm: bool, train: bool) -> Callable[[jax.Array], jax.Array]:
  """`layer`, or `layer` under `flax.linen.SpectralNorm` (Miyato et al. 2018), whose power-iteration vectors live in
  the `batch_stats` collection and advance only when training."""
  if not spectral_norm:
    return layer
  return lambda x: nn.SpectralNorm(layer)(x, update_stats=train)
