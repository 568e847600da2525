"""RSGAN on MNIST (Jolicoeur-Martineau 2018, the relativistic standard GAN): the DCGAN nets and optimiser of
dcgan_mnist (Adam 2e-4, betas (0.5, 0.999), batch 64) with the relativistic loss, which pairs each real image with a
fake one: D sees the difference of their logits."""

from experiments.configs import dcgan_mnist


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "rsgan_mnist"
  c.loss = "rsgan"
  return c
