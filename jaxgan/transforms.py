"""Optax gradient transformations that GANs need beyond optax's own.

`clip_params` is WGAN's weight clipping (Arjovsky et al. 2017, Algorithm 1, line 7: w <- clip(w, -c, c)) expressed as
an update transform: placed last in an `optax.chain`, it rewrites the update so that `optax.apply_updates` lands every
parameter in [-c, c].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def clip_params(max_abs: float) -> optax.GradientTransformation:
  """Keeps parameters in [-max_abs, max_abs] after the update: u' = clip(p + u, -c, c) - p.

  Place it last in `optax.chain(...)`; `update` must receive `params`.

  Args:
    max_abs: the clipping bound c > 0.

  Raises:
    ValueError: if `max_abs` is not positive, or `update` is called without `params`.
  """
  if not max_abs > 0:
    raise ValueError(f"clip_params needs max_abs > 0; got {max_abs}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("clip_params needs the current parameters: call tx.update(grads, state, params).")
    new_updates = jax.tree.map(lambda u, p: jnp.clip(p + u, -max_abs, max_abs) - p, updates, params)
    return new_updates, state

  return optax.GradientTransformation(init_fn, update_fn)
