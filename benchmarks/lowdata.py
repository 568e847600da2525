"""Low-data GANs: DiffAugment (Zhao et al. 2020) and LeCam (Tseng et al. 2021) against DCGAN and DeLiGAN, on MNIST
and Fashion-MNIST with 500 and 5,000 training images (issue 19).

Each method is a low-data config and one of its variants (`experiments/configs/*_lowdata.py`, `base.LOW_DATA_VARIANTS`),
with `data.name` set to the dataset and `data.max_examples` to the number of training images (the first N of the
training split). It trains through `jaxgan.experiment.train_and_evaluate` for `--minutes` of training loop (compile
excluded; `num_steps` out of reach, as `benchmarks/fidelity_mnist.py` does), and its final checkpoint is scored by
`jaxgan.evaluation.evaluate_run` against the dataset's test set on the project's classifier features: FID, KID,
precision and recall (penultimate features), IS and DeLiGAN's modified IS (softmax). Every method keeps a moving
average of its generator (and of DeLiGAN's prior; `config.ema`, decay 0.999 with StyleGAN2-ADA's ramp-up 0.05, which
leaves training unchanged); the table's scores are the average's and `metrics_raw` holds the trained generator's,
scored on the same samples' seed, so each run answers both. The overfitting gap is the
critic's mean score (inference mode, no augmentation) on the N training images minus its mean score on N held-out
images (the first N of the test split): near 0 when the critic has not memorised its training set.

Resumable as the fidelity benchmark: each run writes `results/lowdata/<dataset>_<N>_<method>_seed<seed>.json` (plus
an 8x8 sample grid `.png`) and is skipped when that JSON exists; every invocation merges the JSONs into
`results/lowdata.json` (mean and standard error over seeds), prints a markdown table and draws `results/lowdata.png`
(FID and gap per method, one column per dataset and size).

  python benchmarks/lowdata.py                                  # the grid: 2 datasets x 2 sizes x 5 methods x 2 seeds
  python benchmarks/lowdata.py --datasets mnist --train-images 500 --methods dcgan --seeds 0 --minutes 0.2
  python benchmarks/lowdata.py --merge-only

The datasets' original files are read from `$JAXGAN_DATA_DIR/<dataset>` (default ../shared/datasets beside the
repository).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
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

from fidelity import RESULTS, load_runs, mean_and_se, write_merged  # noqa: E402  (benchmarks/ is this folder)
from fidelity_mnist import SCORES, train_and_score, write_record  # noqa: E402

RUNS_DIR = RESULTS / "lowdata"
MERGED = RESULTS / "lowdata.json"
FIGURE = RESULTS / "lowdata.png"
MINUTES = 4.0
EMA = {"decay": 0.999, "start_step": 0, "rampup": 0.05}  # quality.py's default average
# LeCam joins the critic's loss after this step. The authors' 1,000 is 1% of their 100k-step runs; a run here makes
# about 1,000 steps in its budget, so 1,000 would leave the regulariser off. 100 steps is the anchors' time constant
# (decay 0.99): they have settled on the critic's scores before R uses them.
LECAM_START = 100
NUM_SAMPLES = 10_000
DATASETS = ("mnist", "fashion_mnist")
TRAIN_IMAGES = (500, 5_000)
SEEDS = (0, 1)
# method -> (config in experiments/configs, its variant in base.LOW_DATA_VARIANTS)
METHODS: dict[str, tuple[str, str]] = {
  "dcgan": ("dcgan_mnist_lowdata", ""),
  "dcgan_diffaug": ("dcgan_mnist_lowdata", "diffaug"),
  "dcgan_diffaug_lecam": ("dcgan_mnist_lowdata", "diffaug_lecam"),
  "deligan": ("deligan_mnist_lowdata", ""),
  "deligan_diffaug": ("deligan_mnist_lowdata", "diffaug"),
}


def default_manual_dir(dataset: str) -> str:
  root = os.environ.get("JAXGAN_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
  return os.path.join(root, dataset)


def check_manual_dir(dataset: str, manual_dir: str) -> None:
  if not os.path.exists(os.path.join(manual_dir, "train-images-idx3-ubyte.gz")):
    raise SystemExit(
      f"{dataset}'s original files (train-images-idx3-ubyte.gz, ...) are not in {manual_dir}; set "
      f"JAXGAN_DATA_DIR to a folder holding {dataset}/."
    )


def run_name(dataset: str, train_images: int, method: str, seed: int) -> str:
  return f"{dataset}_{train_images}_{method}_seed{seed}"


def method_config(
  method: str, dataset: str, train_images: int, seed: int, minutes: float, data_dir: str, manual_dir: str
):
  """The method's config on `train_images` images of `dataset`, trained for `minutes` of steps, read offline."""
  if method not in METHODS:
    raise ValueError(f"Unknown low-data method {method!r}; choose from {list(METHODS)}.")
  name, variant = METHODS[method]
  config = importlib.import_module(f"experiments.configs.{name}").get_config(variant)
  config.seed = seed
  config.data.name = dataset
  config.data.max_examples = train_images
  config.data.data_dir = data_dir
  config.data.manual_dir = manual_dir
  config.max_train_minutes = minutes
  config.num_steps = 10**8  # out of reach: the time budget ends the run
  config.eval_every = config.checkpoint_every = 10**8  # no periodic evaluation or checkpoint inside the budget
  config.log_every = 10  # the budget is checked at log steps
  config.ema.update(EMA)
  if config.lecam_weight > 0:
    config.lecam_start = LECAM_START
  return config


