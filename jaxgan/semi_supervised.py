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
here once, and the data pipeline serves SSGAN's `SemiSupervisedBatch` (`make_batch_fn`). `test_error` and
`evaluate_run` measure the discriminator as a classifier.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from ml_collections.config_dict import placeholder

_LOG_LOSSES = ("gan", "ns_gan")


class ClassHead(NamedTuple):
  """How the train step uses a classifier critic; built by `head_from_config`.

  Attributes:
    name: 'ssgan' or 'acgan'.
    labelled_batch: the class loss reads a separate labelled batch (SSGAN) instead of the real batch's labels.
    classify_fakes: fakes enter both players' class losses with the labels they were generated from (AC-GAN).
    class_weight: weight of the class cross-entropy in the critic's (and, with `classify_fakes`, the generator's)
      loss.
    feature_matching: the generator minimises `feature_matching_loss` instead of its adversarial loss.
  """

  name: str
  labelled_batch: bool
  classify_fakes: bool
  class_weight: float = 1.0
  feature_matching: bool = False


HEADS: dict[str, ClassHead] = {
    "ssgan": ClassHead("ssgan", labelled_batch=True, classify_fakes=False, feature_matching=True),
    "acgan": ClassHead("acgan", labelled_batch=False, classify_fakes=True),
}


def default_config() -> ml_collections.ConfigDict:
  """The `config.classifier` section: off by default."""
  return ml_collections.ConfigDict({
      "name": "none",               # none | ssgan | acgan
      "class_weight": 1.0,          # weight of the class cross-entropy
      # the generator matches mean discriminator features (Salimans et al. 2016); unset: on for ssgan, off for acgan
      "feature_matching": placeholder(bool),
      "labelled_per_class": 10,     # ssgan: labelled training examples per class (the rest are unlabelled)
      "labelled_batch_size": 100,   # ssgan: labelled examples per critic update
  })


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
      raise ValueError(f"config.critic.name={critic!r} is a classifier critic; set config.classifier.name={critic!r} "
                       "(or choose another critic).")
    if fields["feature_matching"]:
      raise ValueError("config.classifier.feature_matching needs a critic that exposes its features; set "
                       "config.classifier.name to 'ssgan' or 'acgan'.")
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
      raise ValueError("The semi-supervised GAN's generator is unconditional (its labels come from the labelled "
                       f"subset); set config.num_classes=0 (got {num_classes}) and the classes in "
                       "config.critic.classes.")
    if config.loss not in _LOG_LOSSES:
      raise ValueError(f"The semi-supervised GAN's D(x) = Z / (Z + 1) is a probability, trained by the log loss; set "
                       f"config.loss to one of {_LOG_LOSSES} (got {config.loss!r}).")
    for field in ("labelled_per_class", "labelled_batch_size"):
      if int(fields[field]) < 1:
        raise ValueError(f"config.classifier.{field} must be >= 1; got {fields[field]}.")
  elif num_classes < 2:
    raise ValueError(f"AC-GAN conditions the generator on the classes; set config.num_classes >= 2 (got "
                     f"{num_classes}) and a 'conditional' generator.")
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


def feature_matching_loss(real_features: jax.Array, fake_features: jax.Array, axis_name: str | None = None
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


# ------------------------------------------------------------------------------------------------------ batches


class SemiSupervisedBatch(NamedTuple):
  """One train step's data for the semi-supervised GAN (a pytree, so the parallel wrappers split every leaf along B).

  Attributes:
    unlabelled: [n_critic, B, *data_shape] real samples whose labels the model never sees.
    labelled: [n_critic, B_l, *data_shape] samples of the labelled subset.
    labels: int32 [n_critic, B_l] their classes.
  """

  unlabelled: jax.Array
  labelled: jax.Array
  labels: jax.Array


def labelled_subset(labels: np.ndarray, per_class: int, num_classes: int, seed: int) -> np.ndarray:
  """Indices [per_class * num_classes] of a class-balanced labelled subset: the first `per_class` examples of each
  class in a seeded permutation (as the paper's code picks its 100 MNIST labels).

  Raises:
    ValueError: if a class has fewer than `per_class` examples.
  """
  order = np.random.default_rng(seed).permutation(len(labels))
  chosen = []
  for k in range(num_classes):
    of_class = order[labels[order] == k][:per_class]
    if len(of_class) < per_class:
      raise ValueError(f"Class {k} has {len(of_class)} examples, fewer than config.classifier.labelled_per_class="
                       f"{per_class}; lower it.")
    chosen.append(of_class)
  return np.sort(np.concatenate(chosen))


def _num_classes(config: ml_collections.ConfigDict) -> int:
  from jaxgan.nets import SemiSupervisedCritic

  return int(config.critic.get("classes", SemiSupervisedCritic.classes))


def _toy_pools(config: ml_collections.ConfigDict, key: jax.Array, per_class: int, num_classes: int):
  """A fixed labelled set drawn from a toy mixture's modes (the mode is the class); unlabelled data stays a stream."""
  from jaxgan.data import get_toy

  mixture = get_toy(config.data.name)
  if mixture.centers is None or len(mixture.centers) != num_classes:
    modes = 0 if mixture.centers is None else len(mixture.centers)
    raise ValueError(f"A semi-supervised GAN on {config.data.name!r} classifies its modes: set config.critic.classes "
                     f"to its number of modes ({modes}).")
  labels = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)
  noise = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (len(labels), 2)))
  points = (mixture.centers[labels] + mixture.std * noise).astype(np.float32)
  sample = jax.jit(lambda step, shape: mixture.sample(jax.random.fold_in(key, step), shape), static_argnums=1)
  return points, labels, sample


