"""Tests for jaxgan.metrics.distances against references written out here, independently of the library code."""

import itertools

import numpy as np
import pytest
from scipy import special, stats

from jaxgan.metrics import distances, one_nn_accuracy, precision_recall, wasserstein_distance


def _brute_force_w1(x, y):
  """Minimum over all permutations of the mean matched Euclidean distance (tiny sets only)."""
  return min(np.mean(np.linalg.norm(x - y[list(perm)], axis=1)) for perm in itertools.permutations(range(len(y))))


def _loop_one_nn_accuracy(real, fake):
  pooled = np.concatenate([real, fake])
  labels = [1] * len(real) + [0] * len(fake)
  correct = 0
  for i, point in enumerate(pooled):
    best, best_dist = None, np.inf
    for j, other in enumerate(pooled):
      dist = np.linalg.norm(point - other)
      if j != i and dist < best_dist:
        best, best_dist = j, dist
    correct += labels[best] == labels[i]
  return correct / len(pooled)


def _loop_precision_recall(real, fake, k):
  """Per-point loops over Kynkaanniemi et al.'s definition."""

  def radii(points):
    return [sorted(np.linalg.norm(p - q) for j, q in enumerate(points) if j != i)[k - 1] for i, p in enumerate(points)]

  def fraction_inside(queries, centers, center_radii):
    return np.mean([any(np.linalg.norm(q - c) <= r for c, r in zip(centers, center_radii)) for q in queries])

  return fraction_inside(fake, real, radii(real)), fraction_inside(real, fake, radii(fake))


@pytest.mark.parametrize("sizes", [(50, 50), (40, 73)])
def test_w1_matches_scipy_in_1d(sizes):
  rng = np.random.default_rng(0)
  u = rng.normal(size=sizes[0])
  v = rng.exponential(size=sizes[1]) + 0.2
  expected = stats.wasserstein_distance(u, v)
  np.testing.assert_allclose(wasserstein_distance(u, v), expected, rtol=1e-12)
  np.testing.assert_allclose(wasserstein_distance(u[:, None], v[:, None]), expected, rtol=1e-12)
  # Sliced in 1-D projects on +-1, which leaves W1 unchanged.
  np.testing.assert_allclose(wasserstein_distance(u, v, method="sliced", num_projections=3), expected, rtol=1e-12)


def test_w1_assignment_matches_scipy_in_1d():
  rng = np.random.default_rng(1)
  u, v = rng.normal(size=(60, 1)), rng.normal(loc=0.5, size=(60, 1))
  # Route 1-D data through the assignment solver by padding a constant second coordinate.
  padded = wasserstein_distance(np.hstack([u, np.ones_like(u)]), np.hstack([v, np.ones_like(v)]), method="exact")
  np.testing.assert_allclose(padded, stats.wasserstein_distance(u[:, 0], v[:, 0]), rtol=1e-10)


def test_w1_exact_matches_brute_force_permutations():
  rng = np.random.default_rng(2)
  x, y = rng.normal(size=(6, 3)), rng.normal(loc=0.3, size=(6, 3))
  np.testing.assert_allclose(wasserstein_distance(x, y), _brute_force_w1(x, y), rtol=1e-12)
  np.testing.assert_allclose(wasserstein_distance(x, x[::-1]), 0.0, atol=1e-12)


def test_sliced_w1_of_a_shift_matches_closed_form():
  dim = 3
  x = np.random.default_rng(3).normal(size=(300, dim))
  shift = np.array([3.0, 0.0, 4.0])
  # Every projection of a shifted copy moves by |theta . t|; E|theta_1| on the sphere is
  # Gamma(d / 2) / (sqrt(pi) Gamma((d + 1) / 2)) = 1/2 in 3-D.
  e_abs = special.gamma(dim / 2) / (np.sqrt(np.pi) * special.gamma((dim + 1) / 2))
  value = wasserstein_distance(x, x + shift, method="sliced", num_projections=2000)
  np.testing.assert_allclose(value, np.linalg.norm(shift) * e_abs, rtol=0.05)
  # Projections never increase W1 (the exact value here is ||t|| = 5).
  assert value <= wasserstein_distance(x, x + shift, method="exact") + 1e-9


