"""Fully connected generator and critic, for 2-D toy data and the original MLP GAN on MNIST (Goodfellow et al. 2014).

The original GAN's discriminator is a maxout network (Goodfellow et al. 2013, eq. 1: h_i = max_j z_ij over `pieces`
linear pieces per unit) trained with dropout on its inputs and hidden units, and its nets compute on data in [0, 1]
(a sigmoid output); `unit_output` / `unit_input` keep that range inside the nets while the library's data stay in
[-1, 1], so the first layer sees exactly what the authors' did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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
    output_activation: 'tanh' for images in [-1, 1], 'identity' for unbounded toy data, 'sigmoid' with
      `unit_output` for a net that computes in [0, 1].
    unit_output: the net's output lies in [0, 1] and is mapped to the library's [-1, 1] by 2x - 1.
    init_range: > 0: weights ~ U(-init_range, init_range) and zero biases (pylearn2's `irange`); 0: flax's defaults.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  features: Sequence[int] = (128, 128, 128)
  output_shape: Sequence[int] = (2,)
  activation: str = "relu"
  batch_norm: bool = False
  output_activation: str = "identity"
  unit_output: bool = False
  init_range: float = 0.0
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    act = get_activation(self.activation)
    dense = _dense_factory(self.init_range, self.dtype)
    h = z
    for width in self.features:
      h = dense(width)(h)
      if self.batch_norm:
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name, dtype=self.dtype)(h)
      h = act(h)
    h = dense(math.prod(self.output_shape))(h)
    h = get_activation(self.output_activation)(h)
    if self.unit_output:
      h = 2.0 * h - 1.0
    return jnp.reshape(h, (z.shape[0], *self.output_shape))


class MLPCritic(nn.Module):
  """x [B, ...] -> scores [B] (logits or Wasserstein scores: no sigmoid).

  Attributes:
    features: hidden widths.
    activation: hidden activation name.
    spectral_norm: spectral normalisation of every layer (Miyato et al. 2018).
    maxout_pieces: > 0: every hidden unit is a maxout unit over this many linear pieces (the activation is then
      unused); 0: plain units.
    input_dropout, hidden_dropout: dropout rates on the input and on each hidden layer's output while training
      (inverted dropout: kept units are scaled by 1 / (1 - rate), as pylearn2's `input_scales` of the original GAN).
    unit_input: map x from the library's [-1, 1] to [0, 1] before the first layer (nets that compute on [0, 1] data).
    init_range: > 0: weights ~ U(-init_range, init_range) and zero biases (pylearn2's `irange`); 0: flax's defaults.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and spectral norms).
  """

  features: Sequence[int] = (128, 128, 128)
  activation: str = "relu"
  spectral_norm: bool = False
  maxout_pieces: int = 0
  input_dropout: float = 0.0
  hidden_dropout: float = 0.0
  unit_input: bool = False
  init_range: float = 0.0
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    plain = not (self.maxout_pieces or self.input_dropout or self.hidden_dropout or self.unit_input or self.init_range)
    if plain:  # the common path keeps the parameter layout the other critics share
      return mlp_features(self, x, train, tuple(self.features) + (1,), self.activation, self.spectral_norm)[:, 0]
    for rate, field in ((self.input_dropout, "input_dropout"), (self.hidden_dropout, "hidden_dropout")):
      if not 0 <= rate < 1:
        raise ValueError(f"config.critic.{field} must be in [0, 1); got {rate}.")
    if self.maxout_pieces < 0:
      raise ValueError(f"config.critic.maxout_pieces must be >= 0; got {self.maxout_pieces}.")
    dense = _dense_factory(self.init_range, self.dtype)
    h = jnp.reshape(x, (x.shape[0], -1))
    if self.unit_input:
      h = (h + 1.0) / 2.0
    h = nn.Dropout(self.input_dropout, deterministic=not train)(h)
    for width in self.features:
      if self.maxout_pieces:
        h = maxout(maybe_spectral(dense(width * self.maxout_pieces), self.spectral_norm, train)(h), self.maxout_pieces)
      else:
        h = get_activation(self.activation)(maybe_spectral(dense(width), self.spectral_norm, train)(h))
      h = nn.Dropout(self.hidden_dropout, deterministic=not train)(h)
    return maybe_spectral(dense(1), self.spectral_norm, train)(h)[:, 0]


def maxout(h: jax.Array, pieces: int) -> jax.Array:
  """h [B, units * pieces] -> [B, units]: the max over each unit's `pieces` consecutive linear pieces (Goodfellow
  et al. 2013, eq. 1; pylearn2's `Maxout` with pool_stride = num_pieces)."""
  if h.shape[-1] % pieces:
    raise ValueError(f"maxout needs a width divisible by pieces={pieces}; got {h.shape[-1]}.")
  return jnp.max(jnp.reshape(h, (*h.shape[:-1], h.shape[-1] // pieces, pieces)), axis=-1)


def _dense_factory(init_range: float, dtype: Any = None):
  """`nn.Dense` with flax's initialisers, or with pylearn2's U(-init_range, init_range) weights and zero biases;
  computing in `dtype` (None: float32)."""
  if init_range <= 0:
    return lambda width: nn.Dense(width, dtype=dtype)

  def uniform(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -init_range, init_range)

  return lambda width: nn.Dense(width, kernel_init=uniform, bias_init=nn.initializers.zeros, dtype=dtype)


def mlp_features(
  module: nn.Module, x: jax.Array, train: bool, features: Sequence[int], activation: str, spectral_norm: bool
) -> jax.Array:
  """Dense layers of `features` widths inside `module`'s compact scope, the activation between them (not after the
  last), computing in `module.dtype` (None: float32). x [B, ...] is flattened first; returns [B, features[-1]]."""
  act = get_activation(activation)
  h = jnp.reshape(x, (x.shape[0], -1))
  for i, width in enumerate(features):
    h = maybe_spectral(nn.Dense(width, dtype=module.dtype), spectral_norm, train)(h)
    if i < len(features) - 1:
      h = act(h)
  return h
