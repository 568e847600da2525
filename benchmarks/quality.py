"""Time-to-quality against PyTorch on real MNIST (issue 18): FID over wall-clock time and over steps, both sides.

Workloads (batch 64, one step = one generator update):
  dcgan        PyTorch-GAN's DCGAN at 32x32 (experiments/configs/bench_dcgan32.py; torch_reference 'dcgan'),
               MNIST upsampled 28 -> 32 as PyTorch-GAN's `transforms.Resize(32)` does, by one function on both sides
               (`jaxgan/data/resize.py`); PyTorch-GAN's order, generator update first (`config.update_order`)
  wgan_gp_mlp  PyTorch-GAN's WGAN-GP MLPs on 28x28 (bench_wgan_gp_mlp; torch_reference 'wgan_gp'), n_critic 5

Both train on the 60,000 MNIST training images in [-1, 1], with the same batch size, hyperparameters, update order
and initialisation (torch's nets get flax's defaults, `torch_mnist.init_like_flax_`):
  * jaxgan: `jaxgan.experiment.train_and_evaluate` on the config, its own data pipeline (tfds, prepared once before
    the runs), with nothing in the loop that the torch loop lacks: evaluation, checkpoints and diagnostics beyond the
    run. EMA stays off (`--ema` adds extra jaxgan runs with `config.ema.decay`).
  * torch: `torch_reference.py`'s nets and iteration, eager, on an ordinary input pipeline (`torch_mnist.py`: tensors
    in memory, a DataLoader reshuffled each epoch).
Every run is a fresh process pinned to the same `--threads` CPUs (torch also `set_num_threads`); runs alternate
between the frameworks. The clock is the user's: it starts when the parent launches the process, so interpreter
start-up, imports, data loading and compilation count.

Each run keeps its generator (a host copy; the copying is not counted) at wall-clock marks (1, 2, 3, 5, 10 min and
the run's limit; a mark's `wall_s` is its nominal time, `step` the steps finished by the first check after it) and
at step marks (250, 500, 1000, 2000, 4000; `wall_s` the time the step finished). jaxgan takes them through
`train_and_evaluate`'s `step_callback` (blocking on each step so the clock sees finished work, as torch's eager
loop does), not a copy of the loop. After training, each snapshot generates `--num-samples` images with BatchNorm
in inference mode in its own framework (saved as .npz), and the parent scores every .npz the same way: the
project's MNIST classifier features of the samples against the 10,000 test images (`jaxgan.evaluation`): FID, KID,
precision and recall (k = 3). DCGAN's 32x32 samples are resized back to 28x28 for the classifier, and so are its
test images, which are loaded as the run's data (28 -> 32 -> 28).

Runs: seeds 0, 1, 2 train to the last step mark (2,000 steps for DCGAN, 4,000 for the MLP); seeds 0 and 1
(below `--wall-seeds`) also run to the wall-clock limit (torch `--minutes`, default 10; jaxgan half of it). A run stops
when it has passed every mark it owes, so one run serves both.

Targets (`summary` in the merged JSON): (a) equal-step parity: from step 1,000 on, jaxgan's median FID at each step
mark lies within torch's seeds' range [min, max] widened by 15% about its centre; (b) time-to-quality: jaxgan reaches
the median FID of torch's runs at `--minutes` within half that time (`jaxgan_minutes_to_torch_fid_10min`, linear
between wall marks).

Each run also leaves `results/quality/<run>.png`, a grid of its last mark's first 100 samples.

Resumable: one JSON per run in `results/quality/` (skipped when present), merged into `results/quality.json`, a
markdown table and `results/quality.png` (FID over minutes and over steps, every seed a line).

  python benchmarks/quality.py                                   # everything (hours of CPU)
  python benchmarks/quality.py --workloads wgan_gp_mlp --seeds 0 --step-marks 20 --minutes 0.2 --num-samples 500
  python benchmarks/quality.py --ema                             # plus jaxgan runs with the generator's EMA
  python benchmarks/quality.py gan_mnist --minutes 20            # gan_mnist.py for 20 minutes: the "gan_mnist" key
  python benchmarks/quality.py --merge-only

MNIST is read from `$JAXGAN_DATA_DIR/mnist` (default ../shared/datasets beside the repository) or `--manual-dir`.
Needs torch (`pip install -e .[bench]`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
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
from fidelity_mnist import check_manual_dir, default_manual_dir  # noqa: E402

RUNS_DIR = RESULTS / "quality"
MERGED = RESULTS / "quality.json"
FIGURE = RESULTS / "quality.png"

# workload -> jaxgan config, torch_reference workload, steps of a step run.
WORKLOADS: dict[str, dict[str, Any]] = {
  "dcgan": {"config": "bench_dcgan32", "torch": "dcgan", "steps": 2000},
  "wgan_gp_mlp": {"config": "bench_wgan_gp_mlp", "torch": "wgan_gp", "steps": 4000},
}
GAN_MNIST = "gan_mnist"  # the mode that trains experiments/configs/gan_mnist.py alone
FRAMEWORKS = ("torch", "jaxgan")
STEP_MARKS = (250, 500, 1000, 2000, 4000)
WALL_MARKS_MIN = (1, 2, 3, 5, 10)
MINUTES = 10.0  # torch's wall-clock runs; jaxgan's take JAXGAN_SHARE of it
JAXGAN_SHARE = 0.5
GAN_MNIST_MINUTES = 20.0
SEEDS = (0, 1, 2)
WALL_SEEDS = 2
THREADS = 2
NUM_SAMPLES = 10_000
BATCH_SIZE = 64
EMA_DECAY = 0.999
EMA_RAMPUP = 0.05  # StyleGAN2-ADA's ema_rampup: the half-life is at most 5% of the steps so far
PARITY_FROM_STEP = 1000
SPREAD_WIDENING = 0.15
METRICS = ("fid", "kid", "precision_recall")


# ---------------------------------------------------------------------------------------------------- the plan


def run_name(framework: str, workload: str, seed: int, ema: bool = False, rampup: float = 0.0) -> str:
  return (
    f"{framework}_{workload}_seed{seed}" + ("_ema" if ema else "") + (f"_rampup{rampup:g}" if ema and rampup else "")
  )


def ema_label(run: dict[str, Any]) -> str:
  """' + EMA' (with its ramp-up, when it has one) for a run with the generator's average; '' otherwise."""
  if not run["ema"]:
    return ""
  rampup = run.get("ema_rampup") or 0.0
  return " + EMA" + (f" (ramp-up {rampup:g})" if rampup else "")


