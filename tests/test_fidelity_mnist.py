"""benchmarks/fidelity_mnist.py: the budgeted configs, merging (mean and standard error over seeds), the table, and
one tiny real run on MNIST scored against the test set."""

import importlib.util
import json
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location("fidelity_mnist", ROOT / "benchmarks" / "fidelity_mnist.py")
fidelity_mnist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fidelity_mnist)


def _record(method, seed, fid, precision, steps=100):
  return {
    "method": method,
    "config": fidelity_mnist.METHODS[method],
    "seed": seed,
    "budget_minutes": 4.0,
    "steps": steps,
    "steps_per_s": steps / 240,
    "train_examples": 60000,
    "fid": fid,
    "kid": fid / 1000,
    "inception_score": 9.0,
    "modified_inception_score": 8.0,
    "modified_inception_score_per_class": 1.1,
    "precision": precision,
    "recall": 0.5,
    "grid": f"{method}_seed{seed}.png",
    "machine": {"cpu": "test"},
    "versions": {"jax": "test"},
  }


@pytest.mark.parametrize("method", list(fidelity_mnist.METHODS))
def test_every_method_config_trains_for_the_budget_on_offline_mnist(method):
  config = fidelity_mnist.method_config(method, 3, 2.5, "tfds_dir", "mnist_files")
  assert config.max_train_minutes == 2.5 and config.seed == 3
  assert config.num_steps > 10**6 and config.eval_every > 10**6  # the budget, not a step count, ends the run
  assert config.data.name == "mnist" and config.data.manual_dir == "mnist_files"
  assert (config.data.max_examples == 1000) == method.endswith("lowdata")


def test_unknown_method_is_refused():
  with pytest.raises(ValueError, match="Unknown MNIST method 'began'"):
    fidelity_mnist.method_config("began", 0, 1.0, "a", "b")


def test_missing_mnist_files_name_the_fix(tmp_path):
  with pytest.raises(SystemExit, match="JAXGAN_DATA_DIR"):
    fidelity_mnist.check_manual_dir(str(tmp_path))


def test_merge_means_and_standard_errors_match_numpy():
  fids, precisions = [30.0, 36.0, 27.0], [0.7, 0.6, 0.8]
  records = [_record("wgan_gp", s, fids[s], precisions[s], steps=400 + s) for s in range(3)]
  records.append(_record("gan", 0, 80.0, 0.3))
  records += [
    {
      "method": "real_train_1000",
      "num_samples": 1000,
      "fid": 0.9,
      "kid": 1e-4,
      "inception_score": 9.5,
      "modified_inception_score": 9.0,
      "modified_inception_score_per_class": 1.2,
      "precision": 0.9,
      "recall": 0.8,
    },
    {
      "method": "real_train_10000",
      "num_samples": 10000,
      "fid": 0.2,
      "kid": 1e-5,
      "inception_score": 9.7,
      "modified_inception_score": 9.1,
      "modified_inception_score_per_class": 1.3,
      "precision": 0.95,
      "recall": 0.9,
    },
  ]
  merged = fidelity_mnist.merge(records)
  assert [r["method"] for r in merged["references"]] == ["real_train_10000", "real_train_1000"]
  assert [r["method"] for r in merged["rows"]] == ["gan", "wgan_gp"]  # the registry's order
  row = merged["rows"][1]
  assert row["seeds"] == [0, 1, 2]
  for metric, values in (("fid", fids), ("precision", precisions), ("steps", [400, 401, 402])):
    np.testing.assert_allclose(row[metric]["mean"], np.mean(values), rtol=1e-12)
    np.testing.assert_allclose(row[metric]["se"], np.std(values, ddof=1) / np.sqrt(3), rtol=1e-12)
  table = fidelity_mnist.markdown_table(merged).splitlines()
  assert table[2].startswith("| real: 10000 train images |") and "| 0.20 | 1e-05 | 9.70 | 9.1 | 1.30 |" in table[2]
  se = np.std(fids, ddof=1) / np.sqrt(3)
  assert f"| wgan_gp | `wgan_gp_mnist` | 60000 | 3 | 401 ± 1 | {np.mean(fids):.2f} ± {se:.2f} |" in table[5]
  assert "| gan | `gan_mnist` | 60000 | 1 | 100 | 80.00 | 0.08 | 9.00 | 8 | 1.10 | 0.300 | 0.500 |" in table[4]


