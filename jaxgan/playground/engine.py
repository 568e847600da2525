"""One playground run: the library's GAN and update functions, the two half steps the toolbar offers, and frames.

A `Program` holds what a config compiles to, an `Engine` one run of it (state, keys, counters, live settings).
`Engine.step()` is one train step as `jaxgan.train.make_train_step` runs it (n_critic updates of
`jaxgan.updates.critic_update`, each on a fresh real batch, then n_generator of `generator_update` on the last one,
with the same keys), jitted once with the state donated. The toolbar's "D only" and "G only" buttons run one player's
update alone: the same library half steps on a fresh real batch.

The learning rates and n_critic are inputs of the compiled steps, not constants in them, so the page changes them
while a run goes on (`Engine.set_hyperparameters`) and nothing recompiles: the rates go to optax's optimisers as
arrays (`jaxgan.optim.build_optimizer(..., learning_rate=)`, the optimiser state is the config's own), and the critic
updates run in a `jax.lax.fori_loop` of dynamic length, each drawing its real batch inside the step, so no shape
depends on n_critic. (The library's step unrolls its updates because XLA:CPU runs convolutions slower in a loop
body; the playground's nets are small MLPs, where a loop costs nothing measurable.)

`Engine.frame()` renders what the page draws in one jitted call: real and fake samples, the critic on a coarse grid
over the view (the heat-map), the generator's image of a latent grid (its manifold), and, on each fake point, the
direction the generator's loss pushes it, -dL_G/dx (parallel to d critic/dx for every loss here, and as long as the
loss makes it: the minimax GAN's arrows shrink where its loss saturates). The host adds the toy coverage metrics.
"""

from __future__ import annotations

import functools
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
from jaxgan.optim import build_optimizer
from jaxgan.playground.datasets import PlaygroundData
from jaxgan.playground.params import parse_live_changes
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


# The settings a running run takes (`Engine.set_hyperparameters`): traced inputs of the compiled steps.
Hyperparameters = dict[str, jax.Array]


def with_learning_rates(gan: train.GAN, config: ml_collections.ConfigDict, hyperparameters: Hyperparameters):
  """`gan` with its optimisers at `hyperparameters`' d_lr and g_lr (scalar arrays, traced in a step): the config's
  optimisers, whose state has the same structure at any rate."""
  return gan._replace(
    g_tx=build_optimizer(config.g_optimizer, "g_optimizer", learning_rate=hyperparameters["g_lr"]),
    d_tx=build_optimizer(config.d_optimizer, "d_optimizer", learning_rate=hyperparameters["d_lr"]),
  )


def train_step(
  gan: train.GAN,
  data: PlaygroundData,
  batch_size: int,
  state: train.GANState,
  keys: dict[str, jax.Array],
  hyperparameters: Hyperparameters,
) -> tuple[train.GANState, dict[str, jax.Array]]:
  """One step of `jaxgan.train.make_train_step`'s schedule with n_critic an input: critic update i (0 <= i <
  n_critic) on real batch i, then the generator updates on the last real batch.

  Args:
    gan: the GAN with its live optimisers (`with_learning_rates`).
    data: the dataset; critic update i's real batch [batch_size, 2] is drawn from
      `fold_in(fold_in(keys["data"], state.step), i)`.
    batch_size: B.
    state: the run's state.
    keys: `run_keys`; update keys are `fold_in(fold_in(keys["step"], state.step), i)` for critic update i and index
      n_critic + j for generator update j, as in `make_train_step`.
    hyperparameters: n_critic an int32 scalar >= 1 (the learning rates are in `gan` already).

  Returns:
    (state with step + 1, the last critic and generator updates' metrics), as `make_train_step`'s.
  """
  n_critic = hyperparameters["n_critic"]
  data_key = jax.random.fold_in(keys["data"], state.step)
  step_key = jax.random.fold_in(keys["step"], state.step)

  def real(i):
    return Batch(data.sample(jax.random.fold_in(data_key, i), (batch_size,)))

  def critic(i, carry):
    return updates.critic_update(gan, carry[0], real(i), jax.random.fold_in(step_key, i))

  # The loop carries the last update's metrics, so it starts from zeros of their shape (n_critic >= 1: the engine
  # checks it); one update compiled, whatever n_critic.
  metrics_shape = jax.eval_shape(lambda s: critic(0, (s, None))[1], state)
  no_metrics = jax.tree.map(lambda m: jnp.zeros(m.shape, m.dtype), metrics_shape)
  new_state, critic_metrics = jax.lax.fori_loop(0, n_critic, critic, (state, no_metrics))
  g_metrics = {}
  for j in range(gan.n_generator):
    new_state, g_metrics = updates.generator_update(
      gan, new_state, real(n_critic - 1), jax.random.fold_in(step_key, n_critic + j)
    )
  return new_state.replace(step=state.step + 1), {**critic_metrics, **g_metrics}


