"""One playground run: the library's GAN and train step, the two half steps the toolbar offers, and frames.

A `Program` holds what a config compiles to, an `Engine` one run of it (state, keys, counters).
`Engine.step()` is `jaxgan.train.make_train_step` itself (n_critic critic updates, then the generator's), jitted once
with the state donated. The toolbar's "D only" and "G only" buttons run one player's update alone: the library's own
half steps, `jaxgan.updates.critic_update` and `generator_update`, on a fresh real batch.

`Engine.frame()` renders what the page draws in one jitted call: real and fake samples, the critic on a coarse grid
over the view (the heat-map), the generator's image of a latent grid (its manifold), and, on each fake point, the
direction the generator's loss pushes it, -dL_G/dx (parallel to d critic/dx for every loss here, and as long as the
loss makes it: the minimax GAN's arrows shrink where its loss saturates). The host adds the toy coverage metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special
import ml_collections
import numpy as np

from jaxgan import train, updates
from jaxgan.batch import Batch
from jaxgan.metrics.toy import toy_metrics
from jaxgan.playground.datasets import PlaygroundData
from jaxgan.priors import deligan_sigma

HEAT_SIZE = 40  # the heat-map is the critic on a HEAT_SIZE x HEAT_SIZE grid
SHOWN_POINTS = 256  # real and fake points (with arrows) sent to the page
METRIC_SAMPLES = 1000  # fake samples the coverage metrics count
GRID_LINES = 11  # latent grid lines per axis for the manifold
GRID_POINTS = 33  # points along each line
PAIR_REFERENCES = 16  # a pair critic's heat at x is the mean of T(x, f) over this many fakes f


def _latent_normal(params, u):
  del params
  return jax.scipy.special.ndtri(0.02 + 0.96 * u)  # equal-probability grid lines


def _latent_uniform(params, u):
  del params
  return 2.0 * u - 1.0


def _latent_deligan(params, u):
  spread = 2.0 * deligan_sigma(params)
  low = jnp.min(params["mu"] - spread, axis=0)
  high = jnp.max(params["mu"] + spread, axis=0)
  return low + (high - low) * u


# prior name -> (prior_params, u in [0, 1]^2) -> z: the latent square the manifold grid covers.
LATENT_GRIDS: dict[str, Callable[[Any, jax.Array], jax.Array]] = {
  "normal": _latent_normal,
  "uniform": _latent_uniform,
  "deligan": _latent_deligan,
}


def _unit_grid_lines() -> np.ndarray:
  """[2 * GRID_LINES, GRID_POINTS, 2] lines of constant u_1, then of constant u_0, in [0, 1]^2."""
  t = np.linspace(0.0, 1.0, GRID_POINTS)
  levels = np.linspace(0.0, 1.0, GRID_LINES)
  first = np.stack(
    [np.broadcast_to(levels[:, None], (GRID_LINES, GRID_POINTS)), np.broadcast_to(t, (GRID_LINES, GRID_POINTS))],
    axis=-1,
  )
  return np.concatenate([first, first[..., ::-1]]).astype(np.float32)


def _scores(gan: train.GAN, d_params, d_state, real, fake, training: bool):
  """(real_scores, fake_scores, d_state) as the train step scores them; a pair critic gives T(r, f), T(f, r)."""
  if gan.critic.pairwise:
    (t_rf, t_fr), d_state = gan.critic.apply(d_params, d_state, jnp.stack([real, fake]), training)
    return t_rf, t_fr, d_state
  real_scores, d_state = gan.critic.apply(d_params, d_state, real, training)
  fake_scores, d_state = gan.critic.apply(d_params, d_state, fake, training)
  return real_scores, fake_scores, d_state


def _latents(gan: train.GAN, prior_params, key: jax.Array, num: int) -> jax.Array:
  return train.sample_latents(gan, prior_params, train.example_keys(key, num, None))


def render(gan: train.GAN, data: PlaygroundData, prior: str, state: train.GANState, key: jax.Array):
  """Everything one frame draws, as device arrays (see the module docstring)."""
  real_key, z_key = jax.random.split(key)
  real = data.sample(real_key, (SHOWN_POINTS,))
  z = _latents(gan, state.prior_params, z_key, METRIC_SAMPLES)
  fake = gan.generator.apply(state.g_params, state.g_state, z, False)[0]
  shown = fake[:SHOWN_POINTS]

  axis = jnp.linspace(-data.extent, data.extent, HEAT_SIZE)
  xs, ys = jnp.meshgrid(axis, axis)  # row i is y = axis[i]
  grid = jnp.stack([xs.ravel(), ys.ravel()], axis=-1)
  if gan.critic.pairwise:
    references = shown[:PAIR_REFERENCES]
    left = jnp.repeat(grid, PAIR_REFERENCES, axis=0)
    right = jnp.tile(references, (grid.shape[0], 1))
    (t_xf, _), _ = gan.critic.apply(state.d_params, state.d_state, jnp.stack([left, right]), False)
    heat = jnp.mean(jnp.reshape(t_xf, (grid.shape[0], PAIR_REFERENCES)), axis=1)
  else:
    heat = gan.critic.apply(state.d_params, state.d_state, grid, False)[0]

  def generator_loss(points):
    real_scores, fake_scores, _ = _scores(gan, state.d_params, state.d_state, real, points, False)
    return gan.loss.generator_loss(real_scores, fake_scores)

  # The loss is a batch mean; times the batch size, each row is that sample's own gradient.
  arrows = -SHOWN_POINTS * jax.grad(generator_loss)(shown)

  unit_lines = jnp.asarray(_unit_grid_lines())
  latent_lines = LATENT_GRIDS[prior](state.prior_params, unit_lines)
  manifold = gan.generator.apply(state.g_params, state.g_state, jnp.reshape(latent_lines, (-1, 2)), False)[0]
  out = {
    "real": real,
    "fake": fake,
    "latent": z[:SHOWN_POINTS],
    "arrows": arrows,
    "heat": jnp.reshape(heat, (HEAT_SIZE, HEAT_SIZE)),
    "manifold": jnp.reshape(manifold, latent_lines.shape),
    "latent_grid": latent_lines,
  }
  if prior == "deligan":
    out["latent_means"] = state.prior_params["mu"]
    out["latent_sigmas"] = deligan_sigma(state.prior_params)
  return out


def _rounded(array: np.ndarray, digits: int = 3) -> list:
  """Nested lists for JSON, which has no NaN or infinity: those become 0 or +-1e6 (the frame says `finite`)."""
  array = np.nan_to_num(np.asarray(array, np.float64), nan=0.0, posinf=1e6, neginf=-1e6)
  return np.round(array, digits).tolist()


def _json_number(value: float) -> float | None:
  return float(value) if np.isfinite(value) else None


class Program:
  """The compiled side of a run: the GAN a config describes and its jitted full step, half steps, init and frame
  renderer. Keys come in as arguments, so runs that differ only in their seed share one `Program` (and its
  compilations): the server keeps recent ones, and switching back to earlier settings starts at once.
  """

  def __init__(self, config: ml_collections.ConfigDict, data: PlaygroundData, heat: str = "score"):
    """Builds the GAN (raising `ValueError` for a bad config) and checks the step's shapes with `jax.eval_shape`."""
    self.data, self.heat_kind = data, heat
    self.gan = gan = train.build_gan(config)
    batch_shape = (gan.n_critic, int(config.batch_size))
    train_step = train.make_train_step(gan)

    def full_step(state, keys):
      batch = data.sample(jax.random.fold_in(keys["data"], state.step), batch_shape)
      return train_step(state, batch, keys["step"])

    def half_step(update, state, keys, count):
      key = jax.random.fold_in(keys["half"], count)
      real = data.sample(jax.random.fold_in(key, 0), batch_shape[1:])
      return update(gan, state, Batch(real), jax.random.fold_in(key, 1))

    self.full_step = jax.jit(full_step, donate_argnums=0)
    self.critic_step = jax.jit(lambda s, k, c: half_step(updates.critic_update, s, k, c), donate_argnums=0)
    self.generator_step = jax.jit(lambda s, k, c: half_step(updates.generator_update, s, k, c), donate_argnums=0)
    self.render = jax.jit(lambda s, k: render(gan, data, str(config.prior), s, k))
    self.init = jax.jit(lambda key: train.init_state(gan, key))  # jitted: op by op, init compiles for seconds
    keys = jax.eval_shape(run_keys, 0)
    # A shape error surfaces here, in the request that asked for these settings, not later in the session thread.
    jax.eval_shape(full_step, jax.eval_shape(self.init, keys["init"]), keys)


