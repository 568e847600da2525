"""Scientific fidelity on MNIST: every method for the same CPU time, scored on the project's MNIST classifier features
(issue 7, part 2; `python benchmarks/fidelity.py mnist`).

Each method's config from experiments/configs trains through `jaxgan.experiment.train_and_evaluate` on real MNIST
(its original files through tfds `manual_dir`) with `max_train_minutes` as the budget: `num_steps` is set out of
reach, periodic evaluation off, and the run stops at the first log step past the budget (compile time excluded), so
a method with a costlier step (WGAN-GP's five critic updates with a nested gradient) gets fewer steps. The final
checkpoint is then scored by `jaxgan.evaluation.evaluate_run` on 10,000 samples against the 10,000 test images:

  * FID and KID (polynomial kernel, subsets of 1,000) of the classifier's penultimate features;
  * IS (10 splits) and modified IS (DeLiGAN's, all pairs; and its mean within predicted classes) of its softmax;
  * precision and recall (Kynkaanniemi et al. 2019, k = 3, 10,000 of each).

Reference rows score real images the same way: 10,000 training images, and the first 1,000 (the low-data setting's
whole training set: what memorising it would score), against the test set.

The runs are resumable as the toy grid: `results/fidelity_mnist/<method>_seed<seed>.json` (plus an 8x8 sample grid
`.png`) per run, skipped when present, merged into `results/fidelity_mnist.json`, a markdown table and
`results/fidelity_mnist.png` (one sample grid per method).

  python benchmarks/fidelity.py mnist                         # every method, seed 0, 4 minutes each
  python benchmarks/fidelity.py mnist --methods dcgan wgan_gp --minutes 10 --seeds 0 1
  python benchmarks/fidelity.py mnist --merge-only

MNIST is read from `$JAXGAN_DATA_DIR/mnist` (default ../shared/datasets beside the repository) or `--manual-dir`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT, HERE):
  if str(_path) not in sys.path:
    sys.path.insert(0, str(_path))

from fidelity import RESULTS, load_runs, machine_info, versions, write_merged  # noqa: E402  (benchmarks/ is this script's folder)

RUNS_DIR = RESULTS / "fidelity_mnist"
MERGED = RESULTS / "fidelity_mnist.json"
FIGURE = RESULTS / "fidelity_mnist.png"
MINUTES = 4.0
NUM_SAMPLES = 10_000
LOW_DATA = 1_000
METRICS = ("fid", "kid", "inception_score", "modified_inception_score", "precision_recall")
# The numbers each run records (from evaluate_run's results) and the table shows.
SCORES = (
  "fid",
  "kid",
  "inception_score",
  "modified_inception_score",
  "modified_inception_score_per_class",
  "precision",
  "recall",
)

# method -> config in experiments/configs: the list, plus DCGAN on the low-data set as DeLiGAN's baseline.
METHODS: dict[str, str] = {
  "gan": "gan_mnist",  # Goodfellow et al. 2014 MLPs, SGD with momentum
  "dcgan": "dcgan_mnist",
  "wgan": "wgan_mnist",  # weight clipping, RMSProp, n_critic 5
  "wgan_gp": "wgan_gp_mnist",  # n_critic 5, gradient penalty 10
  "rsgan": "rsgan_mnist",
  "t_sgan": "t_sgan_mnist",
  "deligan": "deligan_mnist",
  "dcgan_lowdata": "dcgan_mnist_lowdata",  # 1,000 training images
  "deligan_lowdata": "deligan_mnist_lowdata",
}


def default_manual_dir() -> str:
  root = os.environ.get("JAXGAN_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
  return os.path.join(root, "mnist")


def check_manual_dir(manual_dir: str) -> None:
  if not os.path.exists(os.path.join(manual_dir, "train-images-idx3-ubyte.gz")):
    raise SystemExit(
      f"MNIST's original files (train-images-idx3-ubyte.gz, ...) are not in {manual_dir}; set "
      "JAXGAN_DATA_DIR to a folder holding mnist/, or pass --manual-dir."
    )


def method_config(method: str, seed: int, minutes: float, data_dir: str, manual_dir: str):
  """The method's config, trained for `minutes` of steps (not a step count) on MNIST read offline."""
  if method not in METHODS:
    raise ValueError(f"Unknown MNIST method {method!r}; choose from {sorted(METHODS)}.")
  config = importlib.import_module(f"experiments.configs.{METHODS[method]}").get_config()
  config.seed = seed
  config.max_train_minutes = minutes
  config.num_steps = 10**8  # out of reach: the time budget ends the run
  # A learning-rate schedule keeps its config's decay_steps; no periodic evaluation or checkpoint inside the budget.
  config.eval_every = config.checkpoint_every = 10**8
  config.log_every = 10  # the budget is checked at log steps
  config.data.data_dir = data_dir
  config.data.manual_dir = manual_dir
  return config


