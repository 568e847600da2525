"""The discriminator as a classifier: the semi-supervised GAN and AC-GAN, as options of the one train step.

* `ssgan` — Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 5. The discriminator is a K-class
  classifier (`jaxgan.nets.SemiSupervisedCritic`) whose real/fake logit is logsumexp_k l_k (the fake class's logit
  fixed at 0, so D(x) = Z / (Z + 1), Z = sum_k exp l_k). Its loss is L_supervised + L_unsupervised: the class
  cross-entropy on a small labelled batch plus the log loss of the GAN on unlabelled real and generated batches. The
  generator is trained by feature matching (Sec. 3.1): ||E f(x) - E f(G(z))||^2 over the discriminator's last hidden
  layer f. The paper's code weighs L_unsupervised by 1/2; `class_weight = 2` gives the same ratio.
* `acgan` — Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs", Sec. 3 (eqs. 2-3): a
  class-conditional generator G(z, c) and a discriminator with a source head and a class head
  (`jaxgan.nets.AuxiliaryClassifierCritic`). D minimises L_S + L_C with L_C the class cross-entropy on real images
  (their labels) and on fakes (the labels they were generated from); G minimises its adversarial loss + L_C on fakes.

The config section `config.classifier` (see `default_config`) picks one; the train step reads the `ClassHead` built
here once. This module is the head alone (its config, losses and feature matching) and imports nothing else from
jaxgan: SSGAN's labelled batches come from `jaxgan.data.labelled`, and `jaxgan.classifier_eval` measures the
discriminator as a classifier.
"""

from __future__ import annotations

import importlib
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from ml_collections.config_dict import placeholder


class ClassHead(NamedTuple):
  """How the train step uses a classifier critic; built by `head_from_config`.

  Attributes:
    name: 'ssgan' or 'acgan'.
    labelled_batch: the class loss reads a separate labelled batch (SSGAN) instead of the real batch's labels.
    classify_fakes: fakes enter both players' class losses with the labels they were generated from (AC-GAN).
    class_weight: weight of the class cross-entropy in the critic's (and, with `classify_fakes`, the generator's)
      loss.
    feature_matching: the generator minimises `feature_matching_loss` instead of its adversarial loss.
    needs_log_loss: the critic's real/fake output is a probability, trained by the log loss (`LossPair.log_loss`;
      `jaxgan.gan.build_gan` checks the config's loss).
  """

  name: str
  labelled_batch: bool
  classify_fakes: bool
  class_weight: float = 1.0
  feature_matching: bool = False
  needs_log_loss: bool = False


HEADS: dict[str, ClassHead] = {
  "ssgan": ClassHead("ssgan", labelled_batch=True, classify_fakes=False, feature_matching=True, needs_log_loss=True),
  "acgan": ClassHead("acgan", labelled_batch=False, classify_fakes=True),
}


def default_config() -> ml_collections.ConfigDict:
  """The `config.classifier` section: off by default."""
  return ml_collections.ConfigDict(
    {
      "name": "none",  # none | ssgan | acgan
      "class_weight": 1.0,  # weight of the class cross-entropy
      # the generator matches mean discriminator features (Salimans et al. 2016); unset: on for ssgan, off for acgan
      "feature_matching": placeholder(bool),
      "labelled_per_class": 10,  # ssgan: labelled training examples per class (the rest are unlabelled)
      "labelled_batch_size": 100,  # ssgan: labelled examples per critic update
    }
  )


def uses_labelled_batch(config: ml_collections.ConfigDict) -> bool:
  """True if `config` trains a semi-supervised GAN, whose batches are `SemiSupervisedBatch`es."""
  section = config.get("classifier") or {}
  return section.get("name", "none") == "ssgan"


