"""Embeddings: pooling by hand, parity with timm's pre-logits features, every source kind, batching, errors."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from tests.conftest import TINY, tiny_handle
from vizcore.analysis import embeddings as E
from vizcore.errors import InputError, ModelError
from vizcore.models.autoencoders import AeConfig, build_autoencoder, handle_for
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT

AE_CONFIGS = {
    "ae": AeConfig("ae", (8, 8), 1, 3, hidden=(16,)),
    "sae": AeConfig("sae", (8, 8), 1, 24, hidden=(), decoder="linear", sparsity="topk", topk=4),
    "vae": AeConfig("vae", (16, 16), 1, 5, hidden=(16,), conv_channels=(4, 8)),
}
PREFIX = {"cls": 1, "distilled": 2, "registers": 5}


@pytest.fixture(scope="module")
def vits():
    return {k: tiny_handle(k) for k in TINY}


def _ae(kind: str):
    torch.manual_seed(0)
    return handle_for(build_autoencoder(AE_CONFIGS[kind]), {"name": kind}, f"test:{kind}")


def _images(n: int = 6, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _avg_pool_vit():
    """A ViT with no CLS token and timm's avg pooling (its final norm is fc_norm, after pooling)."""
    import timm

    torch.manual_seed(0)
    module = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, depth=2, class_token=False,
                               global_pool="avg", dynamic_img_size=True)
    info = ModelInfo("timm:avg", "avg-pool ViT", "vit", pretrained=False)
    return TimmViT(module, info, Preprocess(size=(64, 64), dynamic_size=True))


