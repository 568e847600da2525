"""Tests for jaxgan.metrics.scores against references written out here, independently of the library code."""

import chex
import numpy as np
import pytest
from scipy import stats

from jaxgan.metrics import (
  classifier_accuracy,
  inception_score,
  mode_score,
  modified_inception_score,
  modified_inception_score_per_class,
)


def _random_probs(num_samples, num_classes, seed=0, temperature=1.0):
  logits = np.random.default_rng(seed).standard_normal((num_samples, num_classes)) / temperature
  probs = np.exp(logits - logits.max(axis=1, keepdims=True))
  return probs / probs.sum(axis=1, keepdims=True)


def _reference_inception_score(preds, splits):
  """openai/improved-gan's inception_score/model.py, restated."""
  scores = []
  for i in range(splits):
    part = preds[(i * preds.shape[0] // splits) : ((i + 1) * preds.shape[0] // splits), :]
    kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
    kl = np.mean(np.sum(kl, 1))
    scores.append(np.exp(kl))
  return np.mean(scores), np.std(scores)


def _reference_mis(preds):
  """exp of the mean KL over all ordered pairs, one scipy KL per pair (DeLiGAN's definition)."""
  kls = [stats.entropy(p, q) for p in preds for q in preds]
  return np.exp(np.mean(kls))


def test_inception_score_matches_reference_code():
  probs = _random_probs(503, 10, seed=1, temperature=0.3)
  chex.assert_trees_all_close(
    inception_score(probs, splits=7), _reference_inception_score(probs, 7), rtol=1e-12, atol=1e-12
  )


def test_inception_score_of_uniform_predictions_is_one():
  mean, std = inception_score(np.full((100, 10), 0.1), splits=10)
  chex.assert_trees_all_close((mean, std), (1.0, 0.0), atol=1e-12)


def test_inception_score_of_confident_uniformly_spread_predictions_is_num_classes():
  num_classes = 10
  # Cycling labels put every class equally often in each contiguous split.
  probs = np.eye(num_classes)[np.arange(1000) % num_classes]
  mean, std = inception_score(probs, splits=10)
  chex.assert_trees_all_close((mean, std), (float(num_classes), 0.0), atol=1e-9)


def test_inception_score_returns_python_floats_and_one_split_ignores_order():
  probs = _random_probs(200, 5, seed=2)
  mean, std = inception_score(probs, splits=1)
  assert type(mean) is float and type(std) is float
  assert std == 0.0
  shuffled = probs[np.random.default_rng(0).permutation(200)]
  np.testing.assert_allclose(inception_score(shuffled, splits=1)[0], mean, rtol=1e-12)


def test_inception_score_accepts_jax_arrays():
  import jax.numpy as jnp

  probs = _random_probs(100, 4, seed=3).astype(np.float32)
  np.testing.assert_allclose(inception_score(jnp.asarray(probs), splits=2)[0], inception_score(probs, splits=2)[0])


@pytest.mark.parametrize(
  "probs, splits, match",
  [
    (np.full((10,), 0.1), 1, "2-D"),
    (np.random.default_rng(0).standard_normal((20, 10)), 1, "logits"),
    (np.full((20, 10), 0.2), 1, "sum to 1"),
    (np.full((5, 10), 0.1), 10, "at least one sample per split"),
    (np.full((5, 10), 0.1), 0, "positive integer"),
    (np.full((5, 1), 1.0), 1, "num_classes >= 2"),
    (np.full((5, 2), np.nan), 1, "NaN"),
  ],
)
def test_inception_score_rejects_bad_input(probs, splits, match):
  with pytest.raises(ValueError, match=match):
    inception_score(probs, splits=splits)


def test_modified_inception_score_matches_pairwise_loop():
  probs = _random_probs(40, 6, seed=4, temperature=0.5)
  np.testing.assert_allclose(modified_inception_score(probs), _reference_mis(probs), rtol=1e-12)


def test_modified_inception_score_limits():
  # Identical predictions: every pair has KL 0.
  np.testing.assert_allclose(modified_inception_score(np.tile([[0.7, 0.2, 0.1]], (30, 1))), 1.0, rtol=1e-12)
  # Two confident classes: half of the pairs disagree, each with KL = log(1 / floor).
  probs = np.eye(2)[np.arange(10) % 2]
  np.testing.assert_allclose(modified_inception_score(probs), np.exp(0.5 * np.log(1e12)), rtol=1e-9)
  assert np.isfinite(modified_inception_score(probs))


def test_modified_inception_score_per_class_matches_authors_grouping():
  probs = _random_probs(90, 4, seed=5, temperature=0.4)
  scores = modified_inception_score_per_class(probs)
  predicted = probs.argmax(axis=1)
  assert set(scores) == set(np.unique(predicted).tolist())
  for c, score in scores.items():
    np.testing.assert_allclose(score, _reference_mis(probs[predicted == c]), rtol=1e-12)
  # With conditioning labels the groups follow the labels instead.
  labels = np.arange(90) % 3
  by_label = modified_inception_score_per_class(probs, labels)
  assert sorted(by_label) == [0, 1, 2]
  np.testing.assert_allclose(by_label[1], _reference_mis(probs[labels == 1]), rtol=1e-12)


def test_modified_inception_score_per_class_rejects_bad_labels():
  probs = _random_probs(10, 3)
  with pytest.raises(ValueError, match=r"\[0, 3\)"):
    modified_inception_score_per_class(probs, np.full(10, 3))
  with pytest.raises(ValueError, match="1-D"):
    modified_inception_score_per_class(probs, np.zeros((10, 3)))


def test_mode_score_equals_inception_score_when_class_balance_matches():
  probs = _random_probs(300, 8, seed=6, temperature=0.5)
  np.testing.assert_allclose(mode_score(probs, probs), inception_score(probs, splits=1)[0], rtol=1e-12)
  np.testing.assert_allclose(mode_score(probs, probs.mean(axis=0)), inception_score(probs, splits=1)[0], rtol=1e-12)


def test_mode_score_penalises_a_wrong_class_balance():
  fake = np.eye(2)[np.arange(100) % 2]  # Confident and balanced: IS = 2.
  real_marginal = np.array([0.9, 0.1])
  expected = np.exp(np.log(2.0) - (0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)))
  np.testing.assert_allclose(mode_score(fake, real_marginal), expected, rtol=1e-12)


def test_mode_score_rejects_mismatched_classes():
  with pytest.raises(ValueError, match="classes"):
    mode_score(_random_probs(10, 3), _random_probs(10, 4))


def test_classifier_accuracy():
  probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
  assert classifier_accuracy(probs, np.array([0, 1, 1, 1])) == 0.75
  # Logits give the same argmax.
  assert classifier_accuracy(np.log(probs), [0, 1, 1, 1]) == 0.75


@pytest.mark.parametrize(
  "labels, match",
  [
    (np.array([0, 1, 2, 1]), r"\[0, 2\)"),
    (np.array([0, 1, 1]), "1-D"),
    (np.eye(2)[[0, 1, 1, 1]], "one-hot"),
    (np.array([0.5, 1, 1, 1]), "integer"),
  ],
)
def test_classifier_accuracy_rejects_bad_labels(labels, match):
  probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
  with pytest.raises(ValueError, match=match):
    classifier_accuracy(probs, labels)
