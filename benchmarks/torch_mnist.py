"""Real MNIST for the PyTorch reference (`torch_reference.py`), as an ordinary PyTorch input pipeline.

The training images are read from MNIST's original files (`train-images-idx3-ubyte.gz`, as torchvision's `MNIST`
reads them), resized for the 32x32 DCGAN by the function jaxgan's own pipeline uses
(`jaxgan/data/resize.py`: torch's bilinear `F.interpolate` semantics, which torchvision's `Resize(32)` applies when
upsampling, rounded to uint8 as PyTorch-GAN's PIL images are), mapped to [-1, 1] (`ToTensor`, `Normalize(0.5, 0.5)`),
held in memory as one tensor, and served by a `DataLoader` that reshuffles every epoch and drops the last partial
batch (jaxgan's stream has none either).

`init_like_flax_` gives the reference's nets the initialisation jaxgan's nets get (flax's defaults), so both sides
start from the same distribution of weights.

Requires `torch` (the optional extra `bench`).
"""

from __future__ import annotations

import gzip
import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


def _resize_module():
  # jaxgan's resize module by its file: importing the `jaxgan` package would import jax, whose start-up would then
  # count on PyTorch's clock in benchmarks/quality.py.
  spec = importlib.util.spec_from_file_location("jaxgan_resize", ROOT / "jaxgan" / "data" / "resize.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def read_idx_images(path: str | Path) -> np.ndarray:
  """An idx3 file (gzipped), e.g. MNIST's `train-images-idx3-ubyte.gz`, as uint8 [N, H, W].

  Raises:
    ValueError: when the file is not an idx3 file of unsigned bytes.
  """
  with gzip.open(path, "rb") as f:
    data = f.read()
  magic, count, height, width = np.frombuffer(data[:16], ">u4")
  if magic != 2051 or len(data) != 16 + int(count) * int(height) * int(width):
    raise ValueError(f"{path} is not an idx3 file of uint8 images (magic {magic}, {len(data)} bytes).")
  return np.frombuffer(data, np.uint8, offset=16).reshape(int(count), int(height), int(width))


def load_mnist_train(manual_dir: str | Path, image_size: int = 28) -> torch.Tensor:
  """MNIST's 60,000 training images as float32 [60000, 1, image_size, image_size] in [-1, 1].

  Args:
    manual_dir: the folder with MNIST's original files.
    image_size: 28, or larger to upsample bilinearly (32 for PyTorch-GAN's DCGAN).
  """
  images = read_idx_images(Path(manual_dir) / TRAIN_IMAGES)[..., None]  # [N, 28, 28, 1]
  if image_size != images.shape[1]:
    images = _resize_module().resize_uint8(images, (image_size, image_size))
  unit = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255.0
  return (unit - 0.5) / 0.5


def real_batches(images: torch.Tensor, n_critic: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
  """Endless [n_critic, batch_size, C, H, W] batches: n_critic consecutive minibatches of a `DataLoader` over the
  in-memory images, reshuffled every epoch (its generator seeded with `seed`), last partial batch dropped."""
  dataset = torch.utils.data.TensorDataset(images)
  generator = torch.Generator().manual_seed(seed)
  sampler = torch.utils.data.BatchSampler(
    torch.utils.data.RandomSampler(dataset, generator=generator), batch_size, drop_last=True
  )
  # batch_size=None with a batch sampler: the dataset is indexed by a whole batch of indices at once.
  loader = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None)
  group: list[torch.Tensor] = []
  while True:
    for (batch,) in loader:
      group.append(batch)
      if len(group) == n_critic:
        yield torch.stack(group)
        group = []


@torch.no_grad()
def init_like_flax_(module: nn.Module) -> nn.Module:
  """Re-initialises `module`'s Linear and Conv2d layers in place as flax's defaults do: weights LeCun normal
  (truncated at 2 standard deviations, variance 1 / fan_in), biases zero; BatchNorm keeps scale 1, shift 0.

  Returns:
    `module`.
  """
  for layer in module.modules():
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
      fan_in = layer.weight[0].numel()  # in_features, or in_channels * kh * kw
      # flax's truncated normal divides by the std of a unit normal truncated to [-2, 2], so the variance is 1/fan_in.
      std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
      nn.init.trunc_normal_(layer.weight, 0.0, std, -2 * std, 2 * std)
      if layer.bias is not None:
        layer.bias.zero_()
  return module