def wall_marks_s(minutes: float) -> list[float]:
  """The wall-clock marks of a run of `minutes`, in seconds: the fixed marks below it, and its end."""
  return sorted({60.0 * m for m in WALL_MARKS_MIN if m < minutes} | {60.0 * minutes})


def plan_runs(
  workloads: Sequence[str],
  seeds: Sequence[int],
  minutes: float,
  step_marks: Sequence[int],
  wall_seeds: int = WALL_SEEDS,
  frameworks: Sequence[str] = FRAMEWORKS,
  ema: bool = False,
  ema_decay: float = EMA_DECAY,
  ema_rampup: float = EMA_RAMPUP,
  threads: int = THREADS,
  num_samples: int = NUM_SAMPLES,
) -> list[dict[str, Any]]:
  """Every run as a spec, frameworks alternating (which goes first alternates with the seed).

  A run owes the step marks up to its workload's step count when its seed is a step seed (all of `seeds`), and the
  wall-clock marks up to its framework's limit when its seed is below `wall_seeds`; it stops when it has passed all
  of them. A run's spec depends on its seed's value, not its place in `seeds`, so resuming with a subset of the seeds
  plans the same runs.
  """
  specs = []
  for workload in workloads:
    steps = WORKLOADS[workload]["steps"]
    marks = sorted(m for m in step_marks if m <= steps) or [steps]
    for seed in seeds:
      wall = seed < wall_seeds
      order = list(frameworks) if seed % 2 == 0 else list(reversed(frameworks))
      for framework in order:
        limit = minutes if framework == "torch" else JAXGAN_SHARE * minutes
        with_ema = [False, True] if framework == "jaxgan" and ema else [False]
        for use_ema in with_ema:
          specs.append(
            {
              "name": run_name(framework, workload, seed, use_ema, ema_rampup),
              "framework": framework,
              "workload": workload,
              "seed": int(seed),
              "ema": use_ema,
              "ema_decay": ema_decay if use_ema else 0.0,
              "ema_rampup": ema_rampup if use_ema else 0.0,
              "threads": threads,
              "num_samples": num_samples,
              "step_marks": marks,
              "step_limit": max(marks),
              "minutes": limit if wall else 0.0,
              "wall_marks_s": wall_marks_s(limit) if wall else [],
            }
          )
  return specs


def gan_mnist_spec(minutes: float, seed: int, threads: int, num_samples: int) -> dict[str, Any]:
  return {
    "name": GAN_MNIST,
    "framework": "jaxgan",
    "workload": GAN_MNIST,
    "seed": seed,
    "ema": False,
    "ema_decay": 0.0,
    "ema_rampup": 0.0,
    "threads": threads,
    "num_samples": num_samples,
    "step_marks": [],
    "step_limit": 0,
    "minutes": minutes,
    "wall_marks_s": [60.0 * minutes],
  }


# ------------------------------------------------------------------------------------------------------ workers


