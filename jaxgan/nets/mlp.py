"""Fully connected generator and critic, for 2-D toy data and the original MLP GAN on MNIST (Goodfellow et al. 2014)."""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.layers import get_activation, maybe_spectral


class MLPGenerator(nn.Module):
  """z [B, latent] -> x [B, *output_shape].

  Attributes:
    features: hidden widths.
    output_shape: shape of one sample, e.g. (2,) or (28, 28, 1).
    activation: hidden activation name.
    batch_norm: BatchNorm after each hidden layer.
    output_activation: 'tanh' for images in [-1, 1], 'identity' for unbounded toy data.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
  """

  features: Sequence[int] = (128, 128, 128)
  output_shape: Sequence[int] = (2,)
  activation: str = "relu"
  batch_norm: bool = False
  output_activation: str = "identity"
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    act = get_activation(self.activation)
    h = z
    for width in self.features:
      h = nn.Dense(width)(h)
      if self.batch_norm:
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(h)
      h = act(h)
    h = nn.Dense(math.prod(self.output_shape))(h)
    h = get_activation(self.output_activation)(h)
    return jnp.reshape(h, (z.shape[0], *self.output_shape))


class MLPCritic(nn.Module):
  """x [B, ...] -> scores [B] (logits or Wasserstein scores: no sigmoid).

  Attributes:
    features: hidden widths.
    activation: hidden activation name.
    spectral_norm: spectral normalisation of every layer (Miyato et al. 2018).
  """

  features: Sequence[int] = (128, 128, 128)
  activation: str = "relu"
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    return mlp_features(self, x, train, tuple(self.features) + (1,), self.activation, self.spectral_norm)[:, 0]


def mlp_features(module: nn.Module, x: jax.Array, train: bool, features: Sequence[int], activation: str,
                 spectral_norm: bool) -> jax.Array:
  """Dense layers of `features` widths inside `module`'s compact scope, the activation between them (not after the
  last). x [B, ...] is flattened first; returns [B, features[-1]]."""
  act = get_activation(activation)
  h = jnp.reshape(x, (x.shape[0], -1))
  for i, width in enumerate(features):
    h = maybe_spectral(nn.Dense(width), spectral_norm, train)(h)
    if i < len(features) - 1:
      h = act(h)
  return h