@pytest.mark.slow
def test_tiny_budgeted_run_is_scored_and_merged(tmp_path, tfds_data_dir, mnist_manual_dir, monkeypatch):
  original = fidelity_mnist.method_config

  def small(*args):  # the real path with small nets: training and scoring, not sample quality
    config = original(*args)
    config.generator.base_features = config.critic.base_features = 8
    config.generator.conv_impl = config.critic.conv_impl = "xla"  # compiles faster than the CPU form
    return config

  monkeypatch.setattr(fidelity_mnist, "method_config", small)
  runs = tmp_path / "runs"
  record = fidelity_mnist.run_one(
    "dcgan", 0, 0.05, runs, tmp_path / "work", tfds_data_dir, mnist_manual_dir, num_samples=300
  )
  assert record["budget_reached"] and record["steps"] >= 10 and record["steps"] % 10 == 0
  assert record["train_loop_s"] - record["compile_s"] >= 3.0  # 0.05 minutes
  assert record["num_samples"] == 300 and record["num_real"] == 10000
  assert record["fid"] > 0 and 1.0 <= record["inception_score"] <= 10.0 and 0 <= record["precision"] <= 1
  assert (runs / "dcgan_seed0.png").stat().st_size > 500
  on_disk = json.loads((runs / "dcgan_seed0.json").read_text())
  assert on_disk["fid"] == record["fid"] and on_disk["steps"] == record["steps"]

  real = fidelity_mnist.real_reference(runs, tfds_data_dir, mnist_manual_dir, 1000)
  # 1,000 real training images are far closer to the test set than an untrained-ish generator's samples.
  assert real["fid"] < record["fid"] and real["precision"] > record["precision"]
  merged = fidelity_mnist.merge_and_report(runs, tmp_path / "merged.json", tmp_path / "grid.png")
  assert merged["rows"][0]["fid"]["mean"] == record["fid"] and merged["references"][0]["fid"] == real["fid"]
  assert (tmp_path / "grid.png").stat().st_size > 1000


def test_a_diverged_run_is_recorded_and_reported(tmp_path, monkeypatch):
  import jaxgan.experiment

  def diverge(config, workdir, progress):
    raise FloatingPointError("critic_loss = nan at step 1250; stopping without saving this state")

  monkeypatch.setattr(jaxgan.experiment, "train_and_evaluate", diverge)
  record = fidelity_mnist.run_one("gan", 0, 4.0, tmp_path, tmp_path / "work", "tfds", "files")
  assert record["steps"] == 1250 and "nan" in record["diverged"] and record["fid"] is None
  finished = _record("gan", 1, 50.0, 0.5)
  merged = fidelity_mnist.merge([json.loads((tmp_path / "gan_seed0.json").read_text()), finished])
  row = merged["rows"][0]
  assert row["diverged"] == [{"seed": 0, "step": 1250}] and row["fid"]["mean"] == 50.0 and row["fid"]["n"] == 1
  assert "| gan | `gan_mnist` | 50000 | 2 (1 diverged) | 100 | 50.00 | 0.05 |" in fidelity_mnist.markdown_table(merged)
  only_diverged = fidelity_mnist.merge([json.loads((tmp_path / "gan_seed0.json").read_text())])
  assert "| 1 | diverged (NaN) at step 1250 |" in fidelity_mnist.markdown_table(only_diverged)


def test_records_hold_no_machine_folders():
  config = fidelity_mnist.method_config("dcgan", 0, 1.0, "/scratch/tfds", "/data/mnist")
  values = fidelity_mnist._portable(config)
  assert values["data"]["data_dir"] is None and values["data"]["manual_dir"] == "$JAXGAN_DATA_DIR/mnist"
  assert config.data.manual_dir == "/data/mnist"  # the run itself still reads the real folder