class MarkClock:
  """Which marks fall due after a step, on the user's clock (since `t0`, epoch seconds) less paused time.

  `due(step)` returns each mark not yet taken whose step has been reached or whose time has passed, as
  {"kind", "wall_s", "step", "taken_s"}; `finished(step)` says whether every owed mark is behind.
  """

  def __init__(self, t0: float, step_marks: Sequence[int], wall_marks_s: Sequence[float], step_limit: int):
    self.t0, self.paused = t0, 0.0
    self.step_marks, self.wall_marks = sorted(step_marks), sorted(wall_marks_s)
    self.step_limit = step_limit
    self.time_limit = max(wall_marks_s, default=0.0)

  def elapsed(self) -> float:
    return time.time() - self.t0 - self.paused

  def due(self, step: int) -> list[dict[str, Any]]:
    now = self.elapsed()
    marks = []
    while self.step_marks and self.step_marks[0] <= step:
      marks.append({"kind": "step", "wall_s": now, "step": step, "taken_s": now})
      self.step_marks.pop(0)
    while self.wall_marks and self.wall_marks[0] <= now:
      marks.append({"kind": "wall", "wall_s": self.wall_marks.pop(0), "step": step, "taken_s": now})
    return marks

  def finished(self, step: int) -> bool:
    return step >= self.step_limit and self.elapsed() >= self.time_limit


def _config(workload: str, data_dir: str, manual_dir: str):
  """The workload's config as it stands, reading MNIST offline."""
  name = GAN_MNIST if workload == GAN_MNIST else WORKLOADS[workload]["config"]
  config = importlib.import_module(f"experiments.configs.{name}").get_config()
  config.data.data_dir = data_dir
  config.data.manual_dir = manual_dir
  return config


def _jaxgan_config(spec: dict[str, Any], data_dir: str, manual_dir: str):
  """The config with the run's settings: seed, EMA, and the marks (not num_steps or a budget) ending the run."""
  workload = spec["workload"]
  config = _config(workload, data_dir, manual_dir)
  if workload == "dcgan" and config.get("update_order") != "generator_first":
    raise SystemExit(
      "bench_dcgan32 must set config.update_order='generator_first' (PyTorch-GAN's DCGAN order, which the torch "
      "side runs); this checkout's config does not."
    )
  config.seed = spec["seed"]
  config.num_steps = 10**8  # the marks end the run (step_callback)
  # Nothing the torch loop does not do: no periodic evaluation, checkpoints or diagnostics inside the run.
  config.eval_every = config.checkpoint_every = 10**8
  config.diagnostics.enabled = False
  config.ema.decay = float(spec["ema_decay"])
  config.ema.rampup = float(spec.get("ema_rampup", 0.0))
  return config


def _jaxgan_worker(spec: dict[str, Any], t0: float, out: Path, data_dir: str, manual_dir: str) -> dict[str, Any]:
  import jax

  from jaxgan.evaluation import generate_samples
  from jaxgan.experiment import train_and_evaluate
  from jaxgan.train import build_gan, init_state

  config = _jaxgan_config(spec, data_dir, manual_dir)
  clock = MarkClock(t0, spec["step_marks"], spec["wall_marks_s"], spec["step_limit"])
  snapshots: list[tuple[dict[str, Any], Any]] = []

  def on_step(done: int, get_state) -> bool:
    state = jax.block_until_ready(get_state())  # the clock measures finished steps, as torch's eager loop does
    marks = clock.due(done)
    if marks:
      t_copy = time.time()
      kept = jax.device_get((state.g_params, state.g_state, state.prior_params, state.ema))
      snapshots.extend((mark, kept) for mark in marks)
      clock.paused += time.time() - t_copy
    return clock.finished(done)

  diverged = None
  try:
    trained = train_and_evaluate(config, out / "workdir", progress=False, step_callback=on_step)
  except FloatingPointError as error:  # a diverged run keeps the marks it passed
    diverged, trained = str(error), {}
  gan = build_gan(config)
  template = init_state(gan, jax.random.key(0))
  marks = []
  for i, (mark, (g_params, g_state, prior_params, ema)) in enumerate(snapshots):
    state = template.replace(g_params=g_params, g_state=g_state, prior_params=prior_params, ema=ema)
    images = generate_samples(gan, state, jax.random.key(spec["seed"]), spec["num_samples"], use_ema=spec["ema"])
    np.savez(out / f"mark{i}.npz", images=images)
    marks.append({**mark, "samples": f"mark{i}.npz"})
  return {
    "marks": marks,
    "steps": int(trained.get("steps", 0)) if trained else None,
    "compile_s": trained.get("compile_s"),
    "diverged": diverged,
    "version": jax.__version__,
  }


