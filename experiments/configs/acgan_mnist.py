"""AC-GAN on MNIST (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs", Sec. 3): the
conditional DCGAN generator of `cgan_mnist` (class embedding concatenated to z) and a DCGAN discriminator with two
heads on shared features, a real/fake score and 10 class logits. D minimises the source log loss plus the class
cross-entropy on real and generated images; G its non-saturating source loss plus the class cross-entropy of its
fakes. Adam 2e-4, betas (0.5, 0.999), batch 64."""

import ml_collections

from experiments.configs import cgan_mnist


def get_config():
  c = cgan_mnist.get_config()
  c.name = "acgan_mnist"
  c.critic = ml_collections.ConfigDict(
    {"name": "acgan", "backbone": "dcgan", "base_features": 64, "embedding": 128, "batch_norm": True}
  )
  c.classifier = ml_collections.ConfigDict({"name": "acgan", "class_weight": 1.0})
  return c
