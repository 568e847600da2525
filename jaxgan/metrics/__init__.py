"""Pure metric functions: `from jaxgan.metrics import <name>`."""

from jaxgan.metrics.distances import one_nn_accuracy, precision_recall, wasserstein_distance
from jaxgan.metrics.fid import (
  feature_statistics,
  fid_from_features,
  frechet_distance,
  kernel_mmd,
  kid_from_features,
  median_heuristic_bandwidth,
)
from jaxgan.metrics.scores import (
  classifier_accuracy,
  inception_score,
  mode_score,
  modified_inception_score,
  modified_inception_score_per_class,
)
from jaxgan.metrics.toy import high_quality_fraction, modes_covered, nearest_mode, reverse_kl, toy_metrics

__all__ = [
  "classifier_accuracy",
  "feature_statistics",
  "fid_from_features",
  "frechet_distance",
  "high_quality_fraction",
  "inception_score",
  "kernel_mmd",
  "kid_from_features",
  "median_heuristic_bandwidth",
  "mode_score",
  "modes_covered",
  "modified_inception_score",
  "modified_inception_score_per_class",
  "nearest_mode",
  "one_nn_accuracy",
  "precision_recall",
  "reverse_kl",
  "toy_metrics",
  "wasserstein_distance",
]