# ---- pooling by hand and parity with timm -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(TINY))
def test_intermediate_layer_pools_the_raw_block_tokens(vits, kind):
    h, x = vits[kind], _images()
    tokens = h.intermediates(h.prepare(x), [0])[0]  # (B, N, D)
    n_prefix = h.layout((64, 64)).num_prefix_tokens
    assert n_prefix == PREFIX[kind]
    mean = E.compute(h, x, layer=0, pooling="mean")
    np.testing.assert_allclose(mean, tokens[:, n_prefix:].mean(1).numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(mean, tokens.mean(1).numpy(), atol=1e-3)  # prefix tokens would change the mean
    np.testing.assert_allclose(E.compute(h, x, layer=-2, pooling="cls"), tokens[:, 0].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", list(TINY))
def test_last_layer_is_the_final_normed_features_and_matches_timm_pre_logits(vits, kind):
    h, x = vits[kind], _images()
    m, xp = h.module, h.prepare(x)
    raw = h.intermediates(xp, [-1])[0]  # (B, N, D) before the final norm
    with torch.inference_mode():
        normed = m.norm(raw)
        pre_logits = m.forward_head(m.forward_features(h.normalize(xp)), pre_logits=True)  # (B, D), token pool
    cls = E.compute(h, x)  # layer -1, "cls"
    np.testing.assert_allclose(cls, normed[:, 0].numpy(), rtol=1e-5, atol=1e-5)
    if kind != "distilled":  # DeiT-distilled's pre-logits average the CLS and distillation tokens; ours is the CLS
        np.testing.assert_allclose(cls, pre_logits.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(E.compute(h, x, layer=h.num_layers - 1, pooling="mean"),
                               normed[:, PREFIX[kind]:].mean(1).numpy(), rtol=1e-5, atol=1e-5)


def test_avg_pool_model_mean_matches_timm_pre_logits_and_cls_is_refused():
    h, x = _avg_pool_vit(), _images(4)
    with torch.inference_mode():
        ref = h.module.forward_head(h.module.forward_features(h.normalize(h.prepare(x))), pre_logits=True)
    np.testing.assert_allclose(E.compute(h, x, pooling="mean"), ref.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(InputError, match="no CLS token.*pooling='mean'"):
        E.compute(h, x, pooling="cls")


def test_an_earlier_layer_stops_the_forward_pass_early(vits):
    h = vits["cls"]
    ran = []
    hook = h.module.blocks[-1].register_forward_hook(lambda *a: ran.append(1))
    try:
        E.compute(h, _images(3), layer=0, batch_size=2)
        assert ran == []
        E.compute(h, _images(3), layer=-1, batch_size=2)
        assert len(ran) == 2
    finally:
        hook.remove()


class _MaeLike:
    """A handle that speaks only the ViTHandle protocol, its module without `forward_features`."""

    def __init__(self, vit: TimmViT) -> None:
        self._vit = vit
        self.module = nn.Module()
        self.module.blocks, self.module.norm = vit.module.blocks, vit.module.norm
        self.info = ModelInfo("test:mae", "MAE-like", "mae", pretrained=False)
        self.preprocess, self.lock = vit.preprocess, threading.RLock()
        self.num_layers, self.num_heads, self.class_names = vit.num_layers, vit.num_heads, None

    def prepare(self, images, *, fit="resize"):
        return self._vit.prepare(images, fit=fit)

    def layout(self, hw):
        return self._vit.layout(hw)

    def normalize(self, x):
        return self._vit.normalize(x)

    def forward(self, x):
        return self._vit.forward(x)

    def intermediates(self, x, layers):
        return self._vit.intermediates(x, layers)


@pytest.mark.parametrize("layer,pooling", [(0, "mean"), (-1, "cls"), (-1, "mean")])
def test_token_protocol_handles_such_as_mae_match_the_timm_path(vits, layer, pooling):
    h, x = vits["registers"], _images()
    np.testing.assert_allclose(E.compute(_MaeLike(h), x, layer=layer, pooling=pooling),
                               E.compute(h, x, layer=layer, pooling=pooling), rtol=1e-5, atol=1e-5)


def test_a_registered_mae_handle_embeds_like_a_vit():
    from vizcore.models import list_models, load_model

    maes = [m for m in list_models() if m.kind == "mae" and m.offline]
    if not maes:
        pytest.skip("no MAE handle is registered in vizcore.models yet (kind 'mae'); the token protocol it must "
                    "speak is covered by test_token_protocol_handles_such_as_mae_match_the_timm_path")
    h = load_model(maes[0].spec)
    x = _images(3, size=h.preprocess.size[0])
    for layer in (0, -1):
        feats = E.compute(h, x, layer=layer, pooling="mean")
        assert feats.shape[0] == 3 and np.isfinite(feats).all()


# ---- autoencoders, pixels, PCA ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(AE_CONFIGS))
def test_autoencoder_embeddings_are_their_codes(kind):
    h, x = _ae(kind), _images(7, size=20)
    feats = E.compute(h, x, pooling="mean")  # pooling has no effect on a code
    assert feats.shape == (7, AE_CONFIGS[kind].latent_dim) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, h.encode(x).numpy(), rtol=1e-6, atol=1e-6)
    if kind == "vae":
        np.testing.assert_allclose(feats, h.posterior(x)[0].numpy(), rtol=1e-6, atol=1e-6)  # the mean mu
    with pytest.raises(InputError, match="no layers.*layer at -1"):
        E.compute(h, x, layer=0)


def test_pixels_and_pca_sources():
    x = _images(30, size=8)
    pixels = E.compute("pixels", x)
    np.testing.assert_array_equal(pixels, x.flatten(1).numpy())
    pixels[:] = 0
    assert x.sum() > 0  # a copy: scaling the features in place never touches the (cached) images
    assert E.raw_pixels(x, size=4).shape == (30, 3 * 16)
    pca = E.compute("pca:5", x, seed=3)
    assert pca.shape == (30, 5) and pca.dtype == np.float32
    np.testing.assert_array_equal(pca, E.pca_features(x, 5, seed=3))
    var = pca.var(0)
    assert (var[:-1] >= var[1:] - 1e-6).all()  # components come in order of explained variance
    assert E.compute("pca:500", x).shape == (30, 30)  # never more components than images
    with pytest.raises(InputError, match="at least two images"):
        E.compute("pca:5", x[:1])
    for bad in ("pca:", "pca:five", "pca:0"):
        with pytest.raises(InputError, match="pca:50"):
            E.compute(bad, x)
    with pytest.raises(InputError, match="layer at -1"):
        E.compute("pixels", x, layer=2)


def test_pixels_of_mixed_size_photos_need_a_size():
    ims = [Image.new("RGB", (20, 10), (255, 0, 0)), Image.new("RGB", (12, 12), (0, 0, 255))]
    with pytest.raises(InputError, match="share a size"):
        E.raw_pixels(ims)
    out = E.raw_pixels(ims, size=(4, 4))
    assert out.shape == (2, 48) and out[0, :16].min() > 0.99 and out[1, 32:].min() > 0.99


# ---- batching, progress, inputs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["registers", "vae"])
def test_batch_size_does_not_change_results(vits, source):
    h = vits.get(source) or _ae(source)
    x = _images(9)
    full = E.compute(h, x, pooling="mean", batch_size=9)
    for bs in (1, 4):
        np.testing.assert_allclose(E.compute(h, x, pooling="mean", batch_size=bs), full, rtol=1e-4, atol=1e-5)


def test_progress_counts_up_to_n(vits):
    calls = []
    E.compute(vits["cls"], _images(10), batch_size=4, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    calls.clear()
    E.compute(_ae("ae"), _images(5), batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    calls.clear()
    E.compute("pixels", _images(5), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(5, 5)]


def test_greyscale_pil_and_mixed_sizes_are_prepared_by_the_handle(vits):
    h = vits["cls"]
    grey = torch.rand(3, 1, 64, 64)
    np.testing.assert_allclose(E.compute(h, grey), E.compute(h, grey.expand(-1, 3, -1, -1)), atol=1e-6)
    ims = [Image.new("RGB", (64, 64), (200, 30, 30)), Image.new("RGB", (96, 48), (20, 30, 200))]
    feats = E.compute(h, ims, batch_size=2)
    np.testing.assert_allclose(feats[1], E.compute(h, ims[1])[0], rtol=1e-5, atol=1e-5)
    assert E.compute(h, ims[0]).shape == (1, feats.shape[1]) and E.compute(h, grey[0]).shape == (1, feats.shape[1])


@pytest.mark.parametrize("layer", [2, -3, 1.0, True, None])
def test_a_layer_the_model_does_not_have_is_an_input_error(vits, layer):
    with pytest.raises(InputError, match="does not exist in a 2-layer model"):
        E.compute(vits["cls"], _images(2), layer=layer)


def test_bad_arguments_are_input_errors(vits):
    h = vits["cls"]
    for empty in (torch.zeros(0, 3, 64, 64), []):
        with pytest.raises(InputError, match="No images"):
            E.compute(h, empty)
    with pytest.raises(InputError, match="pooling"):
        E.compute(h, _images(2), pooling="max")
    with pytest.raises(InputError, match="batch_size"):
        E.compute(h, _images(2), batch_size=0)
    with pytest.raises(InputError, match="tensor or a list of PIL"):
        E.compute(h, "cat.jpg")
    odd = SimpleNamespace(info=ModelInfo("test:x", "x", "gan"))  # speaks neither model protocol
    with pytest.raises(ModelError, match="kind 'gan'"):
        E.compute(odd, _images(2))


# ---- the bundled model ----------------------------------------------------------------------------------------------

def test_sources_list_pixels_pca_and_embeddable_models():
    sources = E.list_sources()
    specs = [s.spec for s in sources]
    assert specs[:2] == ["pixels", "pca:50"] and "bundled:tiny_vit" in specs and "bundled:vae_2d" in specs
    assert all(s.kind in ("pixels", "pca") + E.TOKEN_KINDS + E.CODE_KINDS for s in sources)


def test_bundled_tiny_vit_gives_finite_features_by_spec_or_handle(bundled):
    from vizcore.data.scenes import make_scenes

    x = make_scenes(6, seed=1).images
    feats = E.compute(bundled, x)
    assert feats.shape == (6, 128) and np.isfinite(feats).all() and feats.std(0).mean() > 0
    np.testing.assert_array_equal(E.compute("bundled:tiny_vit", x), feats)


@pytest.mark.slow
def test_bundled_tiny_vit_features_separate_classes_better_than_pixels(bundled):
    """Measured: 5-NN accuracy (5-fold) on 400 unseen scenes 0.98 for the final CLS features (0.95 mean-pooled,
    0.70 CLS after block 1) vs 0.16 for raw pixels (chance 0.125): ~2-5 s on a shared 2-core CPU."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from vizcore.data.scenes import make_scenes

    s = make_scenes(400, seed=12345)
    y = s.labels.numpy()

    def knn(X):
        return cross_val_score(KNeighborsClassifier(5), X, y, cv=5).mean()

    vit, pixels = knn(E.compute(bundled, s.images)), knn(E.compute("pixels", s.images))
    assert vit > 0.8 and vit > pixels + 0.4, (vit, pixels)
