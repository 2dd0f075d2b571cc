"""The latent space of an autoencoder: interpolation, traversals, the 2-D manifold, KL per dimension, sampling.

Follows Kingma & Welling 2014 ("Auto-Encoding Variational Bayes": closed-form KL, the reparameterisation trick,
the 2-D manifold through the Gaussian inverse CDF, Fig. 4), Higgins et al. 2017 (beta-VAE latent traversals)
and Burda et al. 2016 (a latent unit is *active* when its posterior mean varies over the data:
Var_x(mu_u) > 0.01). Slerp follows White 2016 ("Sampling Generative Networks"), made safe for nearly
opposite endpoints by slerping the direction and interpolating the norm linearly.

Handles are anything with `encode`, `decode` and (for VAEs) `posterior`, see
`vizcore.models.autoencoders.TorchAutoencoder`. Results are small frozen dataclasses of tensors.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import chi2

from vizcore.errors import InputError

METHODS = ("slerp", "lerp")
PRIOR_QUANTILE = 0.99  # codes with a larger norm than this share of prior samples are "far outside the prior"
ACTIVE_VARIANCE = 0.01  # Burda et al. 2016: Var_x(E_q[z_u]) above this = an active unit
_PARALLEL_EPS = 1e-6    # |sin(angle)| below this: directions are (anti)parallel


def _vector(z, name: str) -> torch.Tensor:
    t = torch.as_tensor(z)
    if not t.is_floating_point():
        t = t.float()
    if t.ndim == 2 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 1 or t.numel() == 0:
        raise InputError(f"{name} must be one latent vector of shape (D,); got {tuple(t.shape)}.")
    return t


def interpolate(z0, z1, steps: int, *, method: str = "slerp") -> torch.Tensor:
    """`steps` latent codes from z0 to z1 (inclusive) -> (steps, D).

    method "lerp": straight line. "slerp": the direction moves along the great circle from z0/|z0| to z1/|z1|
    while the norm goes linearly from |z0| to |z1|, so the path never dips towards the origin the way a straight
    line between two typical Gaussian samples does. Exactly opposite directions have no unique great circle: the
    path then turns through a fixed direction orthogonal to z0 (a 1-D latent has none, so it falls back to the
    straight line). The first and last rows are exactly z0 and z1.
    """
    if method not in METHODS:
        raise InputError(f"Unknown interpolation '{method}'. Use 'slerp' or 'lerp'.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise InputError(f"steps must be an integer of at least 2 (both endpoints); got {steps!r}.")
    a, b = _vector(z0, "z0"), _vector(z1, "z1")
    if a.shape != b.shape:
        raise InputError(f"Endpoints differ in size: {tuple(a.shape)} vs {tuple(b.shape)}.")
    dtype = torch.promote_types(a.dtype, b.dtype)
    a64, b64 = a.double(), b.double()
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[:, None]  # (steps, 1)
    path = (1 - t) * a64 + t * b64 if method == "lerp" else _slerp(a64, b64, t)  # (steps, D)
    path[0], path[-1] = a64, b64
    return path.to(dtype)


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Direction by slerp, norm by lerp. a, b (D,) float64, t (S, 1) -> (S, D)."""
    ra, rb = a.norm(), b.norm()
    if ra == 0 and rb == 0:
        return torch.zeros(len(t), len(a), dtype=a.dtype)
    ua = a / ra if ra > 0 else b / rb  # a zero endpoint takes the other's direction
    ub = b / rb if rb > 0 else ua
    cos = torch.clamp(ua @ ub, -1.0, 1.0)
    perp = ub - cos * ua  # the part of ub orthogonal to ua; its norm is sin(angle)
    sin = perp.norm()
    if sin > _PARALLEL_EPS:
        v = perp / sin  # computed by normalising, not dividing by sin(angle): stable up to angle ~ pi
    elif cos > 0:
        v = torch.zeros_like(ua)  # same direction: no turning
    elif len(a) == 1:
        return (1 - t) * a + t * b  # 1-D: no way round the origin; the straight line is the only path
    else:
        v = _orthogonal(ua)  # opposite: any great circle will do; pick a fixed one
    angle = torch.atan2(sin, cos) if sin > _PARALLEL_EPS or cos > 0 else torch.tensor(math.pi, dtype=a.dtype)
    direction = torch.cos(t * angle) * ua + torch.sin(t * angle) * v  # (S, D), unit rows
    return ((1 - t) * ra + t * rb) * direction


