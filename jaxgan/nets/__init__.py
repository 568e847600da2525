"""Generator and critic networks, built by name from a config and used through pure `init` / `apply`."""

from __future__ import annotations

from collections.abc import Sequence

import ml_collections

from jaxgan.nets.classifier import AuxiliaryClassifierCritic, CriticOutput, SemiSupervisedCritic
from jaxgan.nets.conditional import ConditionalCritic, ConditionalGenerator
from jaxgan.nets.dcgan import DCGANCritic, DCGANGenerator
from jaxgan.nets.functional import Net, functional
from jaxgan.nets.mlp import MLPCritic, MLPGenerator
from jaxgan.nets.resnet import ConditionalResNetCritic, ConditionalResNetGenerator, ResNetCritic, ResNetGenerator
from jaxgan.nets.tgan import TPairCritic
from jaxgan.nets.zoo import ZooDCGANCritic, ZooDCGANGenerator, ZooMLPGenerator

GENERATORS = {
  "mlp": MLPGenerator,
  "dcgan": DCGANGenerator,
  "conditional": ConditionalGenerator,
  "zoo_mlp": ZooMLPGenerator,
  "zoo_dcgan": ZooDCGANGenerator,
  "resnet": ResNetGenerator,
  "conditional_resnet": ConditionalResNetGenerator,
}
CRITICS = {
  "mlp": MLPCritic,
  "dcgan": DCGANCritic,
  "tgan": TPairCritic,
  "conditional": ConditionalCritic,
  "zoo_dcgan": ZooDCGANCritic,
  "resnet": ResNetCritic,
  "conditional_resnet": ConditionalResNetCritic,
  # Classifier critics return a CriticOutput (score, class_logits, features); see config.classifier.
  "ssgan": SemiSupervisedCritic,
  "acgan": AuxiliaryClassifierCritic,
}


def _build(
  registry, kind: str, net_config: ml_collections.ConfigDict, axis_name: str | None, num_classes: int = 0, **extra
) -> Net:
  fields = dict(net_config)
  name = fields.pop("name", None)
  if name not in registry:
    raise ValueError(f"Unknown {kind} {name!r}; set config.{kind}.name to one of {sorted(registry)}.")
  cls = registry[name]
  allowed = set(cls.__dataclass_fields__) - {"parent", "name"}
  unknown = set(fields) - allowed
  if unknown:
    raise ValueError(
      f"config.{kind} has fields {sorted(unknown)} that the {name!r} {kind} does not take; "
      f"it takes {sorted(allowed - set(extra) - {'axis_name'})}."
    )
  if "axis_name" in allowed:
    extra["axis_name"] = axis_name
  conditional = "num_classes" in allowed
  if conditional != (num_classes > 0):
    raise ValueError(
      f"The {name!r} {kind} is {'' if conditional else 'un'}conditional but config.num_classes = "
      f"{num_classes}; use the 'conditional' nets with num_classes > 0, or other nets with 0."
    )
  if conditional:
    extra["num_classes"] = num_classes
  return functional(cls(**fields, **extra))


def build_generator(
  net_config: ml_collections.ConfigDict, output_shape: Sequence[int], axis_name: str | None = None, num_classes: int = 0
) -> Net:
  """Generator `Net` mapping z [B, latent_dim] (with labels [B] when conditional) to samples [B, *output_shape]."""
  return _build(GENERATORS, "generator", net_config, axis_name, num_classes, output_shape=tuple(output_shape))


def build_critic(net_config: ml_collections.ConfigDict, axis_name: str | None = None, num_classes: int = 0) -> Net:
  """Critic `Net` mapping samples [B, ...] (with labels [B] when conditional) to scores [B]."""
  return _build(CRITICS, "critic", net_config, axis_name, num_classes)


def critic_uses_batch_norm(net_config: ml_collections.ConfigDict) -> bool:
  """True if the configured critic normalises over the batch (incompatible with per-sample gradient penalties)."""
  return bool(net_config.get("batch_norm", False)) or net_config.get("norm", "none") == "batch"


__all__ = [
  "Net",
  "functional",
  "build_generator",
  "build_critic",
  "critic_uses_batch_norm",
  "MLPGenerator",
  "MLPCritic",
  "DCGANGenerator",
  "DCGANCritic",
  "TPairCritic",
  "ConditionalGenerator",
  "ConditionalCritic",
  "ZooMLPGenerator",
  "ZooDCGANGenerator",
  "ZooDCGANCritic",
  "CriticOutput",
  "SemiSupervisedCritic",
  "AuxiliaryClassifierCritic",
  "ResNetGenerator",
  "ResNetCritic",
  "ConditionalResNetGenerator",
  "ConditionalResNetCritic",
]
