"""Optimisers from config, as optax chains.

`rmsprop` follows torch.optim.RMSprop, which the WGAN authors used: the eps is added *outside* the square root.
A positive `clip` appends `clip_params(clip)` (WGAN weight clipping), a positive `max_norm` appends
`max_column_norm(max_norm)` (the original GAN's max-norm constraint), as the chain's last transforms.
"""

from __future__ import annotations

import math

import jax
import ml_collections
import optax

from jaxgan.transforms import clip_params, max_column_norm


def _adam(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.adam(c.learning_rate, b1=c.get("b1", 0.9), b2=c.get("b2", 0.999), eps=c.get("eps", 1e-8))


def _rmsprop(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.rmsprop(c.learning_rate, decay=c.get("decay", 0.99), eps=c.get("eps", 1e-8), eps_in_sqrt=False)


def momentum_schedule(c: ml_collections.ConfigDict, which: str = "optimizer") -> optax.Schedule | None:
  """SGD's momentum as a schedule of the update count, or None for a constant one.

  With `final_momentum` > 0 the momentum rises linearly from `momentum` at update `momentum_begin` to
  `final_momentum` at update `momentum_saturate` (pylearn2's `MomentumAdjustor`, which the original GAN's released
  `mnist.yaml` uses with epochs 1 to 250: 0.5 to 0.7), and stays there.
  """
  final = float(c.get("final_momentum", 0.0) or 0.0)
  if final <= 0:
    return None
  begin, saturate = int(c.get("momentum_begin", 0) or 0), int(c.get("momentum_saturate", 0) or 0)
  if not 0 <= begin < saturate or not 0 < final < 1:
    raise ValueError(
      f"config.{which}: a momentum ramp needs 0 <= momentum_begin < momentum_saturate and 0 < final_momentum < 1; "
      f"got {begin}, {saturate}, {final}."
    )
  return optax.linear_schedule(float(c.get("momentum", 0.0) or 0.0), final, saturate - begin, begin)


def _sgd(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  ramp = momentum_schedule(c)
  if ramp is None:
    return optax.sgd(c.learning_rate, momentum=c.get("momentum", None) or None)
  # optax scales the whole momentum trace by the current rate, pylearn2 only each new gradient; with the original
  # GAN's decay of 4e-6 per update the two differ by under 0.01% of an update.
  return optax.inject_hyperparams(optax.sgd)(learning_rate=c.learning_rate, momentum=ramp)


OPTIMIZERS = {"adam": _adam, "rmsprop": _rmsprop, "sgd": _sgd}
_FIELDS = {
  "name",
  "learning_rate",
  "b1",
  "b2",
  "eps",
  "decay",
  "momentum",
  "final_momentum",
  "momentum_begin",
  "momentum_saturate",
  "clip",
  "max_norm",
  "schedule",
  "warmup_steps",
  "decay_steps",
  "end_value",
}
SCHEDULES = ("constant", "linear", "cosine", "exponential")


def learning_rate_schedule(c: ml_collections.ConfigDict, which: str = "optimizer") -> optax.Schedule:
  """The optimiser's learning rate as an optax schedule of its update count.

  `schedule`: constant | linear (to `end_value` over `decay_steps`) | cosine (to `end_value` over `decay_steps`) |
  exponential (halving every `decay_steps`); `warmup_steps` > 0 prepends a linear warm-up from 0. Counts are this
  optimiser's updates, so a critic with n_critic = 5 decays five times faster per train step than its generator.
  """
  kind = c.get("schedule", "constant") or "constant"
  if kind not in SCHEDULES:
    raise ValueError(f"Unknown config.{which}.schedule {kind!r}; choose one of {SCHEDULES}.")
  lr = float(c.learning_rate)
  decay_steps = int(c.get("decay_steps", 0) or 0)
  end = float(c.get("end_value", 0.0) or 0.0)
  if kind != "constant" and decay_steps < 1:
    raise ValueError(f"config.{which}.schedule={kind!r} needs decay_steps >= 1; got {decay_steps}.")
  if kind == "constant":
    schedule = optax.constant_schedule(lr)
  elif kind == "linear":
    schedule = optax.linear_schedule(lr, end, decay_steps)
  elif kind == "cosine":
    schedule = optax.cosine_decay_schedule(lr, decay_steps, alpha=end / lr)
  else:
    schedule = optax.exponential_decay(lr, decay_steps, 0.5, end_value=end or None)
  warmup = int(c.get("warmup_steps", 0) or 0)
  if warmup > 0:
    schedule = optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), schedule], [warmup])
  return schedule


def build_optimizer(
  c: ml_collections.ConfigDict, which: str = "optimizer", learning_rate: jax.Array | None = None
) -> optax.GradientTransformation:
  """Builds the optax transform described by an optimiser config section.

  Args:
    c: fields `name` (adam | rmsprop | sgd), `learning_rate`, optional `b1`, `b2`, `eps`, `decay`, `momentum`
      (with `final_momentum`, `momentum_begin`, `momentum_saturate`: a ramp, see `momentum_schedule`), `clip` (> 0
      enables weight clipping to [-clip, clip]), `max_norm` (> 0 caps every unit's incoming weight norm) and a
      learning-rate schedule (`schedule`, `warmup_steps`, `decay_steps`, `end_value`; see `learning_rate_schedule`).
    which: the config path, for error messages.
    learning_rate: a scalar array to use instead of `c.learning_rate` (which is still checked), e.g. a traced input
      of a jitted step: optax's optimisers take an array as their rate, so the same compiled step then runs any
      rate, with the optimiser state of the config's own (the playground's live learning rates). Only with a
      constant schedule.

  Raises:
    ValueError: for an unknown optimiser or field, or a learning rate that is not a positive number (inf, NaN).
  """
  if c.get("name") not in OPTIMIZERS:
    raise ValueError(f"Unknown optimiser {c.get('name')!r}; set config.{which}.name to one of {sorted(OPTIMIZERS)}.")
  unknown = set(c) - _FIELDS
  if unknown:
    raise ValueError(f"config.{which} has unknown fields {sorted(unknown)}; allowed: {sorted(_FIELDS)}.")
  if not 0 < float(c.learning_rate) < math.inf:  # also refuses NaN
    raise ValueError(f"config.{which}.learning_rate must be a positive number; got {c.learning_rate}.")
  scheduled = (c.get("schedule", "constant") or "constant") != "constant" or (c.get("warmup_steps", 0) or 0) > 0
  if scheduled and learning_rate is not None:
    raise ValueError(f"config.{which} has a learning-rate schedule; a learning_rate given apart needs a constant one.")
  if scheduled or learning_rate is not None:
    fields = c.to_dict()
    fields["learning_rate"] = learning_rate_schedule(c, which) if scheduled else learning_rate
    c = ml_collections.ConfigDict(fields, type_safe=False)
  tx = OPTIMIZERS[c.name](c)
  constraints = []
  for field, transform in (("clip", clip_params), ("max_norm", max_column_norm)):
    value = c.get(field, 0.0) or 0.0
    if value < 0:
      raise ValueError(f"config.{which}.{field} must be >= 0 (0 disables it); got {value}.")
    if value > 0:
      constraints.append(transform(value))
  return optax.chain(tx, *constraints) if constraints else tx
