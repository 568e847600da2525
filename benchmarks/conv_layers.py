"""Per-layer convolution timings: XLA's derivatives against `jaxgan.nets.conv`'s, on the conv layers of the
benchmark nets (PyTorch-GAN's DCGAN at 32x32x1, `bench_dcgan32`; jaxgan's DCGAN at 28x28x1, `dcgan_mnist`), batch 64.

For every layer and implementation ('xla': `lax.conv_general_dilated` and its autodiff; 'fast': `conv2d(...,
impl='fast')`) it times, each under its own `jax.jit`: the forward pass, the input gradient, the kernel gradient, and
the training backward pass (value and both gradients together). The implementations alternate within every repeat,
so a busy period on a shared machine hits both; medians over the repeats are reported, with the load average.

  python benchmarks/conv_layers.py                       # writes benchmarks/results/conv_layers.json, prints a table
  python benchmarks/conv_layers.py --repeats 3 --layers zoo_g_up2,zoo_d_conv1
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
if str(HERE) not in sys.path:
  sys.path.insert(0, str(HERE))

from hardware import cpu_name  # noqa: E402  (benchmarks/ is on the path)

from jaxgan.nets.conv import _transpose_padding, conv2d  # noqa: E402
from jaxgan.nets.zoo import _upsample_conv_subpixel  # noqa: E402

IMPLS = ("xla", "fast")
MEASURES = ("forward", "input_grad", "kernel_grad", "train_backward")


@dataclasses.dataclass(frozen=True)
class Layer:
  """One conv layer of a benchmark net.

  Attributes:
    name: short id, e.g. 'zoo_g_up2'.
    net: the net it belongs to.
    kind: 'conv', 'conv_transpose' (flax's ConvTranspose, 'SAME'), 'upsample_subpixel' or 'upsample_resize' (the zoo
      generator's nearest x2 upsampling + 3x3 conv in its two exact forms).
    in_shape: (H, W, C) of the input.
    kernel: (kh, kw, C, O).
    strides: window strides (the transposed conv's stride for 'conv_transpose').
    padding: as `conv2d`'s.
  """

  name: str
  net: str
  kind: str
  in_shape: tuple[int, int, int]
  kernel: tuple[int, int, int, int]
  strides: tuple[int, int] = (1, 1)
  padding: object = "SAME"

  def function(self, impl: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """(x [B, *in_shape], kernel) -> y, computed by `impl`."""
    if self.kind == "conv":
      return lambda x, k: conv2d(x, k, self.strides, self.padding, impl=impl)
    if self.kind == "conv_transpose":
      pads = [_transpose_padding(k, s, self.padding) for k, s in zip(self.kernel[:2], self.strides)]
      return lambda x, k: conv2d(x, k, (1, 1), pads, lhs_dilation=self.strides, impl=impl)
    if self.kind == "upsample_subpixel":
      return lambda x, k: _upsample_conv_subpixel(x, k, impl)

    def resize_conv(x, k):
      b, h, w, c = x.shape
      return conv2d(jax.image.resize(x, (b, 2 * h, 2 * w, c), "nearest"), k, (1, 1), ((1, 1), (1, 1)), impl=impl)

    return resize_conv

  def describe(self) -> str:
    h, w, c = self.in_shape
    kh, kw, _, o = self.kernel
    what = {
      "conv": f"conv {kh}x{kw}/{self.strides[0]}",
      "conv_transpose": f"convT {kh}x{kw}/{self.strides[0]}",
      "upsample_subpixel": "up x2 + conv 3x3 (subpixel)",
      "upsample_resize": "up x2 + conv 3x3 (resize)",
    }
    return f"{h}x{w}x{c} -> {o}, {what[self.kind]}"


P1 = ((1, 1), (1, 1))
LAYERS = (
  # PyTorch-GAN's DCGAN (bench_dcgan32): generator (upsampling blocks in both forms, final conv), discriminator.
  Layer("zoo_g_up1", "zoo_dcgan", "upsample_subpixel", (8, 8, 128), (3, 3, 128, 128)),
  Layer("zoo_g_up2", "zoo_dcgan", "upsample_subpixel", (16, 16, 128), (3, 3, 128, 64)),
  Layer("zoo_g_up1_resize", "zoo_dcgan", "upsample_resize", (8, 8, 128), (3, 3, 128, 128)),
  Layer("zoo_g_up2_resize", "zoo_dcgan", "upsample_resize", (16, 16, 128), (3, 3, 128, 64)),
  Layer("zoo_g_out", "zoo_dcgan", "conv", (32, 32, 64), (3, 3, 64, 1), (1, 1), P1),
  Layer("zoo_d_conv1", "zoo_dcgan", "conv", (32, 32, 1), (3, 3, 1, 16), (2, 2), P1),
  Layer("zoo_d_conv2", "zoo_dcgan", "conv", (16, 16, 16), (3, 3, 16, 32), (2, 2), P1),
  Layer("zoo_d_conv3", "zoo_dcgan", "conv", (8, 8, 32), (3, 3, 32, 64), (2, 2), P1),
  Layer("zoo_d_conv4", "zoo_dcgan", "conv", (4, 4, 64), (3, 3, 64, 128), (2, 2), P1),
  # jaxgan's DCGAN at 28x28x1 (dcgan_mnist, wgan_gp_mnist, cgan_mnist).
  Layer("dcgan_g_convt1", "dcgan", "conv_transpose", (7, 7, 128), (4, 4, 128, 64), (2, 2)),
  Layer("dcgan_g_convt2", "dcgan", "conv_transpose", (14, 14, 64), (4, 4, 64, 1), (2, 2)),
  Layer("dcgan_d_conv1", "dcgan", "conv", (28, 28, 1), (4, 4, 1, 64), (2, 2)),
  Layer("dcgan_d_conv2", "dcgan", "conv", (14, 14, 64), (4, 4, 64, 128), (2, 2)),
)


def _programs(layer: Layer, impl: str) -> dict[str, Callable]:
  f = layer.function(impl)
  return {
    "forward": jax.jit(f),
    "input_grad": jax.jit(lambda x, k, dy: jax.vjp(lambda x: f(x, k), x)[1](dy)[0]),
    "kernel_grad": jax.jit(lambda x, k, dy: jax.vjp(lambda k: f(x, k), k)[1](dy)[0]),
    "train_backward": jax.jit(lambda x, k, dy: (lambda y, vjp: (y, vjp(dy)))(*jax.vjp(f, x, k))),
  }


def _time(fn, *args) -> tuple[float, float]:
  """(wall seconds, CPU seconds of this process over all its threads) of one call."""
  start, start_cpu = time.perf_counter(), time.process_time()
  jax.block_until_ready(fn(*args))
  return time.perf_counter() - start, time.process_time() - start_cpu


def _max_rel_error(a, b) -> float:
  errors = [
    float(jnp.max(jnp.abs(x - y)) / (jnp.max(jnp.abs(x)) + 1e-30))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
  ]
  return max(errors)


def measure(layer: Layer, batch: int, repeats: int) -> dict:
  """Seconds per call for every measure and impl (all repeats and the median), and fast's error against xla's."""
  key_x, key_k, key_dy = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(key_x, (batch, *layer.in_shape))
  kernel = jax.random.normal(key_k, layer.kernel) / jnp.sqrt(layer.kernel[0] * layer.kernel[1] * layer.kernel[2])
  dy = jax.random.normal(key_dy, jax.eval_shape(layer.function("xla"), x, kernel).shape)
  programs = {impl: _programs(layer, impl) for impl in IMPLS}
  args = {
    "forward": (x, kernel),
    "input_grad": (x, kernel, dy),
    "kernel_grad": (x, kernel, dy),
    "train_backward": (x, kernel, dy),
  }
  outputs = {impl: {m: programs[impl][m](*args[m]) for m in MEASURES} for impl in IMPLS}  # compiles
  error = max(_max_rel_error(outputs["xla"][m], outputs["fast"][m]) for m in MEASURES)
  times = {impl: {m: [] for m in MEASURES} for impl in IMPLS}
  load_start = os.getloadavg()
  for _ in range(repeats):
    for m in MEASURES:
      for impl in IMPLS:
        times[impl][m].append(_time(programs[impl][m], *args[m]))
  # CPU seconds are less sensitive to other processes on a shared machine; wall seconds include the parallelism.
  summary = lambda t: {
    "median": statistics.median(w for w, _ in t),
    "all": [w for w, _ in t],
    "cpu_median": statistics.median(c for _, c in t),
  }
  return {
    "layer": dataclasses.asdict(layer),
    "description": layer.describe(),
    "batch": batch,
    "max_relative_error": error,
    "load_average": [load_start, os.getloadavg()],
    "seconds": {impl: {m: summary(t) for m, t in per.items()} for impl, per in times.items()},
  }


def markdown_table(results: list[dict]) -> str:
  """One row per layer: median wall ms, xla / fast, for every measure; the train-backward speed-up (wall, CPU)."""
  lines = [
    "| layer | shape (batch 64) | forward ms | input grad ms | kernel grad ms | train backward ms | speed-up "
    "(wall, CPU) | load |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ]
  for r in results:
    s = r["seconds"]
    cells = [f"{s['xla'][m]['median'] * 1e3:.1f} / {s['fast'][m]['median'] * 1e3:.1f}" for m in MEASURES]
    wall = s["xla"]["train_backward"]["median"] / s["fast"]["train_backward"]["median"]
    cpu = s["xla"]["train_backward"]["cpu_median"] / s["fast"]["train_backward"]["cpu_median"]
    lines.append(
      f"| {r['layer']['name']} | {r['description']} | {' | '.join(cells)} | {wall:.2f}x, {cpu:.2f}x | "
      f"{r['load_average'][0][0]:.1f} |"
    )
  return "\n".join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--layers", default="", help="comma list of layer names (default: all)")
  parser.add_argument("--out", default=str(HERE / "results" / "conv_layers.json"))
  args = parser.parse_args(argv)
  wanted = [n for n in args.layers.split(",") if n]
  unknown = set(wanted) - {layer.name for layer in LAYERS}
  if unknown:
    raise SystemExit(f"Unknown layers {sorted(unknown)}; choose from {[layer.name for layer in LAYERS]}.")
  layers = [layer for layer in LAYERS if not wanted or layer.name in wanted]
  machine = {
    "cpu": cpu_name(),
    "cpus_available": len(os.sched_getaffinity(0)),
    "platform": platform.platform(),
    "python": platform.python_version(),
    "backend": jax.default_backend(),
    "load_average_at_start": os.getloadavg(),
  }
  results = []
  for layer in layers:
    results.append(measure(layer, args.batch, args.repeats))
    s = results[-1]["seconds"]
    print(
      f"{layer.name:18s} "
      + "  ".join(f"{m} {s['xla'][m]['median'] * 1e3:.1f}/{s['fast'][m]['median'] * 1e3:.1f}" for m in MEASURES)
      + f"  load {os.getloadavg()[0]:.1f}",
      file=sys.stderr,
      flush=True,
    )
  machine["load_average_at_end"] = os.getloadavg()
  versions = {name: importlib.metadata.version(name) for name in ("jax", "jaxlib", "flax")}
  out = {
    "machine": machine,
    "versions": versions,
    "settings": {"batch": args.batch, "repeats": args.repeats, "impls": IMPLS, "measures": MEASURES},
    "layers": results,
  }
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
  print(markdown_table(results))


if __name__ == "__main__":
  main()