def _torch_worker(spec: dict[str, Any], t0: float, out: Path, manual_dir: str) -> dict[str, Any]:
  import torch

  torch.set_num_threads(spec["threads"])
  import torch_mnist
  import torch_reference

  workload = spec["workload"]
  images = torch_mnist.load_mnist_train(manual_dir, 32 if workload == "dcgan" else 28)
  w = torch_reference.make_workload(WORKLOADS[workload]["torch"], batch_size=BATCH_SIZE, seed=spec["seed"])
  torch_mnist.init_like_flax_(w.generator)
  torch_mnist.init_like_flax_(w.critic)
  batches = torch_mnist.real_batches(images, w.n_critic, BATCH_SIZE, spec["seed"])
  clock = MarkClock(t0, spec["step_marks"], spec["wall_marks_s"], spec["step_limit"])
  snapshots, step, diverged = [], 0, None
  while True:
    w.iteration(next(batches))
    step += 1
    marks = clock.due(step)
    if marks:
      t_copy = time.time()
      kept = {k: v.detach().clone() for k, v in w.generator.state_dict().items()}
      snapshots.extend((mark, kept) for mark in marks)
      if not all(torch.isfinite(v).all() for v in kept.values() if v.is_floating_point()):
        diverged = f"non-finite generator at step {step}"
      clock.paused += time.time() - t_copy
    if diverged or clock.finished(step):
      break
  marks = []
  for i, (mark, kept) in enumerate(snapshots):
    w.generator.load_state_dict(kept)
    w.generator.eval()  # BatchNorm in inference mode, as jaxgan samples
    noise = torch.Generator().manual_seed(spec["seed"])
    with torch.no_grad():
      parts = [
        w.generator(torch.randn(min(500, spec["num_samples"] - s), torch_reference.LATENT_DIM, generator=noise))
        for s in range(0, spec["num_samples"], 500)
      ]
    np.savez(out / f"mark{i}.npz", images=torch.cat(parts).permute(0, 2, 3, 1).numpy())  # [N, H, W, C]
    marks.append({**mark, "samples": f"mark{i}.npz"})
  return {"marks": marks, "steps": step, "compile_s": None, "diverged": diverged, "version": torch.__version__}


def worker(args: argparse.Namespace) -> None:
  """One run in this fresh process: pin, train to its marks, save each snapshot's samples, write worker.json."""
  from speed import _pin  # benchmarks/speed.py pins its workers the same way

  spec = json.loads(args.worker)
  _pin(spec["threads"])  # before jax or torch size their thread pools
  out = Path(args.worker_dir)
  if spec["framework"] == "jaxgan":
    result = _jaxgan_worker(spec, args.t0, out, args.data_dir, args.manual_dir)
  else:
    result = _torch_worker(spec, args.t0, out, args.manual_dir)
  result["run_s"] = time.time() - args.t0
  (out / "worker.json").write_text(json.dumps(result, indent=2) + "\n")


# --------------------------------------------------------------------------------------------- parent: run, score


class Scorer:
  """The MNIST classifier and the test images' features, per image size, loaded once; scores sample files."""

  def __init__(self, data_dir: str, manual_dir: str):
    from jaxgan.evaluation import get_extractor

    self.data_dir, self.manual_dir = data_dir, manual_dir
    self.extractor = get_extractor("mnist")
    self.real: dict[str, Any] = {}

  def real_features(self, workload: str):
    """The test images as the workload's run loads them (DCGAN: upsampled to 32x32), through the extractor."""
    from jaxgan.evaluation import extract_features, real_test_images

    if workload not in self.real:
      config = _config(workload, self.data_dir, self.manual_dir)
      self.real[workload] = extract_features(real_test_images(config, None), self.extractor)
    return self.real[workload]

  def score(self, workload: str, samples: np.ndarray) -> dict[str, float]:
    from jaxgan.evaluation import extract_features, image_metrics

    fake = extract_features(samples, self.extractor)
    scores = image_metrics(fake, self.real_features(workload), None, list(METRICS))
    return {k: float(scores[k]) for k in ("fid", "kid", "precision", "recall")}


