"""Optax gradient transformations that GANs need beyond optax's own.

`clip_params` is WGAN's weight clipping (Arjovsky et al. 2017, Algorithm 1, line 7: w <- clip(w, -c, c)) expressed as
an update transform: placed last in an `optax.chain`, it rewrites the update so that `optax.apply_updates` lands every
parameter in [-c, c]. `max_column_norm` does the same for the max-norm constraint of the original GAN's pylearn2
models (Goodfellow et al. 2014: `max_col_norm: 1.9365`): every unit's incoming weight vector is projected into an l2
ball after the update.
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


def max_column_norm(max_norm: float) -> optax.GradientTransformation:
  """Keeps every unit's incoming weights within l2 norm `max_norm` after the update (pylearn2's `max_col_norm`).

  Kernels (leaves with 2+ dimensions: Dense [in, out], Conv [kh, kw, in, out]) are split along their last axis, each
  slice projected onto the l2 ball of radius `max_norm` (`optax.projections.projection_l2_ball`); biases and norm
  scales (1-D) are left alone. Place it last in `optax.chain(...)`; `update` must receive `params`.

  Raises:
    ValueError: if `max_norm` is not positive, or `update` is called without `params`.
  """
  if not max_norm > 0:
    raise ValueError(f"max_column_norm needs max_norm > 0; got {max_norm}.")
  project = jax.vmap(lambda column: optax.projections.projection_l2_ball(column, max_norm), in_axes=-1, out_axes=-1)

  def constrain(p):
    return project(p) if p.ndim >= 2 else p

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("max_column_norm needs the current parameters: call tx.update(grads, state, params).")
    return jax.tree.map(lambda u, p: constrain(p + u) - p, updates, params), state

  return optax.GradientTransformation(init_fn, update_fn)
