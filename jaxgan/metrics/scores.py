"""Scores computed from a classifier's class probabilities p(y|x) on generated samples.

* Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 4):
  IS = exp(E_x KL(p(y|x) || p(y))), where p(y) = E_x p(y|x) is the generated class marginal. Computed as the
  reference code (openai/improved-gan `inception_score/model.py`) does: over `splits` contiguous parts, reporting
  the mean and standard deviation of the per-part scores.
* Modified Inception Score (Gurumurthy et al. 2017, "DeLiGAN: Generative Adversarial Networks for Diverse and
  Limited Data"): MIS = exp(E_{x_i, x_j} KL(p(y|x_i) || p(y|x_j))), the mean over all ordered pairs (i == j
  included, as in the authors' code), which rewards diversity *within* a class; the authors report it per class.
* Mode Score (Che et al. 2017, "Mode Regularized GANs"; the form used by Xu et al. 2018, "An empirical study on
  evaluation metrics of GANs"): MS = exp(E_x KL(p(y|x) || p(y)) - KL(p(y) || p_real(y))), i.e. the (single-split)
  IS penalised when the generated class balance differs from the real one. Note that with p_real in the first KL
  the two cross-entropy terms cancel and the expression collapses to the IS, so the generated marginal is used.
* Classifier accuracy (the check for conditional GANs, Mirza & Osindero 2014): how often a sample is classified as
  the label it was generated from.

The functions take numpy or jax arrays, compute in float64 on the host and return Python floats.
"""

from __future__ import annotations

import numpy as np
from scipy import special

# Rows of a float32 softmax sum to 1 only up to rounding (~1e-6 for a thousand classes); anything further off is a
# caller bug, most often logits passed in place of probabilities.
_SUM_TOLERANCE = 1e-3

# A float32 softmax underflows to exactly 0 for confident classifiers; a KL against such a 0 is infinite. Flooring the
# distribution on the right of the KL at this value keeps the score finite and leaves it unchanged (to float64
# rounding) wherever every probability is above the floor.
_LOG_FLOOR = 1e-12


def check_probs(probs, name: str = "probs") -> np.ndarray:
  """Validates class probabilities and returns them as a float64 array.

  Args:
    probs: [num_samples, num_classes] rows of class probabilities (a softmax output).
    name: the argument's name, used in error messages.

  Returns:
    [num_samples, num_classes] float64 array.

  Raises:
    ValueError: if `probs` is not 2-D, is empty, has fewer than 2 classes, holds non-finite or negative values, or
      has rows that do not sum to 1.
  """
  probs = np.asarray(probs, dtype=np.float64)
  if probs.ndim != 2:
    raise ValueError(
      f"{name} must be a 2-D array [num_samples, num_classes] of class probabilities; got shape {probs.shape}. "
      "Stack the classifier's softmax outputs along axis 0."
    )
  if probs.shape[0] == 0:
    raise ValueError(f"{name} is empty (shape {probs.shape}); pass at least one sample.")
  if probs.shape[1] < 2:
    raise ValueError(
      f"{name} has {probs.shape[1]} class(es) (shape {probs.shape}); expected [num_samples, num_classes] with "
      "num_classes >= 2. Did you pass class indices instead of probabilities?"
    )
  if not np.all(np.isfinite(probs)):
    raise ValueError(f"{name} contains NaN or inf; check the classifier's outputs.")
  if np.min(probs) < 0:
    raise ValueError(
      f"{name} has negative entries (min {np.min(probs):.3g}); pass softmax probabilities, not logits: "
      "jax.nn.softmax(logits, axis=-1)."
    )
  worst = float(np.max(np.abs(probs.sum(axis=1) - 1.0)))
  if worst > _SUM_TOLERANCE:
    raise ValueError(
      f"Rows of {name} must sum to 1 (the worst row is off by {worst:.3g}); pass softmax probabilities, not "
      "logits: jax.nn.softmax(logits, axis=-1)."
    )
  return probs


