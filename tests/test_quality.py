"""benchmarks/quality.py: the plan of runs, the mark clock, and the summary math (parity at equal steps, minutes to
torch's FID) on synthetic marks with hand-computed answers."""

import importlib.util
import pathlib
import sys

import chex
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quality)


def _run(framework, seed, step_fids=None, wall_fids=None, minutes=0.0, ema=False):
  marks = [{"kind": "step", "step": s, "wall_s": 10.0 * s, "fid": f} for s, f in (step_fids or {}).items()]
  marks += [{"kind": "wall", "step": int(w), "wall_s": 60.0 * w, "fid": f} for w, f in (wall_fids or {}).items()]
  run = {"framework": framework, "workload": "dcgan", "seed": seed, "ema": ema, "threads": 2, "minutes": minutes}
  return {**run, "marks": marks}


def _runs():
  # Step 500 is before the parity window; at 1000 torch spans [10, 14]: widened by 15% about 12, [9.7, 14.3], and
  # jaxgan's median 13 lies inside; at 2000 torch spans [8, 10] -> [7.85, 10.15], and jaxgan's median 10.2 does not.
  torch_steps = [{500: 50.0, 1000: 10.0, 2000: 8.0}, {500: 60.0, 1000: 12.0, 2000: 9.0}, {1000: 14.0, 2000: 10.0}]
  jaxgan_steps = [{500: 99.0, 1000: 9.8, 2000: 10.2}, {500: 99.0, 1000: 13.0, 2000: 10.3}, {1000: 20.0, 2000: 5.0}]
  # torch at 10 min: 20 and 24, median 22. jaxgan's medians at 1, 2, 3, 5 min: 35, 28, 20, 15: 22 is crossed
  # between 2 min (28) and 3 min (20), at 2 + (28 - 22) / (28 - 20) = 2.75 min.
  torch_walls = [{1: 90.0, 10: 20.0}, {1: 80.0, 10: 24.0}]
  jaxgan_walls = [{1: 40.0, 2: 30.0, 3: 22.0, 5: 15.0}, {1: 30.0, 2: 26.0, 3: 18.0, 5: 15.0}]
  runs = [
    _run("torch", i, s, torch_walls[i] if i < 2 else None, 10.0 if i < 2 else 0.0) for i, s in enumerate(torch_steps)
  ]
  runs += [_run("jaxgan", i, s, jaxgan_walls[i] if i < 2 else None, 5.0) for i, s in enumerate(jaxgan_steps)]
  runs.append(_run("jaxgan", 0, {1000: 500.0, 2000: 500.0}, {1: 1.0}, 5.0, ema=True))  # EMA runs stay out
  return runs


def test_summary_by_hand():
  summary = quality.summarize(_runs())["dcgan"]
  assert summary["torch_fid_10min"] == 22.0
  assert summary["jaxgan_minutes_to_torch_fid_10min"] == pytest.approx(2.75)
  assert summary["time_to_quality_met"]
  assert [m["step"] for m in summary["parity_marks"]] == [1000, 2000]
  assert summary["parity_marks"][0]["band"] == pytest.approx([9.7, 14.3])
  assert summary["parity_marks"][0]["within"] and not summary["parity_marks"][1]["within"]
  assert summary["parity_within_seed_spread"] is False


def test_minutes_to_fid_edges():
  runs = [_run("jaxgan", 0, wall_fids={1: 30.0, 2: 20.0})]
  assert quality.minutes_to_fid(runs, 40.0) == 1.0  # reached at the first mark: no earlier point to interpolate from
  assert quality.minutes_to_fid(runs, 25.0) == pytest.approx(1.5)
  assert quality.minutes_to_fid(runs, 10.0) is None


def test_minutes_to_fid_reads_step_marks_past_the_last_wall_mark():
  # Each run passes step 4000 after its last wall mark (5 min): run 0 at 320 s with FID 18, run 1 at 340 s with 20.
  # The median at 320 s takes run 1 between 300 s (24) and 340 s (20): 22, so the median curve is 25 at 300 s and
  # (18 + 22) / 2 = 20 at 320 s, and crosses 22 at 300 + 20 * (25 - 22) / (25 - 20) = 312 s.
  runs = [_run("jaxgan", 0, wall_fids={1: 60.0, 5: 26.0}), _run("jaxgan", 1, wall_fids={1: 50.0, 5: 24.0})]
  runs[0]["marks"].append({"kind": "step", "step": 4000, "wall_s": 320.0, "fid": 18.0})
  runs[1]["marks"].append({"kind": "step", "step": 4000, "wall_s": 340.0, "fid": 20.0})
  runs.append(_run("jaxgan", 2, step_fids={1: 1.0}))  # no wall marks: not a wall-clock run, left out
  assert quality.minutes_to_fid(runs, 22.0) == pytest.approx(312.0 / 60.0)
  assert quality.minutes_to_fid(runs[:2], 10.0) is None


def test_merge_keeps_the_schema_and_gan_mnist():
  gan = {**_run("jaxgan", 0, wall_fids={20: 30.0}, minutes=20.0), "workload": "gan_mnist", "diverged": None}
  gan["marks"][0].update(precision=0.5, recall=0.25)
  merged = quality.merge(_runs() + [gan])
  assert set(merged) >= {"runs", "summary", "gan_mnist", "machine", "versions"}
  assert {k for k in merged["runs"][0]} >= {"framework", "workload", "seed", "ema", "threads", "marks"}
  assert merged["gan_mnist"]["fid"] == 30.0 and merged["gan_mnist"]["minutes"] == 20.0
  assert "dcgan" in quality.markdown_table(merged)


