"""The networks of the PyTorch-GAN zoo (eriklindernoren/PyTorch-GAN), rebuilt as jaxgan nets for side-by-side runs.

These follow the zoo's `implementations/wgan_gp`, `implementations/wgan` and `implementations/dcgan` modules layer by
layer, including its unusual choices, so that a benchmark against it measures the same work:

* `BatchNorm1d(n, 0.8)` / `BatchNorm2d(n, 0.8)` pass 0.8 as the *eps* argument, not the momentum; the nets here use
  `batch_norm_eps=0.8` where the zoo does, and torch's default momentum 0.1 (flax `momentum=0.9`).
* The MLP generator has no BatchNorm after its first layer.
* The DCGAN generator normalises the projected 8x8 map (eps 1e-5) with no activation after it, then upsamples with
  nearest-neighbour x2 followed by a 3x3 convolution; its discriminator uses 3x3 stride-2 convolutions with padding 1,
  LeakyReLU 0.2, Dropout2d(0.25) (whole channels dropped), and BatchNorm from the second block on.

The MLP critic of the WGAN scripts (784 -> 512 -> 256 -> 1, LeakyReLU 0.2) is `MLPCritic(features=(512, 256),
activation='leaky_relu')`, so it is not repeated here.

`upsample='subpixel'` in `ZooDCGANGenerator` computes exactly the same function as `'resize'` with 4/9 of the
multiply-adds: a 3x3 convolution of a nearest-upsampled map equals, for each of the four output phases, a 2x2
convolution of the low-resolution map whose taps are sums of the 3x3 taps. The parameters are the same 3x3 kernels,
so the two settings share checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.conv import Conv, conv2d, resolve_impl
from jaxgan.nets.layers import leaky_relu

_TORCH_MOMENTUM = 0.9  # torch's BatchNorm momentum 0.1 weights the new batch by 0.1: flax's momentum 0.9


def _batch_norm(train: bool, eps: float, axis_name: str | None, dtype: Any = None) -> nn.BatchNorm:
  return nn.BatchNorm(
    use_running_average=not train, momentum=_TORCH_MOMENTUM, epsilon=eps, axis_name=axis_name, dtype=dtype
  )


class ZooMLPGenerator(nn.Module):
  """z [B, latent] -> x [B, *output_shape] in [-1, 1]: PyTorch-GAN's WGAN / WGAN-GP generator.

  Linear layers of widths base_features * (1, 2, 4, ...) (128, 256, 512, 1024 by default), each followed by
  BatchNorm (not the first) and LeakyReLU 0.2, then a linear layer to prod(output_shape) and tanh.

  Attributes:
    output_shape: shape of one sample, e.g. (28, 28, 1).
    base_features: width of the first hidden layer; each later one doubles it.
    num_layers: number of hidden layers.
    batch_norm_eps: BatchNorm epsilon (0.8 in PyTorch-GAN, whose `BatchNorm1d(n, 0.8)` sets eps).
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  output_shape: Sequence[int] = (28, 28, 1)
  base_features: int = 128
  num_layers: int = 4
  batch_norm_eps: float = 0.8
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    h = z
    for i in range(self.num_layers):
      h = nn.Dense(self.base_features * 2**i, dtype=self.dtype)(h)
      if i > 0:
        h = _batch_norm(train, self.batch_norm_eps, self.axis_name, self.dtype)(h)
      h = leaky_relu(h)
    h = jnp.tanh(nn.Dense(math.prod(self.output_shape), dtype=self.dtype)(h))
    return jnp.reshape(h, (z.shape[0], *self.output_shape))


