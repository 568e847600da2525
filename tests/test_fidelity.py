"""benchmarks/fidelity.py: merging per-run JSONs (mean and standard error over seeds), the table, resuming, and one
tiny real run through the CLI."""

import importlib
import importlib.util
import json
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fidelity", ROOT / "benchmarks" / "fidelity.py")
fidelity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fidelity)


def _record(method, dataset, seed, steps, modes, hq, kl, wall):
  return {
    "method": method,
    "config": fidelity.ALL_METHODS[method],
    "dataset": dataset,
    "seed": seed,
    "steps": steps,
    "num_modes": 25 if dataset == "grid25" else 8,
    "eval_samples": 2500,
    "modes_covered": modes,
    "high_quality_fraction": hq,
    "reverse_kl": kl,
    "reverse_kl_hq": kl / 2,
    "wall_time_s": wall,
    "cpu_s": 2 * wall,
    "finished_at": "now",
    "samples": f"{method}_{dataset}.npy",
    "machine": {"cpu": "test"},
    "versions": {"jax": "test"},
  }


def _write_runs(runs_dir, records):
  runs_dir.mkdir(parents=True, exist_ok=True)
  for r in records:
    (runs_dir / f"{fidelity.run_name(r['method'], r['dataset'], r['seed'])}.json").write_text(json.dumps(r))


def test_merge_means_and_standard_errors_match_numpy(tmp_path):
  modes, hq, kl, wall = [25, 23, 24], [0.31, 0.27, 0.4], [0.05, 0.2, 0.11], [100.0, 130.0, 90.0]
  records = [_record("wgan_gp", "grid25", s, 5000, modes[s], hq[s], kl[s], wall[s]) for s in range(3)]
  records.append(_record("gan", "ring8", 0, 5000, 6, 0.9, 0.4, 20.0))
  records.append(_record("wgan_gp", "grid25", 5, 200, 3, 0.01, 2.0, 5.0))  # another step count: its own row
  _write_runs(tmp_path / "runs", records)

  merged = fidelity.merge(fidelity.load_runs(tmp_path / "runs"))
  rows = {(r["method"], r["dataset"], r["steps"]): r for r in merged["rows"]}
  assert set(rows) == {("wgan_gp", "grid25", 5000), ("wgan_gp", "grid25", 200), ("gan", "ring8", 5000)}
  row = rows["wgan_gp", "grid25", 5000]
  assert row["seeds"] == [0, 1, 2] and row["all_modes_runs"] == 1
  for metric, values in (
    ("modes_covered", modes),
    ("high_quality_fraction", hq),
    ("reverse_kl", kl),
    ("wall_time_s", wall),
  ):
    np.testing.assert_allclose(row[metric]["mean"], np.mean(values), rtol=1e-12)
    np.testing.assert_allclose(row[metric]["se"], np.std(values, ddof=1) / np.sqrt(3), rtol=1e-12)
    assert row[metric]["n"] == 3
  single = rows["gan", "ring8", 5000]
  assert single["modes_covered"] == {"mean": 6.0, "se": None, "n": 1}
  # Rows follow the method order of the registry (gan before wgan_gp).
  assert [r["method"] for r in merged["rows"]][0] == "gan"

  table = fidelity.markdown_table(merged)
  se_modes = np.std(modes, ddof=1) / np.sqrt(3)
  assert f"| wgan_gp | `wgan_gp_toy` | grid25 | 3 | 5000 | 24.0 ± {se_modes:.1f} / 25 | 1/3 |" in table
  assert f"{100 * np.mean(hq):.1f} ± {100 * np.std(hq, ddof=1) / np.sqrt(3):.1f}" in table
  assert "| gan | `gan_minimax_toy` | ring8 | 1 | 5000 | 6.0 / 8 | 0/1 | 90.0 | 0.400 | 20 | 40 |" in table


def test_run_grid_skips_runs_whose_json_exists(tmp_path, monkeypatch):
  runs_dir = tmp_path / "runs"
  _write_runs(runs_dir, [_record("ns_gan", "ring8", 0, 100, 8, 0.5, 0.1, 1.0)])
  calls = []

  def fake_run_one(method, dataset, seed, steps, runs_dir, workdir):
    calls.append((method, dataset, seed))
    record = _record(method, dataset, seed, steps, 1, 0.1, 0.1, 1.0)
    _write_runs(runs_dir, [record])
    return record

  monkeypatch.setattr(fidelity, "run_one", fake_run_one)
  trained = fidelity.run_grid(["ns_gan"], ["ring8"], [0, 1], 100, runs_dir)
  assert calls == [("ns_gan", "ring8", 1)] and trained == ["ns_gan_ring8_seed1"]
  assert fidelity.run_grid(["ns_gan"], ["ring8"], [0, 1], 100, runs_dir) == []  # everything exists now
  assert len(calls) == 1
  # With the time limit already passed no new run starts.
  assert fidelity.run_grid(["ns_gan"], ["ring8"], [2], 100, runs_dir, stop_after_s=0.0) == []
  assert len(calls) == 1