def _orthogonal(u: torch.Tensor) -> torch.Tensor:
    """A unit vector orthogonal to unit `u`: Gram-Schmidt on the axis where u is smallest."""
    e = torch.zeros_like(u)
    e[int(u.abs().argmin())] = 1.0
    w = e - (e @ u) * u  # |w| >= sqrt(1 - 1/D) > 0 because |u_i| <= 1/sqrt(D) on the chosen axis
    return w / w.norm()


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per dimension, closed form, in nats: (..., D) -> (..., D).

    0.5 * (mu^2 + sigma^2 - 1 - log sigma^2) (Kingma & Welling 2014, appendix B); sum over the last axis for the
    KL of the whole code.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def prior_norm_limit(dim: int, q: float = PRIOR_QUANTILE) -> float:
    """The norm below which a share `q` of prior samples z ~ N(0, I_D) lie: sqrt of the chi-square quantile.

    The prior's typical norm is about sqrt(D) (3.16 for D = 10); 99% of its samples have |z| <= 4.82 there. An
    encoded image beyond the limit sits where the decoder was hardly ever trained (photos on the sprite VAE:
    |z| about 5-6).
    """
    if dim < 1 or not 0.0 < q < 1.0:
        raise InputError(f"Need a latent size of at least 1 and 0 < q < 1; got {dim}, {q}.")
    return float(np.sqrt(chi2.ppf(q, dim)))


@dataclass(frozen=True)
class LatentStats:
    """How a VAE uses each latent dimension over a set of images.

    Attributes:
        kl: (D,) mean KL to the prior per dimension (nats).
        mu_var: (D,) variance of the posterior mean over the images (Burda's activity).
        active: (D,) bool, mu_var > ACTIVE_VARIANCE.
        order: (D,) dimension indices sorted by decreasing KL.
        mean_sigma: (D,) mean posterior standard deviation.
    """

    kl: torch.Tensor
    mu_var: torch.Tensor
    active: torch.Tensor
    order: torch.Tensor
    mean_sigma: torch.Tensor

    @property
    def num_active(self) -> int:
        return int(self.active.sum())


def latent_stats(handle, images) -> LatentStats:
    """Per-dimension KL and activity of a VAE over `images` (use held-out images)."""
    mu, logvar = handle.posterior(images)  # (N, D) each
    if len(mu) < 2:
        raise InputError("Latent statistics need at least two images.")
    kl = kl_divergence(mu, logvar).mean(0)  # (D,)
    mu_var = mu.var(0)
    return LatentStats(kl, mu_var, mu_var > ACTIVE_VARIANCE, torch.argsort(kl, descending=True),
                       torch.exp(0.5 * logvar).mean(0))


@dataclass(frozen=True)
class InterpolationPath:
    """An interpolation: t (S,), codes z (S, D), their norms (S,), decoded images (S, C, H, W)."""

    t: torch.Tensor
    z: torch.Tensor
    norms: torch.Tensor
    images: torch.Tensor
    method: str


def interpolation_path(handle, z0, z1, steps: int, *, method: str = "slerp") -> InterpolationPath:
    """Interpolate between two codes and decode every step.

    Each frame is decoded on its own, so frame i is bit for bit `handle.decode(z_i)` whatever the number of
    steps (a batched matmul may round differently with the batch size): t = 0 and t = 1 reproduce the
    endpoints' own decodes exactly.
    """
    z = interpolate(z0, z1, steps, method=method).float()  # (S, D)
    images = torch.cat([handle.decode(z[i:i + 1]) for i in range(steps)])  # (S, C, H, W)
    return InterpolationPath(torch.linspace(0, 1, steps), z, z.norm(dim=1), images, method)


@dataclass(frozen=True)
class Traversal:
    """Decodes of a base code with one dimension swept at a time.

    Attributes:
        images: (R, S, C, H, W), row r sweeps dimension dims[r] over `values`.
        dims: (R,) the swept dimensions, in display order (decreasing KL).
        values: (S,) the values the swept dimension takes.
        kl, active: (R,) that dimension's KL (nats) and activity.
    """

    images: torch.Tensor
    dims: torch.Tensor
    values: torch.Tensor
    kl: torch.Tensor
    active: torch.Tensor


def traverse(handle, z, stats: LatentStats, *, span: float = 3.0, steps: int = 9,
             max_rows: int | None = None) -> Traversal:
    """Sweep each dimension of `z` from -span to +span prior standard deviations (the prior's sigma is 1),
    keeping the others at their value in `z`; rows sorted by KL per dimension (Higgins et al. 2017, Fig. 7)."""
    base = _vector(z, "z").float()
    if steps < 2 or span <= 0:
        raise InputError("A traversal needs at least 2 steps and a positive span.")
    dims = stats.order[:max_rows] if max_rows else stats.order
    values = torch.linspace(-span, span, steps)
    codes = base.repeat(len(dims), steps, 1)  # (R, S, D)
    codes[torch.arange(len(dims)), :, dims] = values  # row r: dimension dims[r] takes each value
    images = handle.decode(codes.reshape(-1, len(base)))  # (R*S, C, H, W)
    return Traversal(images.reshape(len(dims), steps, *images.shape[1:]), dims, values, stats.kl[dims],
                     stats.active[dims])


@dataclass(frozen=True)
class Manifold:
    """Decodes over a 2-D grid of two latent dimensions (the others fixed).

    Attributes:
        images: (n, n, C, H, W); row i has dims[1] = values[n - 1 - i] (top = high), column j has dims[0] = values[j].
        values: (n,) grid coordinates, Gaussian quantiles of evenly spaced probabilities.
        dims: the two dimensions on the x and y axes.
    """

    images: torch.Tensor
    values: torch.Tensor
    dims: tuple[int, int]


