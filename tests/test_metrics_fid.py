"""Tests for jaxgan.metrics.fid against references written out here, independently of the library code."""

import warnings

import chex
import numpy as np
import pytest
from scipy import linalg

from jaxgan.metrics import (
  feature_statistics,
  fid_from_features,
  frechet_distance,
  kernel_mmd,
  kid_from_features,
  median_heuristic_bandwidth,
)
from jaxgan.metrics.distances import squared_distances


def _reference_frechet_distance(mu1, sigma1, mu2, sigma2):
  """pytorch-fid's calculate_frechet_distance, restated: scipy.linalg.sqrtm of the product."""
  diff = mu1 - mu2
  covmean = linalg.sqrtm(sigma1.dot(sigma2))
  if not np.isfinite(covmean).all():
    offset = np.eye(sigma1.shape[0]) * 1e-6
    covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
  if np.iscomplexobj(covmean):
    assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
    covmean = covmean.real
  return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def _correlated_features(num_samples, dim, seed, shift=0.0):
  rng = np.random.default_rng(seed)
  mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
  return rng.standard_normal((num_samples, dim)) @ mixing + shift


def _loop_kernel(a, b):
  return (np.dot(a, b) / len(a) + 1.0) ** 3


def _loop_unbiased_mmd2(x, y, kernel=_loop_kernel):
  """Direct O(n^2) double loops over sample pairs."""
  n, m = len(x), len(y)
  xx = sum(kernel(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(kernel(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
  return xx + yy - 2 * xy


def test_fid_matches_sqrtm_reference():
  f1 = _correlated_features(400, 12, seed=0)
  f2 = _correlated_features(300, 12, seed=1, shift=0.3)
  mu1, sigma1 = f1.mean(0), np.cov(f1, rowvar=False)
  mu2, sigma2 = f2.mean(0), np.cov(f2, rowvar=False)
  expected = _reference_frechet_distance(mu1, sigma1, mu2, sigma2)
  np.testing.assert_allclose(fid_from_features(f1, f2), expected, rtol=1e-9)
  np.testing.assert_allclose(frechet_distance(mu1, sigma1, mu2, sigma2), expected, rtol=1e-9)


def test_feature_statistics_match_numpy():
  f = _correlated_features(50, 4, seed=2)
  mu, sigma = feature_statistics(f)
  chex.assert_trees_all_close((mu, sigma), (np.mean(f, axis=0), np.cov(f.T, ddof=1)), rtol=1e-12)


def test_fid_of_identical_sets_is_zero():
  f = _correlated_features(200, 16, seed=3)
  np.testing.assert_allclose(fid_from_features(f, f), 0.0, atol=1e-9)


def test_fid_of_shifted_gaussians_is_squared_mean_difference():
  f = _correlated_features(200, 8, seed=4)
  shift = np.linspace(-1.0, 2.0, 8)
  # A pure shift leaves the sample covariance unchanged, so only ||mu1 - mu2||^2 remains.
  np.testing.assert_allclose(fid_from_features(f, f + shift), shift @ shift, rtol=1e-9)
  sigma = np.cov(f, rowvar=False)
  np.testing.assert_allclose(frechet_distance(np.zeros(8), sigma, shift, sigma), shift @ shift, rtol=1e-9)


def test_frechet_distance_of_diagonal_gaussians_closed_form():
  a = np.array([1.0, 4.0, 0.25, 9.0])
  b = np.array([2.0, 1.0, 1.0, 0.0])  # Singular: one zero variance.
  mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  np.testing.assert_allclose(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected, rtol=1e-12)


def test_fid_with_fewer_samples_than_dims_warns_and_stays_finite_and_exact():
  dim = 64
  f1 = _correlated_features(10, dim, seed=5)
  f2 = _correlated_features(14, dim, seed=6, shift=0.5)
  with pytest.warns(UserWarning, match="singular"):
    value = fid_from_features(f1, f2)
  assert np.isfinite(value)
  # Exact reference for singular covariances: with sigma_i = A_i A_i^T, A_i = centred(f_i)^T / sqrt(n_i - 1),
  # Tr((sigma1 sigma2)^{1/2}) is the nuclear norm of A_1^T A_2, a small [n1, n2] matrix.
  c1, c2 = f1 - f1.mean(0), f2 - f2.mean(0)
  cross = c1 @ c2.T / np.sqrt((len(f1) - 1) * (len(f2) - 1))
  diff = f1.mean(0) - f2.mean(0)
  expected = (
    diff @ diff + np.sum(c1**2) / (len(f1) - 1) + np.sum(c2**2) / (len(f2) - 1) - 2 * np.sum(linalg.svdvals(cross))
  )
  np.testing.assert_allclose(value, expected, rtol=1e-8)


def _whitened(num_samples, dim, rng):
  """[num_samples, dim] samples with mean exactly 0 and sample covariance exactly the identity."""
  z = rng.standard_normal((num_samples, dim))
  z -= z.mean(0)
  cholesky = linalg.cholesky(z.T @ z / (num_samples - 1), lower=True)
  return linalg.solve_triangular(cholesky, z.T, lower=True).T


def test_fid_keeps_small_genuine_eigenvalues():
  # Sample covariances with eigenvalues i^-3 and 1.2 i^-3 (i = 1..256) in one random basis, means 1e-3 apart: the
  # closed form is ||mu1 - mu2||^2 + sum_i (sqrt(l1_i) - sqrt(l2_i))^2. The product sigma1 sigma2 has eigenvalues down
  # to 1e-14 of its largest; cutting them at dim * eps * max overstated this distance by about 10%.
  dim, num = 256, 1200
  rng = np.random.default_rng(0)
  basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
  l1 = np.arange(1, dim + 1) ** -3.0
  l2 = 1.2 * l1
  f1 = _whitened(num, dim, rng) @ (basis * np.sqrt(l1)).T
  f2 = _whitened(num, dim, rng) @ (basis * np.sqrt(l2)).T + 1e-3
  expected = dim * 1e-6 + np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2)
  np.testing.assert_allclose(fid_from_features(f1, f2), expected, rtol=1e-9)


def test_fid_with_enough_samples_does_not_warn():
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    fid_from_features(_correlated_features(20, 4, seed=7), _correlated_features(20, 4, seed=8))


@pytest.mark.parametrize(
  "args, match",
  [
    ((np.zeros((3, 4)), np.zeros((3, 5))), "same feature extractor"),
    ((np.zeros(4), np.zeros((3, 4))), "2-D"),
    ((np.zeros((1, 4)), np.zeros((3, 4))), "at least 2 samples"),
    ((np.full((3, 4), np.nan), np.zeros((3, 4))), "NaN"),
  ],
)
def test_fid_from_features_rejects_bad_input(args, match):
  with pytest.raises(ValueError, match=match):
    fid_from_features(*args)


def test_frechet_distance_rejects_bad_input():
  eye = np.eye(3)
  with pytest.raises(ValueError, match="1-D mean"):
    frechet_distance(np.zeros((1, 3)), eye, np.zeros(3), eye)
  with pytest.raises(ValueError, match=r"\[3, 3\] covariance"):
    frechet_distance(np.zeros(3), np.eye(4), np.zeros(3), eye)
  with pytest.raises(ValueError, match="mu2 has dim 4"):
    frechet_distance(np.zeros(3), eye, np.zeros(4), np.eye(4))
  with pytest.raises(ValueError, match="not symmetric"):
    frechet_distance(np.zeros(3), np.triu(np.ones((3, 3))), np.zeros(3), eye)


def test_kid_matches_direct_loop_on_whole_sets():
  f1 = _correlated_features(24, 5, seed=9)
  f2 = _correlated_features(20, 5, seed=10, shift=0.4)
  # With subset_size equal to both set sizes every subset is a permutation of the whole set.
  with pytest.warns(UserWarning, match="std over subsets is meaningless"):
    mean, std = kid_from_features(f1[:20], f2, num_subsets=3, subset_size=20)
  chex.assert_trees_all_close((mean, std), (_loop_unbiased_mmd2(f1[:20], f2), 0.0), atol=1e-12)
  # Smaller subsets: the same draws as torch-fidelity (RandomState(seed), first set then second).
  rng = np.random.RandomState(7)
  expected = []
  for _ in range(4):
    x = f1[rng.choice(24, 20, replace=False)]
    y = f2[rng.choice(20, 20, replace=False)]
    expected.append(_loop_unbiased_mmd2(x, y))
  with pytest.warns(UserWarning, match="clamped to 20"):  # f2 is whole in every subset
    kid = kid_from_features(f1, f2, num_subsets=4, subset_size=20, seed=7)
  chex.assert_trees_all_close(kid, (np.mean(expected), np.std(expected)), rtol=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted():
  f1 = _correlated_features(600, 8, seed=11)
  f2 = _correlated_features(600, 8, seed=12)
  same, _ = kid_from_features(f1[:300], f1[300:], num_subsets=10, subset_size=200)
  shifted, _ = kid_from_features(f1, f2 + 1.0, num_subsets=10, subset_size=200)
  assert abs(same) < 0.02
  assert shifted > 0.1


def test_kid_warns_and_clamps_a_subset_size_of_the_whole_set():
  f1 = _correlated_features(12, 3, seed=23)
  f2 = _correlated_features(10, 3, seed=24, shift=0.2)
  with pytest.warns(UserWarning, match=r"subset_size=50 clamped to 10.*meaningless"):
    clamped = kid_from_features(f1, f2, num_subsets=3, subset_size=50)
  with pytest.warns(UserWarning, match="subset_size=10 clamped to 10"):
    whole = kid_from_features(f1, f2, num_subsets=3, subset_size=10)
  chex.assert_trees_all_close(clamped, whole, rtol=1e-12)
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    kid_from_features(f1, f2, num_subsets=3, subset_size=9)


@pytest.mark.parametrize(
  "kwargs, match",
  [
    (dict(subset_size=1), ">= 2"),
    (dict(num_subsets=0, subset_size=5), "num_subsets"),
  ],
)
def test_kid_rejects_bad_input(kwargs, match):
  with pytest.raises(ValueError, match=match):
    kid_from_features(np.ones((10, 3)), np.ones((12, 3)), **kwargs)


def test_kernel_mmd_gaussian_matches_direct_loop():
  x = _correlated_features(15, 3, seed=13)
  y = _correlated_features(12, 3, seed=14, shift=0.5)
  bandwidth = 1.3
  gaussian = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2))
  np.testing.assert_allclose(kernel_mmd(x, y, bandwidth=bandwidth), _loop_unbiased_mmd2(x, y, gaussian), rtol=1e-10)
  biased = (
    np.mean([[gaussian(a, b) for b in x] for a in x])
    + np.mean([[gaussian(a, b) for b in y] for a in y])
    - 2 * np.mean([[gaussian(a, b) for b in y] for a in x])
  )
  np.testing.assert_allclose(kernel_mmd(x, y, bandwidth=bandwidth, unbiased=False), biased, rtol=1e-10)


def test_kernel_mmd_recipe_for_xu_et_al():
  # Xu et al.'s code, restated: exp(-d^2 / (scale * 2 sigma^2)) with sigma = 1 and scale the mean squared distance
  # between real samples (self-pairs included), and the square root of the biased estimate.
  x = _correlated_features(11, 3, seed=21)
  y = _correlated_features(9, 3, seed=22, shift=0.4)
  sq = lambda a, b: np.array([[np.sum((u - v) ** 2) for v in b] for u in a])
  scale = sq(x, x).mean()
  expected = np.sqrt(sum(np.exp(-sq(a, b) / (scale * 2)).mean() * w for a, b, w in ((x, x, 1), (y, y, 1), (x, y, -2))))
  # The docstring's recipe.
  bandwidth = np.sqrt(np.mean(squared_distances(x, x)))
  np.testing.assert_allclose(kernel_mmd(x, y, unbiased=False, bandwidth=bandwidth) ** 0.5, expected, rtol=1e-10)


def test_kernel_mmd_laplacian_and_polynomial_match_direct_loop():
  x = _correlated_features(10, 4, seed=15)
  y = _correlated_features(13, 4, seed=16, shift=-0.3)
  laplacian = lambda a, b: np.exp(-np.linalg.norm(a - b) / 0.7)
  np.testing.assert_allclose(
    kernel_mmd(x, y, kernel="laplacian", bandwidth=0.7), _loop_unbiased_mmd2(x, y, laplacian), rtol=1e-10
  )
  np.testing.assert_allclose(kernel_mmd(x, y, kernel="polynomial"), _loop_unbiased_mmd2(x, y), rtol=1e-10)


def test_kernel_mmd_median_heuristic():
  x = _correlated_features(9, 2, seed=17)
  y = _correlated_features(7, 2, seed=18)
  pooled = np.concatenate([x, y])
  distances = [np.linalg.norm(pooled[i] - pooled[j]) for i in range(16) for j in range(i + 1, 16)]
  np.testing.assert_allclose(median_heuristic_bandwidth(x, y), np.median(distances), rtol=1e-10)
  np.testing.assert_allclose(kernel_mmd(x, y), kernel_mmd(x, y, bandwidth=np.median(distances)), rtol=1e-10)


@pytest.mark.parametrize(
  "kwargs, match",
  [
    (dict(kernel="rbf"), "Unknown kernel"),
    (dict(bandwidth=0.0), "bandwidth must be > 0"),
    (dict(kernel="polynomial", bandwidth=1.0), "no bandwidth"),
  ],
)
def test_kernel_mmd_rejects_bad_input(kwargs, match):
  with pytest.raises(ValueError, match=match):
    kernel_mmd(np.random.default_rng(0).normal(size=(5, 2)), np.ones((5, 2)), **kwargs)


def test_kernel_mmd_blocks_match_whole_matrix(monkeypatch):
  from jaxgan.metrics import fid

  x = _correlated_features(23, 3, seed=19)
  y = _correlated_features(17, 3, seed=20, shift=0.2)
  whole = kernel_mmd(x, y, bandwidth=1.0)
  monkeypatch.setattr(fid, "_BLOCK_ELEMENTS", 5 * 23)  # Blocks of 5 rows against x, 6 against y.
  np.testing.assert_allclose(kernel_mmd(x, y, bandwidth=1.0), whole, rtol=1e-12)