def run_one(spec: dict[str, Any], runs_dir: Path, tmp: Path, scorer: Scorer) -> dict[str, Any]:
  """Launches the worker, scores its snapshots, writes `<name>.json` (last: its presence means done)."""
  work = tmp / spec["name"]
  shutil.rmtree(work, ignore_errors=True)
  work.mkdir(parents=True)
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
  load_start = os.getloadavg()
  t0 = time.time()  # the user's clock starts as the command is launched
  cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec), "--worker-dir", str(work)]
  cmd += ["--t0", repr(t0), "--data-dir", scorer.data_dir, "--manual-dir", scorer.manual_dir]
  with open(work / "log.txt", "w") as log:
    code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
  if code != 0 or not (work / "worker.json").exists():
    tail = (work / "log.txt").read_text().strip().splitlines()[-8:]
    raise SystemExit(f"{spec['name']}: the worker exited with {code}:\n" + "\n".join(tail))
  result = json.loads((work / "worker.json").read_text())
  load_end = os.getloadavg()
  marks, samples = [], None
  for mark in result["marks"]:
    samples = np.load(work / mark.pop("samples"))["images"]
    marks.append({**mark, **scorer.score(spec["workload"], samples)})
  runs_dir.mkdir(parents=True, exist_ok=True)
  grid = None
  if samples is not None:  # the last mark's samples, to look at
    grid = f"{spec['name']}.png"
    save_grid(runs_dir / grid, samples)
  record = {
    "framework": spec["framework"],
    "workload": spec["workload"],
    "seed": spec["seed"],
    "ema": spec["ema"],
    "ema_decay": spec["ema_decay"],
    "ema_rampup": spec.get("ema_rampup", 0.0),
    "threads": spec["threads"],
    "marks": marks,
    "steps": result["steps"],
    "step_limit": spec["step_limit"],
    "minutes": spec["minutes"],
    "num_samples": spec["num_samples"],
    "run_s": result["run_s"],
    "compile_s": result["compile_s"],
    "diverged": result["diverged"],
    "samples_grid": grid,
    "load_average": {"start": load_start, "end": load_end},
    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "machine": machine_info(),
    "versions": {**versions(), "torch": _version("torch")},
  }
  (runs_dir / f"{spec['name']}.json").write_text(json.dumps(record, indent=2) + "\n")
  shutil.rmtree(work, ignore_errors=True)
  return record


def save_grid(path: Path, samples: np.ndarray, num: int = 100) -> None:
  """The first `num` samples [N, H, W, C] in [-1, 1] (both frameworks' data range) as a square grid PNG."""
  from jaxgan.plots import save_image_grid

  save_image_grid(path, np.asarray(samples[:num], np.float32))


def _version(package: str) -> str | None:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return None


def warm_training_split(workload: str, data_dir: str, manual_dir: str) -> None:
  """Decodes the workload's training split once into jaxgan's array cache beside the prepared dataset.

  Otherwise the first jaxgan run of a session pays TensorFlow's import and tfds's reading (about 8 s on 2 cores)
  and the later ones read the cached arrays, so one run's clock would carry a cost the others skip.
  """
  from jaxgan.data import data_shape
  from jaxgan.data.images import load_images

  config = _config(workload, data_dir, manual_dir)
  load_images(config.data, data_shape(config.data))  # as the runs' batch function loads it


def run_all(specs: Sequence[dict[str, Any]], runs_dir: Path, manual_dir: str, data_dir: str | None) -> list[str]:
  """Runs every spec whose JSON is missing, in order; returns the names run now."""
  check_manual_dir(manual_dir)
  pending = []
  for spec in specs:
    if (runs_dir / f"{spec['name']}.json").exists():
      print(f"skip {spec['name']}: its JSON exists", file=sys.stderr, flush=True)
    else:
      pending.append(spec)
  if not pending:
    return []
  with tempfile.TemporaryDirectory(prefix="quality_") as tmp:
    # tfds prepares MNIST here once, before any run, so no run's clock pays for it.
    scorer = Scorer(data_dir or os.path.join(tmp, "tfds"), manual_dir)
    for workload in sorted({s["workload"] for s in pending}):
      scorer.real_features(workload)
      if any(s["framework"] == "jaxgan" and s["workload"] == workload for s in pending):
        warm_training_split(workload, scorer.data_dir, manual_dir)
    for spec in pending:
      limits = f"{spec['step_limit']} steps" + (f", {spec['minutes']:g} min" if spec["minutes"] else "")
      print(f"run  {spec['name']} ({limits}) ...", file=sys.stderr, flush=True)
      record = run_one(spec, runs_dir, Path(tmp), scorer)
      last = record["marks"][-1] if record["marks"] else {}
      print(
        f"done {spec['name']}: {record['steps']} steps in {record['run_s']:.0f} s, {len(record['marks'])} marks, "
        f"last FID {last.get('fid', float('nan')):.2f}"
        + (f" (diverged: {record['diverged']})" if record["diverged"] else ""),
        file=sys.stderr,
        flush=True,
      )
  return [s["name"] for s in pending]


# ----------------------------------------------------------------------------------------------- merge, summary


def _fids_at(runs: Sequence[dict[str, Any]], kind: str, key: str) -> dict[float, list[float]]:
  """{mark (step, or nominal wall_s): [FID of each run]} over marks of `kind`."""
  out: dict[float, list[float]] = {}
  for run in runs:
    for mark in run["marks"]:
      if mark["kind"] == kind and mark.get("fid") is not None:
        out.setdefault(mark[key], []).append(float(mark["fid"]))
  return out