def _shard_rows(batch_size: int, shard: tuple[int, int], field: str) -> slice:
  index, count = shard
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"A data shard (index, count) needs 0 <= index < count; got {shard}.")
  if batch_size % count:
    raise ValueError(f"config.{field}={batch_size} must be divisible by the process count {count}.")
  per_shard = batch_size // count
  return slice(index * per_shard, (index + 1) * per_shard)


def make_batch_fn(config: ml_collections.ConfigDict, key: jax.Array, shard: tuple[int, int] = (0, 1)
                  ) -> Callable[[int], SemiSupervisedBatch]:
  """`next_batch(step) -> SemiSupervisedBatch`, a pure function of (key, step), like `jaxgan.data.make_batch_fn`.

  Images: `config.classifier.labelled_per_class` examples of each class of the training split form the labelled
  subset (chosen by `labelled_subset` from the key); the rest of the split is the unlabelled set. Both are served as
  endless streams of seeded epoch permutations. Toy mixtures: a fixed labelled set drawn around each mode, unlabelled
  samples drawn afresh each step.

  Args:
    shard: (process index, process count): this process keeps its contiguous slice of both global batches.
  """
  from jaxgan.data import data_shape, is_toy
  from jaxgan.data.images import batch_indices, load_images, to_unit_range

  section = ml_collections.ConfigDict({**default_config().to_dict(), **dict(config.get("classifier") or {})})
  per_class, labelled_batch = int(section.labelled_per_class), int(section.labelled_batch_size)
  num_classes = _num_classes(config)
  n_critic, batch_size = int(config.n_critic), int(config.batch_size)
  rows = _shard_rows(batch_size, shard, "batch_size")
  labelled_rows = _shard_rows(labelled_batch, shard, "classifier.labelled_batch_size")
  seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
  if is_toy(config.data):
    labelled, labels, sample = _toy_pools(config, key, per_class, num_classes)
    # The whole global batch is drawn (it is cheap), so every shard count sees the same examples.
    unlabelled_batch = lambda step: sample(step, (n_critic, batch_size))[:, rows]
  else:
    images, all_labels = load_images(config.data, data_shape(config.data))
    if all_labels.min() < 0 or all_labels.max() >= num_classes:
      raise ValueError(f"Labels of {config.data.name!r} span [{all_labels.min()}, {all_labels.max()}]; set "
                       f"config.critic.classes to {all_labels.max() + 1}.")
    chosen = labelled_subset(all_labels, per_class, num_classes, seed)
    labelled, labels = to_unit_range(images[chosen]), all_labels[chosen]
    unlabelled_pool = np.delete(images, chosen, axis=0)
    if n_critic * batch_size > len(unlabelled_pool):
      raise ValueError(f"n_critic * batch_size = {n_critic * batch_size} exceeds the {len(unlabelled_pool)} "
                       "unlabelled images; lower config.batch_size.")

    def unlabelled_batch(step):
      index = batch_indices(seed, len(unlabelled_pool), step * n_critic * batch_size, n_critic * batch_size)
      return jnp.asarray(to_unit_range(unlabelled_pool[index.reshape(n_critic, batch_size)[:, rows]]))

  def next_batch(step: int) -> SemiSupervisedBatch:
    # A stream of its own (seed + 1) over the labelled set, which is tiny: each batch revisits it many times.
    index = batch_indices(seed + 1, len(labels), step * n_critic * labelled_batch, n_critic * labelled_batch)
    index = index.reshape(n_critic, labelled_batch)[:, labelled_rows]
    return SemiSupervisedBatch(unlabelled_batch(step), jnp.asarray(labelled[index]),
                               jnp.asarray(labels[index], jnp.int32))

  return next_batch


