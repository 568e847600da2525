"""Sample-based distances between a real and a generated set of feature vectors.

* `wasserstein_distance`: the 1-Wasserstein (earth mover's) distance between the two empirical distributions, as
  used by Xu et al. 2018 ("An empirical study on evaluation metrics of GANs"). It is exact in 1-D (by sorting) and
  for equal-size sets (the optimal plan between two uniform empirical measures of equal size is a permutation, by
  Birkhoff's theorem, found with `scipy.optimize.linear_sum_assignment`); large or unequal sets use the sliced
  1-Wasserstein distance (Rabin et al. 2011) over seeded random directions.
* `one_nn_accuracy`: the leave-one-out 1-nearest-neighbour two-sample test (Lopez-Paz & Oquab 2017; Xu et al. 2018):
  0.5 when the sets are indistinguishable, 1.0 when they are disjoint.
* `precision_recall`: improved precision and recall (Kynkaanniemi et al. 2019, Sec. 2): each set's manifold is the
  union of balls around its samples with radius the distance to the k-th nearest neighbour in the same set;
  precision is the fraction of generated samples inside the real manifold and recall the fraction of real samples
  inside the generated one.

Pairwise distances are computed in float64 on the host, in row blocks so memory stays bounded for large sets; all
functions return Python floats.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.spatial import distance as scipy_distance

# Rows per block of a pairwise-distance matrix, chosen so one block of float64 distances takes about 256 MiB.
_BLOCK_ELEMENTS = 2**25


def as_features(x, name: str) -> np.ndarray:
  """Validates a set of feature vectors and returns it as a float64 [num_samples, dim] array.

  Args:
    x: [num_samples, dim] feature vectors.
    name: the argument's name, used in error messages.

  Raises:
    ValueError: if `x` is not 2-D, is empty or holds NaN/inf.
  """
  x = np.asarray(x, dtype=np.float64)
  if x.ndim != 2:
    raise ValueError(
      f"{name} must be a 2-D array [num_samples, dim]; got shape {x.shape}. Flatten images with "
      f"x.reshape(len(x), -1), or use x[:, None] for scalar samples."
    )
  if x.shape[0] == 0 or x.shape[1] == 0:
    raise ValueError(f"{name} is empty (shape {x.shape}); pass at least one sample with at least one feature.")
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{name} contains NaN or inf; check the feature extractor's outputs.")
  return x


def check_same_dim(x: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> None:
  """Raises a ValueError unless the [n, d] arrays `x` and `y` have the same feature dimension d."""
  if x.shape[1] != y.shape[1]:
    raise ValueError(
      f"{x_name} has {x.shape[1]} features per sample but {y_name} has {y.shape[1]}; extract both sets with the "
      "same feature extractor (and the same layer)."
    )


def squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """[n, m] squared Euclidean distances between the rows of x [n, d] and y [m, d].

  Uses ||x||^2 + ||y||^2 - 2 x.y (one matrix product, as the reference implementations do), clipped at 0 against
  rounding.
  """
  sq = np.sum(x * x, axis=1)[:, None] + np.sum(y * y, axis=1)[None, :] - 2.0 * (x @ y.T)
  return np.maximum(sq, 0.0)


def _row_blocks(num_rows: int, num_cols: int):
  """Yields slices of about `_BLOCK_ELEMENTS / num_cols` rows covering range(num_rows)."""
  step = max(1, _BLOCK_ELEMENTS // max(num_cols, 1))
  for start in range(0, num_rows, step):
    yield slice(start, min(start + step, num_rows))


def _kth_neighbor_sq_radius(x: np.ndarray, k: int) -> np.ndarray:
  """[n] squared distance from each row of x [n, d] to its k-th nearest other row (self excluded)."""
  radii = np.empty(x.shape[0])
  for rows in _row_blocks(x.shape[0], x.shape[0]):
    sq = squared_distances(x[rows], x)
    # Excluding self by index (not by distance 0) keeps exact duplicates as neighbours, as the reference does.
    sq[np.arange(sq.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
    radii[rows] = np.partition(sq, k - 1, axis=1)[:, k - 1]
  return radii


def _fraction_inside(queries: np.ndarray, centers: np.ndarray, sq_radii: np.ndarray) -> float:
  """Fraction of queries [q, d] within the ball of some centre [c, d] (ball i has squared radius sq_radii[i])."""
  inside = np.zeros(queries.shape[0], dtype=bool)
  for rows in _row_blocks(queries.shape[0], centers.shape[0]):
    inside[rows] = np.any(squared_distances(queries[rows], centers) <= sq_radii[None, :], axis=1)
  return float(np.mean(inside))


def precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
  """Improved precision and recall of Kynkaanniemi et al. (2019) with k-nearest-neighbour manifolds.

  A sample lies in a set's manifold when it is within distance r_i of some sample i of that set, where r_i is the
  distance from sample i to its k-th nearest neighbour in its own set (boundary included, as the reference code).

  Args:
    real_feats: [num_real, dim] features of real samples.
    fake_feats: [num_fake, dim] features of generated samples.
    k: neighbourhood size (the paper uses 3).

  Returns:
    (precision, recall) as Python floats in [0, 1]: precision is the fraction of generated samples in the real
    manifold (quality), recall the fraction of real samples in the generated manifold (coverage).

  Raises:
    ValueError: on malformed features, different dims, or k not in [1, min(num_real, num_fake) - 1].
  """
  real = as_features(real_feats, "real_feats")
  fake = as_features(fake_feats, "fake_feats")
  check_same_dim(real, fake, "real_feats", "fake_feats")
  smallest = min(real.shape[0], fake.shape[0])
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < smallest:
    raise ValueError(
      f"k must be an integer in [1, {smallest - 1}] (each sample needs k other samples in its set); got k={k!r} "
      f"with {real.shape[0]} real and {fake.shape[0]} fake samples. Pass more samples or a smaller k."
    )
  precision = _fraction_inside(fake, real, _kth_neighbor_sq_radius(real, k))
  recall = _fraction_inside(real, fake, _kth_neighbor_sq_radius(fake, k))
  return precision, recall


def one_nn_accuracy(real, fake) -> float:
  """Leave-one-out accuracy of the 1-nearest-neighbour classifier separating real from generated samples.

  Every sample of the pooled set is labelled by its nearest other sample (Euclidean; ties go to the lower index
  in [real; fake]). 0.5 is ideal (the sets look alike); values near 1.0 mean the sets are separable; values well
  below 0.5 mean the generator copies the real samples (each fake sample's nearest neighbour is a real one).

  Args:
    real: [n, dim] real samples or features.
    fake: [n, dim] generated samples or features, as many as `real` (with unequal sizes the larger set's density
      biases the classifier and 0.5 would no longer be the ideal).

  Returns:
    Accuracy in [0, 1] as a Python float.

  Raises:
    ValueError: on malformed inputs, different dims, different set sizes or fewer than 2 samples per set.
  """
  real = as_features(real, "real")
  fake = as_features(fake, "fake")
  check_same_dim(real, fake, "real", "fake")
  if real.shape[0] != fake.shape[0]:
    raise ValueError(
      f"one_nn_accuracy needs as many real as fake samples; got {real.shape[0]} and {fake.shape[0]}. Subsample "
      "the larger set, e.g. real[:len(fake)]."
    )
  if real.shape[0] < 2:
    raise ValueError(f"one_nn_accuracy needs at least 2 samples per set; got {real.shape[0]}.")
  pooled = np.concatenate([real, fake])
  is_real = np.arange(pooled.shape[0]) < real.shape[0]
  correct = 0
  for rows in _row_blocks(pooled.shape[0], pooled.shape[0]):
    sq = squared_distances(pooled[rows], pooled)
    sq[np.arange(sq.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
    correct += int(np.sum(is_real[np.argmin(sq, axis=1)] == is_real[rows]))
  return correct / pooled.shape[0]


def _wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
  """Exact W1 between the empirical distributions of 1-D samples u [n] and v [m]: the integral of |F_u - F_v|."""
  u = np.sort(u)
  v = np.sort(v)
  if u.shape[0] == v.shape[0]:
    # Equal sizes: the quantile functions are step functions on the same grid.
    return float(np.mean(np.abs(u - v)))
  values = np.sort(np.concatenate([u, v]))
  cdf_u = np.searchsorted(u, values[:-1], side="right") / u.shape[0]
  cdf_v = np.searchsorted(v, values[:-1], side="right") / v.shape[0]
  return float(np.sum(np.abs(cdf_u - cdf_v) * np.diff(values)))


def _sliced_wasserstein(x: np.ndarray, y: np.ndarray, num_projections: int, seed: int) -> float:
  """Monte-Carlo sliced W1: mean over seeded uniform directions theta of W1(x.theta, y.theta)."""
  directions = np.random.default_rng(seed).standard_normal((num_projections, x.shape[1]))
  directions /= np.linalg.norm(directions, axis=1, keepdims=True)
  x_proj = x @ directions.T
  y_proj = y @ directions.T
  return float(np.mean([_wasserstein_1d(x_proj[:, i], y_proj[:, i]) for i in range(num_projections)]))


def wasserstein_distance(
  x, y, method: str = "auto", max_exact_samples: int = 2000, num_projections: int = 256, seed: int = 0
) -> float:
  """1-Wasserstein distance between the empirical distributions of two sample sets (Euclidean ground cost).

  Methods:
    * "exact": exact W1. In 1-D (dim == 1) by sorting, for any set sizes. Otherwise the sets must have equal size
      and W1 is the mean matched distance of the optimal assignment (`scipy.optimize.linear_sum_assignment`),
      O(n^2 dim) memory and time for the cost matrix plus O(n^3) for the assignment (about 1 s at n = 2000).
    * "sliced": the sliced 1-Wasserstein distance E_theta W1(x.theta, y.theta) over `num_projections` directions
      drawn uniformly on the unit sphere from `seed`; O(n dim num_projections). It is a different quantity: it
      never exceeds W1 and for high `dim` is smaller by about sqrt(2 / (pi dim)) (for a pure shift t it tends to
      ||t|| E|theta_1|), so compare sliced values only with sliced values. In 1-D it equals W1.
    * "auto" (default): "exact" in 1-D, or when both sets have the same size n <= `max_exact_samples`; otherwise
      "sliced". The switch is on set size only: the exact cost grows as n^3 but only linearly with dim, so
      high-dim sets of moderate size stay exact, while large sets (and unequal ones, which have no assignment)
      go sliced. Pin `method` when comparing runs whose sample counts straddle the threshold.

  Args:
    x: [n, dim] samples (or [n] scalars).
    y: [m, dim] samples (or [m] scalars).
    method: "auto", "exact" or "sliced".
    max_exact_samples: largest equal set size that "auto" solves exactly.
    num_projections: number of random directions of the sliced estimate.
    seed: seed of the random directions (the sliced result is deterministic given it).

  Returns:
    The distance as a Python float.

  Raises:
    ValueError: on malformed inputs, different dims, an unknown method, or "exact" on unequal sets in dim > 1.
  """
  x = np.asarray(x, dtype=np.float64)
  y = np.asarray(y, dtype=np.float64)
  x = as_features(x[:, None] if x.ndim == 1 else x, "x")
  y = as_features(y[:, None] if y.ndim == 1 else y, "y")
  check_same_dim(x, y, "x", "y")
  if method not in ("auto", "exact", "sliced"):
    raise ValueError(f"method must be 'auto', 'exact' or 'sliced'; got {method!r}.")
  if method == "sliced":
    if num_projections < 1:
      raise ValueError(f"num_projections must be >= 1; got {num_projections}.")
    return _sliced_wasserstein(x, y, num_projections, seed)
  if x.shape[1] == 1:
    return _wasserstein_1d(x[:, 0], y[:, 0])
  equal = x.shape[0] == y.shape[0]
  if method == "exact" and not equal:
    raise ValueError(
      f"Exact W1 in {x.shape[1]} dims needs equal set sizes (an optimal assignment); got {x.shape[0]} and "
      f"{y.shape[0]}. Subsample to the same size or use method='sliced'."
    )
  if method == "auto" and (not equal or x.shape[0] > max_exact_samples):
    return wasserstein_distance(x, y, method="sliced", num_projections=num_projections, seed=seed)
  cost = scipy_distance.cdist(x, y)  # Direct differences: exact even for near-coincident points.
  rows, cols = optimize.linear_sum_assignment(cost)
  return float(np.mean(cost[rows, cols]))
