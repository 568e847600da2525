import chex
import jax
import numpy as np
import pytest

from jaxgan.data import get_toy, mode_centers
from jaxgan.metrics import high_quality_fraction, modes_covered, reverse_kl, toy_metrics


def test_pacgan_grid_and_ring_geometry():
  grid, grid_std = mode_centers("grid25")
  ring, ring_std = mode_centers("ring8")
  assert grid.shape == (25, 2) and grid_std == 0.05
  assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
  assert ring.shape == (8, 2) and ring_std == 0.01
  chex.assert_trees_all_close(np.linalg.norm(ring, axis=1), np.ones(8, np.float32), atol=1e-6)


@pytest.mark.parametrize("name", ["ring8", "grid25", "ring8_wgan_gp", "grid25_wgan_gp"])
def test_samples_cover_every_mode_with_the_stated_std(name):
  mixture = get_toy(name)
  x = np.asarray(mixture.sample(jax.random.key(0), (20000,)))
  assert modes_covered(x, mixture.centers, mixture.std) == len(mixture.centers)
  # Within 3 std in 2-D: P(chi2_2 <= 9) = 1 - exp(-4.5) = 0.9889.
  assert abs(high_quality_fraction(x, mixture.centers, mixture.std) - (1 - np.exp(-4.5))) < 0.005
  assert reverse_kl(x, mixture.centers) < 0.01
  residual = x - mixture.centers[np.argmin(np.linalg.norm(x[:, None] - mixture.centers[None], axis=-1), axis=1)]
  assert abs(residual.std() - mixture.std) / mixture.std < 0.05


def test_swiss_roll_has_no_modes():
  x = get_toy("swiss_roll").sample(jax.random.key(0), (100,))
  chex.assert_shape(x, (100, 2))
  with pytest.raises(ValueError, match="no discrete modes"):
    mode_centers("swiss_roll")


def test_metrics_on_hand_made_samples():
  centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
  std = 0.1
  # Three samples on mode 0 (two high quality), one on mode 1, none near modes 2 and 3.
  samples = np.array([[0.0, 0.1], [0.2, 0.0], [1.0, 1.0], [10.0, 0.25]])
  assert modes_covered(samples, centers, std) == 2
  assert modes_covered(samples, centers, std, min_count=2) == 1
  assert high_quality_fraction(samples, centers, std) == 0.75
  expected_kl = 0.75 * np.log(0.75 / 0.25) + 0.25 * np.log(0.25 / 0.25)
  chex.assert_trees_all_close(reverse_kl(samples, centers), expected_kl, rtol=1e-12)
  assert set(toy_metrics(samples, centers, std)) == {"modes_covered", "high_quality_fraction", "reverse_kl"}


def test_unknown_toy_name():
  with pytest.raises(ValueError, match="grid25"):
    get_toy("grid26")
