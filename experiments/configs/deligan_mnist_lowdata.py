"""DeLiGAN's low-data setting on MNIST (Gurumurthy et al. 2017, Sec. 5): 1,000 training images, a 50-component
learnable latent mixture, DCGAN nets and the non-saturating loss.

Variants (overrides only, see `base.LOW_DATA_VARIANTS`): `--config=experiments/configs/deligan_mnist_lowdata.py:diffaug`
adds DiffAugment (Zhao et al. 2020), `:diffaug_lecam` that and the LeCam regulariser (Tseng et al. 2021)."""

import ml_collections

from experiments.configs import dcgan_mnist
from experiments.configs.base import low_data_variant


def get_config(variant: str = ""):
  c = dcgan_mnist.get_config()
  c.name = "deligan_mnist_lowdata"
  c.data.max_examples = 1000
  c.prior = "deligan"
  c.deligan = ml_collections.ConfigDict(
    {"num_components": 50, "sigma_init_min": 0.05, "sigma_init_max": 0.2, "sigma_reg": 0.05}
  )
  return low_data_variant(c, variant)
