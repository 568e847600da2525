"""Distances between feature distributions: Frechet (FID), kernel (KID) and kernel MMD.

* Frechet distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium"): between Gaussians fitted to two feature sets,
  d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}).
  Tr((sigma1 sigma2)^{1/2}) is the sum of the singular values of B1^T B2 for factors sigma_i = B_i B_i^T
  (Cholesky, or eigendecomposition for singular covariances), since sigma1 sigma2 is similar to
  (B1^T B2)(B1^T B2)^T: real and non-negative, so no complex round-off (the "imaginary component" crash of
  `scipy.linalg.sqrtm` in pytorch-fid) and no offset for singular covariances. A singular value is computed with an
  absolute error of about eps times the largest one, so the small ones, which are square roots of the product's
  eigenvalues, stay accurate where those eigenvalues themselves would be lost to rounding. Statistics use `np.cov`
  (ddof=1) like pytorch-fid and the TF reference.
* Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of
  MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random equal-size subsets.
* `kernel_mmd`: MMD^2 (Gretton et al. 2012, "A Kernel Two-Sample Test", Lemma 6) with a named kernel, as in
  the kernel MMD of Xu et al. 2018 ("An empirical study on evaluation metrics of GANs").

Inputs are numpy or jax arrays; everything runs in float64 on the host and returns Python floats.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from jaxgan.metrics.distances import as_features, check_same_dim, squared_distances

# Median-heuristic bandwidths are estimated on at most this many pooled points, so the cost stays O(2000^2 dim).
_MEDIAN_HEURISTIC_SAMPLES = 2000

# Elements per block when summing a kernel matrix, about 256 MiB of float64.
_BLOCK_ELEMENTS = 2**25


def _as_mean(mu, name: str) -> np.ndarray:
  mu = np.asarray(mu, dtype=np.float64)
  if mu.ndim != 1 or mu.shape[0] == 0:
    raise ValueError(
      f"{name} must be a non-empty 1-D mean vector [dim]; got shape {mu.shape}. Use "
      "feature_statistics(features) to compute it."
    )
  if not np.all(np.isfinite(mu)):
    raise ValueError(f"{name} contains NaN or inf.")
  return mu


def _as_covariance(sigma, dim: int, name: str) -> np.ndarray:
  sigma = np.asarray(sigma, dtype=np.float64)
  if sigma.shape != (dim, dim):
    raise ValueError(
      f"{name} must be a [{dim}, {dim}] covariance matching its mean; got shape {sigma.shape}. Use "
      "feature_statistics(features) to compute it."
    )
  if not np.all(np.isfinite(sigma)):
    raise ValueError(f"{name} contains NaN or inf.")
  scale = max(float(np.max(np.abs(sigma))), np.finfo(np.float64).tiny)
  asymmetry = float(np.max(np.abs(sigma - sigma.T))) / scale
  # float32 covariances are symmetric only to rounding; a real asymmetry means this is not a covariance.
  if asymmetry > 1e-5:
    raise ValueError(
      f"{name} is not symmetric (relative asymmetry {asymmetry:.2g}); pass a covariance matrix, "
      "e.g. np.cov(features, rowvar=False)."
    )
  return (sigma + sigma.T) / 2


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
  """Mean and covariance of a feature set, as the FID references compute them.

  Cache these for the real data: `frechet_distance` needs only them.

  Args:
    features: [num_samples, dim] feature vectors, num_samples >= 2.

  Returns:
    (mu [dim], sigma [dim, dim]) in float64; sigma is `np.cov(features, rowvar=False)` (ddof=1).

  Raises:
    ValueError: on malformed features or fewer than 2 samples.
  """
  features = as_features(features, "features")
  if features.shape[0] < 2:
    raise ValueError(f"A covariance needs at least 2 samples; got {features.shape[0]}.")
  return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def _psd_factor(sigma: np.ndarray) -> np.ndarray:
  """A factor B [d, d] with B B^T = sigma (to rounding) of a symmetric PSD matrix sigma [d, d]."""
  dim = sigma.shape[0]
  # eigh's eigenvalues and Cholesky's squared pivots carry absolute errors of about dim * eps * max. Below that a
  # direction is indistinguishable from a null one.
  tolerance = dim * np.finfo(np.float64).eps * float(np.max(np.abs(np.diag(sigma))))
  try:
    cholesky = linalg.cholesky(sigma, lower=True)  # a tenth of eigh's cost, for the usual full-rank covariance
    if float(np.min(np.diag(cholesky))) ** 2 > tolerance:
      return cholesky
  except linalg.LinAlgError:
    pass  # not numerically positive definite: fewer samples than dims, or constant features
  eigvals, eigvecs = linalg.eigh(sigma)
  # A rounding-level eigenvalue's square root (1e-8 for an error of 1e-16) would add noise to every null direction
  # of a singular covariance, so those are taken as exactly 0.
  return eigvecs * np.sqrt(np.where(eigvals > tolerance, eigvals, 0.0))


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """Tr((sigma1 sigma2)^{1/2}) for symmetric PSD [d, d] matrices, as the nuclear norm of B1^T B2.

  With sigma_i = B_i B_i^T, sigma1 sigma2 is similar to B1^T sigma2 B1 = (B1^T B2)(B1^T B2)^T, whose eigenvalues are
  the squared singular values of B1^T B2.
  """
  # No cut-off on the singular values: each is accurate to about eps * the largest, whereas the eigenvalues of the
  # product (their squares) are accurate only to eps * the largest squared, which loses genuine directions of
  # fast-decaying spectra.
  return float(np.sum(linalg.svdvals(_psd_factor(sigma1).T @ _psd_factor(sigma2))))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """Frechet distance ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}) between two Gaussians.

  Stable for singular covariances (fewer samples than dims): the result is finite and never crashes; it agrees with
  the `scipy.linalg.sqrtm` formula of pytorch-fid to rounding wherever that one is well defined.

  Args:
    mu1: [dim] mean of the first feature set.
    sigma1: [dim, dim] covariance of the first feature set.
    mu2: [dim] mean of the second feature set.
    sigma2: [dim, dim] covariance of the second feature set.

  Returns:
    The squared Frechet distance as a Python float (>= 0; rounding below 0 is clipped).

  Raises:
    ValueError: on wrong shapes, mismatched dims, NaN/inf or non-symmetric covariances.
  """
  mu1 = _as_mean(mu1, "mu1")
  mu2 = _as_mean(mu2, "mu2")
  if mu1.shape != mu2.shape:
    raise ValueError(
      f"mu1 has dim {mu1.shape[0]} but mu2 has dim {mu2.shape[0]}; compute both statistics with the "
      "same feature extractor (and layer)."
    )
  sigma1 = _as_covariance(sigma1, mu1.shape[0], "sigma1")
  sigma2 = _as_covariance(sigma2, mu2.shape[0], "sigma2")
  diff = mu1 - mu2
  distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * _trace_sqrt_product(sigma1, sigma2)
  # The true value is >= 0; identical statistics give +-1e-13 of rounding.
  return max(float(distance), 0.0)


def fid_from_features(f1, f2) -> float:
  """Frechet distance between Gaussians fitted to two feature sets (FID when the features are Inception pool3).

  With no more samples than feature dims a covariance is singular (rank <= num_samples - 1): the distance is still
  finite, but strongly biased upwards and not comparable with published values, so a `UserWarning` is emitted.

  Args:
    f1: [n1, dim] features of one set (e.g. real images), n1 >= 2.
    f2: [n2, dim] features of the other set (e.g. generated images), n2 >= 2.

  Returns:
    The distance as a Python float.

  Raises:
    ValueError: on malformed features, mismatched dims or fewer than 2 samples in a set.
  """
  f1 = as_features(f1, "f1")
  f2 = as_features(f2, "f2")
  check_same_dim(f1, f2, "f1", "f2")
  dim = f1.shape[1]
  for name, features in (("f1", f1), ("f2", f2)):
    if features.shape[0] < 2:
      raise ValueError(
        f"fid_from_features needs at least 2 samples per set to estimate a covariance; {name} has {features.shape[0]}."
      )
    if features.shape[0] <= dim:
      warnings.warn(
        f"fid_from_features: {name} has {features.shape[0]} samples for {dim}-d features, so its covariance is "
        "singular; the distance is finite but biased and not comparable with published values. Use more samples "
        "than feature dims (published FIDs use 50,000).",
        UserWarning,
        stacklevel=2,
      )
  return frechet_distance(*feature_statistics(f1), *feature_statistics(f2))


def _polynomial_kernel(x: np.ndarray, y: np.ndarray, bandwidth: float | None) -> np.ndarray:
  """KID's cubic kernel (x.y / dim + 1)^3 (scikit-learn's polynomial kernel with its default gamma = 1 / dim)."""
  del bandwidth  # The polynomial kernel has none.
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def _gaussian_kernel(x: np.ndarray, y: np.ndarray, bandwidth: float) -> np.ndarray:
  """exp(-||x - y||^2 / (2 bandwidth^2))."""
  return np.exp(-squared_distances(x, y) / (2.0 * bandwidth**2))


def _laplacian_kernel(x: np.ndarray, y: np.ndarray, bandwidth: float) -> np.ndarray:
  """exp(-||x - y|| / bandwidth)."""
  return np.exp(-np.sqrt(squared_distances(x, y)) / bandwidth)


_KERNELS = {
  "gaussian": _gaussian_kernel,
  "laplacian": _laplacian_kernel,
  "polynomial": _polynomial_kernel,
}


def _kernel_sums(x: np.ndarray, y: np.ndarray, kernel, bandwidth) -> tuple[float, float]:
  """(sum of all entries, trace) of the kernel matrix k(x, y) [n, m], built in row blocks to bound memory."""
  total, trace = 0.0, 0.0
  step = max(1, _BLOCK_ELEMENTS // y.shape[0])
  for start in range(0, x.shape[0], step):
    block = kernel(x[start : start + step], y, bandwidth)
    total += float(block.sum())
    trace += float(np.trace(block, offset=start))
  return total, trace


def _mmd2(x: np.ndarray, y: np.ndarray, kernel, bandwidth, unbiased: bool) -> float:
  """MMD^2 between samples x [n, d] and y [m, d]: U-statistic within sets when `unbiased`, else V-statistic."""
  n, m = x.shape[0], y.shape[0]
  xx_sum, xx_trace = _kernel_sums(x, x, kernel, bandwidth)
  yy_sum, yy_trace = _kernel_sums(y, y, kernel, bandwidth)
  xy_sum, _ = _kernel_sums(x, y, kernel, bandwidth)
  if unbiased:
    # Binkowski et al.'s 'unbiased' estimator: self-pairs dropped within each set; the cross term keeps all n m
    # pairs, which is already unbiased because x and y are independent.
    within = (xx_sum - xx_trace) / (n * (n - 1)) + (yy_sum - yy_trace) / (m * (m - 1))
  else:
    within = xx_sum / n**2 + yy_sum / m**2
  return float(within - 2.0 * xy_sum / (n * m))


def kid_from_features(f1, f2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
  """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / dim + 1)^3, averaged over random subsets.

  Each of `num_subsets` rounds draws `subset_size` rows of f1 and then of f2 without replacement, from
  `np.random.RandomState(seed)`, the same draws as torch-fidelity (whose default seed is 2020) and Binkowski et
  al.'s code make, and computes the unbiased MMD^2 of the pair. The mean is an unbiased estimate at any subset
  size, so it may be slightly negative for matching distributions; the std is the (ddof=0) spread over subsets.

  Args:
    f1: [n1, dim] features of one set (e.g. real images).
    f2: [n2, dim] features of the other set (e.g. generated images).
    num_subsets: number of random subsets (Binkowski et al. and torch-fidelity use 100).
    subset_size: rows drawn from each set per subset, >= 2; below min(n1, n2) for a meaningful std. Larger values
      are clamped to min(n1, n2) with a `UserWarning`, as is min(n1, n2) itself.
    seed: seed of the subset draws.

  Returns:
    (mean, std) of MMD^2 over the subsets, as Python floats. Often reported multiplied by 1000.

  Raises:
    ValueError: on malformed features, mismatched dims, a subset size below 2 or a subset count below 1.
  """
  f1 = as_features(f1, "f1")
  f2 = as_features(f2, "f2")
  check_same_dim(f1, f2, "f1", "f2")
  if isinstance(num_subsets, bool) or not isinstance(num_subsets, (int, np.integer)) or num_subsets < 1:
    raise ValueError(f"num_subsets must be a positive integer; got {num_subsets!r}.")
  smallest = min(f1.shape[0], f2.shape[0])
  if isinstance(subset_size, bool) or not isinstance(subset_size, (int, np.integer)) or subset_size < 2:
    raise ValueError(f"subset_size must be an integer >= 2 (the unbiased estimate needs pairs); got {subset_size!r}.")
  if subset_size >= smallest:
    # Every subset of the smaller set is then that whole set: the subsets barely differ and their std says nothing.
    warnings.warn(
      f"kid_from_features: subset_size={subset_size} clamped to {smallest}, the size of the smaller set "
      f"({f1.shape[0]} and {f2.shape[0]} samples), so the std over subsets is meaningless (0 when both sets have "
      f"{smallest}); pass subset_size < {smallest}, e.g. {max(smallest // 2, 2)}, or more samples.",
      UserWarning,
      stacklevel=2,
    )
    subset_size = smallest
  rng = np.random.RandomState(seed)
  mmds = np.empty(num_subsets)
  for i in range(num_subsets):
    x = f1[rng.choice(f1.shape[0], subset_size, replace=False)]
    y = f2[rng.choice(f2.shape[0], subset_size, replace=False)]
    mmds[i] = _mmd2(x, y, _polynomial_kernel, None, unbiased=True)
  return float(np.mean(mmds)), float(np.std(mmds))


def median_heuristic_bandwidth(x, y) -> float:
  """Median Euclidean distance between distinct points of the pooled sample [x; y] (Gretton et al. 2012).

  Pooled sets larger than 2000 points are estimated on a random subset of 2000 drawn with a fixed seed, so the
  value is deterministic.

  Args:
    x: [n, dim] samples.
    y: [m, dim] samples.

  Returns:
    The bandwidth as a Python float.

  Raises:
    ValueError: on malformed inputs, mismatched dims, or a median distance of 0 (more than half the pairs coincide).
  """
  x = as_features(x, "x")
  y = as_features(y, "y")
  check_same_dim(x, y, "x", "y")
  pooled = np.concatenate([x, y])
  if pooled.shape[0] > _MEDIAN_HEURISTIC_SAMPLES:
    pooled = pooled[np.random.default_rng(0).choice(pooled.shape[0], _MEDIAN_HEURISTIC_SAMPLES, replace=False)]
  upper = np.triu_indices(pooled.shape[0], k=1)
  bandwidth = float(np.median(np.sqrt(squared_distances(pooled, pooled)[upper])))
  if bandwidth <= 0:
    raise ValueError(
      "The median distance between pooled samples is 0 (most samples coincide); pass an explicit bandwidth > 0."
    )
  return bandwidth


def kernel_mmd(x, y, kernel: str = "gaussian", bandwidth: float | None = None, unbiased: bool = True) -> float:
  """Squared maximum mean discrepancy MMD^2 between two sample sets under a named kernel.

  Kernels: "gaussian" exp(-||x - y||^2 / (2 bandwidth^2)), "laplacian" exp(-||x - y|| / bandwidth), and
  "polynomial" (x.y / dim + 1)^3 (KID's kernel; it takes no bandwidth). For the Gaussian and Laplacian kernels a
  `bandwidth` of None uses the median heuristic (`median_heuristic_bandwidth`). Xu et al. (2018) report
  sqrt(MMD^2) of the biased estimator with the Gaussian kernel exp(-||x - y||^2 / (2 s)), s the mean squared
  distance between real samples (self-pairs included), that is bandwidth^2 = s:
  `kernel_mmd(x, y, unbiased=False, bandwidth=np.sqrt(np.mean(squared_distances(x, x)))) ** 0.5`.

  Args:
    x: [n, dim] samples (e.g. real features), n >= 2.
    y: [m, dim] samples (e.g. generated features), m >= 2.
    kernel: "gaussian", "laplacian" or "polynomial".
    bandwidth: kernel width > 0, or None for the median heuristic.
    unbiased: True for the unbiased U-statistic (can be slightly negative when the distributions match); False for
      the biased V-statistic (always >= 0).

  Returns:
    MMD^2 as a Python float.

  Raises:
    ValueError: on malformed inputs, mismatched dims, an unknown kernel, a bandwidth <= 0, a bandwidth for the
      polynomial kernel, or fewer than 2 samples per set.
  """
  if kernel not in _KERNELS:
    raise ValueError(f"Unknown kernel {kernel!r}; choose one of {sorted(_KERNELS)}.")
  x = as_features(x, "x")
  y = as_features(y, "y")
  check_same_dim(x, y, "x", "y")
  if min(x.shape[0], y.shape[0]) < 2:
    raise ValueError(f"kernel_mmd needs at least 2 samples per set; got {x.shape[0]} and {y.shape[0]}.")
  if kernel == "polynomial":
    if bandwidth is not None:
      raise ValueError("The polynomial kernel (x.y / dim + 1)^3 has no bandwidth; leave bandwidth=None.")
  elif bandwidth is None:
    bandwidth = median_heuristic_bandwidth(x, y)
  elif not bandwidth > 0:
    raise ValueError(f"bandwidth must be > 0; got {bandwidth!r}. Pass None for the median heuristic.")
  return _mmd2(x, y, _KERNELS[kernel], bandwidth, unbiased)
