"""Semi-supervised GAN on MNIST with 100 labels (Salimans et al. 2016, "Improved Techniques for Training GANs",
Sec. 5 and Table 1: 0.93% +- 0.07% test error after 300 epochs), as the authors' `train_mnist_feature_matching.py`.

10 labelled training images per class, the other 59,900 unlabelled. The discriminator is a 10-class MLP
(1000-500-250-250-250, weight-normalised, Gaussian noise on the input and after every hidden layer) whose real/fake
logit is logsumexp of its class logits; its loss is the labelled cross-entropy plus the GAN's log loss on unlabelled
and generated batches (the paper weighs the latter by 1/2: `class_weight` 2 keeps that ratio). The generator
(100-d uniform z, 500-500 with BatchNorm) is trained by feature matching on the discriminator's last hidden layer.
Adam 3e-3, beta1 0.5, batch 100 unlabelled + 100 labelled, one discriminator and one generator update per step
(600 steps per epoch).

Simplifications, documented in `jaxgan.nets.classifier`: ReLU units (the paper's generator uses softplus), Flax's
WeightNorm without the data-dependent initialisation, a tanh output (images in [-1, 1]; the paper's sigmoid output
is in [0, 1], so its input noise std 0.3 becomes 0.6 here).
"""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "ssgan_mnist_100labels"
  c.seed = 1
  c.num_steps = 180_000  # the paper's 300 epochs of 600 steps
  c.batch_size = 100
  c.n_critic = 1
  c.log_every = 100
  c.eval_every = 3000
  c.checkpoint_every = 3000
  c.loss = "ns_gan"  # the discriminator's log loss; feature matching replaces the generator's loss
  c.prior = "uniform"
  c.latent_dim = 100
  c.data = image_data("mnist")
  c.generator = ml_collections.ConfigDict(
    {"name": "mlp", "features": (500, 500), "activation": "relu", "batch_norm": True, "output_activation": "tanh"}
  )
  c.critic = ml_collections.ConfigDict(
    {
      "name": "ssgan",
      "classes": 10,
      "backbone": "mlp",
      "features": (1000, 500, 250, 250, 250),
      "activation": "relu",
      "input_noise": 0.6,
      "hidden_noise": 0.5,
      "weight_norm": True,
    }
  )
  c.classifier = ml_collections.ConfigDict(
    {
      "name": "ssgan",
      "class_weight": 2.0,
      "feature_matching": True,
      "labelled_per_class": 10,
      "labelled_batch_size": 100,
    }
  )
  c.g_optimizer = optimizer("adam", 3e-3, b1=0.5, b2=0.999)
  c.d_optimizer = optimizer("adam", 3e-3, b1=0.5, b2=0.999)
  return c