def test_w1_auto_switches_to_sliced_for_large_or_unequal_sets():
  rng = np.random.default_rng(4)
  x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
  sliced = wasserstein_distance(x, y, method="sliced", seed=5)
  assert wasserstein_distance(x, y, max_exact_samples=29, seed=5) == sliced
  assert wasserstein_distance(x, y, max_exact_samples=30, seed=5) == wasserstein_distance(x, y, method="exact")
  assert wasserstein_distance(x, y[:25], seed=5) == wasserstein_distance(x, y[:25], method="sliced", seed=5)
  # The sliced estimate is deterministic given its seed.
  assert wasserstein_distance(x, y, method="sliced", seed=5) == sliced


@pytest.mark.parametrize(
  "args, kwargs, match",
  [
    ((np.zeros((4, 2)), np.zeros((5, 2))), dict(method="exact"), "equal set sizes"),
    ((np.zeros((4, 2)), np.zeros((4, 3))), {}, "same feature extractor"),
    ((np.zeros((4, 2)), np.zeros((4, 2))), dict(method="emd"), "method must be"),
    ((np.zeros((4, 2, 2)), np.zeros((4, 2))), {}, "2-D"),
  ],
)
def test_w1_rejects_bad_input(args, kwargs, match):
  with pytest.raises(ValueError, match=match):
    wasserstein_distance(*args, **kwargs)


def test_one_nn_matches_direct_loop():
  rng = np.random.default_rng(6)
  real, fake = rng.normal(size=(25, 3)), rng.normal(loc=0.7, size=(25, 3))
  assert one_nn_accuracy(real, fake) == _loop_one_nn_accuracy(real, fake)


def test_one_nn_is_half_for_one_distribution_and_one_for_disjoint():
  rng = np.random.default_rng(7)
  real, fake = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
  assert abs(one_nn_accuracy(real, fake) - 0.5) < 0.06
  assert one_nn_accuracy(real, fake + 100.0) == 1.0


def test_one_nn_uses_blocks_consistently(monkeypatch):
  rng = np.random.default_rng(8)
  real, fake = rng.normal(size=(40, 2)), rng.normal(loc=0.2, size=(40, 2))
  whole = one_nn_accuracy(real, fake)
  monkeypatch.setattr(distances, "_BLOCK_ELEMENTS", 7 * 80)  # Blocks of 7 rows.
  assert one_nn_accuracy(real, fake) == whole


def test_one_nn_rejects_bad_input():
  with pytest.raises(ValueError, match="as many real as fake"):
    one_nn_accuracy(np.zeros((5, 2)), np.zeros((6, 2)))
  with pytest.raises(ValueError, match="at least 2 samples"):
    one_nn_accuracy(np.zeros((1, 2)), np.zeros((1, 2)))


def test_precision_recall_matches_direct_loop():
  rng = np.random.default_rng(9)
  real, fake = rng.normal(size=(40, 3)), rng.normal(loc=0.8, scale=0.5, size=(35, 3))
  for k in (1, 3):
    assert precision_recall(real, fake, k=k) == _loop_precision_recall(real, fake, k)


def test_precision_recall_on_toy_sets():
  rng = np.random.default_rng(10)
  real = rng.normal(size=(100, 4))
  assert precision_recall(real, real) == (1.0, 1.0)
  assert precision_recall(real, real + 1000.0) == (0.0, 0.0)
  # Real points 0..9 on a line, k=1: every real ball has radius 1. Fake {0.5, 20}: 0.5 is inside, 20 is not;
  # each fake ball has radius 19.5 and together they cover all real points.
  line = np.arange(10.0)[:, None]
  assert precision_recall(line, np.array([[0.5], [20.0]]), k=1) == (0.5, 1.0)
  # A fake point exactly on a ball's boundary (10 is at distance 1 from 9) counts as inside, as in the reference.
  assert precision_recall(line, np.array([[10.0], [30.0]]), k=1) == (0.5, 1.0)


def test_precision_recall_blocks(monkeypatch):
  rng = np.random.default_rng(11)
  real, fake = rng.normal(size=(30, 2)), rng.normal(loc=0.5, size=(30, 2))
  whole = precision_recall(real, fake)
  monkeypatch.setattr(distances, "_BLOCK_ELEMENTS", 4 * 30)
  assert precision_recall(real, fake) == whole


def test_precision_recall_rejects_bad_input():
  with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
    precision_recall(np.zeros((4, 2)), np.zeros((8, 2)), k=4)
  with pytest.raises(ValueError, match="same feature extractor"):
    precision_recall(np.zeros((8, 2)), np.zeros((8, 3)))