def _portable(config) -> dict[str, Any]:
  """The config as a dict, without this machine's folders (the records are committed)."""
  values = config.to_dict()
  values["data"]["data_dir"] = None  # a temporary folder
  values["data"]["manual_dir"] = f"$JAXGAN_DATA_DIR/{config.data.name}"
  return values


def train_and_score(config, workdir: Path, grid: Path, num_samples: int, seed: int) -> dict[str, Any]:
  """Trains `config` in a fresh `workdir`, scores `num_samples` of its samples (seed `seed`) and draws them as an 8x8
  `grid`. Returns what every resumable MNIST benchmark records of a run: `diverged` (the error's message, or None),
  `steps`, and for a finished run `scores` (`evaluate_run`'s), the `trained` results and the timings; plus the
  machine, versions and config. A run stopped early for another reason ends the benchmark (nothing recorded)."""
  import jax

  from jaxgan import plots
  from jaxgan.evaluation import evaluate_run
  from jaxgan.experiment import train_and_evaluate

  if workdir.exists():
    shutil.rmtree(workdir)  # a left-over checkpoint would resume and change what the budget buys
  load_start = os.getloadavg()
  t0, cpu0 = time.perf_counter(), time.process_time()
  about = {"machine": machine_info(), "versions": versions(), "config_values": _portable(config)}
  try:
    trained = train_and_evaluate(config, workdir, progress=False)
  except FloatingPointError as error:
    # A method that diverges within the budget is a result, not a crash of the benchmark.
    step = re.search(r"at step (\d+)", str(error))
    return {
      "diverged": str(error),
      "steps": int(step.group(1)) if step else None,
      "train_call_s": time.perf_counter() - t0,
      "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
      **about,
    }
  train_call_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
  if trained.get("interrupted"):
    raise SystemExit(f"{grid.stem} stopped early ({trained['interrupted']}) at step {trained['steps']}; not recorded.")
  samples_file = workdir / "samples.npz"
  t1 = time.perf_counter()
  scores = evaluate_run(
    workdir, num_samples=num_samples, metrics=list(METRICS), seed=seed, progress=False, save_samples=str(samples_file)
  )
  eval_s = time.perf_counter() - t1
  grid.parent.mkdir(parents=True, exist_ok=True)
  plots.save_image_grid(grid, np.load(samples_file)["images"][:64], rows=8)
  return {
    "diverged": None,
    "steps": int(trained["steps"]),
    "budget_reached": bool(trained["max_train_minutes_reached"]),
    "scores": scores,
    "train_loop_s": float(trained["wall_time_s"]),
    "compile_s": float(trained["compile_s"]),
    "steps_per_s": trained["steps_per_s"],
    "train_call_s": train_call_s,
    "train_cpu_s": train_cpu_s,
    "eval_s": eval_s,
    "load_average": {"start": load_start, "end": os.getloadavg()},
    "grid": grid.name,
    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "jax_devices": jax.device_count(),
    **about,
  }


