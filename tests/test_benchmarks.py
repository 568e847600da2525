"""benchmarks/speed.py in quick, tiny mode: the jaxgan side runs every workload config and writes the issue's schema;
the PyTorch reference matches the zoo's parameter counts; the zoo nets' exact rewrites hold."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import pytest

from jaxgan.nets import MLPCritic, functional
from jaxgan.nets.zoo import ZooDCGANCritic, ZooDCGANGenerator, ZooMLPGenerator, _upsample_conv_subpixel

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPEED = ROOT / "benchmarks" / "speed.py"
CONV_LAYERS = ROOT / "benchmarks" / "conv_layers.py"
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _param_count(net, x):
  params, _ = net.init(jax.random.key(0), x)
  return sum(p.size for p in jax.tree.leaves(params))


def test_zoo_parameter_counts_match_pytorch_gan():
  # Counts of eriklindernoren/PyTorch-GAN's wgan_gp generator and dcgan generator / discriminator at 1x28x28, 1x32x32.
  assert _param_count(functional(ZooMLPGenerator(output_shape=(28, 28, 1))), jnp.zeros((1, 100))) == 1_510_032
  assert _param_count(functional(ZooDCGANGenerator(output_shape=(32, 32, 1))), jnp.zeros((1, 100))) == 1_049_985
  assert _param_count(functional(ZooDCGANCritic()), jnp.zeros((1, 32, 32, 1))) == 98_113


@pytest.mark.parametrize("impl", ["xla", "fast"])  # four phase convolutions; one transposed convolution
def test_subpixel_upsample_conv_equals_resize_then_conv(impl):
  x = jax.random.normal(jax.random.key(0), (2, 5, 6, 8))
  kernel = jax.random.normal(jax.random.key(1), (3, 3, 8, 8))

  def reference(x, kernel):
    up = jax.image.resize(x, (2, 10, 12, 8), method="nearest")
    return jax.lax.conv_general_dilated(
      up, kernel, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
    )

  subpixel = lambda x, k: _upsample_conv_subpixel(x, k, impl)
  chex.assert_trees_all_close(subpixel(x, kernel), reference(x, kernel), atol=1e-5)
  loss = lambda f: lambda x, k: jnp.sum(jnp.sin(f(x, k)))
  chex.assert_trees_all_close(
    jax.grad(loss(subpixel), (0, 1))(x, kernel), jax.grad(loss(reference), (0, 1))(x, kernel), atol=1e-4
  )


def test_zoo_dcgan_generator_forms_share_parameters_and_outputs():
  z = jax.random.normal(jax.random.key(0), (3, 100))
  resize = functional(ZooDCGANGenerator(output_shape=(16, 16, 1), base_features=4, upsample="resize"))
  subpixel = functional(ZooDCGANGenerator(output_shape=(16, 16, 1), base_features=4, upsample="subpixel"))
  params, state = resize.init(jax.random.key(1), z)
  chex.assert_trees_all_equal_shapes(params, subpixel.init(jax.random.key(1), z)[0])
  chex.assert_trees_all_close(
    subpixel.apply(params, state, z, True)[0], resize.apply(params, state, z, True)[0], atol=1e-5
  )


def test_zoo_critic_channel_dropout_needs_a_key():
  critic = functional(ZooDCGANCritic(base_features=4))
  x = jnp.ones((2, 32, 32, 1))
  params, state = critic.init(jax.random.key(0), x)
  with pytest.raises(ValueError, match="dropout key"):
    critic.apply(params, state, x, True)
  scores, _ = critic.apply(params, state, x, True, key=jax.random.key(1))
  chex.assert_shape(scores, (2,))


def _run_speed(tmp_path, runners, workloads):
  out = tmp_path / "speed.json"
  cmd = [
    sys.executable,
    str(SPEED),
    "--quick",
    "--tiny",
    "--seconds",
    "0",
    "--runners",
    runners,
    "--workloads",
    workloads,
    "--out",
    str(out),
  ]
  proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(out.read_text()), proc.stdout


def test_speed_quick_jaxgan_and_minimal_schema(tmp_path):
  # One workload keeps the test short (clipping: no nested gradient to compile); every bench config also trains a
  # step in tests/test_configs.py.
  results, table = _run_speed(tmp_path, "jaxgan@1,minimal@1", "wgan_clip")
  assert set(results) >= {"workloads", "machine", "versions", "settings"}
  assert set(results["workloads"]) == {"wgan_clip"}
  for name, entry in results["workloads"].items():
    for field in (
      "jaxgan_it_s",
      "minimal_it_s",
      "torch_eager_it_s",
      "ratio",
      "ratio_vs_minimal",
      "paired_ratio_vs_minimal",
      "compile_s",
      "first_step_s",
      "peak_rss_mb",
      "runners",
      "ratios",
    ):
      assert field in entry, (name, field)
    assert entry["jaxgan_it_s"] > 0 and entry["minimal_it_s"] > 0 and entry["compile_s"] > 0
    assert entry["ratio_vs_minimal"] == entry["jaxgan_it_s"] / entry["minimal_it_s"]
    for runner in ("jaxgan@1", "minimal@1"):
      run = results["raw"][name][runner][0]
      assert run["finite"] and run["peak_rss_mb"] > 0 and run["step_memory_mb"] > 0
      # The first step is the whole span (build, init, compile, one iteration) on every side.
      assert run["first_step_s"] >= run["compile_s"] > 0
  assert results["versions"]["jax"] == jax.__version__
  assert "| wgan_clip | jaxgan@1 |" in table and "| wgan_clip | minimal@1 |" in table


def test_minimal_step_is_not_run_on_dcgan():
  sys.path.insert(0, str(SPEED.parent))
  import speed

  assert speed._run_worker("minimal@1", "dcgan", None)["error"].startswith("not measured")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (optional extra `bench`: pip install -e .[bench])")
def test_torch_reference_matches_zoo_parameter_counts():
  sys.path.insert(0, str(ROOT / "benchmarks"))
  import torch_reference

  counts = {
    name: [
      sum(p.numel() for p in net.parameters())
      for net in (
        torch_reference.make_workload(name, batch_size=2).generator,
        torch_reference.make_workload(name, batch_size=2).critic,
      )
    ]
    for name in torch_reference.WORKLOADS
  }
  assert counts == {"wgan_gp": [1_510_032, 533_505], "wgan_clip": [1_510_032, 533_505], "dcgan": [1_049_985, 98_113]}
  critic = functional(MLPCritic(features=(512, 256), activation="leaky_relu"))
  assert _param_count(critic, jnp.zeros((1, 28, 28, 1))) == 533_505


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (optional extra `bench`: pip install -e .[bench])")
def test_speed_quick_torch_side(tmp_path):
  results, table = _run_speed(tmp_path, "torch_eager@1", "wgan_clip")
  entry = results["workloads"]["wgan_clip"]["runners"]["torch_eager@1"]
  assert entry["it_s"]["median"] > 0 and entry["peak_rss_mb"]["median"] > 0 and not entry["errors"]
  assert results["versions"]["torch"]
  assert "| wgan_clip | torch_eager@1 |" in table


def test_conv_layers_benchmark_schema(tmp_path):
  # Batch 2 and one repeat: checks that it runs and what it writes, not the timings.
  out = tmp_path / "conv_layers.json"
  cmd = [
    sys.executable,
    str(CONV_LAYERS),
    "--batch",
    "2",
    "--repeats",
    "1",
    "--layers",
    "zoo_d_conv4,dcgan_g_convt1",
    "--out",
    str(out),
  ]
  proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  results = json.loads(out.read_text())
  assert set(results) == {"machine", "versions", "settings", "layers"}
  assert [r["layer"]["name"] for r in results["layers"]] == ["zoo_d_conv4", "dcgan_g_convt1"]
  for r in results["layers"]:
    assert r["max_relative_error"] < 1e-4  # fast against xla, every measure
    for impl in ("xla", "fast"):
      assert set(r["seconds"][impl]) == {"forward", "input_grad", "kernel_grad", "train_backward"}
      assert all(m["median"] > 0 for m in r["seconds"][impl].values())
  assert "| dcgan_g_convt1 |" in proc.stdout


def test_scaling_counts_every_scanned_critic_update():
  # XLA's cost analysis counts a loop body once: a scanned step's FLOPs must still count its every critic update
  # (n_critic 1 is unrolled, 2 scanned under critic_loop='auto'; counted once, 2 would cost what 1 does).
  from experiments.configs import wgan_gp_toy
  from jaxgan import parallel
  from jaxgan.data import data_shape
  from jaxgan.train import build_gan, init_state, scans_critic_loop

  sys.path.insert(0, str(SPEED.parent))
  _spec = importlib.util.spec_from_file_location("scaling", SPEED.parent / "scaling.py")
  scaling = importlib.util.module_from_spec(_spec)
  _spec.loader.exec_module(scaling)
  flops = []
  for n_critic in (1, 2):
    config = wgan_gp_toy.get_config()
    config.update(n_critic=n_critic, batch_size=8)
    config.generator.features = config.critic.features = (32, 32)
    gan = build_gan(config)
    assert scans_critic_loop(gan) == (n_critic > 1)
    state = init_state(gan, jax.random.key(0))
    batch = jnp.zeros((n_critic, 8, *data_shape(config.data)))
    step = parallel.make_parallel_train_step(config, "none", gan=gan).step
    compiled = step.lower(state, batch, jax.random.key(1)).compile()
    flops.append(scaling.step_flops(config, compiled, state, batch, jax.random.key(1)))
  assert flops[1] - flops[0] > 0.2 * flops[0]
