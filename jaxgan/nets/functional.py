"""Flax modules seen only through pure `init` / `apply` functions over explicit pytrees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax

Params = Any
State = dict[str, Any]  # non-parameter collections, e.g. {"batch_stats": ...}; {} for stateless nets


class Net(NamedTuple):
  """A network as two pure functions.

  Attributes:
    init: `init(key, x) -> (params, state)`.
    apply: `apply(params, state, x, train, key=None) -> (out, new_state)`; `key` feeds dropout when training.
    module: the underlying Flax module, for parameter inspection and tabulation.
    pairwise: a two-argument critic: it takes x [2, B, ...] = (real, fake) and returns (T(real, fake), T(fake, real)).
  """

  init: Callable[[jax.Array, jax.Array], tuple[Params, State]]
  apply: Callable[..., tuple[jax.Array, State]]
  module: nn.Module
  pairwise: bool = False


def functional(module: nn.Module) -> Net:
  """Wraps a linen module whose `__call__(x, train)` may keep state in non-`params` collections."""

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
      return out, {**state, **updates}
    return module.apply(variables, x, train=train, rngs=rngs), state

  return Net(init, apply, module, bool(getattr(module, "pairwise", False)))