def run_keys(seed: int) -> dict[str, jax.Array]:
  """The run's keys: parameters, data, the full step's, the half steps' and the frames'."""
  names = ("init", "data", "step", "half", "frame")
  return dict(zip(names, jax.random.split(jax.random.key(seed), len(names))))


class Engine:
  """One run: a `Program`, the seed's keys, the GAN state and the counters the page shows.

  Not thread-safe: one session thread drives it. Call `reset()` before anything else.
  """

  def __init__(self, program: Program, seed: int = 0):
    self.program, self.seed = program, seed
    self.data, self.heat_kind, self.gan = program.data, program.heat_kind, program.gan
    self.state = None

  def reset(self) -> None:
    """Fresh parameters from the config's seed; counters to 0. Call once before anything else."""
    self._keys = run_keys(self.seed)
    self.state = self.program.init(self._keys["init"])
    self.metrics: dict[str, Any] = {}
    self.steps = 0  # full steps, as state.step, kept on the host so counting never waits for the device
    self.d_updates = 0
    self.g_updates = 0
    self._half_steps = 0
    self._frames = 0

  def warm_up(self) -> None:
    """Compiles the full step (on a copy of the state) so that the first press of play does not wait for it."""
    self.program.full_step(jax.tree.map(jnp.copy, self.state), self._keys)

  def step(self) -> None:
    """One step of the library's train step: n_critic critic updates, then n_generator generator updates."""
    self.state, self.metrics = self.program.full_step(self.state, self._keys)
    self.steps += 1
    self.d_updates += self.gan.n_critic
    self.g_updates += self.gan.n_generator

  def step_critic(self) -> None:
    """One critic update alone."""
    self._half_steps += 1
    self.state, metrics = self.program.critic_step(self.state, self._keys, self._half_steps)
    self.metrics = {**self.metrics, **metrics}
    self.d_updates += 1

  def step_generator(self) -> None:
    """One generator update alone."""
    self._half_steps += 1
    self.state, metrics = self.program.generator_step(self.state, self._keys, self._half_steps)
    self.metrics = {**self.metrics, **metrics}
    self.g_updates += 1

  def frame(self) -> dict[str, Any]:
    """The page's next frame as JSON-ready Python values (fetches from the device once)."""
    start = time.perf_counter()
    self._frames += 1
    frame_key = jax.random.fold_in(self._keys["frame"], self._frames)
    arrays, metrics = jax.device_get((self.program.render(self.state, frame_key), self.metrics))
    fake = arrays["fake"]
    coverage = None
    if self.data.centers is not None:
      coverage = toy_metrics(fake, self.data.centers, self.data.std)
      coverage["num_modes"] = len(self.data.centers)
    finite = all(np.isfinite(v) for v in metrics.values()) and bool(np.all(np.isfinite(fake)))
    metrics = {name: _json_number(value) for name, value in metrics.items()}
    # Heat and arrows go out scaled to [0, 1] with their scale beside them: a clipped WGAN critic's scores and
    # gradients are ~1e-6, which rounding would erase.
    heat = np.nan_to_num(arrays["heat"].astype(np.float64))
    if self.heat_kind == "probability":
      heat, heat_range = 1.0 / (1.0 + np.exp(-np.clip(heat, -30, 30))), (0.0, 1.0)
    else:
      heat_range = (float(heat.min()), float(heat.max()))
      heat = (heat - heat_range[0]) / max(heat_range[1] - heat_range[0], 1e-30)
    arrows = np.nan_to_num(arrays["arrows"].astype(np.float64))
    longest = float(np.max(np.linalg.norm(arrows, axis=-1)))
    frame = {
      "steps": self.steps,
      "d_updates": self.d_updates,
      "g_updates": self.g_updates,
      "metrics": metrics,
      "coverage": coverage,
      "finite": finite,
      "extent": self.data.extent,
      "heat_kind": self.heat_kind,
      "heat_range": heat_range,
      "arrow_scale": longest,
      "real": _rounded(arrays["real"]),
      "fake": _rounded(fake[:SHOWN_POINTS]),
      "arrows": _rounded(arrows / longest if longest > 0 else arrows),
      "heat": _rounded(heat),
      "manifold": _rounded(arrays["manifold"]),
      "latent": _rounded(arrays["latent"]),
      "latent_grid": _rounded(arrays["latent_grid"]),
      "latent_means": _rounded(arrays["latent_means"]) if "latent_means" in arrays else None,
      "latent_sigmas": _rounded(arrays["latent_sigmas"]) if "latent_sigmas" in arrays else None,
    }
    frame["render_ms"] = round(1000 * (time.perf_counter() - start), 1)
    return frame
