"""Mode-coverage metrics for mixtures with known centres (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

The rules, exactly as PacGAN Sec. 5.1 states them (after VEEGAN Sec. 5.1):
  * a sample is *high quality* if its Euclidean distance to the nearest mode centre is at most `3 * std`;
  * a mode is *covered* if it is the nearest mode of at least `min_count` high-quality samples (PacGAN: 1);
  * *reverse KL* is KL(P_fake || P_real) between histograms over the modes, where every generated sample (high quality
    or not) is counted at its nearest mode and P_real is the mixture's weights (uniform here). Empty fake bins add 0.

The functions take numpy or jax arrays and return Python numbers, so they can run on the host after a run.
"""

from __future__ import annotations

import numpy as np


def nearest_mode(samples: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Nearest mode of each sample.

  Args:
    samples: [n, d] points.
    centers: [k, d] mode centres.

  Returns:
    (index [n] of the nearest centre, distance [n] to it).
  """
  samples = np.asarray(samples, np.float64)
  centers = np.asarray(centers, np.float64)
  if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
    raise ValueError(
      f"Expected samples [n, d] and centers [k, d] with the same d; got {samples.shape} and {centers.shape}."
    )
  dists = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
  index = np.argmin(dists, axis=1)
  return index, dists[np.arange(len(samples)), index]


def high_quality_mask(samples: np.ndarray, centers: np.ndarray, std: float) -> np.ndarray:
  """[n] bool: is each sample within `3 * std` of its nearest mode."""
  _, dist = nearest_mode(samples, centers)
  return dist <= 3.0 * std


def high_quality_fraction(samples: np.ndarray, centers: np.ndarray, std: float) -> float:
  """Fraction of samples within `3 * std` of their nearest mode."""
  return float(np.mean(high_quality_mask(samples, centers, std)))


def modes_covered(samples: np.ndarray, centers: np.ndarray, std: float, min_count: int = 1) -> int:
  """Number of modes that are the nearest mode of at least `min_count` high-quality samples."""
  index, dist = nearest_mode(samples, centers)
  hq = dist <= 3.0 * std
  counts = np.bincount(index[hq], minlength=len(centers))
  return int(np.sum(counts >= min_count))


def reverse_kl(samples: np.ndarray, centers: np.ndarray, weights: np.ndarray | None = None) -> float:
  """KL(P_fake || P_real) over the modes, every sample binned at its nearest mode.

  Args:
    samples: [n, d] generated points.
    centers: [k, d] mode centres.
    weights: [k] true mode probabilities; uniform when None.
  """
  index, _ = nearest_mode(samples, centers)
  k = len(centers)
  p_fake = np.bincount(index, minlength=k) / len(index)
  p_real = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
  nonzero = p_fake > 0
  return float(np.sum(p_fake[nonzero] * np.log(p_fake[nonzero] / p_real[nonzero])))


def toy_metrics(samples: np.ndarray, centers: np.ndarray, std: float) -> dict[str, float]:
  """`modes_covered`, `high_quality_fraction` and `reverse_kl` of `samples` [n, d] in one dict."""
  return {
    "modes_covered": modes_covered(samples, centers, std),
    "high_quality_fraction": high_quality_fraction(samples, centers, std),
    "reverse_kl": reverse_kl(samples, centers),
  }