def _mean_kl(p: np.ndarray, q: np.ndarray) -> float:
  """E_i KL(p_i || q) for p [n, C] and one distribution q [C]; 0 log 0 counts as 0."""
  return float(np.mean(np.sum(special.rel_entr(p, q[None, :]), axis=1)))


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
  """Inception Score exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` parts.

  The samples are cut into `splits` contiguous parts in the order given (part i is
  `probs[i * n // splits:(i + 1) * n // splits]`, exactly as the reference code), p(y) is each part's own mean, and
  the mean and (population, ddof=0) standard deviation of the parts' scores are returned. The result therefore
  depends on the order of the samples unless `splits=1`: pass them in generation (random) order, never sorted by
  class (a class-sorted input gives each part few classes and a far lower score). With `splits=1` the score is
  invariant to shuffling and the std is 0.

  Args:
    probs: [num_samples, num_classes] class probabilities p(y|x) of generated samples (from any classifier).
    splits: number of contiguous parts (the reference uses 10 parts of 5,000 samples).

  Returns:
    (mean, std) of the per-part scores, as Python floats. Ranges from 1 to num_classes.

  Raises:
    ValueError: on malformed `probs` (see `check_probs`), `splits < 1`, or fewer samples than splits.
  """
  probs = check_probs(probs)
  num_samples = probs.shape[0]
  if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
    raise ValueError(f"splits must be a positive integer; got {splits!r}.")
  if num_samples < splits:
    raise ValueError(
      f"inception_score needs at least one sample per split: got {num_samples} samples for splits={splits}. "
      "Pass more samples (the reference uses 50,000) or a smaller `splits`."
    )
  scores = []
  for i in range(splits):
    part = probs[i * num_samples // splits : (i + 1) * num_samples // splits]
    scores.append(np.exp(_mean_kl(part, part.mean(axis=0))))
  return float(np.mean(scores)), float(np.std(scores))


def _modified_inception_score(probs: np.ndarray) -> float:
  """DeLiGAN's score on already-validated probs [n, C]."""
  # E_{i,j} KL(p_i || p_j) = E_i sum_y p_i log p_i - sum_y p̄(y) E_j log p_j(y): O(n C) instead of the O(n^2 C) loop.
  neg_entropy = np.mean(np.sum(special.xlogy(probs, probs), axis=1))
  mean_log = np.mean(np.log(np.maximum(probs, _LOG_FLOOR)), axis=0)
  cross = np.sum(probs.mean(axis=0) * mean_log)
  return float(np.exp(neg_entropy - cross))


def modified_inception_score(probs) -> float:
  """DeLiGAN's modified Inception Score exp(E_{x_i, x_j} KL(p(y|x_i) || p(y|x_j))) over all sample pairs.

  It is 1 when all samples get the same prediction and grows when predictions differ from sample to sample; on the
  samples of one class it measures within-class diversity (see `modified_inception_score_per_class`). Entries of
  p(y|x_j) below 1e-12 are floored there, so a confident float32 classifier gives a large finite score, not inf.

  Args:
    probs: [num_samples, num_classes] class probabilities of generated samples.

  Returns:
    The score as a Python float (>= 1).

  Raises:
    ValueError: on malformed `probs` (see `check_probs`).
  """
  return _modified_inception_score(check_probs(probs))


def modified_inception_score_per_class(probs, labels=None) -> dict[int, float]:
  """Modified Inception Score of each class's samples, as the DeLiGAN authors report it.

  The authors group samples by the classifier's predicted class (`argmax`), score each group with
  `modified_inception_score`, and report the mean and (ddof=0) std over classes:
  `np.mean(list(scores.values()))`, `np.std(list(scores.values()))`. A conditional generator's samples can be
  grouped by the labels they were generated from instead, by passing `labels`.

  Args:
    probs: [num_samples, num_classes] class probabilities of generated samples.
    labels: optional [num_samples] integer class of each sample in [0, num_classes); defaults to
      `argmax(probs, axis=1)` as in the authors' code.

  Returns:
    {class index: score} for every class that has at least one sample (classes without samples are left out).

  Raises:
    ValueError: on malformed `probs` or `labels`.
  """
  probs = check_probs(probs)
  labels = probs.argmax(axis=1) if labels is None else _check_labels(labels, probs.shape)
  return {int(c): _modified_inception_score(probs[labels == c]) for c in np.unique(labels)}


def mode_score(probs, real_probs) -> float:
  """Mode Score exp(E_x KL(p(y|x) || p(y)) - KL(p(y) || p_real(y))).

  log MS = log IS(splits=1) - KL(p(y) || p_real(y)): the Inception Score of the whole set, lowered when the
  generated class marginal p(y) differs from the real one. p_real(y) is floored at 1e-12 so that a class the
  classifier never predicts on real data gives a large finite penalty, not inf.

  Args:
    probs: [num_samples, num_classes] class probabilities p(y|x) of generated samples.
    real_probs: [num_real, num_classes] class probabilities of real samples (their mean is p_real(y)), or the
      marginal p_real(y) itself as a [num_classes] vector.

  Returns:
    The score as a Python float.

  Raises:
    ValueError: on malformed inputs or a different number of classes in `probs` and `real_probs`.
  """
  probs = check_probs(probs)
  real = np.asarray(real_probs, dtype=np.float64)
  real = check_probs(real[None, :] if real.ndim == 1 else real, "real_probs")
  if real.shape[1] != probs.shape[1]:
    raise ValueError(
      f"probs has {probs.shape[1]} classes but real_probs has {real.shape[1]}; score both sets with the same "
      "classifier."
    )
  marginal = probs.mean(axis=0)
  real_marginal = np.maximum(real.mean(axis=0), _LOG_FLOOR)
  log_is = _mean_kl(probs, marginal)
  return float(np.exp(log_is - np.sum(special.rel_entr(marginal, real_marginal))))


def _check_labels(labels, probs_shape: tuple[int, int]) -> np.ndarray:
  """Validates [n] integer labels in [0, num_classes) against probs of shape [n, num_classes]."""
  labels = np.asarray(labels)
  num_samples, num_classes = probs_shape
  if labels.ndim != 1 or labels.shape[0] != num_samples:
    raise ValueError(
      f"labels must be a 1-D array [num_samples] = [{num_samples}] of class indices; got shape {labels.shape}. "
      "For one-hot labels pass labels.argmax(-1)."
    )
  if labels.dtype.kind not in "iu":
    if labels.dtype.kind != "f" or not np.all(labels == np.round(labels)):
      raise ValueError(f"labels must be integer class indices; got dtype {labels.dtype} with non-integer values.")
    labels = labels.astype(np.int64)
  if num_samples and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(
      f"labels must lie in [0, {num_classes}) to match probs' {num_classes} classes; got values in "
      f"[{labels.min()}, {labels.max()}]."
    )
  return labels


def classifier_accuracy(probs, labels) -> float:
  """Fraction of samples whose predicted class (argmax) equals the label they were generated from.

  Only the argmax is used, so logits work as well as probabilities.

  Args:
    probs: [num_samples, num_classes] class probabilities (or logits) of conditionally generated samples.
    labels: [num_samples] integer conditioning labels in [0, num_classes).

  Returns:
    Accuracy in [0, 1] as a Python float.

  Raises:
    ValueError: if shapes disagree, `probs` is not finite or `labels` are not valid class indices.
  """
  probs = np.asarray(probs)
  if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
    raise ValueError(f"probs must be a non-empty 2-D array [num_samples, num_classes >= 2]; got shape {probs.shape}.")
  if not np.all(np.isfinite(probs)):
    raise ValueError("probs contains NaN or inf; check the classifier's outputs.")
  labels = _check_labels(labels, probs.shape)
  return float(np.mean(probs.argmax(axis=1) == labels))
