"""The CIFAR-10 configs end to end (issue 19): `train_and_evaluate` reads the first images of the JPEG-packed copy
through `config.data.source = 'npz:PATH'`, as `--config.data.source=npz:...` does, and trains 3 steps at batch 8
(nets at an eighth of their width, XLA's convolutions, the critic updates scanned)."""

import importlib
import math

import pytest

from jaxgan import experiment
from tests.conftest import first_cifar10_images

BATCH, STEPS = 8, 3


@pytest.fixture(scope="module")
def first_images(tmp_path_factory):
  """An npz of the copy's first training images, enough for one step of 5 critic updates."""
  path = tmp_path_factory.mktemp("cifar10") / "first.npz"
  assert not first_cifar10_images(path, 5 * BATCH)["is_test"].any()
  return path


@pytest.mark.parametrize("name", ["sngan_cifar10", "wgan_gp_resnet_cifar10"])
def test_cifar10_config_trains_end_to_end(name, first_images, tmp_path):
  config = importlib.import_module(f"experiments.configs.{name}").get_config()
  config.data.source = f"npz:{first_images}"
  config.batch_size = BATCH
  config.num_steps = STEPS
  config.log_every = 1
  # XLA's own convolutions: the CPU form with fast gradients (tests/test_conv.py) compiles several times longer, which
  # 3 steps do not repay.
  config.generator.conv_impl = config.critic.conv_impl = "xla"
  config.critic_loop = "scan"  # one critic update compiled, not five: same numbers up to float reassociation
  # An eighth of the width: the same blocks, norms and losses; at full width these 3 steps take about 2 minutes on
  # 2 cores (tests/test_resnet.py checks the full-width nets' parameter counts).
  config.generator.base_features //= 8
  config.critic.base_features //= 8
  workdir = tmp_path / "run"
  results = experiment.train_and_evaluate(config, workdir, progress=False)
  assert results["steps"] == STEPS
  losses = {k: v for k, v in results.items() if k.endswith("_loss") and isinstance(v, float)}
  assert losses and all(math.isfinite(v) for v in losses.values()), results
  assert (workdir / "checkpoints" / str(STEPS)).is_dir()
  assert (workdir / "samples.png").stat().st_size > 0
