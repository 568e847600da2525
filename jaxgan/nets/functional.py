"""Flax modules seen only through pure `init` / `apply` functions over explicit pytrees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

Params = Any
State = dict[str, Any]  # non-parameter collections, e.g. {"batch_stats": ...}; {} for stateless nets


class Net(NamedTuple):
  """A network as two pure functions.

  Attributes:
    init: `init(key, x) -> (params, state)`.
    apply: `apply(params, state, x, train, key=None) -> (out, new_state)`; `key` feeds dropout when training.
      `out` is float32 whatever dtype the module computes in (see `functional`).
    module: the underlying Flax module, for parameter inspection and tabulation.
    pairwise: a two-argument critic: it takes x [2, B, ...] = (real, fake) and returns (T(real, fake), T(fake, real)).
  """

  init: Callable[[jax.Array, jax.Array], tuple[Params, State]]
  apply: Callable[..., tuple[jax.Array, State]]
  module: nn.Module
  pairwise: bool = False


def _to_float32(y: Any) -> Any:
  """A floating leaf narrower than float32 (a bfloat16 net's output) as float32; anything else unchanged."""
  if isinstance(y, jax.Array) and jnp.issubdtype(y.dtype, jnp.floating) and jnp.finfo(y.dtype).bits < 32:
    return y.astype(jnp.float32)
  return y


def functional(module: nn.Module) -> Net:
  """Wraps a linen module whose `__call__(x, train)` may keep state in non-`params` collections.

  This is the nets' boundary for a reduced compute dtype (a module built with `dtype=jnp.bfloat16`): `apply` casts
  the module's floating outputs (images, scores, a `CriticOutput`'s every field) back to float32 here, so every loss,
  penalty norm, metric and optimiser sees float32; the cast's gradient hands float32 cotangents back in. Parameters
  and state (BatchNorm statistics, spectral-norm vectors) are float32 whatever the compute dtype.
  """

  def init(key: jax.Array, x: jax.Array) -> tuple[Params, State]:
    variables = module.init({"params": key, "dropout": key}, x, train=False)
    variables = dict(variables)
    params = variables.pop("params")
    return params, variables

  def apply(params: Params, state: State, x: jax.Array, train: bool, key: jax.Array | None = None):
    variables = {"params": params, **state}
    rngs = {"dropout": key} if key is not None else {}
    if train and state:
      out, updates = module.apply(variables, x, train=True, rngs=rngs, mutable=list(state))
      return jax.tree.map(_to_float32, out), {**state, **updates}
    return jax.tree.map(_to_float32, module.apply(variables, x, train=train, rngs=rngs)), state

  return Net(init, apply, module, bool(getattr(module, "pairwise", False)))
