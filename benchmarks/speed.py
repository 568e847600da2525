"""Speed, side by side: jaxgan against a hand-written JAX step and a PyTorch reference on PyTorch-GAN's workloads.

Workloads (batch 64, one iteration = n_critic critic updates + 1 generator update):
  wgan_gp    MLP WGAN-GP on 1x28x28      (experiments/configs/bench_wgan_gp_mlp.py)
  wgan_clip  MLP WGAN, weight clipping   (experiments/configs/bench_wgan_clip_mlp.py)
  dcgan      PyTorch-GAN DCGAN, 32x32x1  (experiments/configs/bench_dcgan32.py)

Runners (FRAMEWORK@THREADS):
  jaxgan         the configs through jaxgan's public API (`build_gan`, `init_state`,
                 `parallel.make_parallel_train_step`: the step `jaxgan.experiment.train_and_evaluate` runs)
  minimal        `benchmarks/minimal_jax.py`: the same MLP workloads as plain flax/optax by hand (not DCGAN), so
                 jaxgan / minimal is the library's own overhead
  torch_eager    `benchmarks/torch_reference.py`
  torch_compile  the same under `torch.compile` (it cannot run WGAN-GP's double backward; recorded as unsupported)
All see fixed synthetic batches of the right shape, so data loading is excluded.

Every measurement runs in a fresh subprocess (so compile time and peak RSS are its own), pinned to `threads` CPUs;
the runners alternate within each round (jaxgan, minimal, torch, ...) and rounds repeat, so a slow period on a
shared machine hits every side. Per runner and workload it reports the first step (the same span on every side:
build the nets and optimisers, initialise, make the synthetic batches, compile, run one iteration; imports are
reported apart as `import_s`), steady-state iterations/s (median over rounds, with min and max), and peak RSS
(before jaxgan's extra memory analysis); ratios are jaxgan's median over the other runner's median at the same
thread count.

  python benchmarks/speed.py                 # full run, writes benchmarks/results/speed.json and prints a table
  python benchmarks/speed.py --quick         # a few iterations per measurement, to check that it runs
  python benchmarks/speed.py --runners jaxgan@2,torch_eager@2 --workloads dcgan

Needs torch for the torch runners (`pip install -e .[bench]`); without it they are recorded as skipped.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
  sys.path.insert(0, str(HERE))

from hardware import cpu_name  # noqa: E402  (benchmarks/ is on the path)

WORKLOADS = ("wgan_gp", "wgan_clip", "dcgan")  # the default set
# dcgan64: dcgan_celeba64's nets (Radford et al.'s DCGAN at 64x64x3) at batch 128, for accelerators (gpu.sh).
ALL_WORKLOADS = WORKLOADS + ("dcgan64",)
CONFIGS = {
  "wgan_gp": "bench_wgan_gp_mlp",
  "wgan_clip": "bench_wgan_clip_mlp",
  "dcgan": "bench_dcgan32",
  "dcgan64": "dcgan_celeba64",
}
BATCH_SIZES = {"dcgan64": 128}  # others: 64, PyTorch-GAN's
FRAMEWORKS = ("jaxgan", "minimal", "torch_eager", "torch_compile")
DEFAULT_RUNNERS = (
  "jaxgan@1",
  "minimal@1",
  "torch_eager@1",
  "jaxgan@2",
  "minimal@2",
  "torch_eager@2",
  "torch_compile@2",
)
MINIMAL_WORKLOADS = ("wgan_gp", "wgan_clip")  # benchmarks/minimal_jax.py has no DCGAN


# ----------------------------------------------------------------------------------------------------------- worker


def _pin(threads: int) -> None:
  """Restricts this process to `threads` CPUs, before jax or torch size their thread pools."""
  cpus = sorted(os.sched_getaffinity(0))
  if threads > len(cpus):
    raise ValueError(f"asked for {threads} threads but only CPUs {cpus} are available")
  os.sched_setaffinity(0, cpus[:threads])


def _time_iterations(run_one, block, min_seconds: float, min_iters: int, max_iters: int) -> tuple[float, int]:
  """(iterations/s, iterations) over at least `min_iters` iterations and `min_seconds` seconds."""
  done, start = 0, time.perf_counter()
  while done < max_iters and (done < min_iters or time.perf_counter() - start < min_seconds):
    block(run_one())
    done += 1
  return done / (time.perf_counter() - start), done


def _jaxgan_worker(workload: str, args) -> dict:
  t_import = time.perf_counter()
  import jax
  import jax.numpy as jnp

  sys.path.insert(0, str(ROOT))
  from jaxgan import parallel
  from jaxgan.data import data_shape
  from jaxgan.train import build_gan, init_state

  if args.device == "gpu" and jax.default_backend() != "gpu":
    raise RuntimeError(f"--device gpu but JAX runs on {jax.default_backend()}; install jax with its CUDA plugin.")
  config = importlib.import_module(f"experiments.configs.{CONFIGS[workload]}").get_config()
  config.batch_size = _batch_size(workload, args)
  if args.tiny:  # test mode: the same code path with tiny nets
    _shrink(config)
  if args.conv_impl:
    _set_conv_impl(config, args.conv_impl)
  t0 = time.perf_counter()
  import_s = t0 - t_import
  train_step = parallel.make_parallel_train_step(config, "none")
  gan = build_gan(config)
  state = train_step.put_state(init_state(gan, jax.random.key(0)))
  shape = (config.n_critic, config.batch_size, *data_shape(config.data))
  batch = train_step.put_batch(jax.random.uniform(jax.random.key(1), shape, minval=-1.0, maxval=1.0))
  key = jax.random.key(2)
  jax.block_until_ready((state, batch))
  setup_s = time.perf_counter() - t0

  box = {"state": state}

  def run_one():
    box["state"], metrics = train_step.step(box["state"], batch, key)
    return metrics

  t1 = time.perf_counter()
  jax.block_until_ready(run_one())
  compile_s = time.perf_counter() - t1  # compile + one iteration
  first_step_s = time.perf_counter() - t0
  for _ in range(args.warmup):
    jax.block_until_ready(run_one())
  it_s, iters = _time_iterations(run_one, jax.block_until_ready, args.seconds, args.min_iters, args.max_iters)
  finite = all(bool(jnp.isfinite(v)) for v in jax.device_get(run_one()).values())
  peak_rss_mb = _peak_rss_mb()  # before the memory analysis below, which compiles the step a second time
  # XLA's own account of the step's buffers (arguments, outputs, temporaries; donated state counted once).
  step_memory_mb = _step_memory_mb(train_step.step.lower(box["state"], batch, key))
  return {
    "import_s": import_s,
    "setup_s": setup_s,
    "compile_s": compile_s,
    "first_step_s": first_step_s,
    "it_s": it_s,
    "iters": iters,
    "peak_rss_mb": peak_rss_mb,
    "step_memory_mb": step_memory_mb,
    "finite": finite,
    "version": jax.__version__,
  }


def _minimal_worker(workload: str, args) -> dict:
  t_import = time.perf_counter()
  import jax
  import jax.numpy as jnp

  sys.path.insert(0, str(HERE))
  import minimal_jax

  t0 = time.perf_counter()
  import_s = t0 - t_import
  batch_size = 8 if args.tiny else 64
  w = minimal_jax.make_workload(workload, batch_size, width=1 / 16 if args.tiny else 1)
  box = {"state": w.init(jax.random.key(0))}
  reals = minimal_jax.synthetic_reals(jax.random.key(1), w.n_critic, batch_size)
  key = jax.random.key(2)
  jax.block_until_ready((box["state"], reals))

  def run_one():
    box["state"], losses = w.step(box["state"], reals, key)
    return losses

  t1 = time.perf_counter()
  jax.block_until_ready(run_one())
  compile_s = time.perf_counter() - t1
  first_step_s = time.perf_counter() - t0
  for _ in range(args.warmup):
    jax.block_until_ready(run_one())
  it_s, iters = _time_iterations(run_one, jax.block_until_ready, args.seconds, args.min_iters, args.max_iters)
  finite = all(bool(jnp.isfinite(v)) for v in jax.device_get(run_one()).values())
  peak_rss_mb = _peak_rss_mb()
  step_memory_mb = _step_memory_mb(w.step.lower(box["state"], reals, key))
  return {
    "import_s": import_s,
    "compile_s": compile_s,
    "first_step_s": first_step_s,
    "it_s": it_s,
    "iters": iters,
    "peak_rss_mb": peak_rss_mb,
    "step_memory_mb": step_memory_mb,
    "finite": finite,
    "version": jax.__version__,
  }


def _step_memory_mb(lowered) -> float | None:
  """XLA's own account of a lowered step's buffers in MB: arguments, outputs and temporaries, donated state once."""
  memory = lowered.compile().memory_analysis()
  if memory is None:
    return None
  total = (
    memory.temp_size_in_bytes + memory.argument_size_in_bytes + memory.output_size_in_bytes - memory.alias_size_in_bytes
  )
  return total / 2**20


def _peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _set_conv_impl(config, impl: str) -> None:
  """Sets `conv_impl` on the config's nets that have convolutions (jaxgan.nets.conv; 'auto' is the default)."""
  from jaxgan.nets import CRITICS, GENERATORS

  for net, registry in ((config.generator, GENERATORS), (config.critic, CRITICS)):
    if "conv_impl" in registry[net.name].__dataclass_fields__:
      net.conv_impl = impl


