"""Two-dimensional toy mixtures used to study mode collapse.

`ring8` and `grid25` follow PacGAN (Lin et al., 2018, Sec. 5.1): eight Gaussians on the unit circle with std 0.01, and
25 Gaussians on the grid {-4, -2, 0, 2, 4}^2 with std 0.05. `ring8_wgan_gp`, `grid25_wgan_gp` and `swiss_roll` follow
the WGAN-GP authors' `gan_toy.py` (Gulrajani et al., 2017): the same shapes, rescaled as in their script.

Every mixture is a pure sampler `sample(key, shape) -> [*shape, 2]`, so a run draws its data from a key and a resumed
run regenerates exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class ToyMixture(NamedTuple):
  """A 2-D distribution with known modes.

  Attributes:
    name: registry name.
    centers: [num_modes, 2] mode centres, or None for a distribution without discrete modes (the swiss roll).
    std: per-coordinate standard deviation of each mode (isotropic).
    sample: `sample(key, shape) -> [*shape, 2]` float32 samples.
    sample_labeled: `sample_labeled(key, shape) -> (samples [*shape, 2], mode index int [*shape])`, the same draws
      as `sample` with the mode of each as its class (None without discrete modes).
  """

  name: str
  centers: np.ndarray | None
  std: float
  sample: Callable[[jax.Array, tuple[int, ...]], jax.Array]
  sample_labeled: Callable[[jax.Array, tuple[int, ...]], tuple[jax.Array, jax.Array]] | None = None


def _gaussian_mixture(name: str, centers: np.ndarray, std: float) -> ToyMixture:
  centers = np.asarray(centers, np.float32)
  table = jnp.asarray(centers)

  def sample_labeled(key: jax.Array, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    k_mode, k_noise = jax.random.split(key)
    modes = jax.random.randint(k_mode, shape, 0, len(centers))
    noise = std * jax.random.normal(k_noise, (*shape, 2))
    return table[modes] + noise, modes

  return ToyMixture(name, centers, std, lambda key, shape: sample_labeled(key, shape)[0], sample_labeled)


def _ring_centers(num_modes: int, radius: float) -> np.ndarray:
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def _grid_centers(values: np.ndarray) -> np.ndarray:
  xs, ys = np.meshgrid(values, values, indexing="ij")
  return np.stack([xs.ravel(), ys.ravel()], axis=-1)


def _swiss_roll() -> ToyMixture:
  # As sklearn.datasets.make_swiss_roll(noise=0.25), keeping the (x, z) plane and dividing by 7.5 like gan_toy.py.
  def sample(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    k_t, k_noise = jax.random.split(key)
    t = 1.5 * jnp.pi * (1 + 2 * jax.random.uniform(k_t, shape))
    points = jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=-1)
    points = points + 0.25 * jax.random.normal(k_noise, (*shape, 2))
    return points / 7.5

  return ToyMixture("swiss_roll", None, 0.25 / 7.5, sample)


def _build_registry() -> dict[str, ToyMixture]:
  wgan_gp_scale = 2.0 / 1.414  # gan_toy.py: centres times 2, then every point divided by 1.414
  grid_scale = 1.0 / 2.828  # gan_toy.py: grid {-4..4}, then divided by 2.828
  return {
    "ring8": _gaussian_mixture("ring8", _ring_centers(8, 1.0), 0.01),
    "grid25": _gaussian_mixture("grid25", _grid_centers(np.arange(-4.0, 5.0, 2.0)), 0.05),
    "ring8_wgan_gp": _gaussian_mixture("ring8_wgan_gp", _ring_centers(8, 1.0) * wgan_gp_scale, 0.02 / 1.414),
    "grid25_wgan_gp": _gaussian_mixture(
      "grid25_wgan_gp", _grid_centers(np.arange(-4.0, 5.0, 2.0)) * grid_scale, 0.05 * grid_scale
    ),
    "swiss_roll": _swiss_roll(),
  }


TOY_DATASETS: dict[str, ToyMixture] = _build_registry()


def get_toy(name: str) -> ToyMixture:
  """Returns the toy mixture registered under `name`.

  Raises:
    ValueError: for an unknown name, listing the known ones.
  """
  try:
    return TOY_DATASETS[name]
  except KeyError:
    raise ValueError(f"Unknown toy dataset {name!r}; choose one of {sorted(TOY_DATASETS)}.") from None


def mode_centers(name: str) -> tuple[np.ndarray, float]:
  """Returns `(centers [num_modes, 2], std)` of a toy mixture, for the coverage metrics.

  Raises:
    ValueError: if the distribution has no discrete modes (the swiss roll).
  """
  mixture = get_toy(name)
  if mixture.centers is None:
    raise ValueError(f"Toy dataset {name!r} has no discrete modes; mode metrics do not apply to it.")
  return mixture.centers, mixture.std
