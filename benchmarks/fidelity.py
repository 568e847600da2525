"""Scientific fidelity: mode coverage on PacGAN's toy mixtures, every method over several seeds (issue 7, part 2).

Setup and definitions as PacGAN (Lin et al. 2018, Sec. 5.1, after VEEGAN, Srivastava et al. 2017, Sec. 5.1):
  * `ring8`: 8 Gaussians on the unit circle, std 0.01; `grid25`: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05
    (`jaxgan.data.toy`).
  * 2,500 generated samples per run (`config.eval_samples`). A sample is *high quality* (HQ) when it lies within
    3 std of its nearest mode centre; a mode is *covered* when it is the nearest mode of at least one HQ sample;
    *reverse KL* is KL(fake || real) of the histogram of samples over their nearest modes (`jaxgan.metrics.toy`).
    The authors' code (`MetricLogger` in fjxmlzn/PacGAN) histograms only the HQ samples; that variant is recorded
    too, as `reverse_kl_hq`, but the table shows jaxgan's metric (every sample binned).

Every run goes through the public API a user runs: the method's config from experiments/configs (one per method,
below), with only `data.name`, `seed` and optionally `num_steps` overridden, trained by
`jaxgan.experiment.train_and_evaluate(config, workdir)`. Its metrics are those `results.json` reports. The run's
evaluation samples are regenerated from its final checkpoint (`jaxgan.evaluation.load_run`, the evaluation key that
`train_and_evaluate` uses) and saved as .npy, so the figure can be redrawn without retraining; the metrics are
recomputed from them and checked against `results.json`.

The full grid is hours of CPU, so it is resumable: each (method, dataset, seed) run writes
`results/fidelity/<method>_<dataset>_seed<seed>.json` (+ `.npy`), and a run whose JSON exists is skipped. Every
invocation then merges all per-run JSONs into `results/fidelity_toy.json` (mean and standard error over seeds, per
method, dataset and step count), prints the markdown table and draws `results/fidelity_toy.png` (rows methods,
columns datasets: the lowest seed's samples).

  python benchmarks/fidelity.py toy                                   # every method, both mixtures, seeds 0-4
  python benchmarks/fidelity.py toy --methods wgan_gp gan --datasets grid25 --seeds 0 1 --steps 2000
  python benchmarks/fidelity.py toy --seeds 1 2 --stop-after-minutes 90   # start no run after 90 minutes
  python benchmarks/fidelity.py toy --merge-only                      # table + figure from the per-run JSONs

`--steps` overrides `num_steps` only: a learning-rate schedule keeps its config's `decay_steps`. A run stopped early
(Ctrl-C, SIGTERM: `train_and_evaluate` then saves and returns) is not recorded, so the next invocation retrains it.
The tuned configs (`deligan_r1_toy` for the grid, `deligan_r1_ring_toy` for the ring) are methods like the others,
so the default invocation runs each on both mixtures.

`python benchmarks/fidelity.py mnist` trains every method for the same CPU time on MNIST and scores it on the
project's classifier features (FID, KID, IS, modified IS, precision/recall): see `benchmarks/fidelity_mnist.py`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT, HERE):
  if str(_path) not in sys.path:
    sys.path.insert(0, str(_path))

from hardware import cpu_name  # noqa: E402  (benchmarks/ is on the path)

RESULTS = HERE / "results"
RUNS_DIR = RESULTS / "fidelity"
MERGED = RESULTS / "fidelity_toy.json"
FIGURE = RESULTS / "fidelity_toy.png"
DATASETS = ("ring8", "grid25")
SEEDS = (0, 1, 2, 3, 4)

# method -> config in experiments/configs. The first ten are the issue's methods with their configs' defaults;
# the rest are tuned configs aimed at PacGAN's numbers.
METHODS: dict[str, str] = {
  "gan": "gan_minimax_toy",  # Goodfellow et al. 2014, minimax generator loss
  "ns_gan": "gan_toy",  # the non-saturating loss (PacGAN's "GAN" baseline uses this form)
  "wgan": "wgan_toy",
  "wgan_gp": "wgan_gp_toy",
  "rsgan": "rsgan_toy",
  "t_sgan": "t_sgan_toy",
  "t_wgan": "t_wgan_toy",
  "deligan": "deligan_toy",
  "hinge": "hinge_toy",
  "lsgan": "lsgan_toy",
}
TUNED_METHODS: dict[str, str] = {
  "deligan_r1": "deligan_r1_toy",  # NS loss + R1 + a narrow 200-component DeLiGAN prior, lr decayed to 0
  "deligan_r1_ring": "deligan_r1_ring_toy",  # the same with the R1 weight for the ring's narrower modes
  "deligan_r1_ema": "deligan_r1_toy:ema",  # deligan_r1, evaluated through the generator's moving average
  "wgan_gp_tuned": "wgan_gp_toy:tuned",  # the default job: WGAN-GP at Adam 1e-3 with the generator's average
  "deligan_wgan_gp": "deligan_wgan_gp_toy",  # wgan_gp_tuned, a narrow 500-component prior, lr decayed to 0
}
ALL_METHODS = {**METHODS, **TUNED_METHODS}

METRICS = ("modes_covered", "high_quality_fraction", "reverse_kl", "reverse_kl_hq", "wall_time_s", "cpu_s")

# Published numbers on the same mixtures (modes covered, HQ fraction, reverse KL; None where not reported).
ANCHORS = [
  {
    "source": "PacGAN Tab. 1",
    "method": "GAN",
    "dataset": "grid25",
    "modes": "17.3 ± 0.8",
    "hq": 0.948,
    "reverse_kl": 0.70,
  },
  {
    "source": "PacGAN Tab. 1",
    "method": "PacGAN4",
    "dataset": "grid25",
    "modes": "24.8 ± 0.2",
    "hq": 0.936,
    "reverse_kl": 0.04,
  },
  {
    "source": "PacGAN Tab. 1",
    "method": "GAN",
    "dataset": "ring8",
    "modes": "6.3 ± 0.5",
    "hq": 0.982,
    "reverse_kl": None,
  },
  {"source": "VEEGAN Tab. 1", "method": "VEEGAN", "dataset": "grid25", "modes": "24.6", "hq": 0.40, "reverse_kl": None},
  {"source": "VEEGAN Tab. 1", "method": "VEEGAN", "dataset": "ring8", "modes": "8", "hq": 0.529, "reverse_kl": None},
]


# ------------------------------------------------------------------------------------------------------------ runs


def run_name(method: str, dataset: str, seed: int) -> str:
  return f"{method}_{dataset}_seed{seed}"


def method_config(method: str, dataset: str, seed: int, steps: int | None = None):
  """The method's config with the run's overrides: the dataset, the seed and (optionally) the step count."""
  if method not in ALL_METHODS:
    raise ValueError(f"Unknown method {method!r}; choose from {sorted(ALL_METHODS)}.")
  module, _, variant = ALL_METHODS[method].partition(":")  # a config file's variant, as --config=FILE:VARIANT
  get_config = importlib.import_module(f"experiments.configs.{module}").get_config
  config = get_config(variant) if variant else get_config()
  config.data.name = dataset
  config.seed = seed
  if steps is not None:
    config.num_steps = steps
  return config


def _hq_only_reverse_kl(samples: np.ndarray, centers: np.ndarray, std: float) -> float | None:
  """KL(fake || uniform) over the modes, histogramming only HQ samples (as the PacGAN authors' MetricLogger)."""
  from jaxgan.metrics.toy import nearest_mode

  index, dist = nearest_mode(samples, centers)
  counts = np.bincount(index[dist <= 3.0 * std], minlength=len(centers)).astype(np.float64)
  if counts.sum() == 0:
    return None
  p = counts / counts.sum()
  nonzero = p > 0
  return float(np.sum(p[nonzero] * np.log(p[nonzero] * len(centers))))


def machine_info() -> dict[str, Any]:
  return {
    "cpu": cpu_name(),
    "cpus_available": len(os.sched_getaffinity(0)),
    "platform": platform.platform(),
    "python": platform.python_version(),
  }


def versions() -> dict[str, str | None]:
  out = {}
  for name in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy"):
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  return out


def run_one(method: str, dataset: str, seed: int, steps: int | None, runs_dir: Path, workdir: Path) -> dict[str, Any]:
  """Trains one (method, dataset, seed) run in a fresh `workdir`; writes and returns its per-run record.

  Writes `runs_dir/<name>.npy` (the evaluation samples [eval_samples, 2]) and then `runs_dir/<name>.json`; the JSON
  is written last, so its presence means the run is complete.
  """
  import jax

  from jaxgan.data import mode_centers
  from jaxgan.evaluation import generate_samples, load_run
  from jaxgan.experiment import train_and_evaluate
  from jaxgan.metrics import toy_metrics

  config = method_config(method, dataset, seed, steps)
  if workdir.exists():
    shutil.rmtree(workdir)  # a fresh run: a left-over checkpoint would resume and shorten the timed part
  load_start = os.getloadavg()
  t0, cpu0 = time.perf_counter(), time.process_time()
  results = train_and_evaluate(config, workdir, progress=False)
  total_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
  if results.get("interrupted") or int(results["steps"]) != int(config.num_steps):
    # train_and_evaluate stops early on SIGINT/SIGTERM; a partial run must not be recorded as done.
    raise SystemExit(
      f"{run_name(method, dataset, seed)} stopped at step {results['steps']} of {config.num_steps} "
      f"({results.get('interrupted')}); not recorded. Rerun to train it again."
    )

  # The samples train_and_evaluate evaluated: its final checkpoint and its evaluation key (the 4th split of the seed).
  _, gan, state, step = load_run(workdir)
  eval_key = jax.random.split(jax.random.key(config.seed), 4)[3]
  samples = np.asarray(generate_samples(gan, state, eval_key, int(config.eval_samples)), np.float32)
  centers, std = mode_centers(dataset)
  recomputed = toy_metrics(samples, centers, std)
  reproduced = all(math.isclose(recomputed[k], results[k], rel_tol=1e-5, abs_tol=1e-6) for k in recomputed)
  if not reproduced:
    print(
      f"warning: the saved samples give {recomputed}, results.json {[results[k] for k in recomputed]}", file=sys.stderr
    )

  name = run_name(method, dataset, seed)
  runs_dir.mkdir(parents=True, exist_ok=True)
  np.save(runs_dir / f"{name}.npy", samples)
  record = {
    "method": method,
    "config": ALL_METHODS[method],
    "dataset": dataset,
    "seed": seed,
    "steps": int(results["steps"]),
    "checkpoint_step": int(step),
    "batch_size": int(config.batch_size),
    "n_critic": int(config.n_critic),
    "eval_samples": int(config.eval_samples),
    "num_modes": int(len(centers)),
    "modes_covered": int(results["modes_covered"]),
    "high_quality_fraction": float(results["high_quality_fraction"]),
    "reverse_kl": float(results["reverse_kl"]),
    "reverse_kl_hq": _hq_only_reverse_kl(samples, centers, std),
    "samples_reproduce_metrics": reproduced,
    "wall_time_s": total_s,  # the whole train_and_evaluate call: init, compile, training, evaluation
    "train_loop_s": float(results["wall_time_s"]),
    "compile_s": float(results["compile_s"]),
    "steps_per_s": results["steps_per_s"],
    "cpu_s": cpu_s,  # process CPU time over all threads
    "load_average": {"start": load_start, "end": os.getloadavg()},
    "samples": f"{name}.npy",
    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "machine": machine_info(),
    "versions": versions(),
    "config_values": config.to_dict(),
  }
  (runs_dir / f"{name}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
  return record


def run_grid(
  methods: Sequence[str],
  datasets: Sequence[str],
  seeds: Sequence[int],
  steps: int | None,
  runs_dir: Path,
  workdir_root: Path | None = None,
  stop_after_s: float | None = None,
) -> list[str]:
  """Runs every missing (method, dataset, seed), seeds outermost (so seed 0 of everything comes first).

  Args:
    stop_after_s: start no new run after this many seconds (the one under way finishes).

  Returns:
    The names of the runs trained now (runs whose JSON existed are skipped).
  """
  trained = []
  t_start = time.perf_counter()
  root = workdir_root or Path(tempfile.mkdtemp(prefix="fidelity_"))
  try:
    for seed in seeds:
      for dataset in datasets:
        for method in methods:
          name = run_name(method, dataset, seed)
          existing = runs_dir / f"{name}.json"
          if existing.exists():
            done = json.loads(existing.read_text())
            note = (
              "" if steps is None or done["steps"] == steps else f" (it has {done['steps']} steps; delete it to rerun)"
            )
            print(f"skip {name}: {existing.name} exists{note}", file=sys.stderr, flush=True)
            continue
          if stop_after_s is not None and time.perf_counter() - t_start > stop_after_s:
            print(f"stopping before {name}: {stop_after_s:.0f} s have passed", file=sys.stderr, flush=True)
            return trained
          print(f"run  {name} ...", file=sys.stderr, flush=True)
          record = run_one(method, dataset, seed, steps, runs_dir, root / name)
          shutil.rmtree(root / name, ignore_errors=True)
          trained.append(name)
          print(
            f"done {name}: {record['modes_covered']}/{record['num_modes']} modes, "
            f"HQ {100 * record['high_quality_fraction']:.1f}%, reverse KL {record['reverse_kl']:.3f}, "
            f"{record['wall_time_s']:.0f} s",
            file=sys.stderr,
            flush=True,
          )
  finally:
    if workdir_root is None:
      shutil.rmtree(root, ignore_errors=True)
  return trained


# ----------------------------------------------------------------------------------------------------------- merge


def mean_and_se(values: Sequence[float]) -> dict[str, float | None]:
  """Mean and standard error of the mean (sample std with ddof 1 over sqrt(n)); se is None for one value."""
  values = np.asarray([v for v in values if v is not None], np.float64)
  if values.size == 0:
    return {"mean": None, "se": None, "n": 0}
  se = float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else None
  return {"mean": float(np.mean(values)), "se": se, "n": int(values.size)}


def load_runs(runs_dir: Path) -> list[dict[str, Any]]:
  return [json.loads(p.read_text()) for p in sorted(Path(runs_dir).glob("*.json"))]


def write_merged(merged: dict[str, Any], out: Path, draw: Callable[[], Any] | None, table: str) -> dict[str, Any]:
  """Writes a benchmark's merged results to `out`, runs `draw` (its figure) if given and prints `table`."""
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(merged, indent=2) + "\n")
  if draw is not None:
    draw()
  print(table)
  return merged


def merge(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """Per (method, dataset, steps): the seeds and each metric's mean and standard error; plus a summary per run."""
  groups = defaultdict(list)
  for r in runs:
    groups[(r["method"], r["dataset"], r["steps"])].append(r)
  order = {m: i for i, m in enumerate(ALL_METHODS)}
  rows = []
  for (method, dataset, steps), group in sorted(
    groups.items(),
    key=lambda kv: (
      order.get(kv[0][0], len(order)),
      kv[0][0],
      DATASETS.index(kv[0][1]) if kv[0][1] in DATASETS else 99,
      kv[0][1],
      kv[0][2],
    ),
  ):
    group = sorted(group, key=lambda r: r["seed"])
    row = {
      "method": method,
      "config": group[0]["config"],
      "dataset": dataset,
      "steps": steps,
      "num_modes": group[0]["num_modes"],
      "seeds": [r["seed"] for r in group],
      "all_modes_runs": sum(r["modes_covered"] == r["num_modes"] for r in group),
    }
    for metric in METRICS:
      row[metric] = mean_and_se([r.get(metric) for r in group])
    rows.append(row)
  summary = [
    {
      k: r[k]
      for k in (
        "method",
        "dataset",
        "seed",
        "steps",
        "modes_covered",
        "high_quality_fraction",
        "reverse_kl",
        "reverse_kl_hq",
        "wall_time_s",
        "cpu_s",
        "finished_at",
      )
    }
    for r in runs
  ]
  machines = sorted({json.dumps(r.get("machine", {}), sort_keys=True) for r in runs})
  vers = sorted({json.dumps(r.get("versions", {}), sort_keys=True) for r in runs})
  return {
    "rows": rows,
    "runs": summary,
    "anchors": ANCHORS,
    "machine": [json.loads(m) for m in machines],
    "versions": [json.loads(v) for v in vers],
    "definitions": {
      "high_quality": "within 3 std of the nearest mode centre",
      "modes_covered": "modes that are the nearest mode of >= 1 high-quality sample",
      "reverse_kl": "KL(fake || uniform) of every sample binned at its nearest mode",
      "reverse_kl_hq": "the same over high-quality samples only (PacGAN authors' code)",
      "se": "standard error of the mean over seeds: std(ddof=1) / sqrt(n)",
      "wall_time_s": "seconds of the whole train_and_evaluate call (shared 2-core machine)",
      "cpu_s": "process CPU seconds of that call, over all threads",
    },
  }


def _fmt(stat: dict, digits: int, scale: float = 1.0) -> str:
  if stat["mean"] is None:
    return "n/a"
  text = f"{scale * stat['mean']:.{digits}f}"
  return text if stat["se"] is None else f"{text} ± {scale * stat['se']:.{digits}f}"


def markdown_table(merged: dict[str, Any]) -> str:
  """One row per (method, dataset, steps): seeds, modes covered, HQ %, reverse KL, wall and CPU seconds (mean ± se)."""
  lines = [
    "| method | config | dataset | seeds | steps | modes covered | all modes | high quality % | reverse KL "
    "| wall s | CPU s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ]
  for row in merged["rows"]:
    n = len(row["seeds"])
    lines.append(
      f"| {row['method']} | `{row['config']}` | {row['dataset']} | {n} | {row['steps']} | "
      f"{_fmt(row['modes_covered'], 1)} / {row['num_modes']} | {row['all_modes_runs']}/{n} | "
      f"{_fmt(row['high_quality_fraction'], 1, 100.0)} | {_fmt(row['reverse_kl'], 3)} | "
      f"{_fmt(row['wall_time_s'], 0)} | {_fmt(row['cpu_s'], 0)} |"
    )
  return "\n".join(lines)


def anchors_table() -> str:
  lines = ["| published | dataset | modes covered | high quality % | reverse KL |", "| --- | --- | --- | --- | --- |"]
  for a in ANCHORS:
    kl = "–" if a["reverse_kl"] is None else f"{a['reverse_kl']:.2f}"
    lines.append(f"| {a['source']}: {a['method']} | {a['dataset']} | {a['modes']} | {100 * a['hq']:.1f} | {kl} |")
  return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- figure


def save_figure(runs: Sequence[dict[str, Any]], runs_dir: Path, path: Path) -> bool:
  """Rows methods, columns datasets: the lowest seed's saved samples (longest run) over the mode centres."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from jaxgan.data import get_toy

  chosen = {}
  for r in sorted(runs, key=lambda r: (r["seed"], -r["steps"])):
    chosen.setdefault((r["method"], r["dataset"]), r)
  if not chosen:
    return False
  order = {m: i for i, m in enumerate(ALL_METHODS)}
  methods = sorted({m for m, _ in chosen}, key=lambda m: (order.get(m, len(order)), m))
  datasets = [d for d in DATASETS if any(d == ds for _, ds in chosen)]
  fig, axes = plt.subplots(
    len(methods), len(datasets), figsize=(3.0 * len(datasets), 3.0 * len(methods)), squeeze=False, dpi=80
  )
  for i, method in enumerate(methods):
    for j, dataset in enumerate(datasets):
      ax = axes[i, j]
      ax.set_xticks([])
      ax.set_yticks([])
      ax.set_aspect("equal")
      centers = get_toy(dataset).centers
      lim = 1.5 if dataset == "ring8" else 6.0
      ax.set_xlim(-lim, lim)
      ax.set_ylim(-lim, lim)
      r = chosen.get((method, dataset))
      if r is None:
        ax.set_title(f"{method}: not run", fontsize=8)
        continue
      samples = np.load(Path(runs_dir) / r["samples"])
      ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3, c="tab:orange", rasterized=True)
      ax.scatter(centers[:, 0], centers[:, 1], s=12, marker="x", c="black", linewidths=0.8)
      ax.set_title(
        f"{method}, {dataset}, seed {r['seed']}\n{r['modes_covered']}/{r['num_modes']} modes, "
        f"HQ {100 * r['high_quality_fraction']:.0f}%",
        fontsize=8,
      )
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path)
  plt.close(fig)
  return True


# ------------------------------------------------------------------------------------------------------------- CLI


def merge_and_report(runs_dir: Path, out: Path, figure: Path | None) -> dict[str, Any]:
  """Merges the per-run JSONs into `out`, draws `figure` and prints the tables; returns the merged dict."""
  runs = load_runs(runs_dir)
  merged = merge(runs)
  merged["settings"] = {
    "datasets": list(DATASETS),
    "eval_samples": sorted({r["eval_samples"] for r in runs}),
    "methods": {m: ALL_METHODS.get(m) for m in sorted({r["method"] for r in runs})},
    "runs_dir": os.path.relpath(runs_dir, out.parent),
  }
  draw = (lambda: save_figure(runs, runs_dir, figure)) if figure is not None and runs else None
  return write_merged(merged, out, draw, f"{markdown_table(merged)}\n\n{anchors_table()}")


def toy(args: argparse.Namespace) -> dict[str, Any]:
  unknown = sorted(set(args.methods) - set(ALL_METHODS))
  if unknown:
    raise SystemExit(f"Unknown methods {unknown}; choose from {sorted(ALL_METHODS)}.")
  bad = sorted(set(args.datasets) - set(DATASETS))
  if bad:
    raise SystemExit(f"Unknown datasets {bad}; choose from {list(DATASETS)}.")
  if args.steps is not None and args.steps < 1:
    raise SystemExit(f"--steps must be >= 1; got {args.steps}.")
  runs_dir = Path(args.runs_dir)
  if not args.merge_only:
    run_grid(
      args.methods,
      args.datasets,
      args.seeds,
      args.steps,
      runs_dir,
      Path(args.workdir_root) if args.workdir_root else None,
      None if args.stop_after_minutes is None else 60.0 * args.stop_after_minutes,
    )
  return merge_and_report(runs_dir, Path(args.out), None if args.no_figure else Path(args.figure))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = parser.add_subparsers(dest="command", required=True)
  p = sub.add_parser("toy", help="PacGAN's ring8 / grid25 mixtures")
  p.add_argument("--methods", nargs="+", default=list(ALL_METHODS), help=f"of {list(ALL_METHODS)}")
  p.add_argument("--datasets", nargs="+", default=list(DATASETS))
  p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
  p.add_argument("--steps", type=int, default=None, help="override every config's num_steps")
  p.add_argument("--merge-only", action="store_true", help="only merge the per-run JSONs, print, draw")
  p.add_argument(
    "--stop-after-minutes",
    type=float,
    default=None,
    help="start no new run after this many minutes (the current one finishes); rerun to go on",
  )
  p.add_argument("--runs-dir", default=str(RUNS_DIR), help="per-run JSONs and samples")
  p.add_argument("--out", default=str(MERGED), help="merged JSON")
  p.add_argument("--figure", default=str(FIGURE), help="PNG of the samples")
  p.add_argument("--no-figure", action="store_true")
  p.add_argument("--workdir-root", default=None, help="keep run directories here (default: a temporary folder)")
  import fidelity_mnist  # benchmarks/ is on the path: this script's folder

  fidelity_mnist.add_arguments(sub.add_parser("mnist", help="MNIST: every method for the same CPU time"))
  args = parser.parse_args(argv)
  return toy(args) if args.command == "toy" else fidelity_mnist.main(args)


if __name__ == "__main__":
  main()