# ------------------------------------------------------------------------------------------------- evaluation


def classify(gan: Any, state: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
  """The critic's class predictions int [N] for samples [N, *data_shape] (images in [-1, 1]), in inference mode
  (no noise, BatchNorm running statistics).

  Raises:
    ValueError: if the GAN's critic is not a classifier.
  """
  from jaxgan.nets import CriticOutput

  probe = jax.eval_shape(lambda p, s, x: gan.critic.apply(p, s, _inputs(gan, x), False)[0], state.d_params,
                         state.d_state, jax.ShapeDtypeStruct((1, *gan.data_shape), jnp.float32))
  if not isinstance(probe, CriticOutput):
    raise ValueError("This GAN's critic has no class head; train with config.classifier.name='ssgan' or 'acgan'.")
  predict = jax.jit(lambda p, s, x: jnp.argmax(gan.critic.apply(p, s, _inputs(gan, x), False)[0].class_logits, -1))
  images = np.asarray(images, np.float32)
  out = []
  for start in range(0, len(images), batch_size):
    chunk = images[start:start + batch_size]
    padded = np.resize(chunk, (batch_size, *chunk.shape[1:])) if len(chunk) < batch_size else chunk
    out.append(np.asarray(predict(state.d_params, state.d_state, padded))[:len(chunk)])
  return np.concatenate(out) if out else np.zeros((0,), np.int64)


def _inputs(gan: Any, x: jax.Array):
  # An AC-GAN critic is called as a conditional net, (x, labels); it does not read the labels.
  return (x, jnp.zeros((x.shape[0],), jnp.int32)) if gan.num_classes else x


def test_error(gan: Any, state: Any, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> float:
  """Classification error of the critic: the fraction of images [N, *data_shape] in [-1, 1] whose predicted class
  differs from labels [N]."""
  if len(images) != len(labels) or len(images) == 0:
    raise ValueError(f"test_error needs as many labels as images (> 0); got {len(images)} and {len(labels)}.")
  return float(np.mean(classify(gan, state, images, batch_size) != np.asarray(labels)))


test_error.__test__ = False  # a library function, not a pytest test


def _labelled_test_set(config: ml_collections.ConfigDict, data_overrides: dict[str, Any] | None,
                       num_toy: int) -> tuple[np.ndarray, np.ndarray]:
  """(samples [N, *data_shape] in the data's range, labels [N]): the test split of an image dataset, or `num_toy`
  fresh draws of a toy mixture labelled by their mode."""
  from jaxgan.data import data_shape, get_toy, is_toy
  from jaxgan.data.images import load_images, to_unit_range

  if is_toy(config.data):
    mixture = get_toy(config.data.name)
    if mixture.sample_labeled is None:
      raise ValueError(f"Toy dataset {config.data.name!r} has no modes to classify.")
    samples, labels = mixture.sample_labeled(jax.random.key(12345), (num_toy,))  # not a key any run draws from
    return np.asarray(samples), np.asarray(labels)
  data = ml_collections.ConfigDict(config.data.to_dict())
  data.update({k: v for k, v in (data_overrides or {}).items() if v is not None})
  data.split, data.max_examples = "test", 0
  images, labels = load_images(data, data_shape(config.data))
  return to_unit_range(images), labels


def evaluate_run(workdir: str | os.PathLike, data_overrides: dict[str, Any] | None = None,
                 batch_size: int = 1000, num_toy: int = 10_000) -> dict[str, Any]:
  """Test-set classification error of a run's newest checkpoint; writes and returns `workdir/classifier_eval.json`.

  Args:
    workdir: the run directory (config.json, checkpoints/).
    data_overrides: fields replacing the run's `config.data` (e.g. `data_dir`, `manual_dir` on another machine).
    batch_size: samples per compiled batch.
    num_toy: test samples drawn from a toy mixture (image datasets use their whole test split).
  """
  from jaxgan.evaluation import load_run

  config, gan, state, step = load_run(workdir)
  samples, labels = _labelled_test_set(config, data_overrides, num_toy)
  error = test_error(gan, state, samples, labels, batch_size)
  results = {"test_error": error, "num_test": int(len(labels)), "step": int(step), "config": config.name}
  (Path(workdir) / "classifier_eval.json").write_text(json.dumps(results, indent=2))
  return results
