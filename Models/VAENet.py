"""Encoder/decoder networks and likelihood heads of the VAE experiments.

Architectures (chosen from `ARCHITECTURES` by name):

- ``dense`` (28x28 images): encoder Flatten -> Dense(784, relu) -> Dense(512, relu) -> Dense(256, relu) ->
  Dense(latent_dim_in), split into the parameter tensors; decoder Dense(256, relu) -> Dense(512, relu) ->
  Dense(H*W*C*P) -> Reshape(H, W, C*P).
- ``dlgmm_dense`` (28x28, the mixture's): encoder Flatten -> Dense(200, relu) x 3 -> Dense(latent_dim_in); decoder
  Dense(200, relu) x 2 -> Dense(H*W*C*P) -> Reshape.
- ``conv_jointvae`` (32x32 images; 64x64 images get one extra stage on each side): encoder
  Conv(32,4,s2,relu) -> Conv(64,4,s2,relu) -> Conv(64,4,s2,relu) -> Flatten -> Dense(256, relu) -> one Dense head per
  parameter; decoder Dense(256, relu) -> Dense(4*4*64, relu) -> Reshape(4, 4, 64) -> ConvT(32,4,s2,relu) ->
  ConvT(32,4,s2,relu) -> ConvT(C*P,4,s2).

P is the number of likelihood parameters per pixel: 1 for the Bernoulli head (logits), 2 for the Gaussian head
(mean ``sigmoid(out_1)``, std ``1e-6 + softplus(out_2)``).  The decoder's last layer (the Dense of ``dense``, the last
ConvT of ``conv_jointvae``) is linear or has an ELU (``output_activation``): the original gave the Gaussian datasets
an ELU there, which keeps out > -1, so the mean is at least sigmoid(-1) = 0.269, the std at least softplus(-1) =
0.313 and each pixel's log-density at most -log(0.313) - log(2 pi) / 2 = 0.242 nats.  The network also owns the planar flow of IGR-Planar, so
that its weights are trained, saved and restored with the rest.
"""
import numpy as np
import tensorflow as tf

keras = tf.keras
LOG_2PI = float(np.log(2. * np.pi))
GAUSSIAN_STD_FLOOR = 1e-6


# ---------------------------------------------------------------------------------------------------------------------
# Likelihood heads
# ---------------------------------------------------------------------------------------------------------------------
class BernoulliLikelihood:
    """p(x | z) = prod_pixels Bernoulli(x; sigmoid(out)); the decoder outputs logits (P = 1)."""
    n_params = 1

    @staticmethod
    def log_prob(x, out):
        """x: (b, 1, H, W, C) in {0, 1}; out: (b, S, H, W, C) logits -> (b, S) log p(x | z)."""
        x = tf.broadcast_to(x, tf.shape(out))
        return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=out), axis=[-3, -2, -1])

    @staticmethod
    def mean(out):
        """Pixel means sigmoid(out), same shape as out."""
        return tf.sigmoid(out)


class GaussianLikelihood:
    """p(x | z) = prod_pixels N(x; sigmoid(out_1), (1e-6 + softplus(out_2))^2); channels [out_1 | out_2] (P = 2)."""
    n_params = 2

    @staticmethod
    def split(out):
        loc, raw_scale = tf.split(out, 2, axis=-1)
        return tf.sigmoid(loc), GAUSSIAN_STD_FLOOR + tf.nn.softplus(raw_scale)

    @classmethod
    def log_prob(cls, x, out):
        """x: (b, 1, H, W, C) in [0, 1]; out: (b, S, H, W, 2C) -> (b, S) log p(x | z)."""
        loc, scale = cls.split(out)
        log_density = -0.5 * LOG_2PI - tf.math.log(scale) - 0.5 * tf.square((x - loc) / scale)
        return tf.reduce_sum(log_density, axis=[-3, -2, -1])

    @classmethod
    def mean(cls, out):
        return cls.split(out)[0]


LIKELIHOODS = {'bernoulli': BernoulliLikelihood, 'gaussian': GaussianLikelihood}


def get_likelihood(name):
    if name not in LIKELIHOODS:
        raise ValueError(f'unknown likelihood {name!r}; valid choices are: {", ".join(LIKELIHOODS)}')
    return LIKELIHOODS[name]


# ---------------------------------------------------------------------------------------------------------------------
# Architectures: each builder returns (encoder trunk, list of heads, decoder) as Keras layers
# ---------------------------------------------------------------------------------------------------------------------
OUTPUT_ACTIVATIONS = {'linear': None, 'elu': 'elu'}
"""hyper `decoder_output` -> Keras activation of the decoder's last layer."""


def _dense_net(image_shape, param_sizes, channels_out, output_activation=None):
    """`dense`: one Dense(latent_dim_in) head whose output is split into the parameters."""
    height, width, _ = image_shape
    trunk = keras.Sequential([keras.layers.Flatten(),
                              keras.layers.Dense(784, activation='relu'),
                              keras.layers.Dense(512, activation='relu'),
                              keras.layers.Dense(256, activation='relu')], name='encoder')
    heads = [keras.layers.Dense(sum(param_sizes), name='encoder_head')]
    decoder = keras.Sequential([keras.layers.Dense(256, activation='relu'),
                                keras.layers.Dense(512, activation='relu'),
                                keras.layers.Dense(height * width * channels_out, activation=output_activation),
                                keras.layers.Reshape((height, width, channels_out))], name='decoder')
    return trunk, heads, decoder