def parity(torch_runs: Sequence[dict[str, Any]], jaxgan_runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """Target (a): at each step mark >= PARITY_FROM_STEP that both frameworks reached, is jaxgan's median FID within
  torch's range [min, max] over seeds, widened by SPREAD_WIDENING about its centre? `within` is None when no such
  mark was compared."""
  torch_fids, jax_fids = _fids_at(torch_runs, "step", "step"), _fids_at(jaxgan_runs, "step", "step")
  rows = []
  for step in sorted(set(torch_fids) & set(jax_fids)):
    if step < PARITY_FROM_STEP:
      continue
    lo, hi = min(torch_fids[step]), max(torch_fids[step])
    centre, half = (lo + hi) / 2, (1 + SPREAD_WIDENING) * (hi - lo) / 2
    median = statistics.median(jax_fids[step])
    rows.append(
      {
        "step": int(step),
        "jaxgan_median_fid": median,
        "torch_fids": sorted(torch_fids[step]),
        "band": [centre - half, centre + half],
        "within": centre - half <= median <= centre + half,
      }
    )
  return {"within": all(r["within"] for r in rows) if rows else None, "marks": rows}


def _fid_curve(run: dict[str, Any]) -> list[tuple[float, float]]:
  """(seconds since launch, FID) at each of a run's marks, in time order: a wall mark at its nominal time, a step
  mark when its step finished."""
  return sorted((float(m["wall_s"]), float(m["fid"])) for m in run["marks"] if m.get("fid") is not None)


def minutes_to_fid(runs: Sequence[dict[str, Any]], target: float) -> float | None:
  """Target (b): when the median FID of the wall-clock runs (those with wall marks) first reaches `target`, in
  minutes; None if never.

  Each run's FID over time is read from all its marks, step marks included, linearly between them; the median is
  taken at each mark time that every run spans, and the crossing is linear between the time before and the time
  that reaches it (the first time itself when it already does).
  """
  curves = [_fid_curve(r) for r in runs if any(m["kind"] == "wall" for m in r["marks"])]
  curves = [c for c in curves if c]
  if not curves:
    return None
  start, end = max(c[0][0] for c in curves), min(c[-1][0] for c in curves)
  previous = None
  for t in sorted({t for c in curves for t, _ in c if start <= t <= end}):
    median = statistics.median(float(np.interp(t, *zip(*c, strict=True))) for c in curves)
    if median <= target:
      if previous is None:
        return t / 60.0
      t_prev, f_prev = previous
      return (t_prev + (f_prev - target) / (f_prev - median) * (t - t_prev)) / 60.0
    previous = (t, median)
  return None


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
  """Per workload: torch's median FID at its wall-clock limit, jaxgan's minutes to reach it, and parity at equal
  steps, from the runs without EMA (the `bench_*` configs as they stand)."""
  summary = {}
  for workload in sorted({r["workload"] for r in runs if r["workload"] in WORKLOADS}):
    torch_runs = [r for r in runs if r["workload"] == workload and r["framework"] == "torch"]
    jaxgan_runs = [r for r in runs if r["workload"] == workload and r["framework"] == "jaxgan" and not r["ema"]]
    limit_s = 60.0 * max((r["minutes"] for r in torch_runs), default=0.0)
    at_limit = _fids_at(torch_runs, "wall", "wall_s").get(limit_s, [])
    torch_fid = statistics.median(at_limit) if at_limit else None
    check = parity(torch_runs, jaxgan_runs)
    minutes = minutes_to_fid(jaxgan_runs, torch_fid) if torch_fid is not None else None
    summary[workload] = {
      "torch_fid_10min": torch_fid,
      "jaxgan_minutes_to_torch_fid_10min": minutes,
      "parity_within_seed_spread": check["within"],
      "torch_minutes": limit_s / 60.0,
      "time_to_quality_met": minutes is not None and minutes <= JAXGAN_SHARE * limit_s / 60.0,
      "parity_marks": check["marks"],
    }
  return summary


_RUN_FIELDS = ("framework", "workload", "seed", "ema", "threads", "marks")
_MARK_FIELDS = ("kind", "wall_s", "step", "fid", "kid", "precision", "recall", "taken_s")


def merge(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """The merged JSON of the issue's schema (plus each run's limits and timings)."""
  order = {"torch": 0, "jaxgan": 1}
  runs = []
  gan_mnist = None

  def order_key(r: dict[str, Any]) -> tuple:
    return (r["workload"], order.get(r["framework"], 2), r["ema"], r.get("ema_rampup", 0.0), r["seed"])

  for r in sorted(records, key=order_key):
    if r["workload"] == GAN_MNIST:
      last = r["marks"][-1] if r["marks"] else {}
      gan_mnist = {
        "minutes": r["minutes"],
        **{k: last.get(k) for k in ("fid", "kid", "precision", "recall", "step")},
        "diverged": r["diverged"],
      }
      continue
    run = {k: r[k] for k in _RUN_FIELDS}
    run.update(ema_decay=r.get("ema_decay", 0.0), ema_rampup=r.get("ema_rampup", 0.0))
    run["marks"] = [{k: m.get(k) for k in _MARK_FIELDS} for m in r["marks"]]
    run.update({k: r.get(k) for k in ("steps", "step_limit", "minutes", "run_s", "compile_s", "diverged")})
    runs.append(run)
  unique = lambda key: [json.loads(v) for v in sorted({json.dumps(r.get(key, {}), sort_keys=True) for r in records})]  # noqa: E731
  return {
    "runs": runs,
    "summary": summarize(runs),
    "gan_mnist": gan_mnist,
    "machine": unique("machine"),
    "versions": unique("versions"),
    "definitions": {
      "wall_s": "wall marks: nominal seconds since the process was launched (start-up, imports, data and compile "
      "included, snapshot copies excluded); step marks: when that step finished",
      "step": "generator updates finished (wall marks: by the first check after the mark)",
      "scores": "the project's MNIST classifier features of the samples (BatchNorm in inference mode) against the "
      "10,000 test images; DCGAN's 32x32 samples and test images resized to 28x28; KID: cubic kernel, subsets "
      "of 1,000; precision/recall: k = 3",
      "parity_within_seed_spread": f"from step {PARITY_FROM_STEP}, jaxgan's median FID within torch's [min, max] "
      f"over seeds widened by {SPREAD_WIDENING:.0%} about its centre, at every step mark",
      "jaxgan_minutes_to_torch_fid_10min": "first time jaxgan's median FID over seeds reaches torch's median FID "
      "at its wall-clock limit, each wall-clock run read through all its marks (wall and step), linear between "
      "them; null if never",
    },
  }


def markdown_table(merged: dict[str, Any]) -> str:
  """Median FID [min-max over seeds] per framework at each step and wall mark, then the targets."""

  def cell(fids: list[float]) -> str:
    if not fids:
      return ""
    text = f"{statistics.median(fids):.1f}"
    return text + (f" [{min(fids):.1f}-{max(fids):.1f}]" if len(fids) > 1 else "")

  lines = []
  for workload in sorted({r["workload"] for r in merged["runs"]}):
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in merged["runs"]:
      if r["workload"] == workload:
        groups.setdefault(r["framework"] + ema_label(r), []).append(r)
    steps = sorted({m["step"] for rs in groups.values() for r in rs for m in r["marks"] if m["kind"] == "step"})
    walls = sorted({m["wall_s"] for rs in groups.values() for r in rs for m in r["marks"] if m["kind"] == "wall"})
    header = [f"FID at step {s}" for s in steps] + [f"FID at {w / 60:g} min" for w in walls]
    lines += [f"**{workload}**", "", "| framework | seeds | " + " | ".join(header) + " |"]
    lines.append("| --- " * (2 + len(header)) + "|")
    for name, rs in groups.items():
      step_fids, wall_fids = _fids_at(rs, "step", "step"), _fids_at(rs, "wall", "wall_s")
      cells = [cell(step_fids.get(s, [])) for s in steps] + [cell(wall_fids.get(w, [])) for w in walls]
      lines.append(f"| {name} | {len(rs)} | " + " | ".join(cells) + " |")
    s = merged["summary"].get(workload, {})
    minutes = s.get("jaxgan_minutes_to_torch_fid_10min")
    torch_fid = s.get("torch_fid_10min")
    lines += [
      "",
      f"torch's FID at {s.get('torch_minutes', 0):g} min: {'n/a' if torch_fid is None else f'{torch_fid:.1f}'}; "
      f"jaxgan reaches it at {'never' if minutes is None else f'{minutes:.2f} min'}; "
      f"equal-step parity: {s.get('parity_within_seed_spread')}",
      "",
    ]
  if merged.get("gan_mnist"):
    g = merged["gan_mnist"]
    lines.append(
      f"gan_mnist ({g['minutes']:g} min): FID {g['fid']:.1f}, precision {g['precision']:.3f}, recall {g['recall']:.3f}"
    )
  return "\n".join(lines)


def save_figure(merged: dict[str, Any], path: Path) -> bool:
  """Rows workloads; columns FID over wall-clock minutes and over steps; one line per run (every seed)."""
  from matplotlib.figure import Figure

  workloads = sorted({r["workload"] for r in merged["runs"]})
  if not workloads:
    return False
  styles = {
    ("torch", False, False): ("tab:orange", "-"),
    ("jaxgan", False, False): ("tab:blue", "-"),
    ("jaxgan", True, False): ("tab:green", "--"),
    ("jaxgan", True, True): ("tab:purple", "--"),
  }
  fig = Figure(figsize=(10, 3.6 * len(workloads)), dpi=100)
  axes = fig.subplots(len(workloads), 2, squeeze=False)
  for i, workload in enumerate(workloads):
    labelled = set()
    for r in merged["runs"]:
      if r["workload"] != workload:
        continue
      color, line = styles.get((r["framework"], r["ema"], bool(r.get("ema_rampup"))), ("gray", ":"))
      label = r["framework"] + ema_label(r)
      marks = [m for m in r["marks"] if m.get("fid") is not None]
      for ax, key, scale in ((axes[i, 0], "wall_s", 1 / 60), (axes[i, 1], "step", 1)):
        points = sorted({(m[key] * scale, m["fid"]) for m in marks})
        if not points:
          continue
        first = (label, key) not in labelled  # one legend entry per framework
        ax.plot(*zip(*points), line, color=color, marker="o", ms=3, lw=1, alpha=0.8, label=label if first else None)
        labelled.add((label, key))
    for j, xlabel in enumerate(("wall-clock minutes (start-up and compile included)", "steps (generator updates)")):
      ax = axes[i, j]
      ax.set_xlabel(xlabel)
      ax.set_ylabel("FID (MNIST classifier)")
      ax.set_yscale("log")
      ax.set_title(workload, fontsize=10)
      ax.grid(alpha=0.3)
      ax.legend(fontsize=8)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path)
  return True


def merge_and_report(runs_dir: Path, out: Path, figure: Path | None) -> dict[str, Any]:
  records = load_runs(runs_dir)
  merged = merge(records)
  draw = (lambda: save_figure(merged, figure)) if figure is not None else None
  return write_merged(merged, out, draw, markdown_table(merged))


# ----------------------------------------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("mode", nargs="?", default="compare", choices=("compare", GAN_MNIST))
  p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
  p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="every seed runs to the last step mark")
  p.add_argument("--wall-seeds", type=int, default=WALL_SEEDS, help="seeds below N also run to --minutes")
  p.add_argument(
    "--minutes",
    type=float,
    default=None,
    help=f"torch's wall-clock runs (default {MINUTES:g}; jaxgan's: half); gan_mnist: its run (default "
    f"{GAN_MNIST_MINUTES:g})",
  )
  p.add_argument("--step-marks", nargs="+", type=int, default=list(STEP_MARKS))
  p.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=list(FRAMEWORKS))
  p.add_argument("--ema", action="store_true", help="also jaxgan runs with config.ema.decay = --ema-decay")
  p.add_argument("--ema-decay", type=float, default=EMA_DECAY)
  p.add_argument("--ema-rampup", type=float, default=EMA_RAMPUP, help="0: the average starts at the first step")
  p.add_argument("--threads", type=int, default=THREADS)
  p.add_argument("--num-samples", type=int, default=NUM_SAMPLES, help="generated samples scored per mark")
  p.add_argument("--manual-dir", default=None, help="MNIST's original files (default $JAXGAN_DATA_DIR/mnist)")
  p.add_argument("--data-dir", default=None, help="where tfds prepares MNIST (default: a temporary folder)")
  p.add_argument("--merge-only", action="store_true")
  p.add_argument("--runs-dir", default=str(RUNS_DIR))
  p.add_argument("--out", default=str(MERGED))
  p.add_argument("--figure", default=str(FIGURE))
  p.add_argument("--no-figure", action="store_true")
  p.add_argument("--worker", help=argparse.SUPPRESS)
  p.add_argument("--worker-dir", help=argparse.SUPPRESS)
  p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
  return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
  args = parse_args(argv)
  if args.worker:
    worker(args)
    return None
  if args.num_samples < 200 or (args.minutes is not None and not args.minutes > 0):
    raise SystemExit(f"--num-samples must be >= 200 and --minutes > 0; got {args.num_samples}, {args.minutes}.")
  runs_dir = Path(args.runs_dir)
  manual_dir = args.manual_dir or default_manual_dir()
  if args.mode == GAN_MNIST:
    specs = [gan_mnist_spec(args.minutes or GAN_MNIST_MINUTES, args.seeds[0], args.threads, args.num_samples)]
  else:
    specs = plan_runs(
      args.workloads,
      args.seeds,
      args.minutes or MINUTES,
      args.step_marks,
      args.wall_seeds,
      args.frameworks,
      args.ema,
      args.ema_decay,
      args.ema_rampup,
      args.threads,
      args.num_samples,
    )
  if not args.merge_only:
    run_all(specs, runs_dir, manual_dir, args.data_dir)
  return merge_and_report(runs_dir, Path(args.out), None if args.no_figure else Path(args.figure))


if __name__ == "__main__":
  main()