def _batch_size(workload: str, args) -> int:
  return 8 if args.tiny else BATCH_SIZES.get(workload, 64)


def _shrink(config) -> None:
  config.batch_size = 8
  if config.generator.name == "zoo_mlp":
    config.generator.base_features = 8
    config.critic.features = (16, 8)
  else:
    config.generator.base_features = 4
    config.critic.base_features = 4


def _torch_worker(workload: str, compile: bool, threads: int, args) -> dict:
  t_import = time.perf_counter()
  import torch

  torch.set_num_threads(threads)
  sys.path.insert(0, str(HERE))
  import torch_reference

  device = "cuda" if args.device == "gpu" else "cpu"
  if device == "cuda" and not torch.cuda.is_available():
    raise RuntimeError("--device gpu but torch sees no CUDA device.")
  # The iteration only queues kernels on a GPU: wait for them before reading the clock.
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

  t0 = time.perf_counter()
  import_s = t0 - t_import
  try:
    w = torch_reference.make_workload(workload, compile=compile, batch_size=_batch_size(workload, args), device=device)
  except torch_reference.CompileUnsupported as e:
    return {"error": str(e), "version": torch.__version__}
  if not compile:
    w.iteration()
  sync()
  first_step_s = time.perf_counter() - t0  # construction + one iteration (which compiles under torch.compile)
  for _ in range(args.warmup):
    w.iteration()
  sync()
  it_s, iters = _time_iterations(w.iteration, lambda _: sync(), args.seconds, args.min_iters, args.max_iters)
  return {
    "import_s": import_s,
    "first_step_s": first_step_s,
    "it_s": it_s,
    "iters": iters,
    "version": torch.__version__,
  }


