"""ResNet generator and critic of SNGAN (Miyato et al. 2018, Table 4 / Appendix B.4) and WGAN-GP (Gulrajani et al.
2017, Appendix F) for 32x32 images, with a 28x28 variant for MNIST-sized data.

Generator: z -> linear to a 4x4 (7x7 at 28x28) map of `base_features` channels, up-sampling residual blocks to the
image size (3 at 32x32, 2 at 28x28), BatchNorm, ReLU, 3x3 conv to C channels, tanh. Each block is
BN -> ReLU -> nearest 2x upsampling -> conv3x3 -> BN -> ReLU -> conv3x3, plus a shortcut of nearest 2x upsampling and a
1x1 conv. SNGAN uses 256 channels, WGAN-GP 128. The class-conditional generator replaces the blocks' BatchNorm by
conditional BatchNorm (a per-class scale and shift; de Vries et al. 2017, as in Miyato & Koyama 2018's generator);
the final BatchNorm stays unconditional, as in both papers' code.

Critic: an "optimised" first block (conv3x3 -> ReLU -> conv3x3 -> 2x2 mean pool, shortcut mean pool -> conv1x1), a
down-sampling block, two blocks at constant size (ReLU -> conv3x3 -> ReLU -> conv3x3 [-> mean pool], shortcut conv1x1
[-> mean pool] where the shape changes, identity otherwise), ReLU, global pooling over space (SNGAN sums, WGAN-GP
averages), linear to one score. All blocks have `base_features` channels (128 in both papers), no normalisation
(safe under a gradient penalty), and optionally spectral normalisation of every layer. The class-conditional critic
projects the pooled features on a class embedding (Miyato & Koyama 2018, eq. 3), as `jaxgan.nets.conditional` does.

Layer for layer this follows the authors' code: pfnet-research/sngan_projection (`gen_models/resnet_32.py`,
`gen_models/resblocks.py`, `dis_models/snresnet_32.py`, `dis_models/resblocks.py`) and igul222/improved_wgan_training
(`gan_cifar_resnet.py`). Convolutions and linear layers have biases; initialisation is SNGAN's (Glorot uniform with
gain sqrt(2) in the residual branches, gain 1 elsewhere). The 1x1 shortcut of an up-sampling block is applied before
the upsampling, which computes the same function (a 1x1 conv commutes with nearest-neighbour upsampling) on 1/4 of
the pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.conv import Conv
from jaxgan.nets.layers import maybe_spectral

_SUPPORTED_SIZES = {28: (7, 2), 32: (4, 3)}  # image side -> (side of the first map, number of up-sampling blocks)
POOLINGS = ("sum", "mean")
_BN_MOMENTUM = 0.9  # chainer's BatchNormalization decay 0.9
# chainer's GlorotUniform(scale) has variance scale^2 / fan_avg: flax's variance_scaling(scale^2, 'fan_avg', ...).
_RESIDUAL_INIT = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")
_PLAIN_INIT = nn.initializers.xavier_uniform()


def _upsample(x: jax.Array) -> jax.Array:
  """Nearest-neighbour 2x upsampling: [B, H, W, C] -> [B, 2H, 2W, C]."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _downsample(x: jax.Array) -> jax.Array:
  """2x2 mean pooling with stride 2: [B, H, W, C] -> [B, H/2, W/2, C]."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class ConditionalBatchNorm(nn.Module):
  """BatchNorm without its own scale and shift, followed by a per-class scale (initially 1) and shift (initially 0).

  Attributes:
    num_classes: number of classes.
    axis_name: mapped axis over which the batch statistics are averaged.
    dtype: compute dtype (None: float32); the statistics and parameters stay float32.
  """

  num_classes: int
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array, train: bool) -> jax.Array:
    """x [B, H, W, C], labels int [B] -> [B, H, W, C]."""
    h = nn.BatchNorm(
      use_running_average=not train,
      momentum=_BN_MOMENTUM,
      use_scale=False,
      use_bias=False,
      axis_name=self.axis_name,
      dtype=self.dtype,
    )(x)
    features = x.shape[-1]
    embed = lambda init, name: nn.Embed(self.num_classes, features, embedding_init=init, name=name, dtype=self.dtype)
    scale = embed(nn.initializers.ones, "scale")(labels)
    shift = embed(nn.initializers.zeros, "shift")(labels)
    return h * scale[:, None, None, :] + shift[:, None, None, :]


class GeneratorBlock(nn.Module):
  """Up-sampling residual block: [B, H, W, C_in] -> [B, 2H, 2W, features].

  Attributes:
    features: output channels.
    num_classes: > 0 uses conditional BatchNorm on `labels`; 0 plain BatchNorm.
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`).
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype (None: float32).
  """

  features: int
  num_classes: int = 0
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None, train: bool) -> jax.Array:
    def norm(h):
      if self.num_classes:
        return ConditionalBatchNorm(self.num_classes, self.axis_name, self.dtype)(h, labels, train)
      return nn.BatchNorm(
        use_running_average=not train, momentum=_BN_MOMENTUM, axis_name=self.axis_name, dtype=self.dtype
      )(h)

    def conv(features, size, init):
      return Conv(features, (size, size), padding="SAME", kernel_init=init, impl=self.conv_impl, dtype=self.dtype)

    h = _upsample(jax.nn.relu(norm(x)))
    h = conv(self.features, 3, _RESIDUAL_INIT)(h)
    h = conv(self.features, 3, _RESIDUAL_INIT)(jax.nn.relu(norm(h)))
    return h + _upsample(conv(self.features, 1, _PLAIN_INIT)(x))


class CriticBlock(nn.Module):
  """Residual block of the critic: [B, H, W, C_in] -> [B, H', W', features], H' = H / 2 when down-sampling.

  Attributes:
    features: output channels (and hidden channels).
    downsample: 2x2 mean pooling at the end of both branches.
    first: the "optimised" input block (no ReLU before the first conv; pooling before the shortcut's conv).
    spectral_norm: spectral normalisation of the convolutions.
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`).
    dtype: compute dtype (None: float32); spectral norms stay float32.
  """

  features: int
  downsample: bool = False
  first: bool = False
  spectral_norm: bool = False
  conv_impl: str = "auto"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    def conv(size: int, init) -> Callable[[jax.Array], jax.Array]:
      layer = Conv(self.features, (size, size), padding="SAME", kernel_init=init, impl=self.conv_impl, dtype=self.dtype)
      return maybe_spectral(layer, self.spectral_norm, train)

    h = x if self.first else jax.nn.relu(x)
    h = conv(3, _RESIDUAL_INIT)(h)
    h = conv(3, _RESIDUAL_INIT)(jax.nn.relu(h))
    if self.downsample:
      h = _downsample(h)
    if self.first:
      shortcut = conv(1, _PLAIN_INIT)(_downsample(x))
    elif self.downsample or x.shape[-1] != self.features:
      shortcut = conv(1, _PLAIN_INIT)(x)
      shortcut = _downsample(shortcut) if self.downsample else shortcut
    else:
      shortcut = x
    return h + shortcut


def _layout(size: int) -> tuple[int, int]:
  if size not in _SUPPORTED_SIZES:
    raise ValueError(
      f"ResNet nets support image sides {tuple(_SUPPORTED_SIZES)}; got {size}. Resize the data or "
      "choose another net (config.generator.name / config.critic.name)."
    )
  return _SUPPORTED_SIZES[size]


def _generate(module: nn.Module, z: jax.Array, labels: jax.Array | None, train: bool) -> jax.Array:
  """The generator's layers, created in `module`'s compact `__call__`."""
  height, width, channels = module.output_shape
  if height != width:
    raise ValueError(f"ResNet generator needs square images; got {tuple(module.output_shape)}.")
  base, num_blocks = _layout(height)
  features = module.base_features
  h = nn.Dense(base * base * features, kernel_init=_PLAIN_INIT, dtype=module.dtype)(z)
  h = jnp.reshape(h, (z.shape[0], base, base, features))
  num_classes = getattr(module, "num_classes", 0)
  for _ in range(num_blocks):
    h = GeneratorBlock(features, num_classes, module.conv_impl, module.axis_name, module.dtype)(h, labels, train)
  h = nn.BatchNorm(
    use_running_average=not train, momentum=_BN_MOMENTUM, axis_name=module.axis_name, dtype=module.dtype
  )(h)
  h = Conv(channels, (3, 3), padding="SAME", kernel_init=_PLAIN_INIT, impl=module.conv_impl, dtype=module.dtype)(
    jax.nn.relu(h)
  )
  return jnp.tanh(h)


def _critic_features(module: nn.Module, x: jax.Array, train: bool) -> jax.Array:
  """Pooled critic features phi(x) [B, base_features], created in `module`'s compact `__call__`."""
  if x.ndim != 4:
    raise ValueError(f"ResNet critic expects images [B, H, W, C]; got shape {x.shape}.")
  if module.pooling not in POOLINGS:
    raise ValueError(f"Unknown pooling {module.pooling!r}; set config.critic.pooling to one of {POOLINGS}.")
  _layout(x.shape[1])
  block = lambda **kw: CriticBlock(
    module.base_features, spectral_norm=module.spectral_norm, conv_impl=module.conv_impl, dtype=module.dtype, **kw
  )
  h = block(downsample=True, first=True)(x, train)
  h = block(downsample=True)(h, train)
  h = block()(h, train)
  h = block()(h, train)
  h = jax.nn.relu(h)
  return jnp.sum(h, axis=(1, 2)) if module.pooling == "sum" else jnp.mean(h, axis=(1, 2))


