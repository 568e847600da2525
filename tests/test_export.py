"""The accelerator path, checked without an accelerator: one config of each net family lowers for CUDA and TPU.

`jax.export` lowers the jitted train step, and the `jit(shard_map)` step of `jaxgan.parallel`, for
platforms=('cuda', 'tpu') from this CPU-only process. A change that breaks lowering there (a CPU-only custom call,
an op without a GPU/TPU lowering, a host callback in the step) fails here. Convolutions use `conv_impl='xla'`, what
'auto' resolves to on GPU and TPU.
"""

import importlib

import jax
import jax.numpy as jnp
import pytest

from jaxgan import parallel
from jaxgan.data import data_shape
from jaxgan.nets import CRITICS, GENERATORS
from jaxgan.train import build_gan, init_state, make_train_step

PLATFORMS = ("cuda", "tpu")


def _shrink(config) -> None:
  """Tiny nets and batch: lowering, not training, is under test."""
  config.batch_size = 4
  config.n_critic = min(int(config.n_critic), 2)
  for net, registry in ((config.generator, GENERATORS), (config.critic, CRITICS)):
    fields = registry[net.name].__dataclass_fields__
    if "features" in net:
      net.features = (8,) * len(net.features)
    if "head_features" in net:
      net.head_features = (8,)
    if "base_features" in net:
      net.base_features = 4
    if "embedding" in net:
      net.embedding = 8
    if "conv_impl" in fields:
      net.conv_impl = "xla"
  if config.prior == "deligan":
    config.deligan.num_components = 3


# One config per net family: MLP, DCGAN, PyTorch-GAN zoo, conditional, T-GAN pair critic, DeLiGAN prior.
FAMILIES = {
  "mlp": "wgan_gp_toy",
  "dcgan": "dcgan_mnist",
  "zoo": "bench_dcgan32",
  "conditional": "cgan_mnist",
  "tgan_pair_critic": "t_sgan_toy",
  "deligan_prior": "deligan_toy",
}


def _config(family: str):
  config = importlib.import_module(f"experiments.configs.{FAMILIES[family]}").get_config()
  _shrink(config)
  return config


def _abstract_batch(config):
  """ShapeDtypeStructs of the global batch [n_critic, B, *data_shape] (with labels [n_critic, B] if conditional)."""
  shape = (int(config.n_critic), int(config.batch_size))
  images = jax.ShapeDtypeStruct((*shape, *data_shape(config.data)), jnp.float32)
  if int(config.get("num_classes", 0)):
    return images, jax.ShapeDtypeStruct(shape, jnp.int32)
  return images


def _check(exported, uses_conv: bool) -> None:
  assert exported.platforms == PLATFORMS
  text = exported.mlir_module()
  assert "stablehlo.dot_general" in text or "stablehlo.convolution" in text
  if uses_conv:
    assert "stablehlo.convolution" in text  # conv_impl='xla': XLA's own convolutions, not the CPU rewrite
  assert "custom_call" not in text.replace("@Sharding", "").replace("@SPMDFullToShardShape", "").replace(
    "@SPMDShardToFullShape", ""
  ), "a custom call in the step would not run on another platform"


@pytest.mark.parametrize("family", sorted(FAMILIES) + ["dcgan_bfloat16"])
def test_train_step_lowers_for_cuda_and_tpu(family):
  config = _config(family.removesuffix("_bfloat16"))
  if family.endswith("_bfloat16"):
    config.compute_dtype = "bfloat16"  # the setting for GPU and TPU
  gan = build_gan(config)
  state = jax.eval_shape(lambda: init_state(gan, jax.random.key(0)))
  key = jax.eval_shape(lambda: jax.random.key(1))
  uses_conv = any("conv_impl" in net for net in (config.generator, config.critic))

  exported = jax.export.export(jax.jit(make_train_step(gan)), platforms=PLATFORMS)(state, _abstract_batch(config), key)
  _check(exported, uses_conv)
  if family.endswith("_bfloat16"):
    assert "stablehlo.convolution" in exported.mlir_module() and "xbf16>" in exported.mlir_module()

  step = parallel.make_parallel_train_step(config, "shard_map", devices=jax.devices()[:1])
  assert step.mode == "shard_map"
  placed = jax.eval_shape(lambda: step.put_state(init_state(build_gan(config, parallel.AXIS), jax.random.key(0))))
  exported = jax.export.export(step.step, platforms=PLATFORMS)(placed, _abstract_batch(config), key)
  _check(exported, uses_conv)
  assert exported.nr_devices == 1