def _upsample_conv_subpixel(x: jax.Array, kernel: jax.Array, impl: str = "auto") -> jax.Array:
  """conv3x3(nearest_upsample_2x(x), kernel) with 'SAME' (1-pixel zero) padding, as four 2x2 convolutions.

  Output row 2i + a of the upsampled-then-convolved map reads upsampled rows 2i + a - 1 .. 2i + a + 1, which are
  low-resolution rows (i - 1, i, i) for a = 0 and (i, i, i + 1) for a = 1. So phase a = 0 is a 2-tap filter over rows
  (i - 1, i) with taps (k0, k1 + k2), and a = 1 one over (i, i + 1) with taps (k0 + k1, k2); the same holds for
  columns. The zero padding of the upsampled map is the zero padding of the low-resolution one.

  Together the phases are a 4x4 stride-2 transposed convolution ('SAME') with taps (k0, k0 + k1, k1 + k2, k2) per
  axis; the 'fast' impl computes it in that form (`jaxgan.nets.conv.conv2d` splits it into the same four phases, and
  its kernel gradient slices the views they share once).

  Args:
    x: [B, H, W, C_in].
    kernel: [3, 3, C_in, C_out] (HWIO, flax's layout).
    impl: convolution implementation, as in `jaxgan.nets.conv.conv2d`.

  Returns:
    [B, 2H, 2W, C_out].
  """
  if resolve_impl(impl) == "fast":
    # Per axis, [4, 3]: the transposed convolution's taps from the 3 original ones.
    expand = jnp.asarray([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], kernel.dtype)
    kernel_4x4 = jnp.einsum("pr,qs,rsio->pqio", expand, expand, kernel)
    return conv2d(x, kernel_4x4, (1, 1), ((2, 2), (2, 2)), lhs_dilation=(2, 2), impl="fast")
  # Per axis, taps [phase, 2, 3] mapping the 3 original taps to each phase's 2 taps.
  combine = jnp.asarray([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], kernel.dtype)
  # k[a, b, 2, 2, C_in, C_out] = sum over (r, s) of combine[a, :, r] combine[b, :, s] kernel[r, s].
  phase_kernels = jnp.einsum("apr,bqs,rsio->abpqio", combine, combine, kernel)
  b, height, width, _ = x.shape
  c_out = kernel.shape[-1]
  rows = []
  for a in range(2):
    cols = []
    for c in range(2):
      # Phase 0 reads (i - 1, i): pad one before; phase 1 reads (i, i + 1): pad one after.
      padding = ((1 - a, a), (1 - c, c))
      cols.append(conv2d(x, phase_kernels[a, c], (1, 1), padding, impl="xla"))
    rows.append(jnp.stack(cols, axis=3))  # [B, H, W, 2 (col phase), C_out]
  out = jnp.stack(rows, axis=2)  # [B, H, 2 (row phase), W, 2, C_out]
  return jnp.reshape(out, (b, 2 * height, 2 * width, c_out))


class UpsampleConv3x3(nn.Module):
  """Nearest-neighbour x2 upsampling followed by a 3x3 'SAME' convolution with bias, in one of two exact forms.

  Both forms hold the same parameters (`kernel` [3, 3, C_in, features] and `bias` [features], initialised as
  `nn.Conv`'s), so a checkpoint trained with one runs with the other.

  Attributes:
    features: output channels.
    method: 'resize' (upsample, then convolve) or 'subpixel' (`_upsample_conv_subpixel`).
    conv_impl: convolution implementation, as in `jaxgan.nets.conv.conv2d`.
    dtype: compute dtype (None: float32, as `nn.Conv`'s); the parameters stay float32.
  """

  features: int
  method: str = "resize"
  conv_impl: str = "auto"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    if self.method == "subpixel":
      return _upsample_conv_subpixel(x, kernel, self.conv_impl) + bias
    b, height, width, c = x.shape
    x = jax.image.resize(x, (b, 2 * height, 2 * width, c), method="nearest")
    return conv2d(x, kernel, (1, 1), ((1, 1), (1, 1)), impl=self.conv_impl) + bias