def critic_scores(gan, state, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
  """The critic's real/fake scores [N] of uint8 images [N, H, W, C], in inference mode and without augmentation."""
  import jax
  import jax.numpy as jnp

  from jaxgan import nets
  from jaxgan.data.images import to_unit_range

  def score(x):
    out = gan.critic.apply(state.d_params, state.d_state, x, False)[0]
    return out.score if isinstance(out, nets.CriticOutput) else out  # a classifier critic's real/fake score

  score = jax.jit(score)
  batches = (images[i : i + batch_size] for i in range(0, len(images), batch_size))
  return np.concatenate([np.asarray(score(jnp.asarray(to_unit_range(batch)))) for batch in batches])


def overfitting_gap(workdir: Path, train_images: int) -> dict[str, float]:
  """The critic's mean score on its training images minus on as many held-out (test) images."""
  from jaxgan.data.images import load_images
  from jaxgan.evaluation import load_run

  config, gan, state, _ = load_run(workdir)
  data = config.data.copy_and_resolve_references()
  train, _ = load_images(data, gan.data_shape)
  data.split, data.max_examples = "test", train_images
  held_out, _ = load_images(data, gan.data_shape)
  train_mean = float(np.mean(critic_scores(gan, state, train)))
  held_out_mean = float(np.mean(critic_scores(gan, state, held_out)))
  return {
    "gap": train_mean - held_out_mean,
    "critic_train_mean": train_mean,
    "critic_held_out_mean": held_out_mean,
    "num_train": len(train),
    "num_held_out": len(held_out),
  }


def run_one(
  dataset: str,
  train_images: int,
  method: str,
  seed: int,
  minutes: float,
  runs_dir: Path,
  workdir: Path,
  data_dir: str,
  manual_dir: str,
  num_samples: int = NUM_SAMPLES,
) -> dict[str, Any]:
  """Trains and scores one cell; writes `<name>.png` then `<name>.json` (last: its presence means done)."""
  name = run_name(dataset, train_images, method, seed)
  config = method_config(method, dataset, train_images, seed, minutes, data_dir, manual_dir)
  common = {
    "dataset": dataset,
    "train_images": train_images,
    "method": method,
    "config": METHODS[method][0],
    "variant": METHODS[method][1],
    "seed": seed,
    "minutes": minutes,
    "augment": config.augment,
    "lecam_weight": float(config.lecam_weight),
    "lecam_start": int(config.lecam_start),
    "ema": dict(config.ema),
  }
  run = train_and_score(config, workdir, runs_dir / f"{name}.png", num_samples, seed)
  scores = run.pop("scores", None)
  if scores is None:
    return write_record(runs_dir, name, {**common, **run, "metrics": {k: None for k in SCORES}, "gap": None})
  metrics = _metrics(scores)
  metrics_raw = _metrics(raw_scores(workdir, num_samples, seed))
  gap = overfitting_gap(workdir, train_images)
  record = {**common, **run, "metrics": metrics, "metrics_raw": metrics_raw, "gap": gap["gap"], "gap_detail": gap}
  return write_record(runs_dir, name, record)


def _metrics(scores: dict[str, Any]) -> dict[str, Any]:
  return {
    **{k: scores.get(k) for k in SCORES},
    "kid_std": scores.get("kid_std"),
    "num_samples": int(scores["num_samples"]),
    "num_real": int(scores["num_real"]),
  }


def raw_scores(workdir: Path, num_samples: int, seed: int) -> dict[str, Any]:
  """The trained generator's scores (not its moving average's), with the same sample seed and metrics."""
  from fidelity_mnist import METRICS

  from jaxgan.evaluation import evaluate_run

  return evaluate_run(
    workdir, num_samples=num_samples, metrics=list(METRICS), seed=seed, progress=False, write=False, raw_generator=True
  )


def run_all(
  datasets: Sequence[str],
  sizes: Sequence[int],
  methods: Sequence[str],
  seeds: Sequence[int],
  minutes: float,
  runs_dir: Path,
  num_samples: int = NUM_SAMPLES,
  stop_after_s: float | None = None,
) -> list[str]:
  """Every missing cell, seeds outermost (so a stopped grid has whole seeds); returns the names trained now."""
  manual_dirs = {dataset: default_manual_dir(dataset) for dataset in datasets}
  for dataset, manual_dir in manual_dirs.items():
    check_manual_dir(dataset, manual_dir)
  trained, t_start = [], time.perf_counter()
  with tempfile.TemporaryDirectory(prefix="lowdata_") as tmp:
    data_dir = os.path.join(tmp, "tfds")  # each dataset prepared once from its manual_dir for every run
    for seed in seeds:
      for dataset in datasets:
        for size in sizes:
          for method in methods:
            name = run_name(dataset, size, method, seed)
            if (runs_dir / f"{name}.json").exists():
              print(f"skip {name}: its JSON exists", file=sys.stderr, flush=True)
              continue
            if stop_after_s is not None and time.perf_counter() - t_start > stop_after_s:
              print(f"stopping before {name}: {stop_after_s:.0f} s have passed", file=sys.stderr, flush=True)
              return trained
            print(f"run  {name} ({minutes:g} min) ...", file=sys.stderr, flush=True)
            workdir = Path(tmp) / name
            r = run_one(
              dataset, size, method, seed, minutes, runs_dir, workdir, data_dir, manual_dirs[dataset], num_samples
            )
            shutil.rmtree(workdir, ignore_errors=True)
            trained.append(name)
            if r["diverged"]:
              print(f"done {name}: diverged ({r['diverged']})", file=sys.stderr, flush=True)
            else:
              m = r["metrics"]
              print(
                f"done {name}: {r['steps']} steps, FID {m['fid']:.2f} (raw {r['metrics_raw']['fid']:.2f}), "
                f"precision {m['precision']:.3f}, "
                f"recall {m['recall']:.3f}, gap {r['gap']:.3f}",
                file=sys.stderr,
                flush=True,
              )
  return trained


# ----------------------------------------------------------------------------------------------------------- merge


def merge(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """One row per (dataset, train_images, method, minutes): each score's and the gap's mean and standard error."""
  groups: dict[tuple[str, int, str, float], list[dict[str, Any]]] = {}
  for r in records:
    groups.setdefault((r["dataset"], r["train_images"], r["method"], r["minutes"]), []).append(r)
  order = {m: i for i, m in enumerate(METHODS)}
  rows = []
  for (dataset, size, method, minutes), group in sorted(
    groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99), kv[0][3])
  ):
    group = sorted(group, key=lambda r: r["seed"])
    row = {
      "dataset": dataset,
      "train_images": size,
      "method": method,
      "minutes": minutes,
      "seeds": [r["seed"] for r in group],
      "diverged": [{"seed": r["seed"], "step": r["steps"]} for r in group if r.get("diverged")],
    }
    group = [r for r in group if not r.get("diverged")]  # scores average over the runs that finished
    row["steps"] = mean_and_se([r.get("steps") for r in group])
    row["metrics"] = {k: mean_and_se([r["metrics"].get(k) for r in group]) for k in SCORES}
    row["metrics_raw"] = {k: mean_and_se([(r.get("metrics_raw") or {}).get(k) for r in group]) for k in SCORES}
    row["gap"] = mean_and_se([r.get("gap") for r in group])
    rows.append(row)
  return {
    "rows": rows,
    "machine": [json.loads(m) for m in sorted({json.dumps(r.get("machine", {}), sort_keys=True) for r in records})],
    "versions": [json.loads(v) for v in sorted({json.dumps(r.get("versions", {}), sort_keys=True) for r in records})],
    "definitions": {
      "features": "the project's classifier for the dataset (jaxgan.metrics.classifier): penultimate features for "
      "FID, KID, precision/recall; softmax for IS and modified IS",
      "fid": "generated samples vs the dataset's 10,000 test images",
      "gap": "mean critic score on the training images minus on as many test images (inference mode, no augment)",
      "metrics": "the generator's moving average (config.ema, decay 0.999, ramp-up 0.05)",
      "metrics_raw": "the trained generator, same samples' seed",
      "minutes": "training-loop wall time per run, compile excluded",
    },
  }


