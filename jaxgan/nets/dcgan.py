"""DCGAN generator and discriminator (Radford et al. 2016, Sec. 3 and Fig. 1) for 28x28, 32x32 and 64x64 images.

Generator: project z to a small feature map (7x7 for 28x28, 4x4 otherwise), then doubling upsamplings with BatchNorm
and ReLU, halving the channels each time, and a final layer to C channels with tanh, so x lies in [-1, 1].
Discriminator: stride-2 4x4 convolutions with LeakyReLU 0.2 down to 4x4 (or 7x7), optional BatchNorm from the second
block on (never on the input layer, as the paper says), and a linear layer to one score per image. It returns logits /
Wasserstein scores of shape [B]: no sigmoid, so every loss can use its stable form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.conv import Conv, ConvTranspose
from jaxgan.nets.layers import leaky_relu, maybe_spectral

_SUPPORTED_SIZES = (28, 32, 64)
CRITIC_NORMS = ("none", "batch", "instance", "layer", "weight")


def _num_doublings(size: int) -> tuple[int, int]:
  """(base spatial size, number of 2x resamplings) for an image side of `size`."""
  if size not in _SUPPORTED_SIZES:
    raise ValueError(
      f"DCGAN nets support image sides {_SUPPORTED_SIZES}; got {size}. Resize the data or choose "
      "another net (config.generator.name / config.critic.name)."
    )
  base = 7 if size == 28 else 4
  return base, int(round(math.log2(size // base)))


class DCGANGenerator(nn.Module):
  """z [B, latent] -> images [B, H, W, C] in [-1, 1].

  Attributes:
    output_shape: (H, W, C) with H == W in (28, 32, 64).
    base_features: channels of the last hidden layer; earlier layers double it.
    upsample: 'transpose' (4x4 stride-2 transposed convs, as the paper) or 'resize' (nearest 2x + 3x3 conv, which
      avoids checkerboard artefacts).
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`); the same function.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  output_shape: Sequence[int] = (28, 28, 1)
  base_features: int = 64
  upsample: str = "transpose"
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    height, width, channels = self.output_shape
    if height != width:
      raise ValueError(f"DCGAN generator needs square images; got {tuple(self.output_shape)}.")
    if self.upsample not in ("transpose", "resize"):
      raise ValueError(f"Unknown upsample {self.upsample!r}; use 'transpose' or 'resize'.")
    base, doublings = _num_doublings(height)

    def norm(h):
      return nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name, dtype=self.dtype)(h)

    features = self.base_features * 2 ** (doublings - 1)
    h = nn.Dense(base * base * features, use_bias=False, dtype=self.dtype)(z)
    h = jax.nn.relu(norm(jnp.reshape(h, (z.shape[0], base, base, features))))
    for i in range(doublings):
      last = i == doublings - 1
      out_features = channels if last else features // 2
      if self.upsample == "transpose":
        h = ConvTranspose(
          out_features, (4, 4), strides=(2, 2), padding="SAME", use_bias=last, impl=self.conv_impl, dtype=self.dtype
        )(h)
      else:
        b, hh, ww, c = h.shape
        h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), method="nearest")
        h = Conv(out_features, (3, 3), padding="SAME", use_bias=last, impl=self.conv_impl, dtype=self.dtype)(h)
      if not last:
        h = jax.nn.relu(norm(h))
        features //= 2
    return jnp.tanh(h)


class DCGANCritic(nn.Module):
  """images [B, H, W, C] -> scores [B] (no sigmoid).

  Attributes:
    base_features: channels of the first conv; each later block doubles them.
    batch_norm: BatchNorm from the second block on (same as norm='batch'). Leave off under a gradient penalty.
    norm: normalisation from the second block on: none | batch | instance | layer | weight (Flax's InstanceNorm,
      LayerNorm, WeightNorm); the per-sample ones (instance, layer, weight) are safe under a gradient penalty.
    spectral_norm: spectral normalisation of every layer (Miyato et al. 2018).
    output_features: 1 gives scores [B]; more gives features [B, output_features] (an encoder).
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`); the same function.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  base_features: int = 64
  batch_norm: bool = False
  spectral_norm: bool = False
  norm: str = "none"
  output_features: int = 1
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    if x.ndim != 4:
      raise ValueError(f"DCGAN critic expects images [B, H, W, C]; got shape {x.shape}.")
    _, doublings = _num_doublings(x.shape[1])
    h = x
    features = self.base_features
    norm = "batch" if self.batch_norm else self.norm
    if norm not in CRITIC_NORMS:
      raise ValueError(f"Unknown critic norm {norm!r}; choose one of {CRITIC_NORMS}.")
    for i in range(doublings):
      normalised = norm != "none" and i > 0  # never on the input layer (Radford et al. 2016, Sec. 3)
      conv = Conv(
        features,
        (4, 4),
        strides=(2, 2),
        padding="SAME",
        use_bias=not (normalised and norm in ("batch", "instance", "layer")),
        impl=self.conv_impl,
        dtype=self.dtype,
      )
      if normalised and norm == "weight":
        conv = nn.WeightNorm(conv)
      h = maybe_spectral(conv, self.spectral_norm, train)(h)
      if normalised and norm == "batch":
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name, dtype=self.dtype)(h)
      elif normalised and norm == "instance":
        h = nn.InstanceNorm(dtype=self.dtype)(h)
      elif normalised and norm == "layer":
        h = nn.LayerNorm(dtype=self.dtype)(h)
      h = leaky_relu(h)
      features *= 2
    h = jnp.reshape(h, (h.shape[0], -1))
    h = maybe_spectral(nn.Dense(self.output_features, dtype=self.dtype), self.spectral_norm, train)(h)
    return h[:, 0] if self.output_features == 1 else h