def gaussian_grid(n: int, *, lo: float = 0.05, hi: float = 0.95) -> torch.Tensor:
    """(n,) standard-normal quantiles of probabilities evenly spaced from lo to hi (Kingma & Welling Fig. 4)."""
    if n < 2 or not 0.0 < lo < hi < 1.0:
        raise InputError(f"Need n >= 2 and 0 < lo < hi < 1; got n={n}, lo={lo}, hi={hi}.")
    return torch.special.ndtri(torch.linspace(lo, hi, n, dtype=torch.float64)).float()


def manifold(handle, n: int = 15, *, dims: tuple[int, int] = (0, 1), base=None, lo: float = 0.05,
             hi: float = 0.95) -> Manifold:
    """Decode a grid over latent dims (x, y) through the Gaussian inverse CDF; other dims at `base` (default 0)."""
    D = handle.latent_dim
    if len(set(dims)) != 2 or not all(0 <= d < D for d in dims):
        raise InputError(f"Pick two different dimensions between 0 and {D - 1}; got {dims}.")
    values = gaussian_grid(n, lo=lo, hi=hi)
    codes = (torch.zeros(D) if base is None else _vector(base, "base").float()).repeat(n, n, 1)  # (n, n, D)
    codes[:, :, dims[0]] = values[None, :]
    codes[:, :, dims[1]] = values.flip(0)[:, None]  # high values at the top row
    images = handle.decode(codes.reshape(n * n, D))
    return Manifold(images.reshape(n, n, *images.shape[1:]), values, (int(dims[0]), int(dims[1])))


def prior_samples(handle, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """z ~ N(0, I) (n, D) and their decodes (n, C, H, W)."""
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, handle.latent_dim, generator=g)
    return z, handle.decode(z)


@dataclass(frozen=True)
class Reparameterisation:
    """One input's posterior and draws from it: z = mu + sigma * eps.

    mu, sigma: (D,); eps, z: (K, D); images: (K, C, H, W) decodes of z; mean_image: (C, H, W) decode of mu.
    """

    mu: torch.Tensor
    sigma: torch.Tensor
    eps: torch.Tensor
    z: torch.Tensor
    images: torch.Tensor
    mean_image: torch.Tensor


def reparameterise(handle, image, k: int = 8, *, seed: int = 0) -> Reparameterisation:
    """Draw k codes from q(z | image) with the reparameterisation trick and decode them."""
    mu, logvar = handle.posterior(image)  # (1, D) each
    if len(mu) != 1:
        raise InputError(f"reparameterise takes one image; got {len(mu)}.")
    mu, sigma = mu[0], torch.exp(0.5 * logvar[0])
    eps = torch.randn(k, len(mu), generator=torch.Generator().manual_seed(int(seed)))
    z = mu + sigma * eps  # (K, D)
    return Reparameterisation(mu, sigma, eps, z, handle.decode(z), handle.decode(mu[None])[0])


def reconstruction_mse(handle, images) -> torch.Tensor:
    """Per-image mean squared error of decode(encode(x)) against x (at the model's size): (N,)."""
    x = handle.prepare(images)
    return (handle.reconstruct(x) - x).pow(2).flatten(1).mean(1)


@dataclass(frozen=True)
class TradeoffPoint:
    """One VAE on the rate-distortion plane: beta, held-out MSE, mean KL (nats per image), active dimensions."""

    spec: str
    beta: float
    mse: float
    kl: float
    active: int


def beta_tradeoff(handles: list, images) -> list[TradeoffPoint]:
    """Reconstruction error vs KL on the same images for VAEs trained with different beta (sorted by beta)."""
    points = []
    for h in handles:
        stats = latent_stats(h, images)
        beta = float(h.card.get("recipe", {}).get("beta", float("nan")))
        points.append(TradeoffPoint(h.info.spec, beta, float(reconstruction_mse(h, images).mean()),
                                    float(stats.kl.sum()), stats.num_active))
    return sorted(points, key=lambda p: p.beta)


def animation_gif(frames, *, scale: int = 8, duration_ms: int = 80, boomerang: bool = True) -> bytes:
    """Frames (S, C, H, W) in [0, 1] -> animated GIF bytes, enlarged `scale` times (nearest), looping forever.

    boomerang: play forwards then backwards, so the loop has no jump.
    """
    from PIL import Image

    arr = torch.as_tensor(frames).detach().float().clamp(0, 1)
    if arr.ndim != 4 or len(arr) == 0:
        raise InputError(f"Expected frames shaped (S, C, H, W); got {tuple(arr.shape)}.")
    u8 = (arr.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)  # (S, H, W, C)
    u8 = np.repeat(np.repeat(u8, scale, axis=1), scale, axis=2)
    images = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in u8]
    if boomerang and len(images) > 2:
        images = images + images[-2:0:-1]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return buf.getvalue()
