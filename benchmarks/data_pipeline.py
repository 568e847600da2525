"""Is the data pipeline ever the bottleneck? Batches/s of the pipeline alone against the train step's steps/s.

For each workload it times, in one process on the same data:
  pipeline   `make_batch_fn(config, key)(step)` for consecutive steps: the gather of the step's examples from the
             in-memory dataset, the scaling to [-1, 1] and the conversion to a device array;
  placed     the same followed by the step's placement (`ParallelStep.put_local_batch`), what the prefetch thread
             does ahead of the loop;
  step       the compiled train step on an already placed batch (what the loop waits for);
and reports the ratio pipeline / step, which must exceed 1 (with prefetching the pipeline runs beside the step).
It also times the metric feature extractor (the shipped MNIST classifier) in images/s, the cost of a periodic
evaluation.

  python benchmarks/data_pipeline.py             # writes benchmarks/results/data_pipeline.json, prints a table
  python benchmarks/data_pipeline.py --quick     # fewer repeats, to check that it runs

MNIST comes from its original files in $JAXGAN_DATA_DIR/mnist (default ../shared/datasets), prepared by tfds
offline into a temporary data_dir (or --data_dir).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

WORKLOADS = {  # name: (config module, overrides)
  "dcgan_mnist": ("dcgan_mnist", {}),
  "wgan_gp_mnist": ("wgan_gp_mnist", {}),
  "wgan_gp_toy": ("wgan_gp_toy", {}),
}


def _rate(fn, repeats: int, min_seconds: float) -> float:
  """Median calls/s of `fn(i)` over `repeats` timed windows of at least `min_seconds` each."""
  rates, i = [], 0
  for _ in range(repeats):
    start, count = time.perf_counter(), 0
    while True:
      fn(i)
      i += 1
      count += 1
      elapsed = time.perf_counter() - start
      if elapsed >= min_seconds and count >= 3:
        break
    rates.append(count / elapsed)
  return statistics.median(rates)


def measure(name: str, data_dir: str, manual_dir: str, repeats: int, min_seconds: float) -> dict:
  import importlib

  import jax

  from jaxgan import data, parallel
  from jaxgan.train import build_gan, init_state

  module, overrides = WORKLOADS[name]
  config = importlib.import_module(f"experiments.configs.{module}").get_config()
  config.update(overrides)
  if not data.is_toy(config.data):
    config.data.data_dir, config.data.manual_dir = data_dir, manual_dir
  next_batch = data.make_batch_fn(config, jax.random.key(0))
  jax.block_until_ready(next_batch(0))  # loads the dataset

  step = parallel.make_parallel_train_step(config, "none")
  state = step.put_state(jax.jit(lambda k: init_state(build_gan(config), k))(jax.random.key(0)))
  placed = step.put_local_batch(next_batch(0))
  state, metrics = step.step(state, placed, jax.random.key(1))
  jax.block_until_ready(metrics)

  def run_step(_):
    nonlocal state
    state, m = step.step(state, placed, jax.random.key(1))
    jax.block_until_ready(m)

  pipeline = _rate(lambda i: jax.block_until_ready(next_batch(i)), repeats, min_seconds)
  placed_rate = _rate(lambda i: jax.block_until_ready(step.put_local_batch(next_batch(i))), repeats, min_seconds)
  step_rate = _rate(run_step, repeats, min_seconds)
  examples = int(config.n_critic) * int(config.batch_size)
  return {
    "batch_size": int(config.batch_size),
    "n_critic": int(config.n_critic),
    "examples_per_step": examples,
    "pipeline_batches_per_s": pipeline,
    "placed_batches_per_s": placed_rate,
    "step_per_s": step_rate,
    "pipeline_examples_per_s": pipeline * examples,
    "pipeline_over_step": pipeline / step_rate,
  }


def features_rate(repeats: int, min_seconds: float) -> dict:
  import numpy as np

  from jaxgan import evaluation

  extractor = evaluation.get_extractor("mnist")
  images = np.random.default_rng(0).uniform(-1, 1, (1000, 28, 28, 1)).astype(np.float32)
  evaluation.extract_features(images, extractor)  # compiles
  rate = _rate(lambda _: evaluation.extract_features(images, extractor), repeats, min_seconds)
  return {"images": len(images), "images_per_s": rate * len(images)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--data_dir", default=None, help="tfds data_dir (default: a temporary folder)")
  parser.add_argument("--out", default=str(HERE / "results" / "data_pipeline.json"))
  args = parser.parse_args()
  repeats, min_seconds = (1, 0.2) if args.quick else (5, 2.0)
  data_root = os.environ.get("JAXGAN_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
  manual_dir = os.path.join(data_root, "mnist")
  if not os.path.exists(os.path.join(manual_dir, "train-images-idx3-ubyte.gz")):
    sys.exit(f"MNIST's original files are not in {manual_dir}; set JAXGAN_DATA_DIR to a folder holding mnist/.")

  import jax

  with tempfile.TemporaryDirectory() as tmp:
    data_dir = args.data_dir or tmp
    results = {name: measure(name, data_dir, manual_dir, repeats, min_seconds) for name in args.workloads}
  out = {
    "workloads": results,
    "features": features_rate(repeats, min_seconds),
    "machine": {
      "platform": platform.platform(),
      "cpus": os.cpu_count(),
      "backend": jax.default_backend(),
      "load_average": os.getloadavg(),
    },
    "versions": {"jax": jax.__version__, "python": platform.python_version()},
    "quick": args.quick,
  }
  print("| workload | examples/step | pipeline batches/s | placed batches/s | train steps/s | pipeline / step |")
  print("|---|---|---|---|---|---|")
  for name, r in results.items():
    print(
      f"| {name} | {r['examples_per_step']} | {r['pipeline_batches_per_s']:.0f} | {r['placed_batches_per_s']:.0f} "
      f"| {r['step_per_s']:.1f} | {r['pipeline_over_step']:.0f}x |"
    )
  print(f"\nMNIST classifier features: {out['features']['images_per_s']:.0f} images/s")
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps(out, indent=2))
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
