"""Label-conditioned generators and critics (Mirza & Osindero 2014; projection discriminator, Miyato & Koyama 2018).

Conditional nets take `inputs = (x, labels)` with labels int [B] in [0, num_classes):
* generators concatenate a learned class embedding to z (Mirza & Osindero 2014, Sec. 3.2);
* critics either project: score = psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018, eq. 3), or concatenate
  the class embedding to the flattened input of an MLP critic (Mirza & Osindero 2014).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.dcgan import DCGANCritic, DCGANGenerator
from jaxgan.nets.layers import maybe_spectral
from jaxgan.nets.mlp import MLPGenerator, mlp_features


def _check_labels(labels: jax.Array, batch: int) -> None:
  if labels.shape != (batch,):
    raise ValueError(f"Conditional nets expect labels [B={batch}]; got shape {labels.shape}.")


class ConditionalGenerator(nn.Module):
  """(z [B, latent], labels [B]) -> samples [B, *output_shape].

  Attributes:
    num_classes: number of classes.
    backbone: 'mlp' or 'dcgan' (the unconditional generator run on [z, embed(y)]).
    embed_dim: size of the class embedding.
    features, activation, batch_norm, output_activation: MLP backbone options.
    base_features, upsample, conv_impl: DCGAN backbone options.
    output_shape: shape of one sample.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  num_classes: int = 10
  backbone: str = "mlp"
  embed_dim: int = 16
  features: Sequence[int] = (128, 128, 128)
  activation: str = "relu"
  batch_norm: bool = False
  output_activation: str = "identity"
  base_features: int = 64
  upsample: str = "transpose"
  conv_impl: str = "auto"
  output_shape: Sequence[int] = (2,)
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, inputs: tuple[jax.Array, jax.Array], train: bool = True) -> jax.Array:
    z, labels = inputs
    _check_labels(labels, z.shape[0])
    h = jnp.concatenate([z, nn.Embed(self.num_classes, self.embed_dim, dtype=self.dtype)(labels)], axis=-1)
    if self.backbone == "mlp":
      return MLPGenerator(
        features=self.features,
        output_shape=self.output_shape,
        activation=self.activation,
        batch_norm=self.batch_norm,
        output_activation=self.output_activation,
        axis_name=self.axis_name,
        dtype=self.dtype,
      )(h, train)
    if self.backbone == "dcgan":
      return DCGANGenerator(
        output_shape=self.output_shape,
        base_features=self.base_features,
        upsample=self.upsample,
        conv_impl=self.conv_impl,
        axis_name=self.axis_name,
        dtype=self.dtype,
      )(h, train)
    raise ValueError(f"Unknown conditional generator backbone {self.backbone!r}; use 'mlp' or 'dcgan'.")


class ConditionalCritic(nn.Module):
  """(x [B, ...], labels [B]) -> scores [B].

  Attributes:
    num_classes: number of classes.
    conditioning: 'projection' (Miyato & Koyama 2018) or 'concat' (MLP backbone only).
    backbone: 'mlp' or 'dcgan' feature extractor phi.
    features, activation: MLP backbone options (the last width is phi's size).
    base_features, embedding, batch_norm, conv_impl: DCGAN backbone options.
    spectral_norm: spectral normalisation of every layer.
    embed_dim: class-embedding size for 'concat'.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  num_classes: int = 10
  conditioning: str = "projection"
  backbone: str = "mlp"
  features: Sequence[int] = (128, 128, 128)
  activation: str = "relu"
  base_features: int = 64
  embedding: int = 128
  batch_norm: bool = False
  spectral_norm: bool = False
  embed_dim: int = 16
  conv_impl: str = "auto"
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, inputs: tuple[jax.Array, jax.Array], train: bool = True) -> jax.Array:
    x, labels = inputs
    _check_labels(labels, x.shape[0])
    if self.conditioning == "concat":
      if self.backbone != "mlp":
        raise ValueError("conditioning='concat' needs backbone='mlp'; use 'projection' for image critics.")
      embedded = nn.Embed(self.num_classes, self.embed_dim, dtype=self.dtype)(labels)
      h = jnp.concatenate([jnp.reshape(x, (x.shape[0], -1)), embedded], -1)
      return mlp_features(self, h, train, tuple(self.features) + (1,), self.activation, self.spectral_norm)[:, 0]
    if self.conditioning != "projection":
      raise ValueError(f"Unknown conditioning {self.conditioning!r}; use 'projection' or 'concat'.")
    if self.backbone == "mlp":
      phi = jax.nn.relu(mlp_features(self, x, train, tuple(self.features), self.activation, self.spectral_norm))
    elif self.backbone == "dcgan":
      phi = DCGANCritic(
        base_features=self.base_features,
        batch_norm=self.batch_norm,
        spectral_norm=self.spectral_norm,
        output_features=self.embedding,
        conv_impl=self.conv_impl,
        axis_name=self.axis_name,
        dtype=self.dtype,
      )(x, train)
    else:
      raise ValueError(f"Unknown conditional critic backbone {self.backbone!r}; use 'mlp' or 'dcgan'.")
    unconditional = maybe_spectral(nn.Dense(1, dtype=self.dtype), self.spectral_norm, train)(phi)[:, 0]
    class_embedding = nn.Embed(self.num_classes, phi.shape[-1], dtype=self.dtype)(labels)
    return unconditional + jnp.sum(class_embedding * phi, axis=-1)
