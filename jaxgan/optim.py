"""Optimisers from config, as optax chains.

`rmsprop` follows torch.optim.RMSprop, which the WGAN authors used: the eps is added *outside* the square root.
A positive `clip` appends `clip_params(clip)` (WGAN weight clipping) as the chain's last transform.
"""

from __future__ import annotations

import ml_collections
import optax

from jaxgan.transforms import clip_params


def _adam(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.adam(c.learning_rate, b1=c.get("b1", 0.9), b2=c.get("b2", 0.999), eps=c.get("eps", 1e-8))


def _rmsprop(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.rmsprop(c.learning_rate, decay=c.get("decay", 0.99), eps=c.get("eps", 1e-8), eps_in_sqrt=False)


def _sgd(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.sgd(c.learning_rate, momentum=c.get("momentum", None) or None)


OPTIMIZERS = {"adam": _adam, "rmsprop": _rmsprop, "sgd": _sgd}
_FIELDS = {"name", "learning_rate", "b1", "b2", "eps", "decay", "momentum", "clip"}


def build_optimizer(c: ml_collections.ConfigDict, which: str = "optimizer") -> optax.GradientTransformation:
  """Builds the optax transform described by an optimiser config section.

  Args:
    c: fields `name` (adam | rmsprop | sgd), `learning_rate`, optional `b1`, `b2`, `eps`, `decay`, `momentum`, and
      `clip` (> 0 enables weight clipping to [-clip, clip]).
    which: the config path, for error messages.

  Raises:
    ValueError: for an unknown optimiser or field, or a non-positive learning rate.
  """
  if c.get("name") not in OPTIMIZERS:
    raise ValueError(f"Unknown optimiser {c.get('name')!r}; set config.{which}.name to one of {sorted(OPTIMIZERS)}.")
  unknown = set(c) - _FIELDS
  if unknown:
    raise ValueError(f"config.{which} has unknown fields {sorted(unknown)}; allowed: {sorted(_FIELDS)}.")
  if not c.learning_rate > 0:
    raise ValueError(f"config.{which}.learning_rate must be positive; got {c.learning_rate}.")
  tx = OPTIMIZERS[c.name](c)
  clip = c.get("clip", 0.0) or 0.0
  if clip < 0:
    raise ValueError(f"config.{which}.clip must be >= 0 (0 disables clipping); got {clip}.")
  return optax.chain(tx, clip_params(clip)) if clip > 0 else tx