def write_record(runs_dir: Path, name: str, record: dict[str, Any]) -> dict[str, Any]:
  """Writes `<name>.json` (last: its presence means the run is done) and returns `record`."""
  runs_dir.mkdir(parents=True, exist_ok=True)
  (runs_dir / f"{name}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
  return record


def run_one(
  method: str,
  seed: int,
  minutes: float,
  runs_dir: Path,
  workdir: Path,
  data_dir: str,
  manual_dir: str,
  num_samples: int = NUM_SAMPLES,
) -> dict[str, Any]:
  """Trains and scores one (method, seed); writes `<name>.png` then `<name>.json` (last: its presence means done)."""
  name = f"{method}_seed{seed}"
  config = method_config(method, seed, minutes, data_dir, manual_dir)
  common = {
    "method": method,
    "config": METHODS[method],
    "seed": seed,
    "budget_minutes": minutes,
    "n_critic": int(config.n_critic),
    "batch_size": int(config.batch_size),
    "train_examples": int(config.data.max_examples) or 60_000,
  }
  run = train_and_score(config, workdir, runs_dir / f"{name}.png", num_samples, seed)
  scores = run.pop("scores", {})
  flat = {k: scores.get(k) for k in SCORES}
  if run["diverged"] is None:
    flat.update(
      kid_std=scores.get("kid_std"),
      inception_score_std=scores.get("inception_score_std"),
      num_samples=int(scores["num_samples"]),
      num_real=int(scores["num_real"]),
    )
  return write_record(runs_dir, name, {**common, **flat, **run})


def real_reference(runs_dir: Path, data_dir: str, manual_dir: str, num: int) -> dict[str, Any]:
  """Scores of the first `num` real training images against the test set, as a run's samples are scored."""
  import ml_collections

  from jaxgan.data.images import load_images, to_unit_range
  from jaxgan.evaluation import extract_features, get_extractor, image_metrics

  data = ml_collections.ConfigDict(
    {
      "name": "mnist",
      "source": "tfds",
      "split": "train",
      "max_examples": num,
      "data_dir": data_dir,
      "manual_dir": manual_dir,
    }
  )
  train, _ = load_images(data, (28, 28, 1))
  data.split, data.max_examples = "test", 0
  test, _ = load_images(data, (28, 28, 1))
  extractor = get_extractor("mnist")
  real = extract_features(to_unit_range(test), extractor)
  fake = extract_features(to_unit_range(train), extractor)
  scores = image_metrics(fake, real, None, list(METRICS))
  record = {
    "method": f"real_train_{num}",
    "num_samples": len(train),
    "num_real": len(test),
    **{k: scores.get(k) for k in SCORES},
    "kid_std": scores.get("kid_std"),
    "machine": machine_info(),
    "versions": versions(),
  }
  runs_dir.mkdir(parents=True, exist_ok=True)
  (runs_dir / f"real_train_{num}.json").write_text(json.dumps(record, indent=2) + "\n")
  return record


def run_all(
  methods: Sequence[str],
  seeds: Sequence[int],
  minutes: float,
  runs_dir: Path,
  manual_dir: str,
  num_samples: int = NUM_SAMPLES,
  stop_after_s: float | None = None,
) -> list[str]:
  """The real references and every missing (method, seed), seeds outermost; returns the names trained now."""
  check_manual_dir(manual_dir)
  trained, t_start = [], time.perf_counter()
  with tempfile.TemporaryDirectory(prefix="fidelity_mnist_") as tmp:
    data_dir = os.path.join(tmp, "tfds")  # MNIST prepared once from manual_dir for every run
    for num in (NUM_SAMPLES, LOW_DATA):
      if not (runs_dir / f"real_train_{num}.json").exists():
        print(f"real reference: {num} training images vs the test set", file=sys.stderr, flush=True)
        real_reference(runs_dir, data_dir, manual_dir, num)
    for seed in seeds:
      for method in methods:
        name = f"{method}_seed{seed}"
        if (runs_dir / f"{name}.json").exists():
          print(f"skip {name}: its JSON exists", file=sys.stderr, flush=True)
          continue
        if stop_after_s is not None and time.perf_counter() - t_start > stop_after_s:
          print(f"stopping before {name}: {stop_after_s:.0f} s have passed", file=sys.stderr, flush=True)
          return trained
        print(f"run  {name} ({minutes:g} min) ...", file=sys.stderr, flush=True)
        r = run_one(method, seed, minutes, runs_dir, Path(tmp) / name, data_dir, manual_dir, num_samples)
        shutil.rmtree(Path(tmp) / name, ignore_errors=True)
        trained.append(name)
        if r["diverged"]:
          print(f"done {name}: diverged ({r['diverged']})", file=sys.stderr, flush=True)
        else:
          print(
            f"done {name}: {r['steps']} steps, FID {r['fid']:.2f}, IS {r['inception_score']:.2f}, "
            f"precision {r['precision']:.3f}, recall {r['recall']:.3f}",
            file=sys.stderr,
            flush=True,
          )
  return trained


# ----------------------------------------------------------------------------------------------------------- merge


def merge(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """Real references first, then one row per (method, budget): each score's mean and standard error over seeds."""
  from fidelity import mean_and_se

  references = sorted((r for r in records if r["method"].startswith("real_")), key=lambda r: -r["num_samples"])
  groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
  for r in records:
    if not r["method"].startswith("real_"):
      groups.setdefault((r["method"], r["budget_minutes"]), []).append(r)
  order = {m: i for i, m in enumerate(METHODS)}
  rows = []
  for (method, minutes), group in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0])):
    group = sorted(group, key=lambda r: r["seed"])
    row = {
      "method": method,
      "config": group[0]["config"],
      "budget_minutes": minutes,
      "train_examples": group[0]["train_examples"],
      "seeds": [r["seed"] for r in group],
      "diverged": [{"seed": r["seed"], "step": r["steps"]} for r in group if r.get("diverged")],
    }
    group = [r for r in group if not r.get("diverged")]  # scores average over the runs that finished
    for metric in ("steps", "steps_per_s", *SCORES):
      row[metric] = mean_and_se([r.get(metric) for r in group])
    rows.append(row)
  runs = [r for r in records if not r["method"].startswith("real_")]
  return {
    "references": references,
    "rows": rows,
    "machine": [json.loads(m) for m in sorted({json.dumps(r.get("machine", {}), sort_keys=True) for r in runs})],
    "versions": [json.loads(v) for v in sorted({json.dumps(r.get("versions", {}), sort_keys=True) for r in runs})],
    "definitions": {
      "features": "the project's MNIST classifier (jaxgan.metrics.classifier): penultimate "
      "features for FID, KID, precision/recall; softmax for IS and modified IS",
      "fid": f"{NUM_SAMPLES} samples vs the 10,000 test images",
      "kid": "unbiased MMD^2, cubic polynomial kernel, 100 subsets of 1,000",
      "inception_score": "10 splits",
      "precision_recall": "k = 3 nearest neighbours",
      "modified_inception_score_per_class": "mean over predicted classes of the score within",
      "budget_minutes": "training-loop wall time per run, compile excluded, 2 CPU cores",
    },
  }