def _cell(stat: dict[str, Any] | None, spec: str) -> str:
  if not stat or stat.get("mean") is None:
    return "n/a"
  text = format(stat["mean"], spec)
  return text if stat.get("se") is None else f"{text} ± {format(stat['se'], spec)}"


COLUMNS = (("FID", "fid", ".2f"), ("KID", "kid", ".3g"), ("modified IS", "modified_inception_score", ".3g"))
COLUMNS += (("precision", "precision", ".3f"), ("recall", "recall", ".3f"))


def markdown_table(merged: dict[str, Any]) -> str:
  header = "| dataset | train images | method | seeds | steps | " + " | ".join(c[0] for c in COLUMNS)
  header += " | FID, raw generator | gap |"
  lines = [header, "| --- " * (7 + len(COLUMNS)) + "|"]
  for row in merged["rows"]:
    seeds = f"{len(row['seeds'])}" + (f" ({len(row['diverged'])} diverged)" if row["diverged"] else "")
    lines.append(
      f"| {row['dataset']} | {row['train_images']} | {row['method']} | {seeds} | {_cell(row['steps'], '.0f')} | "
      + " | ".join(_cell(row["metrics"][key], spec) for _, key, spec in COLUMNS)
      + f" | {_cell(row.get('metrics_raw', {}).get('fid'), '.2f')} | {_cell(row['gap'], '.3f')} |"
    )
  return "\n".join(lines)


