"""What a run writes for TensorBoard, read back from the event files: the toy scatter as a picture at every
evaluation, only the scalars that mean something for the run's loss and penalty, the losses' section first, arrays
not written as scalars, and the hyperparameters for the HParams dashboard."""

import sys

import numpy as np
from events import read_scalars, read_values
from tensorboardX.proto import plugin_hparams_pb2

from jaxgan import summary
from jaxgan.experiment import train_and_evaluate


def _hparams(values) -> plugin_hparams_pb2.HParamsPluginData:
  ((_, value),) = values
  assert value.metadata.plugin_data.plugin_name == "hparams"
  return plugin_hparams_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)


def test_toy_log_loss_run_without_penalty_reads_well(tiny_toy_config, tmp_path):
  c = tiny_toy_config
  c.loss, c.penalty, c.penalty_weight, c.n_critic = "ns_gan", "none", 0.0, 1
  results = train_and_evaluate(c, tmp_path, progress=False)
  values = read_values(tmp_path / "tensorboard")
  scalars = read_scalars(tmp_path / "tensorboard")

  # The scatter picture at every evaluation (step 4) and at the end (step 6), as a PNG-encoded image.
  assert [step for step, _ in values["samples"]] == [4, 6]
  image = values["samples"][-1][1].image
  assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" and image.height > 100 and image.width > 100

  # No penalty and a log loss: neither a gradient penalty of 0 nor a "Wasserstein estimate".
  assert not [tag for tag in scalars if "gradient_penalty" in tag or "wasserstein" in tag], sorted(scalars)
  # TensorBoard sorts sections by name: the losses' comes first.
  sections = sorted({tag.split("/")[0] for tag in scalars})
  assert sections[0] == "1_losses" and {"1_losses/critic_loss", "1_losses/generator_loss"} <= set(scalars)
  assert sections == ["1_losses", "2_train", "3_eval", "4_diag"], sections
  # The diagnostics at every logging step, next to the step's own metrics.
  assert [step for step, _ in scalars["4_diag/diversity"]] == [2, 4, 6]
  assert "2_train/critic_grad_norm" in scalars and isinstance(results["diagnostics_alerts"], list)

  # One HParams session: the config's fields against the final metrics, which the run wrote as scalars.
  experiment = _hparams(values["_hparams_/experiment"]).experiment
  names = {info.name for info in experiment.hparam_infos}
  assert {"loss", "penalty", "d_optimizer.learning_rate", "critic.features", "data.name"} <= names
  metrics = {info.name.tag for info in experiment.metric_infos}
  assert {"1_losses/critic_loss", "3_eval/reverse_kl"} <= metrics
  assert metrics <= set(scalars)
  start = _hparams(values["_hparams_/session_start_info"]).session_start_info
  assert start.hparams["loss"].string_value == "ns_gan"
  assert start.hparams["batch_size"].number_value == c.batch_size


def test_arrays_are_not_written_as_scalars(tmp_path):
  writer = summary.SummaryWriter(tmp_path)
  writer.scalars(
    1,
    {
      "eval/inception_score": np.float32(2.5),
      "eval/inception_score_splits": np.array([2.4, 2.6]),
      "eval/count": 3,
      "other/x": 1.0,
    },
  )
  writer.close()
  assert sorted(read_scalars(tmp_path)) == ["3_eval/count", "3_eval/inception_score", "other/x"]


def test_preload_imports_the_writer_and_tolerates_a_missing_module(tmp_path, capfd):
  summary.preload().join(timeout=120)
  assert "tensorboardX" in sys.modules
  writer = summary.SummaryWriter(tmp_path)
  writer.scalars(1, {"loss": 0.5})
  writer.close()
  summary._import_quietly("no_such_module_for_jaxgan")  # an import that fails on the thread prints nothing
  assert "Traceback" not in capfd.readouterr().err