def test_plan_alternates_frameworks_and_owes_the_right_marks():
  specs = quality.plan_runs(["wgan_gp_mlp"], [0, 1, 2], 10.0, quality.STEP_MARKS, ema=True)
  assert [s["name"] for s in specs[:3]] == [
    "torch_wgan_gp_mlp_seed0",
    "jaxgan_wgan_gp_mlp_seed0",
    "jaxgan_wgan_gp_mlp_seed0_ema_rampup0.05",
  ]
  assert specs[2]["ema_rampup"] == 0.05 and specs[1]["ema_rampup"] == 0.0
  no_rampup = quality.plan_runs(["wgan_gp_mlp"], [0], 10.0, quality.STEP_MARKS, ema=True, ema_rampup=0.0)
  assert no_rampup[2]["name"] == "jaxgan_wgan_gp_mlp_seed0_ema"  # the name runs without ramp-up were saved under
  assert specs[3]["framework"] == "jaxgan"  # seed 1 starts with the other framework
  assert specs[0]["step_limit"] == 4000 and specs[0]["wall_marks_s"] == [60, 120, 180, 300, 600]
  assert specs[1]["wall_marks_s"] == [60, 120, 180, 300]  # jaxgan: half the time
  assert all(s["minutes"] == 0 and not s["wall_marks_s"] for s in specs if s["seed"] == 2)
  # Resuming with a subset of the seeds plans each run as the whole list does.
  assert quality.plan_runs(["wgan_gp_mlp"], [2], 10.0, quality.STEP_MARKS, ema=True) == specs[-3:]
  assert quality.plan_runs(["wgan_gp_mlp"], [1], 10.0, quality.STEP_MARKS, ema=True) == specs[3:6]


def test_mark_clock_takes_step_and_wall_marks_once(monkeypatch):
  now = [100.0]
  monkeypatch.setattr(quality.time, "time", lambda: now[0])
  clock = quality.MarkClock(t0=100.0, step_marks=[2], wall_marks_s=[5.0, 10.0], step_limit=2)
  now[0] = 106.0  # both marks at once would need 10 s; only the 5 s mark has passed
  assert [(m["kind"], m["wall_s"], m["step"]) for m in clock.due(1)] == [("wall", 5.0, 1)]
  now[0] = 111.0
  clock.paused = 2.0  # 9 s on the clock: the 10 s mark is not due yet
  assert [(m["kind"], m["step"]) for m in clock.due(2)] == [("step", 2)]
  assert not clock.finished(2)
  now[0] = 113.0
  assert [m["kind"] for m in clock.due(3)] == ["wall"] and clock.finished(3)


def test_sample_grid_keeps_the_data_range(tmp_path):
  import matplotlib.image

  # No black pixel anywhere: a grid stretched to its own extremes would show the mid-grey samples as black.
  samples = np.zeros((120, 28, 28, 1), np.float32)
  samples[0] = 1.0
  samples[2] = 0.5
  quality.save_grid(tmp_path / "grid.png", samples)
  grid = matplotlib.image.imread(tmp_path / "grid.png")[..., 0]
  assert grid.shape == (10 * 29 + 1, 10 * 29 + 1)  # the first 100 samples, 10 x 10, 1-pixel borders
  chex.assert_trees_all_close(
    [float(grid[1:29, 1:29].mean()), float(grid[1:29, 30:58].mean()), float(grid[1:29, 59:87].mean())],
    [1.0, 128 / 255, 191 / 255],
    atol=1e-6,
  )


@pytest.mark.parametrize("frameworks", [("torch", "jaxgan"), ("torch",)])
def test_training_split_is_decoded_before_the_first_run(monkeypatch, tmp_path, frameworks):
  # The first jaxgan run must not pay for writing the decoded-array cache that later runs read.
  events = []

  class FakeScorer:
    def __init__(self, data_dir, manual_dir):
      self.data_dir, self.manual_dir = data_dir, manual_dir

    def real_features(self, workload):
      events.append(("test split", workload))

  def fake_run_one(spec, runs_dir, tmp, scorer):
    events.append(("run", spec["name"]))
    return {"steps": 1, "run_s": 1.0, "marks": [], "diverged": None}

  monkeypatch.setattr(quality, "check_manual_dir", lambda manual_dir: None)
  monkeypatch.setattr(quality, "Scorer", FakeScorer)
  monkeypatch.setattr(quality, "warm_training_split", lambda w, d, m: events.append(("train split", w)))
  monkeypatch.setattr(quality, "run_one", fake_run_one)
  specs = quality.plan_runs(["wgan_gp_mlp"], [0], 10.0, [250], frameworks=frameworks)
  quality.run_all(specs, tmp_path, "manual", str(tmp_path / "tfds"))
  warm = [("train split", "wgan_gp_mlp")] if "jaxgan" in frameworks else []
  assert events == [("test split", "wgan_gp_mlp"), *warm] + [("run", s["name"]) for s in specs]