def _conv_jointvae_net(image_shape, param_sizes, channels_out, output_activation=None):
    """`conv_jointvae`: the JointVAE convolutional pair (32x32, or 64x64 with one more stage), a head per parameter."""
    side = image_shape[0]
    if image_shape[0] != image_shape[1] or side not in (32, 64):
        raise ValueError(f'conv_jointvae takes 32x32 or 64x64 images, got {tuple(image_shape)}')
    conv = lambda filters, act='relu': keras.layers.Conv2D(filters, 4, strides=2, padding='same', activation=act)
    deconv = lambda filters, act='relu': keras.layers.Conv2DTranspose(filters, 4, strides=2, padding='same',
                                                                      activation=act)
    enc_filters = [32, 64, 64] if side == 32 else [32, 32, 64, 64]
    dec_filters = [32, 32] if side == 32 else [64, 32, 32]
    trunk = keras.Sequential([conv(f) for f in enc_filters]
                             + [keras.layers.Flatten(), keras.layers.Dense(256, activation='relu')], name='encoder')
    heads = [keras.layers.Dense(size, name=f'encoder_head_{i}') for i, size in enumerate(param_sizes)]
    decoder = keras.Sequential([keras.layers.Dense(256, activation='relu'),
                                keras.layers.Dense(4 * 4 * 64, activation='relu'),
                                keras.layers.Reshape((4, 4, 64))]
                               + [deconv(f) for f in dec_filters] + [deconv(channels_out, output_activation)],
                               name='decoder')
    return trunk, heads, decoder


def _dlgmm_dense_net(image_shape, param_sizes, channels_out, output_activation=None):
    """`dlgmm_dense` (the DLGMM's, 28x28): encoder Flatten -> Dense(200, relu) x 3 -> one Dense head, split;
    decoder Dense(200, relu) x 2 -> Dense(H*W*C*P) -> Reshape."""
    height, width, _ = image_shape
    trunk = keras.Sequential([keras.layers.Flatten()] + [keras.layers.Dense(200, activation='relu')
                                                         for _ in range(3)], name='encoder')
    heads = [keras.layers.Dense(sum(param_sizes), name='encoder_head')]
    decoder = keras.Sequential([keras.layers.Dense(200, activation='relu'), keras.layers.Dense(200, activation='relu'),
                                keras.layers.Dense(height * width * channels_out, activation=output_activation),
                                keras.layers.Reshape((height, width, channels_out))], name='decoder')
    return trunk, heads, decoder


ARCHITECTURES = {'dense': _dense_net, 'conv_jointvae': _conv_jointvae_net, 'dlgmm_dense': _dlgmm_dense_net}


class VAENet(keras.Model):
    """Encoder, decoder and (for IGR-Planar) the planar flow of a VAE.

    Args:
        architecture: key of ARCHITECTURES.
        image_shape: (H, W, C) of the inputs.
        likelihood: 'bernoulli' or 'gaussian' (sets P, the decoder's channels per image channel).
        param_sizes: flat size of each encoder output parameter, in order (e.g. [n*v, n*v] for IGR mu, xi).
        decoder_input_n: length of the decoder's input vector (continuous sample + flattened discrete samples).
        planar_flow: optional layer (Utils.Distributions.PlanarFlow) owned by the network.
        output_activation: 'linear' or 'elu', the decoder's last layer (OUTPUT_ACTIVATIONS).
    """

    def __init__(self, architecture, image_shape, likelihood, param_sizes, decoder_input_n, planar_flow=None,
                 output_activation='linear', **kwargs):
        super().__init__(**kwargs)
        if architecture not in ARCHITECTURES:
            raise ValueError(f'unknown architecture {architecture!r}; valid choices are: {", ".join(ARCHITECTURES)}')
        self.architecture = architecture
        self.image_shape = tuple(int(s) for s in image_shape)
        self.likelihood = get_likelihood(likelihood)
        self.param_sizes = [int(s) for s in param_sizes]
        self.decoder_input_n = int(decoder_input_n)
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f'unknown output_activation {output_activation!r}; valid choices are: '
                             f'{", ".join(OUTPUT_ACTIVATIONS)}')
        channels_out = self.image_shape[-1] * self.likelihood.n_params
        self.trunk, self.heads, self.decoder = ARCHITECTURES[architecture](
            self.image_shape, self.param_sizes, channels_out, OUTPUT_ACTIVATIONS[output_activation])
        self.planar_flow = planar_flow
        self._build_all()

    def _build_all(self):
        """Create every weight now (so checkpoints restore eagerly and parameter counts are known)."""
        self.encode(tf.zeros((1,) + self.image_shape))
        self.decode(tf.zeros((1, self.decoder_input_n)))

    def encode(self, x):
        """x: (b, H, W, C) -> list of flat parameter tensors, shapes (b, param_sizes[i])."""
        hidden = self.trunk(x)
        if len(self.heads) == 1:
            return tf.split(self.heads[0](hidden), self.param_sizes, axis=-1)
        return [head(hidden) for head in self.heads]

    def decode(self, latent):
        """latent: (N, decoder_input_n) -> (N, H, W, C*P) likelihood parameters (logits, or [out_1 | out_2])."""
        return self.decoder(latent)

    def call(self, x):
        return self.encode(x)

    def count_params_by_part(self):
        count = lambda layers: int(sum(np.prod(w.shape) for layer in layers for w in layer.weights))
        return {'encoder': count([self.trunk] + list(self.heads)), 'decoder': count([self.decoder]),
                'flow': count([self.planar_flow]) if self.planar_flow is not None else 0}
