"""Discriminators that are also K-class classifiers: the semi-supervised GAN's and AC-GAN's.

Both return a `CriticOutput` (score [B], class_logits [B, K], features [B, F]) instead of bare scores:
* `SemiSupervisedCritic` (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 5): K logits l_k and
  no separate fake class. Fixing the fake logit at 0 gives D(x) = Z / (Z + 1) with Z = sum_k exp l_k, i.e.
  D(x) = sigmoid(logsumexp_k l_k), so `score` = logsumexp(l) is the real/fake logit every log loss takes.
* `AuxiliaryClassifierCritic` (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs",
  Sec. 3): a source head (one score) and a class head (K logits) on shared features.

`features` is the last hidden layer, the one the paper's feature matching compares (Salimans et al. 2016, Sec. 3.1).

The MLP backbone follows the paper's MNIST discriminator (its code `train_mnist_feature_matching.py`): Gaussian noise
of std 0.3 on the input and 0.5 after every hidden layer (training only), hidden widths 1000-500-250-250-250 and
weight normalisation. We simplify: ReLU hidden units, Flax's `WeightNorm` without the paper's data-dependent
initialisation, and the noise after the last hidden layer only on the way to the head (the features are taken before
it, as the paper's `layers[-3]`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nets.dcgan import DCGANCritic
from jaxgan.nets.layers import get_activation, leaky_relu, maybe_spectral

BACKBONES = ("mlp", "dcgan")


class CriticOutput(NamedTuple):
  """What a classifier critic returns.

  Attributes:
    score: [B] real/fake logit (or Wasserstein score), what the adversarial losses take.
    class_logits: [B, K] unnormalised class log-probabilities.
    features: [B, F] the last hidden layer, for feature matching.
  """

  score: jax.Array
  class_logits: jax.Array
  features: jax.Array


def _gaussian_noise(module: nn.Module, x: jax.Array, std: float, train: bool) -> jax.Array:
  """x + N(0, std^2) while training; the noise is drawn from the 'dropout' stream, like dropout masks."""
  if not train or std == 0:
    return x
  return x + std * jax.random.normal(module.make_rng("dropout"), x.shape, x.dtype)


class _ClassifierCritic(nn.Module):
  """Shared backbone of the classifier critics: x [B, ...] -> (features [B, F], head input [B, F]).

  Attributes:
    backbone: 'mlp' (the paper's MNIST discriminator) or 'dcgan' (strided convolutions, then `embedding` units).
    features: MLP hidden widths.
    activation: MLP hidden activation.
    input_noise: std of the Gaussian noise added to the input while training.
    hidden_noise: std of the Gaussian noise added after every hidden layer while training.
    weight_norm: weight normalisation (Salimans & Kingma 2016) of every dense layer, head included.
    base_features, embedding, norm, batch_norm: DCGAN backbone options (`embedding` is the feature size).
    spectral_norm: spectral normalisation of every layer.
    axis_name: mapped axis over which BatchNorm statistics are averaged.
    dtype: compute dtype of the layers (None: float32; `jnp.bfloat16` with float32 parameters and statistics).
  """

  backbone: str = "mlp"
  features: Sequence[int] = (1000, 500, 250, 250, 250)
  activation: str = "relu"
  input_noise: float = 0.0
  hidden_noise: float = 0.0
  weight_norm: bool = False
  base_features: int = 64
  embedding: int = 128
  norm: str = "none"
  batch_norm: bool = False
  spectral_norm: bool = False
  axis_name: str | None = None
  dtype: Any = None

  def dense(self, width: int, train: bool):
    layer = nn.Dense(width, dtype=self.dtype)
    if self.weight_norm:
      layer = nn.WeightNorm(layer)
    return maybe_spectral(layer, self.spectral_norm, train)

  def backbone_features(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
    if self.backbone not in BACKBONES:
      raise ValueError(
        f"Unknown classifier critic backbone {self.backbone!r}; set config.critic.backbone to one of {BACKBONES}."
      )
    h = _gaussian_noise(self, x, self.input_noise, train)
    if self.backbone == "dcgan":
      features = leaky_relu(
        DCGANCritic(
          base_features=self.base_features,
          batch_norm=self.batch_norm,
          norm=self.norm,
          spectral_norm=self.spectral_norm,
          output_features=self.embedding,
          axis_name=self.axis_name,
          dtype=self.dtype,
        )(h, train)
      )
      return features, _gaussian_noise(self, features, self.hidden_noise, train)
    act = get_activation(self.activation)
    h = jnp.reshape(h, (h.shape[0], -1))
    features = h
    for width in self.features:
      features = act(self.dense(width, train)(h))
      h = _gaussian_noise(self, features, self.hidden_noise, train)
    return features, h


def _unconditioned(inputs) -> jax.Array:
  # A conditional GAN hands every critic (x, labels); a classifier critic predicts the label instead of reading it.
  return inputs[0] if isinstance(inputs, (tuple, list)) else inputs


class SemiSupervisedCritic(_ClassifierCritic):
  """x [B, ...] -> CriticOutput with score = logsumexp(class_logits) (Salimans et al. 2016, Sec. 5).

  Attributes:
    classes: K, the number of real classes (no fake class: its logit is fixed at 0).
    (The backbone options are those of `_ClassifierCritic`.)
  """

  classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> CriticOutput:
    if self.classes < 2:
      raise ValueError(f"config.critic.classes must be >= 2; got {self.classes}.")
    features, h = self.backbone_features(_unconditioned(x), train)
    # The real/fake logit is a reduction the loss reads: computed in float32 whatever the compute dtype.
    logits = self.dense(self.classes, train)(h).astype(jnp.float32)
    return CriticOutput(jax.nn.logsumexp(logits, axis=-1), logits, features)


class AuxiliaryClassifierCritic(_ClassifierCritic):
  """x [B, ...] (or (x, labels), the labels unread) -> CriticOutput with separate source and class heads (Odena et
  al. 2017, Sec. 3).

  Attributes:
    num_classes: K, set from config.num_classes (the generator is conditioned on the same classes).
    (The backbone options are those of `_ClassifierCritic`.)
  """

  num_classes: int = 10

  @nn.compact
  def __call__(self, inputs, train: bool = True) -> CriticOutput:
    features, h = self.backbone_features(_unconditioned(inputs), train)
    score = self.dense(1, train)(h)[:, 0]
    logits = self.dense(self.num_classes, train)(h)
    return CriticOutput(score, logits, features)