def head_from_config(config: ml_collections.ConfigDict) -> ClassHead | None:
  """The `ClassHead` that `config.classifier` names, or None for a plain GAN.

  Raises:
    ValueError: for an unknown name or field, or a config the head does not fit (naming the field to change).
  """
  fields = dict(default_config())
  section = dict(config.get("classifier") or {})
  unknown = set(section) - set(fields)
  if unknown:
    raise ValueError(f"config.classifier has unknown fields {sorted(unknown)}; allowed: {sorted(fields)}.")
  fields.update(section)
  name, critic = fields["name"] or "none", config.critic.name
  if name == "none":
    if critic in HEADS:
      raise ValueError(
        f"config.critic.name={critic!r} is a classifier critic; set config.classifier.name={critic!r} "
        "(or choose another critic)."
      )
    if fields["feature_matching"]:
      raise ValueError(
        "config.classifier.feature_matching needs a critic that exposes its features; set "
        "config.classifier.name to 'ssgan' or 'acgan'."
      )
    return None
  if name not in HEADS:
    raise ValueError(f"Unknown config.classifier.name {name!r}; choose 'none' or one of {sorted(HEADS)}.")
  if critic != name:
    raise ValueError(f"config.classifier.name={name!r} needs the {name!r} critic; set config.critic.name={name!r}.")
  weight = float(fields["class_weight"])
  if weight < 0:
    raise ValueError(f"config.classifier.class_weight must be >= 0; got {weight}.")
  num_classes = int(config.get("num_classes", 0))
  if name == "ssgan":
    if num_classes:
      raise ValueError(
        "The semi-supervised GAN's generator is unconditional (its labels come from the labelled "
        f"subset); set config.num_classes=0 (got {num_classes}) and the classes in "
        "config.critic.classes."
      )
    for field in ("labelled_per_class", "labelled_batch_size"):
      if int(fields[field]) < 1:
        raise ValueError(f"config.classifier.{field} must be >= 1; got {fields[field]}.")
  elif num_classes < 2:
    raise ValueError(
      f"AC-GAN conditions the generator on the classes; set config.num_classes >= 2 (got "
      f"{num_classes}) and a 'conditional' generator."
    )
  head = HEADS[name]
  matching = head.feature_matching if fields["feature_matching"] is None else bool(fields["feature_matching"])
  return head._replace(class_weight=weight, feature_matching=matching)


# ------------------------------------------------------------------------------------------------------ losses


def real_fake_logit(class_logits: jax.Array) -> jax.Array:
  """logit D(x) = logsumexp_k l_k [B] from class logits [B, K]: D(x) = Z / (Z + 1), Z = sum_k exp l_k (Salimans
  et al. 2016, Sec. 5, the fake class's logit fixed at 0). `SemiSupervisedCritic` returns it as its score."""
  return jax.nn.logsumexp(class_logits, axis=-1)


def class_cross_entropy(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean -log p(y | x) over the batch, p = softmax(class_logits [B, K]), labels int [B]."""
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


def class_accuracy(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Fraction of argmax_k class_logits [B, K] equal to labels [B]."""
  return jnp.mean(jnp.argmax(class_logits, axis=-1) == labels)


def feature_matching_loss(
  real_features: jax.Array, fake_features: jax.Array, axis_name: str | None = None
) -> jax.Array:
  """||E f(x) - E f(G(z))||^2 / F (Salimans et al. 2016, Sec. 3.1; the mean over the F features, as in their code).

  Args:
    real_features: [B, F] discriminator features of a real batch.
    fake_features: [B', F] the same layer on a generated batch.
    axis_name: the mapped device axis: the expectations are then over the global batch. The loss is the same on every
      device, and its gradient, averaged over devices as the train step does, is the one-device gradient.
  """
  means = (jnp.mean(real_features, axis=0), jnp.mean(fake_features, axis=0))
  if axis_name is not None:
    means = jax.lax.pmean(means, axis_name)
  return jnp.mean((means[0] - means[1]) ** 2)


# Names this module held before its pipeline and evaluation moved out. Looked up on first use (PEP 562), so the
# head imports nothing else from jaxgan while old imports such as `semi_supervised.test_error` keep working.
_MOVED = {
  "SemiSupervisedBatch": "jaxgan.batch",
  "labelled_subset": "jaxgan.data.labelled",
  "make_batch_fn": "jaxgan.data.labelled",
  "classify": "jaxgan.classifier_eval",
  "test_error": "jaxgan.classifier_eval",
  "evaluate_run": "jaxgan.classifier_eval",
}


def __getattr__(name: str):
  if name not in _MOVED:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
  warnings.warn(
    f"jaxgan.semi_supervised.{name} moved to {_MOVED[name]}.{name}; import it from there.",
    DeprecationWarning,
    stacklevel=2,
  )
  return getattr(importlib.import_module(_MOVED[name]), name)
