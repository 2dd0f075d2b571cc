"""Autoencoder, sparse autoencoder and VAE modules for small greyscale images, and the handle that serves them.

- `Autoencoder`: x -> encoder -> z (latent_dim) -> decoder -> logits; images = sigmoid(logits).
- `SparseAutoencoder`: a wide code made sparse by an L1 penalty (ReLU code), a KL penalty pulling each unit's
  mean activation to a target rho (sigmoid code; Ng, "Sparse autoencoder" notes), or by keeping only the top-k
  units (Makhzani & Frey 2013, "k-Sparse Autoencoders"). Its decoder is one dictionary matrix by default.
- `VariationalAutoencoder`: the encoder outputs (mu, log sigma^2); z = mu + sigma * eps (the reparameterisation
  trick, Kingma & Welling 2014); trained with reconstruction + beta x KL (Higgins et al. 2017).

Encoders are MLPs, optionally behind stride-2 4x4 convolutions (`conv_channels`); decoders mirror them with
transposed convolutions. Everything needed to rebuild a module is its `AeConfig`, stored in the model card.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from vizcore.errors import InputError, ModelError
from vizcore.io.images import to_tensor_batch
from vizcore.models.checkpoints import load_into, read_state_dict
from vizcore.models.protocols import ModelInfo, Preprocess

KINDS = ("ae", "sae", "vae")
SPARSITIES = ("l1", "kl", "topk")
BATCH = 512  # images per forward pass inside the handle: bounds memory for data-set-sized calls


@dataclass(frozen=True)
class AeConfig:
    """Architecture of one autoencoder (stored as the model card's "architecture").

    Attributes:
        kind: "ae", "sae" or "vae".
        image_size: (H, W) the model reads and writes.
        in_chans: 1 (greyscale); colour images are converted by the handle.
        latent_dim: bottleneck width D (for the sparse AE: the number of dictionary units, often > pixels).
        hidden: MLP widths of the encoder after the convolutions (the decoder mirrors them).
        conv_channels: channels of stride-2 4x4 convolutions in front of the MLP (empty: MLP only); each halves
            H and W, so H and W must be divisible by 2 ** len(conv_channels).
        decoder: "mirror" (MLP / transposed convolutions mirroring the encoder) or "linear" (one matrix: each
            unit's column is its dictionary atom, the natural decoder of a sparse AE).
        sparsity: sparse AE only: "l1" (ReLU code, L1 penalty), "kl" (sigmoid code, KL to rho), "topk".
        topk: units kept per input for sparsity "topk".
    """

    kind: str = "ae"
    image_size: tuple[int, int] = (8, 8)
    in_chans: int = 1
    latent_dim: int = 16
    hidden: tuple[int, ...] = (256, 128)
    conv_channels: tuple[int, ...] = ()
    decoder: str = "mirror"
    sparsity: str = "l1"
    topk: int = 8

    def __post_init__(self) -> None:
        step = 2 ** len(self.conv_channels)
        problems = [
            self.kind not in KINDS and f"kind must be one of {', '.join(KINDS)}",
            self.sparsity not in SPARSITIES and f"sparsity must be one of {', '.join(SPARSITIES)}",
            self.decoder not in ("mirror", "linear") and "decoder must be 'mirror' or 'linear'",
            self.latent_dim < 1 and "latent_dim must be at least 1",
            any(s % step for s in self.image_size) and f"image sides must be divisible by {step}",
            self.kind == "sae" and self.sparsity == "topk" and not 1 <= self.topk <= self.latent_dim
            and "topk must be between 1 and latent_dim",
        ]
        problems = [p for p in problems if p]
        if problems:
            raise ModelError(f"Invalid autoencoder architecture: {'; '.join(problems)}.")

    @classmethod
    def from_dict(cls, d: dict) -> AeConfig:
        """Inverse of `asdict` (JSON turns tuples into lists; unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
        return cls(**kw)

    @property
    def pixels(self) -> int:
        return self.in_chans * self.image_size[0] * self.image_size[1]


class Encoder(nn.Module):
    """(B, C, H, W) -> (B, out_dim): stride-2 convolutions (optional), flatten, MLP."""

    def __init__(self, cfg: AeConfig, out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = cfg.in_chans
        for ch in cfg.conv_channels:
            layers += [nn.Conv2d(c, ch, 4, stride=2, padding=1), nn.ReLU()]
            c = ch
        layers.append(nn.Flatten())
        width = c * _reduced_pixels(cfg)
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, D) -> logits (B, C, H, W): the encoder mirrored, or one linear dictionary."""

    def __init__(self, cfg: AeConfig) -> None:
        super().__init__()
        self.shape = (cfg.in_chans, *cfg.image_size)
        if cfg.decoder == "linear":
            self.net = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.pixels))
            return
        layers: list[nn.Module] = []
        width = cfg.latent_dim
        for h in reversed(cfg.hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        if not cfg.conv_channels:
            layers.append(nn.Linear(width, cfg.pixels))
        else:
            chans = list(reversed(cfg.conv_channels))  # deepest first
            h, w = (s // 2 ** len(chans) for s in cfg.image_size)
            layers += [nn.Linear(width, chans[0] * h * w), nn.ReLU(), nn.Unflatten(1, (chans[0], h, w))]
            for i, (c_in, c_out) in enumerate(zip(chans, chans[1:] + [cfg.in_chans])):
                layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))  # doubles H and W
                if i < len(chans) - 1:  # no ReLU on the logits
                    layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(-1, *self.shape)  # (B, C, H, W) logits

    @property
    def atoms(self) -> torch.Tensor:
        """Linear decoder only: the dictionary, one (C, H, W) image per unit -> (D, C, H, W)."""
        weight = self.net[0].weight  # (C*H*W, D)
        return weight.T.reshape(-1, *self.shape)


def _reduced_pixels(cfg: AeConfig) -> int:
    k = 2 ** len(cfg.conv_channels)
    return (cfg.image_size[0] // k) * (cfg.image_size[1] // k)


@dataclass(frozen=True)
class AeOutput:
    """Everything one forward pass produces (what training and the views need).

    logits: (B, C, H, W) reconstruction before the sigmoid; z: (B, D) the code the decoder read;
    mu, logvar: (B, D) posterior parameters (VAE only, else None); pre: (B, D) pre-activation (sparse AE).
    """

    logits: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    pre: torch.Tensor | None = None


class Autoencoder(nn.Module):
    """Deterministic bottleneck: z = encoder(x), x_hat = sigmoid(decoder(z))."""

    def __init__(self, cfg: AeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg, self._encoder_out(cfg))
        self.decoder = Decoder(cfg)

    @staticmethod
    def _encoder_out(cfg: AeConfig) -> int:
        return cfg.latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> code (B, D)."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> AeOutput:
        z = self.encode(x)  # (B, D)
        return AeOutput(self.decoder(z), z)


def topk_code(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest pre-activations of each row (ReLU-ed), zero the rest: (B, D) -> (B, D)."""
    vals, idx = pre.topk(k, dim=1)  # (B, k)
    return torch.zeros_like(pre).scatter(1, idx, F.relu(vals))


class SparseAutoencoder(Autoencoder):
    """A wide code kept sparse by its `cfg.sparsity`: ReLU (l1), sigmoid (kl) or top-k.

    With a one-layer encoder and a linear decoder, the decoder starts as the encoder's transpose (Gao et al.
    2024, "Scaling and evaluating sparse autoencoders": fewer units die early in training).
    """

    def __init__(self, cfg: AeConfig) -> None:
        super().__init__(cfg)
        enc, dec = self.encoder.net[-1], self.decoder.net[0]
        if cfg.decoder == "linear" and not cfg.hidden and not cfg.conv_channels:
            with torch.no_grad():
                dec.weight.copy_(enc.weight.T)  # (P, D) <- (D, P).T

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """Pre-activations (B, D) -> the sparse code (B, D)."""
        if self.cfg.sparsity == "kl":
            return torch.sigmoid(pre)
        if self.cfg.sparsity == "topk":
            return topk_code(pre, self.cfg.topk)
        return F.relu(pre)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.encoder(x))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> AeOutput:
        pre = self.encoder(x)  # (B, D)
        z = self.activate(pre)
        return AeOutput(self.decoder(z), z, pre=pre)


class VariationalAutoencoder(Autoencoder):
    """q(z|x) = N(mu, diag sigma^2) from the encoder; p(z) = N(0, I); p(x|z) Bernoulli with sigmoid(decoder(z))."""

    @staticmethod
    def _encoder_out(cfg: AeConfig) -> int:
        return 2 * cfg.latent_dim  # mu and log sigma^2

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> mu (B, D), logvar (B, D)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp() finite for odd inputs; never binds in training

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> AeOutput:
        mu, logvar = self.posterior(x)  # (B, D) each
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps  # reparameterisation: gradients flow through mu and sigma
        return AeOutput(self.decoder(z), z, mu, logvar)


MODULES: dict[str, type[Autoencoder]] = {"ae": Autoencoder, "sae": SparseAutoencoder, "vae": VariationalAutoencoder}


def build_autoencoder(cfg: AeConfig | dict) -> Autoencoder:
    """The module a config (or a card's architecture dict) describes, with fresh random weights."""
    cfg = cfg if isinstance(cfg, AeConfig) else AeConfig.from_dict(cfg)
    return MODULES[cfg.kind](cfg)


class TorchAutoencoder:
    """An autoencoder with its preprocessing and data set: `encode` images to codes, `decode` codes to images.

    Images are float tensors (B, C, H, W) in [0, 1] or lists of PIL images; the handle converts them to
    greyscale at the model's size. Safe to share between sessions: every use of the module holds `lock`.
    """

    def __init__(self, module: Autoencoder, info: ModelInfo, preprocess: Preprocess, card: dict | None = None) -> None:
        self.module = module.eval()
        self.info = info
        self.preprocess = preprocess
        self.card = card or {}
        names = self.card.get("class_names")
        self.class_names: tuple[str, ...] | None = tuple(names) if names else None
        self.lock = threading.RLock()

    @property
    def kind(self) -> str:
        """"ae", "sae" or "vae" (for labels; code dispatches on the protocol and `variational`)."""
        return self.module.cfg.kind

    @property
    def variational(self) -> bool:
        return self.module.cfg.kind == "vae"

    @property
    def cfg(self) -> AeConfig:
        return self.module.cfg

    @property
    def latent_dim(self) -> int:
        return self.module.cfg.latent_dim

    @property
    def dataset(self) -> str | None:
        """Name of the `vizcore.data` data set the model was trained on (from its card)."""
        return self.card.get("data", {}).get("dataset")

    def prepare(self, images, *, invert: bool = False) -> torch.Tensor:
        """Images -> (B, C, H, W) in [0, 1] at the model's size, greyscale (luminance) when C = 1.

        invert: flip light and dark (our data sets are light shapes on black; scans are dark ink on white).
        """
        x = to_tensor_batch(images)  # (B, c, h, w)
        if self.cfg.in_chans == 1 and x.shape[1] == 3:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)  # (B, 1, h, w)
        elif self.cfg.in_chans == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        size = tuple(self.cfg.image_size)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        x = x.clamp(0, 1)
        return (1.0 - x if invert else x).contiguous()

    def encode(self, images) -> torch.Tensor:
        """Images -> codes (N, D): z for the AE, the sparse code for the sparse AE, the mean mu for the VAE."""
        return self._batched(self.module.encode, self.prepare(images))

    def posterior(self, images) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE only: images -> (mu (N, D), logvar (N, D))."""
        if not self.variational:
            raise InputError(f"{self.info.title} is not a VAE, so it has no posterior; pick a VAE model.")
        both = self._batched(lambda x: torch.cat(self.module.posterior(x), dim=1), self.prepare(images))
        return both[:, :self.latent_dim], both[:, self.latent_dim:]

    def decode(self, z) -> torch.Tensor:
        """Codes (N, D) -> images (N, C, H, W) in [0, 1]."""
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InputError(f"{self.info.title} decodes codes of shape (N, {self.latent_dim}); "
                             f"got {tuple(z.shape)}.")
        return self._batched(lambda c: torch.sigmoid(self.module.decoder(c)), z)

    def reconstruct(self, images) -> torch.Tensor:
        """Images -> decode(encode(images)) (N, C, H, W): the VAE decodes its mean, no sampling."""
        return self.decode(self.encode(images))

    def _batched(self, fn, x: torch.Tensor) -> torch.Tensor:
        with self.lock, torch.inference_mode():
            return torch.cat([fn(x[i:i + BATCH]) for i in range(0, max(1, len(x)), BATCH)])


def handle_for(module: Autoencoder, card: dict, spec: str, pretrained: bool = True) -> TorchAutoencoder:
    """Wrap a module and its model card (also used for freshly trained, unsaved models)."""
    cfg = module.cfg
    title = card.get("title", card.get("name", spec)) + ("" if pretrained else " (random weights)")
    info = ModelInfo(spec, title, cfg.kind, card.get("description", ""), pretrained=pretrained)
    pre = Preprocess(size=tuple(cfg.image_size), mean=(0.0,) * cfg.in_chans, std=(1.0,) * cfg.in_chans,
                     in_chans=cfg.in_chans)
    return TorchAutoencoder(module, info, pre, card)


def from_card(card: dict, weights: Path | None, spec: str, pretrained: bool = True) -> TorchAutoencoder:
    """`vizcore.models.bundled` builder for kinds "ae", "sae" and "vae"."""
    cfg = AeConfig.from_dict(card["architecture"])
    if cfg.kind != card["kind"]:
        raise ModelError(f"{spec}: the card says kind '{card['kind']}' but its architecture is a '{cfg.kind}'. "
                         "Re-run the `vizcore train` recipe.")
    module = build_autoencoder(cfg)
    if weights is not None:
        sd = {k: v.float() for k, v in read_state_dict(weights).items()}  # stored as float16 to stay small
        load_into(module, sd, spec)
    return handle_for(module, card, spec, pretrained)


def config_dict(cfg: AeConfig) -> dict:
    """JSON-ready architecture (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