class ResNetGenerator(nn.Module):
  """z [B, latent] -> images [B, H, W, C] in [-1, 1], H = W in (28, 32).

  Attributes:
    output_shape: (H, W, C).
    base_features: channels of every block (SNGAN 256, WGAN-GP 128); smaller for quick runs on a CPU.
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`); the same function.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  output_shape: Sequence[int] = (32, 32, 3)
  base_features: int = 256
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    return _generate(self, z, None, train)


class ConditionalResNetGenerator(nn.Module):
  """(z [B, latent], labels int [B]) -> images [B, H, W, C] in [-1, 1], with conditional BatchNorm in the blocks.

  Attributes:
    num_classes: number of classes.
    output_shape, base_features, conv_impl, axis_name, dtype: as in `ResNetGenerator`.
  """

  num_classes: int = 10
  output_shape: Sequence[int] = (32, 32, 3)
  base_features: int = 256
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, inputs: tuple[jax.Array, jax.Array], train: bool = True) -> jax.Array:
    z, labels = inputs
    if labels.shape != (z.shape[0],):
      raise ValueError(f"Conditional nets expect labels [B={z.shape[0]}]; got shape {labels.shape}.")
    return _generate(self, z, labels, train)


class ResNetCritic(nn.Module):
  """images [B, H, W, C] -> scores [B] (no sigmoid), H = W in (28, 32).

  Attributes:
    base_features: channels of every block (128 in SNGAN and WGAN-GP).
    spectral_norm: spectral normalisation of every layer (SNGAN); leave off under a gradient penalty (WGAN-GP).
    pooling: 'sum' (SNGAN) or 'mean' (WGAN-GP) of the last ReLU features over space.
    conv_impl: convolution implementation, 'auto' | 'xla' | 'fast' (`jaxgan.nets.conv`); the same function.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and spectral norms).
  """

  base_features: int = 128
  spectral_norm: bool = False
  pooling: str = "sum"
  conv_impl: str = "auto"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    phi = _critic_features(self, x, train)
    return maybe_spectral(nn.Dense(1, kernel_init=_PLAIN_INIT, dtype=self.dtype), self.spectral_norm, train)(phi)[:, 0]


class ConditionalResNetCritic(nn.Module):
  """(images [B, H, W, C], labels int [B]) -> scores [B]: psi(phi(x)) + <embed(y), phi(x)> (projection
  discriminator, Miyato & Koyama 2018, eq. 3), phi the pooled ResNet features.

  Attributes:
    num_classes: number of classes.
    base_features, spectral_norm, pooling, conv_impl, dtype: as in `ResNetCritic`.
  """

  num_classes: int = 10
  base_features: int = 128
  spectral_norm: bool = False
  pooling: str = "sum"
  conv_impl: str = "auto"
  dtype: Any = None

  @nn.compact
  def __call__(self, inputs: tuple[jax.Array, jax.Array], train: bool = True) -> jax.Array:
    x, labels = inputs
    if labels.shape != (x.shape[0],):
      raise ValueError(f"Conditional nets expect labels [B={x.shape[0]}]; got shape {labels.shape}.")
    phi = _critic_features(self, x, train)
    dense = nn.Dense(1, kernel_init=_PLAIN_INIT, dtype=self.dtype)
    unconditional = maybe_spectral(dense, self.spectral_norm, train)(phi)[:, 0]
    class_embedding = nn.Embed(self.num_classes, phi.shape[-1], dtype=self.dtype)(labels)
    return unconditional + jnp.sum(class_embedding * phi, axis=-1)