def test_unknown_method_is_refused():
  with pytest.raises(SystemExit, match="Unknown methods"):
    fidelity.main(["toy", "--methods", "not_a_gan", "--merge-only"])


def test_tiny_real_run_through_the_cli(tmp_path):
  runs_dir, out, figure = tmp_path / "runs", tmp_path / "merged.json", tmp_path / "samples.png"
  argv = [
    "toy",
    "--methods",
    "ns_gan",
    "--datasets",
    "ring8",
    "--seeds",
    "0",
    "--steps",
    "3",
    "--runs-dir",
    str(runs_dir),
    "--out",
    str(out),
    "--figure",
    str(figure),
  ]
  merged = fidelity.main(argv)

  record = json.loads((runs_dir / "ns_gan_ring8_seed0.json").read_text())
  assert (record["config"], record["steps"], record["seed"], record["dataset"]) == ("gan_toy", 3, 0, "ring8")
  assert record["samples_reproduce_metrics"]  # the saved samples are the ones results.json was computed on
  samples = np.load(runs_dir / record["samples"])
  assert samples.shape == (2500, 2) and np.all(np.isfinite(samples))
  assert json.loads(out.read_text())["rows"] == merged["rows"]
  assert merged["rows"][0]["seeds"] == [0] and merged["rows"][0]["modes_covered"]["mean"] == record["modes_covered"]
  assert figure.stat().st_size > 0

  mtime = (runs_dir / "ns_gan_ring8_seed0.json").stat().st_mtime_ns
  fidelity.main(argv)  # resumes: the run exists, so nothing is retrained
  assert (runs_dir / "ns_gan_ring8_seed0.json").stat().st_mtime_ns == mtime


def test_an_interrupted_run_is_not_recorded(tmp_path, monkeypatch):
  import jaxgan.experiment

  def stopped_early(config, workdir, progress=True):
    del workdir, progress
    return {
      "interrupted": "SIGTERM",
      "steps": 2,
      "modes_covered": 0,
      "high_quality_fraction": 0.0,
      "reverse_kl": 1.0,
      "wall_time_s": 1.0,
      "compile_s": 0.5,
      "steps_per_s": None,
    }

  monkeypatch.setattr(jaxgan.experiment, "train_and_evaluate", stopped_early)
  with pytest.raises(SystemExit, match="stopped at step 2"):
    fidelity.run_one("ns_gan", "ring8", 0, 10, tmp_path / "runs", tmp_path / "work")
  assert not list(tmp_path.glob("runs/*.json"))


def test_a_config_variant_is_a_method():
  plain = fidelity.method_config("deligan_r1", "grid25", 3)
  ema = fidelity.method_config("deligan_r1_ema", "grid25", 3)
  assert (plain.ema.decay, ema.ema.decay, ema.ema.rampup) == (0.0, 0.999, 0.05)
  assert ema.seed == 3 and ema.data.name == "grid25"
  differ = {k for k in plain if k not in ("name", "ema") and plain[k] != ema[k]}
  assert not differ, differ  # training is the tuned method's
  with pytest.raises(ValueError, match="variants"):
    importlib.import_module("experiments.configs.deligan_r1_toy").get_config("emma")


def test_deligan_wgan_gp_is_the_default_job_with_the_narrow_prior_and_decay():
  from jaxgan.optim import learning_rate_schedule

  base = fidelity.method_config("wgan_gp_tuned", "grid25", 1)
  config = fidelity.method_config("deligan_wgan_gp", "grid25", 1)
  assert config.prior == "deligan" and config.deligan.num_components == 500
  assert (config.ema.decay, config.ema.rampup) == (base.ema.decay, base.ema.rampup)
  # Each schedule reaches 0 at its own optimiser's last update: one per step for G, n_critic per step for D.
  for name, updates in (("g_optimizer", config.num_steps), ("d_optimizer", config.num_steps * config.n_critic)):
    schedule = learning_rate_schedule(config[name], name)
    assert float(schedule(0)) == pytest.approx(base[name].learning_rate)
    assert float(schedule(updates // 2)) == pytest.approx(base[name].learning_rate / 2)
    assert float(schedule(updates)) == 0.0
  same = ("loss", "penalty", "penalty_weight", "n_critic", "batch_size", "num_steps", "latent_dim")
  same += ("generator", "critic")
  assert {k: config[k] for k in same} == {k: base[k] for k in same}
