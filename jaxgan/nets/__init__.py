"""Generator and critic networks, built by name from a config and used through pure `init` / `apply`."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
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


# config.compute_dtype -> the nets' `dtype` field. float32 is None: flax's promotion of float32 parameters and inputs,
# the very computation of nets built without a dtype.
COMPUTE_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str):
  """The nets' `dtype` for `config.compute_dtype`: None for 'float32', `jnp.bfloat16` for 'bfloat16'.

  Raises:
    ValueError: for any other name.
  """
  if name not in COMPUTE_DTYPES:
    raise ValueError(
      f"config.compute_dtype={name!r} is not supported; use one of {sorted(COMPUTE_DTYPES)} ('bfloat16' computes the "
      "nets in bfloat16 with float32 parameters, for GPU and TPU)."
    )
  return COMPUTE_DTYPES[name]


def _build(
  registry,
  kind: str,
  net_config: ml_collections.ConfigDict,
  axis_name: str | None,
  num_classes: int = 0,
  dtype=None,
  **extra,
) -> Net:
  fields = dict(net_config)
  name = fields.pop("name", None)
  if name not in registry:
    raise ValueError(f"Unknown {kind} {name!r}; set config.{kind}.name to one of {sorted(registry)}.")
  if "dtype" in fields:
    raise ValueError(f"config.{kind}.dtype is not a net option; set config.compute_dtype for both nets instead.")
  cls = registry[name]
  allowed = set(cls.__dataclass_fields__) - {"parent", "name"}
  unknown = set(fields) - allowed
  if unknown:
    raise ValueError(
      f"config.{kind} has fields {sorted(unknown)} that the {name!r} {kind} does not take; "
      f"it takes {sorted(allowed - set(extra) - {'axis_name', 'dtype'})}."
    )
  if "axis_name" in allowed:
    extra["axis_name"] = axis_name
  if dtype is not None:
    extra["dtype"] = dtype  # every registered net takes it; None leaves the module's default (float32)
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
  net_config: ml_collections.ConfigDict,
  output_shape: Sequence[int],
  axis_name: str | None = None,
  num_classes: int = 0,
  dtype=None,
) -> Net:
  """Generator `Net` mapping z [B, latent_dim] (with labels [B] when conditional) to samples [B, *output_shape].

  Args:
    dtype: the compute dtype (`compute_dtype(config.compute_dtype)`): None computes in float32, `jnp.bfloat16` in
      bfloat16 with float32 parameters; the samples are float32 either way (`functional`).
  """
  return _build(GENERATORS, "generator", net_config, axis_name, num_classes, dtype, output_shape=tuple(output_shape))


def build_critic(
  net_config: ml_collections.ConfigDict, axis_name: str | None = None, num_classes: int = 0, dtype=None
) -> Net:
  """Critic `Net` mapping samples [B, ...] (with labels [B] when conditional) to scores [B] (float32; `dtype` as in
  `build_generator`)."""
  return _build(CRITICS, "critic", net_config, axis_name, num_classes, dtype)


def critic_uses_batch_norm(net_config: ml_collections.ConfigDict) -> bool:
  """True if the configured critic normalises over the batch (incompatible with per-sample gradient penalties)."""
  return bool(net_config.get("batch_norm", False)) or net_config.get("norm", "none") == "batch"


__all__ = [
  "Net",
  "functional",
  "build_generator",
  "build_critic",
  "compute_dtype",
  "COMPUTE_DTYPES",
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