class Program:
  """The compiled side of a run: the GAN a config describes and its jitted full step, half steps, init and frame
  renderer. Keys and the live settings (learning rates, n_critic) come in as arguments, so runs that differ only in
  them share one `Program` (and its compilations): the server keeps recent ones, and switching back to earlier
  settings starts at once. `gan.n_critic` and the config's rates are only the runs' defaults
  (`default_hyperparameters`); a run's own are `Engine.hyperparameters`.
  """

  def __init__(self, config: ml_collections.ConfigDict, data: PlaygroundData, heat: str = "score"):
    """Builds the GAN (raising `ValueError` for a bad config) and checks the step's shapes with `jax.eval_shape`."""
    self.data, self.heat_kind = data, heat
    self.gan = gan = train.build_gan(config)
    batch_size = int(config.batch_size)
    # The config's own values, the runs' defaults; a run may change them (`Engine.set_hyperparameters`).
    self.default_hyperparameters = {
      "n_critic": gan.n_critic,
      "d_lr": float(config.d_optimizer.learning_rate),
      "g_lr": float(config.g_optimizer.learning_rate),
    }

    def full_step(state, keys, hyperparameters):
      live = with_learning_rates(gan, config, hyperparameters)
      return train_step(live, data, batch_size, state, keys, hyperparameters)

    def half_step(update, state, keys, count, hyperparameters):
      key = jax.random.fold_in(keys["half"], count)
      real = data.sample(jax.random.fold_in(key, 0), (batch_size,))
      live = with_learning_rates(gan, config, hyperparameters)
      return update(live, state, Batch(real), jax.random.fold_in(key, 1))

    self.full_step = jax.jit(full_step, donate_argnums=0)
    self.critic_step = jax.jit(functools.partial(half_step, updates.critic_update), donate_argnums=0)
    self.generator_step = jax.jit(functools.partial(half_step, updates.generator_update), donate_argnums=0)
    self.render = jax.jit(lambda s, k: render(gan, data, str(config.prior), s, k))
    self.init = functools.partial(train.init_state, gan)
    keys = jax.eval_shape(run_keys, 0)
    # A shape error surfaces here, in the request that asked for these settings, not later in the session thread.
    jax.eval_shape(
      full_step, jax.eval_shape(self.init, keys["init"]), keys, device_hyperparameters(self.default_hyperparameters)
    )


def device_hyperparameters(values: dict[str, float | int]) -> Hyperparameters:
  """The live settings as the compiled steps take them: float32 rates and an int32 n_critic, always these types, so
  that new values reuse the compilation."""
  return {
    "n_critic": jnp.asarray(values["n_critic"], jnp.int32),
    "d_lr": jnp.asarray(values["d_lr"], jnp.float32),
    "g_lr": jnp.asarray(values["g_lr"], jnp.float32),
  }


def run_keys(seed: int) -> dict[str, jax.Array]:
  """The run's keys: parameters, data, the full step's, the half steps' and the frames'."""
  names = ("init", "data", "step", "half", "frame")
  return dict(zip(names, jax.random.split(jax.random.key(seed), len(names))))


class Engine:
  """One run: a `Program`, the seed's keys, the GAN state, the live settings and the counters the page shows.

  Not thread-safe: one session thread drives it. Call `reset()` before anything else.

  Args:
    program: the compiled steps.
    seed: the run's seed (`run_keys`).
    hyperparameters: n_critic, d_lr and g_lr (any of them; the program's config gives the others), checked as
      `set_hyperparameters` checks them.
  """

  def __init__(self, program: Program, seed: int = 0, hyperparameters: dict[str, float | int] | None = None):
    self.program, self.seed = program, seed
    self.data, self.heat_kind, self.gan = program.data, program.heat_kind, program.gan
    self.state = None
    self.hyperparameters = dict(program.default_hyperparameters)
    self._hyperparameters = device_hyperparameters(self.hyperparameters)
    self.set_hyperparameters(**(hyperparameters or {}))

  def set_hyperparameters(
    self, d_lr: float | None = None, g_lr: float | None = None, n_critic: int | None = None
  ) -> None:
    """Changes the learning rates and n_critic from the next update on, keeping the state (parameters, optimiser
    moments, step count); the compiled steps take them as inputs, so nothing recompiles. None keeps a value.

    Raises:
      ValueError: one line naming the bad value and the allowed range (`jaxgan.playground.params.LIMITS`); then
        nothing changes.
    """
    changes = {
      name: value for name, value in (("d_lr", d_lr), ("g_lr", g_lr), ("n_critic", n_critic)) if value is not None
    }
    if not changes:
      return
    self.hyperparameters = {**self.hyperparameters, **parse_live_changes(changes)}
    self._hyperparameters = device_hyperparameters(self.hyperparameters)  # on the device once, not every step

  def reset(self) -> None:
    """Fresh parameters from the config's seed; counters to 0; the live settings stay. Call once before anything
    else."""
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
    self.program.full_step(jax.tree.map(jnp.copy, self.state), self._keys, self._hyperparameters)

  def step(self) -> None:
    """One train step: n_critic critic updates, then n_generator generator updates."""
    self.state, self.metrics = self.program.full_step(self.state, self._keys, self._hyperparameters)
    self.steps += 1
    self.d_updates += self.hyperparameters["n_critic"]
    self.g_updates += self.gan.n_generator

  def step_critic(self) -> None:
    """One critic update alone."""
    self._half_steps += 1
    self.state, metrics = self.program.critic_step(self.state, self._keys, self._half_steps, self._hyperparameters)
    self.metrics = {**self.metrics, **metrics}
    self.d_updates += 1

  def step_generator(self) -> None:
    """One generator update alone."""
    self._half_steps += 1
    self.state, metrics = self.program.generator_step(self.state, self._keys, self._half_steps, self._hyperparameters)
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
