"""The two-argument discriminator of the Turing-test GANs (Su 2018, "Training Generative Adversarial Networks Via
Turing Test", arXiv:1810.10948, Sec. 3): T(x_r, x_f) = D(E(x_r) - E(x_f)), an encoder E shared by both arguments
and a small MLP head D, spectrally normalised throughout (the Lipschitz constraint of T-WGAN, eq. 17).

The module takes the pair stacked as x [2, B, ...] (real first, fake second) and returns (T(x_r, x_f), T(x_f, x_r)),
each [B], pairing the i-th real with the i-th fake sample. With a linear head and no bias, T(x_r, x_f) is
C(x_r) - C(x_f), and T-SGAN reduces to twice RSGAN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.dcgan import DCGANCritic
from jaxgan.nets.mlp import mlp_features


class TPairCritic(nn.Module):
  """x [2, B, ...] = (real, fake) -> (T(real, fake) [B], T(fake, real) [B]).

  Attributes:
    encoder: 'mlp' (for vectors) or 'dcgan' (for images).
    features: MLP encoder widths (its last width is the embedding size).
    base_features: DCGAN encoder channels.
    embedding: DCGAN encoder output size.
    head_features: hidden widths of the head D (its output is one score).
    activation: MLP activation name.
    spectral_norm: spectral normalisation of E and D.
    dtype: compute dtype of E and D (None: float32; `jnp.bfloat16` with float32 parameters and spectral norms).
  """

  pairwise = True  # the train step scores (real, fake) pairs through one call

  encoder: str = "mlp"
  features: Sequence[int] = (128, 128)
  base_features: int = 64
  embedding: int = 128
  head_features: Sequence[int] = (128,)
  activation: str = "relu"
  spectral_norm: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> tuple[jax.Array, jax.Array]:
    if x.shape[0] != 2:
      raise ValueError(f"TPairCritic expects the pair stacked as [2, B, ...]; got shape {x.shape}.")
    batch = x.shape[1]
    both = jnp.reshape(x, (2 * batch, *x.shape[2:]))
    if self.encoder == "mlp":
      codes = mlp_features(self, both, train, tuple(self.features), self.activation, self.spectral_norm)
    elif self.encoder == "dcgan":
      codes = DCGANCritic(
        self.base_features, spectral_norm=self.spectral_norm, output_features=self.embedding, dtype=self.dtype
      )(both, train)
    else:
      raise ValueError(f"Unknown T-GAN encoder {self.encoder!r}; use 'mlp' or 'dcgan'.")
    real, fake = codes[:batch], codes[batch:]
    head = _Head(tuple(self.head_features), self.activation, self.spectral_norm, self.dtype)
    return head(real - fake, train), head(fake - real, train)


class _Head(nn.Module):
  features: Sequence[int]
  activation: str
  spectral_norm: bool
  dtype: Any = None

  @nn.compact
  def __call__(self, h: jax.Array, train: bool) -> jax.Array:
    return mlp_features(self, h, train, tuple(self.features) + (1,), self.activation, self.spectral_norm)[:, 0]
