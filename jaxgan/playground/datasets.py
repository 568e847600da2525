"""The playground's 2-D datasets: the library's toy mixtures, two moons, and points a person draws on the page.

Each is a pure sampler `sample(key, shape) -> [*shape, 2]` like `jaxgan.data.toy`'s, plus the square the page shows
and, where the data has discrete modes, the centres and std that `jaxgan.metrics.toy` scores coverage against.
Two moons follows `sklearn.datasets.make_moons` (two interleaved half circles, Gaussian noise), centred at 0.
Drawn points are a dataset too: a sample picks one drawn point uniformly and adds small Gaussian noise, so each drawn
point is a mode of std `DRAWN_NOISE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data import toy

Sampler = Callable[[jax.Array, tuple[int, ...]], jax.Array]

DRAWN_EXTENT = 2.0  # the page draws on the square [-2, 2]^2
DRAWN_NOISE = 0.05  # std of the noise around each drawn point
MAX_DRAWN_POINTS = 2000


class PlaygroundData(NamedTuple):
  """A 2-D dataset as the playground uses it.

  Attributes:
    name: registry name.
    sample: `sample(key, shape) -> [*shape, 2]` float32.
    extent: the page shows the square [-extent, extent]^2.
    centers: [num_modes, 2] mode centres for the coverage metrics, or None without discrete modes.
    std: std of each mode (the metrics call a sample high quality within 3 std of its nearest centre).
  """

  name: str
  sample: Sampler
  extent: float
  centers: np.ndarray | None
  std: float


def two_moons_sampler(noise: float = 0.05) -> Sampler:
  """Two interleaved half circles (as sklearn's make_moons), shifted by (-0.5, -0.25) to centre them at 0."""

  def sample(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    k_moon, k_t, k_noise = jax.random.split(key, 3)
    t = math.pi * jax.random.uniform(k_t, shape)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=-1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=-1)
    points = jnp.where(jax.random.bernoulli(k_moon, 0.5, shape)[..., None], upper, lower)
    return points - jnp.array([0.5, 0.25]) + noise * jax.random.normal(k_noise, (*shape, 2))

  return sample


def drawn_points_sampler(points: np.ndarray, noise: float = DRAWN_NOISE) -> Sampler:
  """Uniform over the drawn `points` [M, 2], plus N(0, noise^2) per coordinate."""
  table = jnp.asarray(points, jnp.float32)

  def sample(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    k_index, k_noise = jax.random.split(key)
    index = jax.random.randint(k_index, shape, 0, table.shape[0])
    return table[index] + noise * jax.random.normal(k_noise, (*shape, 2))

  return sample


def check_points(points: Sequence[Sequence[float]] | None) -> np.ndarray:
  """The drawn points as float32 [M, 2], 1 <= M <= MAX_DRAWN_POINTS, inside the drawing square.

  Raises:
    ValueError: saying what is wrong with them.
  """
  if not points:
    raise ValueError("The 'drawn' dataset needs points: draw some on the canvas first (click or drag).")
  try:
    array = np.asarray(points, np.float64)
  except (TypeError, ValueError):
    raise ValueError("points must be a list of [x, y] number pairs.") from None
  if array.ndim != 2 or array.shape[1] != 2:
    raise ValueError(f"points must be a list of [x, y] pairs; got an array of shape {array.shape}.")
  if len(array) > MAX_DRAWN_POINTS:
    raise ValueError(f"Too many drawn points ({len(array)}); at most {MAX_DRAWN_POINTS}.")
  if not np.all(np.isfinite(array)) or np.any(np.abs(array) > DRAWN_EXTENT):
    raise ValueError(f"Drawn points must be finite and inside [-{DRAWN_EXTENT}, {DRAWN_EXTENT}]^2.")
  return array.astype(np.float32)


def _drawn(points) -> PlaygroundData:
  table = check_points(points)
  return PlaygroundData("drawn", drawn_points_sampler(table), DRAWN_EXTENT, table, DRAWN_NOISE)


def _library_toy(name: str, extent: float) -> PlaygroundData:
  mixture = toy.get_toy(name)
  return PlaygroundData(name, mixture.sample, extent, mixture.centers, mixture.std)


# name -> builder(points) -> PlaygroundData; only 'drawn' reads the points.
DATASETS: dict[str, Callable[[np.ndarray | None], PlaygroundData]] = {
  "ring8": lambda points: _library_toy("ring8", 1.6),
  "grid25": lambda points: _library_toy("grid25", 5.5),
  "swiss_roll": lambda points: _library_toy("swiss_roll", 2.2),
  "two_moons": lambda points: PlaygroundData("two_moons", two_moons_sampler(), 2.0, None, 0.05),
  "drawn": _drawn,
}

LABELS = {
  "ring8": "8 Gaussians on a ring",
  "grid25": "25 Gaussians on a grid",
  "swiss_roll": "Swiss roll",
  "two_moons": "Two moons",
  "drawn": "Draw your own",
}


def get_dataset(name: str, points: Sequence[Sequence[float]] | None = None) -> PlaygroundData:
  """The dataset registered as `name` ('drawn' samples around `points` [M, 2]).

  Raises:
    ValueError: for an unknown name or bad points.
  """
  if name not in DATASETS:
    raise ValueError(f"Unknown dataset {name!r}; choose one of {list(DATASETS)}.")
  return DATASETS[name](points)