def _cell(stat: Any, spec: str) -> str:
  """A number (or a {mean, se} dict: 'mean ± se') in format `spec`, e.g. '.2f' or '.3g'."""
  if isinstance(stat, dict):
    if stat["mean"] is None:
      return "n/a"
    text = format(stat["mean"], spec)
    return text if stat["se"] is None else f"{text} ± {format(stat['se'], spec)}"
  return "n/a" if stat is None else format(stat, spec)


# (column, score, format): KID is in the classifier features' units (a cubic kernel of unnormalised features), and
# the all-pairs modified IS of a confident classifier reaches millions, so both take significant digits.
COLUMNS = (
  ("FID", "fid", ".2f"),
  ("KID", "kid", ".3g"),
  ("IS", "inception_score", ".2f"),
  ("modified IS", "modified_inception_score", ".3g"),
  ("modified IS per class", "modified_inception_score_per_class", ".2f"),
  ("precision", "precision", ".3f"),
  ("recall", "recall", ".3f"),
)


def markdown_table(merged: dict[str, Any]) -> str:
  lines = [
    "| method | config | train images | seeds | steps in budget | " + " | ".join(c[0] for c in COLUMNS) + " |",
    "| --- " * (5 + len(COLUMNS)) + "|",
  ]
  for ref in merged["references"]:
    lines.append(
      f"| real: {ref['num_samples']} train images | | | | | "
      + " | ".join(_cell(ref[key], spec) for _, key, spec in COLUMNS)
      + " |"
    )
  for row in merged["rows"]:
    if len(row["diverged"]) == len(row["seeds"]):
      steps = ", ".join(str(d["step"]) for d in row["diverged"])
      lines.append(
        f"| {row['method']} | `{row['config']}` | {row['train_examples']} | {len(row['seeds'])} | "
        f"diverged (NaN) at step {steps} |" + " |" * len(COLUMNS)
      )
      continue
    seeds = f"{len(row['seeds'])}" + (f" ({len(row['diverged'])} diverged)" if row["diverged"] else "")
    lines.append(
      f"| {row['method']} | `{row['config']}` | {row['train_examples']} | {seeds} | "
      f"{_cell(row['steps'], '.0f')} | " + " | ".join(_cell(row[key], spec) for _, key, spec in COLUMNS) + " |"
    )
  return "\n".join(lines)


