"""Generator and critic networks, built by name from a config and used through pure `init` / `apply`."""

from __future__ import annotations

from typing import Sequence

import ml_collections

from jaxgan.nets.dcgan import DCGANCritic, DCGANGenerator
from jaxgan.nets.functional import Net, functional
from jaxgan.nets.mlp import MLPCritic, MLPGenerator

GENERATORS = {"mlp": MLPGenerator, "dcgan": DCGANGenerator}
CRITICS = {"mlp": MLPCritic, "dcgan": DCGANCritic}
# Fields a net module accepts besides `name`; the config's net section may set any of them.
_AXIS_AWARE = {MLPGenerator, DCGANGenerator, DCGANCritic}


def _build(registry, kind: str, net_config: ml_collections.ConfigDict, axis_name: str | None, **extra) -> Net:
  fields = dict(net_config)
  name = fields.pop("name", None)
  if name not in registry:
    raise ValueError(f"Unknown {kind} {name!r}; set config.{kind}.name to one of {sorted(registry)}.")
  cls = registry[name]
  allowed = set(cls.__dataclass_fields__) - {"parent", "name"}
  unknown = set(fields) - allowed
  if unknown:
    raise ValueError(f"config.{kind} has fields {sorted(unknown)} that the {name!r} {kind} does not take; "
                     f"it takes {sorted(allowed - set(extra) - {'axis_name'})}.")
  if cls in _AXIS_AWARE:
    extra["axis_name"] = axis_name
  return functional(cls(**fields, **extra))


def build_generator(net_config: ml_collections.ConfigDict, output_shape: Sequence[int],
                    axis_name: str | None = None) -> Net:
  """Generator `Net` mapping z [B, latent_dim] to samples [B, *output_shape]."""
  return _build(GENERATORS, "generator", net_config, axis_name, output_shape=tuple(output_shape))


def build_critic(net_config: ml_collections.ConfigDict, axis_name: str | None = None) -> Net:
  """Critic `Net` mapping samples [B, ...] to scores [B]."""
  return _build(CRITICS, "critic", net_config, axis_name)


def critic_uses_batch_norm(net_config: ml_collections.ConfigDict) -> bool:
  """True if the configured critic normalises over the batch (incompatible with per-sample gradient penalties)."""
  return bool(net_config.get("batch_norm", False))


__all__ = ["Net", "functional", "build_generator", "build_critic", "critic_uses_batch_norm", "MLPGenerator", "MLPCritic",
           "DCGANGenerator", "DCGANCritic"]
