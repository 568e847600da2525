"""DCGAN on DeLiGAN's low-data MNIST (1,000 training images): dcgan_mnist unchanged but for the data, the baseline
that deligan_mnist_lowdata's learnable latent mixture is compared with.

Variants (overrides only, see `base.LOW_DATA_VARIANTS`): `--config=experiments/configs/dcgan_mnist_lowdata.py:diffaug`
adds DiffAugment (Zhao et al. 2020), `:diffaug_lecam` that and the LeCam regulariser (Tseng et al. 2021); the same
as `--config.augment=color,translation,cutout --config.lecam_weight=0.3`."""

from experiments.configs import dcgan_mnist
from experiments.configs.base import low_data_variant


def get_config(variant: str = ""):
  c = dcgan_mnist.get_config()
  c.name = "dcgan_mnist_lowdata"
  c.data.max_examples = 1000
  return low_data_variant(c, variant)
