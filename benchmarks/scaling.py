"""How the cost grows: jaxgan against the PyTorch reference along batch size and net width, and compile time along
n_critic (issue 17, part 2).

Workloads (PyTorch-GAN's, as in `speed.py`): `wgan_gp` (the MLP WGAN-GP, `bench_wgan_gp_mlp`) and `dcgan`
(`bench_dcgan32`). Two lines through the grid, not the full grid:
  batch 64, 256, 1024 at width x1, and width x1, x2, x4 at batch 64
(width multiplies every hidden layer's units / channels, on both sides). For each point and framework it reports
iterations/s and achieved GFLOP/s: jaxgan's FLOPs per iteration from XLA's cost analysis of the compiled step
(all ops; a step that scans its critic updates is counted from the same step unrolled, since the analysis counts a
loop body once whatever its trip count), torch's from the torch profiler's FLOP estimates over one iteration
(matmuls and convolutions; elementwise work is not counted, a few % here). The ceiling is the machine's float32
matmul rate, measured here with a `jnp.dot` of two N x N matrices at the same thread count. Compile time (lower +
compile of the jaxgan step) is measured at n_critic 1, 5 and 10 (batch 64, width x1).

Every measurement runs in its own subprocess pinned to `--threads` CPUs, and the JSON is rewritten after each, so an
interrupted run resumes where it stopped (points already in the JSON with the same settings are kept; `--fresh`
starts over). Report, don't gate: on a shared machine the rates are noisy (the load average is recorded).

  python benchmarks/scaling.py               # writes benchmarks/results/scaling.json and scaling.png
  python benchmarks/scaling.py --quick       # batch 64/256, width x1/x2, n_critic 1/5, ~1 s per point
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import speed  # the machine / version helpers and the thread pinning

WORKLOADS = ("wgan_gp", "dcgan")
CONFIGS = {"wgan_gp": "bench_wgan_gp_mlp", "dcgan": "bench_dcgan32"}
FRAMEWORKS = ("jaxgan", "torch_eager")


def grid(quick: bool) -> dict:
  """The batch and width lines and the n_critic values for compile time."""
  if quick:
    return {"batches": (64, 256), "widths": (1, 2), "n_critics": (1, 5)}
  return {"batches": (64, 256, 1024), "widths": (1, 2, 4), "n_critics": (1, 5, 10)}


def points(quick: bool, workloads=WORKLOADS) -> list[tuple[str, int, int]]:
  """(workload, batch, width) along the two lines, without repeating (64, x1)."""
  g = grid(quick)
  line = [(b, 1) for b in g["batches"]] + [(64, w) for w in g["widths"] if w != 1]
  return [(workload, b, w) for workload in workloads for b, w in line]


# ----------------------------------------------------------------------------------------------------------- worker


def _jaxgan_config(workload: str, batch: int, width: int, n_critic: int | None = None):
  config = importlib.import_module(f"experiments.configs.{CONFIGS[workload]}").get_config()
  config.batch_size = batch
  if workload == "wgan_gp":
    config.generator.base_features = 128 * width
    config.critic.features = (512 * width, 256 * width)
  else:
    config.generator.base_features = 64 * width
    config.critic.base_features = 16 * width
  if n_critic is not None:
    config.n_critic = n_critic
    if n_critic > 1:  # bench_dcgan32's PyTorch-GAN order makes one critic update per step
      config.update_order = "critic_first"
  return config


def _cost_flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older jax: one dict per computation
    analysis = analysis[0]
  return float(analysis.get("flops", 0.0))


def step_flops(config, compiled, state, batch, key) -> float:
  """FLOPs of one jaxgan iteration, `compiled` being its one-device step, by XLA's cost analysis. The analysis
  counts a loop body once whatever its trip count, so a step that scans its critic updates is counted from the
  same step unrolled."""
  from jaxgan import parallel
  from jaxgan.train import build_gan, scans_critic_loop

  if not scans_critic_loop(build_gan(config)):
    return _cost_flops(compiled)
  unrolled = config.copy_and_resolve_references()
  unrolled.critic_loop = "unroll"
  return _cost_flops(parallel.make_parallel_train_step(unrolled, "none").step.lower(state, batch, key).compile())


def _jaxgan_worker(job: dict, args) -> dict:
  import jax

  sys.path.insert(0, str(ROOT))
  from jaxgan import parallel
  from jaxgan.data import data_shape
  from jaxgan.train import build_gan, init_state, scans_critic_loop

  config = _jaxgan_config(job["workload"], job["batch"], job["width"], job.get("n_critic"))
  gan = build_gan(config)
  train_step = parallel.make_parallel_train_step(config, "none", gan=gan)
  state = init_state(gan, jax.random.key(0))
  shape = (config.n_critic, config.batch_size, *data_shape(config.data))
  batch = jax.random.uniform(jax.random.key(1), shape, minval=-1.0, maxval=1.0)
  key = jax.random.key(2)
  t0 = time.perf_counter()
  compiled = train_step.step.lower(state, batch, key).compile()
  compile_s = time.perf_counter() - t0
  result = {
    "compile_s": compile_s,
    "flops_per_iteration": step_flops(config, compiled, state, batch, key),
    "scanned": scans_critic_loop(gan),
  }
  if job["kind"] == "compile":
    return result
  box = {"state": state}

  def run_one():
    box["state"], metrics = compiled(box["state"], batch, key)
    return metrics

  jax.block_until_ready(run_one())
  it_s, iters = speed._time_iterations(run_one, jax.block_until_ready, args.seconds, args.min_iters, 10**6)
  return {**result, "it_s": it_s, "iters": iters, "gflops": it_s * result["flops_per_iteration"] / 1e9}


def _torch_worker(job: dict, args) -> dict:
  import torch
  from torch.profiler import ProfilerActivity, profile

  torch.set_num_threads(args.threads)
  import torch_reference

  w = torch_reference.make_workload(job["workload"], batch_size=job["batch"], width=job["width"])
  # The profiler's FLOP estimates (matmuls, convolutions); FlopCounterMode cannot follow WGAN-GP's autograd.grad.
  with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
    w.iteration()
  flops = float(sum(event.flops for event in prof.key_averages() if event.flops))
  it_s, iters = speed._time_iterations(w.iteration, lambda _: None, args.seconds, args.min_iters, 10**6)
  return {"it_s": it_s, "iters": iters, "flops_per_iteration": flops, "gflops": it_s * flops / 1e9}


def _peak_worker(args) -> dict:
  import jax
  import jax.numpy as jnp

  n = args.matmul_size
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  dot = jax.jit(jnp.dot)
  jax.block_until_ready(dot(a, b))
  best = float("inf")
  for _ in range(args.matmul_repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(dot(a, b))
    best = min(best, time.perf_counter() - t0)
  return {"matmul_size": n, "seconds": best, "gflops": 2 * n**3 / best / 1e9}


def worker(args) -> None:
  speed._pin(args.threads)
  job = json.loads(args.worker)
  if job["kind"] == "peak":
    result = _peak_worker(args)
  elif job["framework"] == "jaxgan":
    result = _jaxgan_worker(job, args)
  else:
    result = _torch_worker(job, args)
  print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------------ coordinator


def _job_id(job: dict) -> str:
  return "/".join(f"{k}={job[k]}" for k in sorted(job))


def _run(job: dict, args) -> dict:
  cmd = [
    sys.executable,
    str(Path(__file__).resolve()),
    "--worker",
    json.dumps(job),
    "--threads",
    str(args.threads),
    "--seconds",
    str(args.seconds),
    "--min-iters",
    str(args.min_iters),
    "--matmul-size",
    str(args.matmul_size),
    "--matmul-repeats",
    str(args.matmul_repeats),
  ]
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]))
  try:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout, check=False)
  except subprocess.TimeoutExpired:
    return {"error": f"timed out after {args.timeout:.0f} s"}
  lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
  if proc.returncode != 0 or not lines:
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
  return json.loads(lines[-1][len("RESULT ") :])


def jobs(args, have_torch: bool) -> list[dict]:
  out = [{"kind": "peak"}]
  for workload, batch, width in points(args.quick, args.workloads):
    for framework in FRAMEWORKS:
      if framework == "torch_eager" and not have_torch:
        continue
      out.append({"kind": "rate", "framework": framework, "workload": workload, "batch": batch, "width": width})
  for workload in args.workloads:
    for n_critic in grid(args.quick)["n_critics"]:
      out.append(
        {"kind": "compile", "framework": "jaxgan", "workload": workload, "batch": 64, "width": 1, "n_critic": n_critic}
      )
  return out


def plot(results: dict, path: Path) -> None:
  """One log-log figure: achieved GFLOP/s along batch and along width, per workload and framework, under the measured
  matmul peak, and jaxgan's compile time along n_critic."""
  from matplotlib.figure import Figure

  fig = Figure(figsize=(14, 7), constrained_layout=True)
  axes = fig.subplots(len(WORKLOADS), 3, squeeze=False)
  peak = (results.get("peak") or {}).get("gflops")
  rates = [r for r in results["jobs"].values() if r["job"]["kind"] == "rate" and "gflops" in r["result"]]
  compiles = [r for r in results["jobs"].values() if r["job"]["kind"] == "compile" and "compile_s" in r["result"]]
  for row, workload in enumerate(WORKLOADS):
    if not any(r["job"]["workload"] == workload for r in rates + compiles):
      for ax in axes[row]:
        ax.set_visible(False)
      continue
    series = sorted(
      (r["job"]["n_critic"], r["result"]["compile_s"]) for r in compiles if r["job"]["workload"] == workload
    )
    ax = axes[row][2]
    if series:
      ax.plot(*zip(*series), "o-", label="jaxgan lower + compile")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n_critic (batch 64, width 1)")
    ax.set_ylabel("compile s")
    ax.set_title(f"{workload}: compile time")
    ax.legend(fontsize=8)
    for col, (axis, fixed_name, fixed) in enumerate((("batch", "width", 1), ("width", "batch", 64))):
      ax = axes[row][col]
      for framework, style in (("jaxgan", "o-"), ("torch_eager", "s--")):
        series = sorted(
          (r["job"][axis], r["result"]["gflops"], r["result"]["it_s"])
          for r in rates
          if r["job"]["workload"] == workload and r["job"]["framework"] == framework and r["job"][fixed_name] == fixed
        )
        if series:
          xs, ys, _ = zip(*series)
          ax.plot(xs, ys, style, label=framework)
          for x, y, it in series:
            ax.annotate(f"{it:.3g} it/s", (x, y), fontsize=7, textcoords="offset points", xytext=(4, 4))
      if peak:
        ax.axhline(peak, color="gray", linestyle=":", label=f"f32 matmul peak {peak:.0f}")
      ax.set_xscale("log", base=2)
      ax.set_yscale("log")
      ax.set_xlabel(f"{axis} ({fixed_name} {fixed})")
      ax.set_ylabel("achieved GFLOP/s")
      ax.set_title(f"{workload}: along {axis}")
      ax.legend(fontsize=8)
  fig.savefig(path, dpi=120)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="a smaller grid and ~1 s per point: checks that it runs")
  parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma list from {WORKLOADS}")
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--seconds", type=float, default=10.0, help="minimum timed seconds per point")
  parser.add_argument("--min-iters", type=int, default=3)
  parser.add_argument("--matmul-size", type=int, default=2048)
  parser.add_argument("--matmul-repeats", type=int, default=10)
  parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before one point is abandoned")
  parser.add_argument("--fresh", action="store_true", help="ignore the points already in --out")
  parser.add_argument("--out", default=str(HERE / "results" / "scaling.json"))
  parser.add_argument("--figure", default=None, help="default: --out with .png")
  parser.add_argument("--worker", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.worker:
    worker(args)
    return
  args.workloads = tuple(w for w in args.workloads.split(",") if w)
  if set(args.workloads) - set(WORKLOADS):
    raise SystemExit(f"Unknown workloads {sorted(set(args.workloads) - set(WORKLOADS))}; choose from {WORKLOADS}.")
  if args.quick:
    args.seconds, args.min_iters, args.matmul_size, args.matmul_repeats = 1.0, 1, 1024, 3
  out = Path(args.out)
  figure = Path(args.figure) if args.figure else out.with_suffix(".png")
  have_torch = importlib.util.find_spec("torch") is not None
  settings = {
    "quick": args.quick,
    "workloads": list(args.workloads),
    "threads": args.threads,
    "seconds": args.seconds,
    "min_iters": args.min_iters,
    "matmul_size": args.matmul_size,
    **{k: list(v) for k, v in grid(args.quick).items()},
  }
  results = {"jobs": {}}
  if out.exists() and not args.fresh:
    previous = json.loads(out.read_text())
    if previous.get("settings") == settings:
      results = previous
      print(f"Resuming: {len(results['jobs'])} points already in {out}", file=sys.stderr)
  results.update(
    {
      "settings": settings,
      "machine": speed._machine(),
      "versions": speed._versions(),
      "notes": [
        (
          "Measured on the machine recorded under `machine`; if its load average was high (other processes on "
          "the same cores) the rates are noisy and low: rerun on a quiet machine before drawing conclusions."
        ),
        (
          "jaxgan FLOPs: XLA cost analysis of the compiled step (every op). torch FLOPs: the torch profiler's "
          "estimates (matmuls and convolutions only). dcgan: torch runs PyTorch-GAN's order (generator first, "
          "its fakes reused by the discriminator), jaxgan a fresh generator forward for the critic update: more "
          "FLOPs per iteration on jaxgan's side, so compare it/s and GFLOP/s together."
        ),
      ]
      + ([] if have_torch else ["torch is not installed: jaxgan only (pip install -e .[bench])."]),
    }
  )
  out.parent.mkdir(parents=True, exist_ok=True)
  for job in jobs(args, have_torch):
    job_id = _job_id(job)
    done = results["jobs"].get(job_id)
    if done and "error" not in done["result"]:
      continue
    t0 = time.perf_counter()
    result = _run(job, args)
    result["load_average"] = os.getloadavg()
    results["jobs"][job_id] = {"job": job, "result": result}
    shown = {k: round(v, 3) for k, v in result.items() if isinstance(v, float)} if "error" not in result else result
    print(f"{job_id}: {shown} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    if job["kind"] == "peak" and "gflops" in result:
      results["peak"] = result
    out.write_text(json.dumps(results, indent=2) + "\n")
  plot(results, figure)
  print(f"Wrote {out} and {figure}")


if __name__ == "__main__":
  main()
