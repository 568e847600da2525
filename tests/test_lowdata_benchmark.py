"""benchmarks/lowdata.py: each method's budgeted config (data, variant, moving average) and the merge of its runs
(means and standard errors over seeds, for the moving average's and the raw generator's scores)."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location("lowdata", ROOT / "benchmarks" / "lowdata.py")
lowdata = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lowdata)


@pytest.mark.parametrize("method", list(lowdata.METHODS))
def test_every_method_trains_its_variant_on_the_small_set_for_the_budget(method):
  config = lowdata.method_config(method, "fashion_mnist", 500, 1, 2.5, "tfds_dir", "files")
  assert config.data.name == "fashion_mnist" and config.data.max_examples == 500 and config.seed == 1
  assert config.max_train_minutes == 2.5 and config.num_steps > 10**6 and config.eval_every > 10**6
  assert (config.augment == "color,translation,cutout") == ("diffaug" in method)
  assert (config.lecam_weight > 0) == method.endswith("lecam")
  if config.lecam_weight > 0:  # the regulariser acts within the budget's ~1,000 steps
    assert config.lecam_start == lowdata.LECAM_START < 1000
  assert config.name.startswith(method.split("_")[0])
  assert dict(config.ema) == lowdata.EMA and config.ema.decay > 0  # every method is scored through its average


def _run(method, seed, fid, raw_fid, gap):
  scores = {k: 1.0 for k in lowdata.SCORES}
  return {
    "dataset": "mnist",
    "train_images": 500,
    "method": method,
    "seed": seed,
    "minutes": 4.0,
    "steps": 1000 + seed,
    "diverged": None,
    "metrics": {**scores, "fid": fid},
    "metrics_raw": {**scores, "fid": raw_fid},
    "gap": gap,
  }


def test_merge_averages_both_generators_and_the_gap_over_seeds():
  fids, raws, gaps = [40.0, 52.0], [45.0, 61.0], [0.8, 1.4]
  runs = [_run("dcgan_diffaug", s, fids[s], raws[s], gaps[s]) for s in range(2)]
  runs.append(_run("dcgan", 0, 90.0, 95.0, 3.0))
  merged = lowdata.merge(runs)
  assert [r["method"] for r in merged["rows"]] == ["dcgan", "dcgan_diffaug"]  # the methods' order, not the files'
  row = merged["rows"][1]
  for stat, values in ((row["metrics"]["fid"], fids), (row["metrics_raw"]["fid"], raws), (row["gap"], gaps)):
    np.testing.assert_allclose(stat["mean"], np.mean(values))
    np.testing.assert_allclose(stat["se"], np.std(values, ddof=1) / np.sqrt(2))
  table = lowdata.markdown_table(merged)
  assert "| mnist | 500 | dcgan_diffaug | 2 | 1000 ± 0 | 46.00 ± 6.00 |" in table
  assert "| 53.00 ± 8.00 | 1.100 ± 0.300 |" in table  # the raw generator's FID, then the gap


def test_a_diverged_run_is_counted_but_not_averaged():
  runs = [_run("deligan", 0, 30.0, 31.0, 0.5), {**_run("deligan", 1, 0.0, 0.0, 0.0), "diverged": "NaN", "steps": 7}]
  row = lowdata.merge(runs)["rows"][0]
  assert row["seeds"] == [0, 1] and row["diverged"] == [{"seed": 1, "step": 7}]
  assert row["metrics"]["fid"]["mean"] == 30.0 and row["metrics_raw"]["fid"]["n"] == 1
  assert "2 (1 diverged)" in lowdata.markdown_table(lowdata.merge(runs))