class ZooDCGANGenerator(nn.Module):
  """z [B, latent] -> images [B, H, W, C] in [-1, 1]: PyTorch-GAN's DCGAN generator.

  Linear to base_features*2 x (H/4) x (W/4), BatchNorm (eps 1e-5, no activation), then twice nearest x2 upsampling
  + 3x3 conv + BatchNorm(eps=batch_norm_eps) + LeakyReLU 0.2 (channels 2*base_features, then base_features), and a
  3x3 conv to C channels with tanh.

  Attributes:
    output_shape: (H, W, C) with H and W divisible by 4.
    base_features: channels of the last hidden layer (64); the first has twice as many.
    batch_norm_eps: epsilon of the BatchNorms after the convolutions (0.8 in PyTorch-GAN).
    upsample: 'resize' (upsample, then convolve: PyTorch-GAN's literal form) or 'subpixel' (the same function as four
      2x2 convolutions of the low-resolution map, 4/9 of the multiply-adds; see `_upsample_conv_subpixel`).
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`); the same function.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  output_shape: Sequence[int] = (32, 32, 1)
  base_features: int = 64
  batch_norm_eps: float = 0.8
  upsample: str = "resize"
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    height, width, channels = self.output_shape
    if height % 4 or width % 4:
      raise ValueError(f"ZooDCGANGenerator needs H and W divisible by 4; got {tuple(self.output_shape)}.")
    if self.upsample not in ("resize", "subpixel"):
      raise ValueError(f"Unknown upsample {self.upsample!r}; use 'resize' or 'subpixel'.")
    features = 2 * self.base_features
    h = nn.Dense(height // 4 * width // 4 * features, dtype=self.dtype)(z)
    h = jnp.reshape(h, (z.shape[0], height // 4, width // 4, features))
    h = _batch_norm(train, 1e-5, self.axis_name, self.dtype)(h)
    for out_features in (features, self.base_features):
      h = UpsampleConv3x3(out_features, self.upsample, self.conv_impl, self.dtype)(h)
      h = leaky_relu(_batch_norm(train, self.batch_norm_eps, self.axis_name, self.dtype)(h))
    h = Conv(channels, (3, 3), padding=((1, 1), (1, 1)), impl=self.conv_impl, dtype=self.dtype)(h)
    return jnp.tanh(h)


class ZooDCGANCritic(nn.Module):
  """images [B, H, W, C] -> logits [B]: PyTorch-GAN's DCGAN discriminator without its final sigmoid.

  Four blocks of 3x3 stride-2 convolution (padding 1), LeakyReLU 0.2, channel dropout and (from the second block)
  BatchNorm(eps=batch_norm_eps), with base_features * (1, 2, 4, 8) channels (16, 32, 64, 128), then a linear layer to
  one logit. The sigmoid is left to the loss (`gan` / `ns_gan` use log-sigmoid), which is the stable form of
  PyTorch-GAN's `Sigmoid` + `BCELoss`.

  Attributes:
    base_features: channels of the first block.
    dropout_rate: probability of dropping a whole channel in training (Dropout2d; 0.25 in PyTorch-GAN). Training with
      a positive rate needs a dropout key: `apply(..., train=True, key=...)`.
    batch_norm_eps: BatchNorm epsilon (0.8 in PyTorch-GAN).
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`); the same function.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  base_features: int = 16
  dropout_rate: float = 0.25
  batch_norm_eps: float = 0.8
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    if x.ndim != 4:
      raise ValueError(f"ZooDCGANCritic expects images [B, H, W, C]; got shape {x.shape}.")
    use_dropout = train and self.dropout_rate > 0
    if use_dropout and not self.has_rng("dropout"):
      raise ValueError(
        f"ZooDCGANCritic(dropout_rate={self.dropout_rate}) is training without a dropout key. Pass "
        "`key=` to the net's apply, or set config.critic.dropout_rate=0."
      )
    h = x
    for i in range(4):
      h = Conv(
        self.base_features * 2**i,
        (3, 3),
        strides=(2, 2),
        padding=((1, 1), (1, 1)),
        impl=self.conv_impl,
        dtype=self.dtype,
      )(h)
      h = leaky_relu(h)
      # Dropout2d: one draw per (example, channel), broadcast over height and width.
      h = nn.Dropout(self.dropout_rate, broadcast_dims=(1, 2), deterministic=not use_dropout)(h)
      if i > 0:
        h = _batch_norm(train, self.batch_norm_eps, self.axis_name, self.dtype)(h)
    h = jnp.reshape(h, (h.shape[0], -1))
    return nn.Dense(1, dtype=self.dtype)(h)[:, 0]