def worker(args) -> None:
  framework, threads = _parse_runner(args.worker)
  _pin(threads)
  if framework == "jaxgan":
    result = _jaxgan_worker(args.workload, args)
  elif framework == "minimal":
    result = _minimal_worker(args.workload, args)
  else:
    result = _torch_worker(args.workload, framework == "torch_compile", threads, args)
  result.setdefault("peak_rss_mb", _peak_rss_mb())
  print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------------ coordinator


def _parse_runner(runner: str) -> tuple[str, int]:
  framework, _, threads = runner.partition("@")
  if framework not in FRAMEWORKS or not threads.isdigit():
    raise ValueError(f"Bad runner {runner!r}; use FRAMEWORK@THREADS with FRAMEWORK in {FRAMEWORKS}, e.g. jaxgan@2.")
  return framework, int(threads)


def _run_worker(runner: str, workload: str, args) -> dict:
  if _parse_runner(runner)[0] == "minimal" and workload not in MINIMAL_WORKLOADS:
    return {"error": f"not measured: benchmarks/minimal_jax.py covers {', '.join(MINIMAL_WORKLOADS)} only"}
  cmd = (
    [
      sys.executable,
      str(Path(__file__).resolve()),
      "--worker",
      runner,
      "--workload",
      workload,
      "--seconds",
      str(args.seconds),
      "--min-iters",
      str(args.min_iters),
      "--max-iters",
      str(args.max_iters),
      "--warmup",
      str(args.warmup),
      "--device",
      args.device,
    ]
    + (["--tiny"] if args.tiny else [])
    + (["--conv-impl", args.conv_impl] if args.conv_impl else [])
  )
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
  t0 = time.perf_counter()
  try:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
  except subprocess.TimeoutExpired:
    return {"error": f"timed out after {args.timeout:.0f} s (--timeout)"}
  lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
  if proc.returncode != 0 or not lines:
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
  result = json.loads(lines[-1][len("RESULT ") :])
  result["process_s"] = time.perf_counter() - t0
  return result


