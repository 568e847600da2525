"""DCGAN on CelebA at 64x64 (Radford et al. 2016's face setup): photos centre-cropped to 108x108 and resized to
64x64 (`jaxgan.data.images.CENTER_CROPS`), the DCGAN nets at 64x64x3, non-saturating loss, Adam 2e-4 with betas
(0.5, 0.999), batch 64, z of dimension 100. tfds's `celeb_a` needs its original files in --config.data.manual_dir
to prepare offline (see the tfds catalog for the list)."""

from experiments.configs import dcgan_mnist
from experiments.configs.base import image_data


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "dcgan_celeba64"
  c.num_steps = 50000
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.data = image_data("celeb_a")
  return c