def save_figure(records: Sequence[dict[str, Any]], runs_dir: Path, path: Path) -> bool:
  """One 8x8 sample grid per method (its lowest seed), side by side, titled with the method and its FID."""
  from matplotlib.figure import Figure
  from PIL import Image

  chosen: dict[str, dict[str, Any]] = {}
  for r in sorted((r for r in records if r.get("grid")), key=lambda r: r["seed"]):
    chosen.setdefault(r["method"], r)
  methods = [m for m in METHODS if m in chosen]
  if not methods:
    return False
  cols = min(5, len(methods))
  rows = -(-len(methods) // cols)
  fig = Figure(figsize=(2.6 * cols, 2.9 * rows), dpi=100)
  for i, method in enumerate(methods):
    ax = fig.add_subplot(rows, cols, i + 1)
    ax.imshow(np.asarray(Image.open(runs_dir / chosen[method]["grid"])), cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    r = chosen[method]
    ax.set_title(f"{method}\nFID {r['fid']:.1f}, {r['steps']} steps", fontsize=8)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path)
  return True


def merge_and_report(runs_dir: Path, out: Path, figure: Path | None) -> dict[str, Any]:
  records = load_runs(runs_dir)
  merged = merge(records)
  draw = (lambda: save_figure(records, runs_dir, figure)) if figure is not None else None
  return write_merged(merged, out, draw, markdown_table(merged))


def add_arguments(p: argparse.ArgumentParser) -> None:
  p.add_argument("--methods", nargs="+", default=list(METHODS), help=f"of {list(METHODS)}")
  p.add_argument("--seeds", nargs="+", type=int, default=[0])
  p.add_argument("--minutes", type=float, default=MINUTES, help="training budget per run (compile excluded)")
  p.add_argument("--samples", type=int, default=NUM_SAMPLES, help="generated samples scored per run")
  p.add_argument("--manual-dir", default=None, help="MNIST's original files (default $JAXGAN_DATA_DIR/mnist)")
  p.add_argument("--merge-only", action="store_true")
  p.add_argument("--stop-after-minutes", type=float, default=None, help="start no new run after this long")
  p.add_argument("--runs-dir", default=str(RUNS_DIR))
  p.add_argument("--out", default=str(MERGED))
  p.add_argument("--figure", default=str(FIGURE))
  p.add_argument("--no-figure", action="store_true")


def main(args: argparse.Namespace) -> dict[str, Any]:
  unknown = sorted(set(args.methods) - set(METHODS))
  if unknown:
    raise SystemExit(f"Unknown MNIST methods {unknown}; choose from {list(METHODS)}.")
  if not args.minutes > 0 or args.samples < 100:
    raise SystemExit(f"--minutes must be > 0 and --samples >= 100; got {args.minutes} and {args.samples}.")
  runs_dir = Path(args.runs_dir)
  if not args.merge_only:
    run_all(
      args.methods,
      args.seeds,
      args.minutes,
      runs_dir,
      args.manual_dir or default_manual_dir(),
      args.samples,
      None if args.stop_after_minutes is None else 60.0 * args.stop_after_minutes,
    )
  return merge_and_report(runs_dir, Path(args.out), None if args.no_figure else Path(args.figure))