def _summary(values: list[float]) -> dict | None:
  if not values:
    return None
  return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _machine() -> dict:
  load = os.getloadavg() if hasattr(os, "getloadavg") else None
  gpu = None
  try:
    gpu = (
      subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
      ).stdout.strip()
      or None
    )
  except (OSError, subprocess.TimeoutExpired):
    pass
  return {
    "cpu": cpu_name(),
    "gpu": gpu,
    "cpus_available": len(os.sched_getaffinity(0)),
    "platform": platform.platform(),
    "python": platform.python_version(),
    "load_average_at_start": load,
  }


def _versions() -> dict:
  versions = {}
  for name in ("jax", "jaxlib", "flax", "optax", "torch"):
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  return versions


def _aggregate(raw: dict, runners: list[str], workloads: list[str]) -> dict:
  """Per workload: each runner's summaries, the headline fields of the issue's schema, and the ratios."""
  out = {}
  for workload in workloads:
    entry = {"runners": {}}
    for runner in runners:
      results = raw[workload][runner]
      ok = [r for r in results if "error" not in r]
      errors = sorted({r["error"] for r in results if "error" in r})
      entry["runners"][runner] = {
        "it_s": _summary([r["it_s"] for r in ok]),
        "first_step_s": _summary([r["first_step_s"] for r in ok]),
        "import_s": _summary([r["import_s"] for r in ok if "import_s" in r]),
        "peak_rss_mb": _summary([r["peak_rss_mb"] for r in ok if "peak_rss_mb" in r]),
        "step_memory_mb": _summary([r["step_memory_mb"] for r in ok if r.get("step_memory_mb") is not None]),
        "errors": errors,
      }

    def med(runner, field="it_s", entry=entry):
      return (entry["runners"].get(runner, {}).get(field) or {}).get("median")

    # Per round, so that a slow period shared by both sides cancels: the median of jaxgan's rate over the other
    # runner's rate in the same round.
    def paired(runner, threads, runs=raw[workload]):
      pairs = [
        (a["it_s"], b["it_s"])
        for a, b in zip(runs.get(f"jaxgan@{threads}", []), runs[runner])
        if "it_s" in a and "it_s" in b
      ]
      return statistics.median(a / b for a, b in pairs) if pairs else None

    ratios, paired_ratios, first_step_ratios, rss_ratios = {}, {}, {}, {}
    for runner in runners:
      framework, threads = _parse_runner(runner)
      jaxgan = f"jaxgan@{threads}"
      if framework == "jaxgan":
        continue
      name = f"{jaxgan}/{runner}"
      if med(jaxgan) and med(runner):
        ratios[name] = med(jaxgan) / med(runner)
        paired_ratios[name] = paired(runner, threads)
      if med(jaxgan, "first_step_s") and med(runner, "first_step_s"):
        first_step_ratios[name] = med(jaxgan, "first_step_s") / med(runner, "first_step_s")
      if med(jaxgan, "peak_rss_mb") and med(runner, "peak_rss_mb"):
        rss_ratios[name] = med(jaxgan, "peak_rss_mb") / med(runner, "peak_rss_mb")
    threads = max(_parse_runner(r)[1] for r in runners)
    at = lambda framework, t=threads: f"{framework}@{t}"
    entry.update(
      {
        "threads": threads,
        "jaxgan_it_s": med(at("jaxgan")),
        "minimal_it_s": med(at("minimal")),
        "torch_eager_it_s": med(at("torch_eager")),
        "torch_compile_it_s": med(at("torch_compile")),
        "ratio": ratios.get(f"{at('jaxgan')}/{at('torch_eager')}"),
        "ratio_vs_compile": ratios.get(f"{at('jaxgan')}/{at('torch_compile')}"),
        "ratio_vs_minimal": ratios.get(f"{at('jaxgan')}/{at('minimal')}"),
        "paired_ratio_vs_minimal": paired_ratios.get(f"{at('jaxgan')}/{at('minimal')}"),
        "compile_s": med(at("jaxgan"), "first_step_s"),  # the first step: build, init, compile, one iteration
        "first_step_s": {f: med(at(f), "first_step_s") for f in FRAMEWORKS},
        "peak_rss_mb": {f: med(at(f), "peak_rss_mb") for f in FRAMEWORKS},
        "first_step_vs_minimal": first_step_ratios.get(f"{at('jaxgan')}/{at('minimal')}"),
        "peak_rss_vs_minimal": rss_ratios.get(f"{at('jaxgan')}/{at('minimal')}"),
        "ratios": ratios,
        "paired_ratios": paired_ratios,
        "first_step_ratios": first_step_ratios,
        "peak_rss_ratios": rss_ratios,
      }
    )
    compile_errors = entry["runners"].get(at("torch_compile"), {}).get("errors")
    if compile_errors:
      entry["torch_compile_error"] = compile_errors[0]
    out[workload] = entry
  return out