def save_figure(merged: dict[str, Any], path: Path) -> bool:
  """FID (top) and the overfitting gap (bottom) per method, one column per (dataset, train images); bars are means
  over seeds with their standard errors, the moving average's FID; black dots are the raw generator's."""
  from matplotlib.figure import Figure

  cells = sorted({(r["dataset"], r["train_images"]) for r in merged["rows"]})
  if not cells:
    return False
  fig = Figure(figsize=(3.2 * len(cells), 5.5), dpi=100)
  for col, (dataset, size) in enumerate(cells):
    rows = [r for r in merged["rows"] if (r["dataset"], r["train_images"]) == (dataset, size)]
    labels = [r["method"] for r in rows]
    for row_index, (title, get) in enumerate((("FID", lambda r: r["metrics"]["fid"]), ("gap", lambda r: r["gap"]))):
      ax = fig.add_subplot(2, len(cells), row_index * len(cells) + col + 1)
      means = [get(r)["mean"] if get(r)["mean"] is not None else np.nan for r in rows]
      errors = [get(r)["se"] or 0.0 for r in rows]
      ax.bar(range(len(rows)), means, yerr=errors, color="tab:blue" if row_index == 0 else "tab:orange")
      if row_index == 0:
        raw = [(r.get("metrics_raw") or {}).get("fid") or {} for r in rows]
        ax.plot(range(len(rows)), [x.get("mean") or np.nan for x in raw], "k.", label="raw generator")
      ax.set_xticks(range(len(rows)))
      ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
      ax.set_title(f"{dataset}, {size} images: {title}", fontsize=8)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path)
  return True


def merge_and_report(runs_dir: Path, out: Path, figure: Path | None) -> dict[str, Any]:
  records = load_runs(runs_dir)
  merged = merge(records)
  draw = (lambda: save_figure(merged, figure)) if figure is not None else None
  return write_merged(merged, out, draw, markdown_table(merged))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
  p.add_argument("--train-images", nargs="+", type=int, default=list(TRAIN_IMAGES))
  p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
  p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
  p.add_argument("--minutes", type=float, default=MINUTES, help="training budget per run (compile excluded)")
  p.add_argument("--samples", type=int, default=NUM_SAMPLES, help="generated samples scored per run")
  p.add_argument("--merge-only", action="store_true")
  p.add_argument("--stop-after-minutes", type=float, default=None, help="start no new run after this long")
  p.add_argument("--runs-dir", default=str(RUNS_DIR))
  p.add_argument("--out", default=str(MERGED))
  p.add_argument("--figure", default=str(FIGURE))
  p.add_argument("--no-figure", action="store_true")
  args = p.parse_args(argv)
  if not args.minutes > 0 or args.samples < 100 or min(args.train_images) < 1:
    raise SystemExit("--minutes must be > 0, --samples >= 100 and --train-images >= 1.")
  runs_dir = Path(args.runs_dir)
  if not args.merge_only:
    run_all(
      args.datasets,
      args.train_images,
      args.methods,
      args.seeds,
      args.minutes,
      runs_dir,
      args.samples,
      None if args.stop_after_minutes is None else 60.0 * args.stop_after_minutes,
    )
  return merge_and_report(runs_dir, Path(args.out), None if args.no_figure else Path(args.figure))


if __name__ == "__main__":
  main()