def _fmt(summary: dict | None, digits: int = 2) -> str:
  if not summary:
    return "n/a"
  if summary["n"] == 1:
    return f"{summary['median']:.{digits}f}"
  return f"{summary['median']:.{digits}f} ({summary['min']:.{digits}f}-{summary['max']:.{digits}f})"


def markdown_table(results: dict) -> str:
  """The README table: per workload and runner it/s median (min-max), first step, peak RSS, and jaxgan's ratios to
  it (it/s: jaxgan / this, higher is better for jaxgan; first step and RSS: jaxgan / this, lower is better)."""
  lines = [
    (
      "| workload | runner | it/s median (min-max) | first step s | peak RSS MB | jaxgan it/s / this "
      "(paired) | jaxgan first step / this | jaxgan RSS / this |"
    ),
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ]
  fmt_ratio = lambda value: "" if value is None else f"{value:.2f}x"
  for workload, entry in results["workloads"].items():
    for runner, r in entry["runners"].items():
      threads = _parse_runner(runner)[1]
      name = f"jaxgan@{threads}/{runner}"
      ratio = entry["ratios"].get(name)
      paired = entry.get("paired_ratios", {}).get(name)
      rate = _fmt(r["it_s"]) if r["it_s"] else ("unsupported" if r["errors"] else "n/a")
      lines.append(
        f"| {workload} | {runner} | {rate} | {_fmt(r['first_step_s'], 1)} | {_fmt(r['peak_rss_mb'], 0)} | "
        f"{fmt_ratio(ratio)}{'' if paired is None else f' ({paired:.2f}x)'} | "
        f"{fmt_ratio(entry.get('first_step_ratios', {}).get(name))} | "
        f"{fmt_ratio(entry.get('peak_rss_ratios', {}).get(name))} |"
      )
  return "\n".join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="1 round, ~1 s per measurement: checks that it runs")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--runners", default=",".join(DEFAULT_RUNNERS), help="comma list of FRAMEWORK@THREADS")
  parser.add_argument("--workloads", default=",".join(WORKLOADS))
  parser.add_argument("--seconds", type=float, default=15.0, help="minimum timed seconds per measurement")
  parser.add_argument("--min-iters", type=int, default=5)
  parser.add_argument("--max-iters", type=int, default=10**6)
  parser.add_argument("--warmup", type=int, default=2, help="untimed iterations after the first step")
  parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a measurement is abandoned")
  parser.add_argument("--tiny", action="store_true", help="tiny nets and batch 8 (tests only: not the workloads)")
  parser.add_argument(
    "--conv-impl",
    choices=("auto", "xla", "fast"),
    default=None,
    help="jaxgan's convolutions (jaxgan.nets.conv); default: the configs' ('auto': 'fast' on CPU)",
  )
  parser.add_argument(
    "--device",
    choices=("cpu", "gpu"),
    default="cpu",
    help="where both frameworks run (gpu: jax's CUDA backend and torch on cuda; see gpu.sh)",
  )
  parser.add_argument(
    "--budget-s",
    type=float,
    default=0.0,
    help="> 0: start no new measurement after this many seconds (the table shows what finished)",
  )
  parser.add_argument("--out", default=str(HERE / "results" / "speed.json"))
  parser.add_argument("--worker", help=argparse.SUPPRESS)
  parser.add_argument("--workload", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.worker:
    worker(args)
    return
  if args.quick:
    args.rounds, args.seconds, args.min_iters, args.warmup = 1, 1.0, 1, 0
  if args.rounds < 1:
    raise SystemExit(f"--rounds must be >= 1; got {args.rounds}.")
  runners = [r for r in args.runners.split(",") if r]
  workloads = [w for w in args.workloads.split(",") if w]
  for runner in runners:
    _parse_runner(runner)
  unknown = set(workloads) - set(ALL_WORKLOADS)
  if unknown:
    raise SystemExit(f"Unknown workloads {sorted(unknown)}; choose from {ALL_WORKLOADS}.")
  have_torch = importlib.util.find_spec("torch") is not None
  skipped = [r for r in runners if r.startswith("torch") and not have_torch]
  if skipped:
    print(f"torch is not installed (pip install -e .[bench]); skipping {skipped}", file=sys.stderr)
  active = [r for r in runners if r not in skipped]

  machine = _machine()
  raw = {w: {r: [] for r in active} for w in workloads}
  settings = {
    "rounds": args.rounds,
    "runners": active,
    "skipped_runners": skipped,
    "seconds": args.seconds,
    "min_iters": args.min_iters,
    "warmup": args.warmup,
    "tiny": args.tiny,
    "conv_impl": args.conv_impl or "auto",
    "batch_size": 8 if args.tiny else 64,
    "batch_sizes": {w: _batch_size(w, args) for w in workloads},
    "device": args.device,
    "data": "synthetic fixed batches (data loading excluded)",
    "iteration": "n_critic critic updates + 1 generator update",
  }
  start = time.perf_counter()
  out_of_time = lambda: args.budget_s > 0 and time.perf_counter() - start > args.budget_s
  for round_index in range(args.rounds):
    for workload in workloads:
      for runner in active:  # alternates frameworks within the round
        if out_of_time():
          break
        result = _run_worker(runner, workload, args)
        raw[workload][runner].append(result)
        shown = f"{result['it_s']:.3f} it/s" if "it_s" in result else result["error"][:120]
        print(f"round {round_index + 1}/{args.rounds} {workload:9s} {runner:16s} {shown}", file=sys.stderr, flush=True)
    # Written after every round, so a run cut short on a busy machine keeps the rounds it finished.
    machine["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    results = {
      "workloads": _aggregate(raw, active, workloads),
      "machine": machine,
      "versions": _versions(),
      "settings": {**settings, "rounds_done": round_index + 1},
      "raw": raw,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    if out_of_time():
      print(f"--budget-s {args.budget_s:.0f} spent after round {round_index + 1}", file=sys.stderr)
      break
  print(markdown_table(results))


if __name__ == "__main__":
  main()
