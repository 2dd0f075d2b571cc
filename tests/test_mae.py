"""MAE core (issue 5, library part): patchify, the paper's masking, official parameter names, the four panels."""

from __future__ import annotations

import pytest
import torch

from vizcore.analysis import mae
from vizcore.errors import InputError

CFG = mae.MaeConfig(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16,
                    decoder_depth=1, decoder_num_heads=2)
OFFICIAL_KEYS = {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight",
                 "norm.bias", "mask_token", "decoder_pos_embed", "decoder_embed.weight", "decoder_embed.bias",
                 "decoder_norm.weight", "decoder_norm.bias", "decoder_pred.weight", "decoder_pred.bias"}
BLOCK_KEYS = {f"{n}.{t}" for n in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
              for t in ("weight", "bias")}


def _model(**kw) -> mae.MaskedAutoencoder:
    torch.manual_seed(0)
    cfg = mae.MaeConfig(**{**CFG.to_dict(), **kw})
    return mae.MaskedAutoencoder(cfg).eval()


def _official_random_masking(x, noise, mask_ratio):
    """facebookresearch/mae models_mae.py `random_masking`, with the noise passed in."""
    N, L, D = x.shape
    len_keep = int(L * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
    mask = torch.ones([N, L], device=x.device)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)
    return x_masked, mask, ids_restore


def test_patchify_and_unpatchify_are_inverse():
    x = torch.rand(2, 3, 24, 40)
    p = mae.patchify(x, 8)
    assert p.shape == (2, 15, 192)
    torch.testing.assert_close(mae.unpatchify(p, 8, (3, 5)), x)
    assert torch.equal(p[0, 1], x[0, :, 0:8, 8:16].permute(1, 2, 0).reshape(-1))  # (p, q, c) order


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 0.75, 0.9, 0.95])
def test_masking_matches_the_official_algorithm_and_keeps_the_right_count(ratio):
    x = torch.rand(3, 49, 4)
    noise = torch.rand(3, 49, generator=torch.Generator().manual_seed(1))
    ours = mae.random_masking(x, noise, ratio)
    ref = _official_random_masking(x, noise, ratio)
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)
    keep = int(49 * (1 - ratio))
    assert ours[0].shape[1] == keep and (ours[1].sum(1) == 49 - keep).all()
    ids = torch.argsort(noise, 1)
    assert torch.equal(torch.gather(ids, 1, ours[2]), torch.arange(49).expand(3, 49))  # ids_restore undoes it


def test_official_parameter_names_and_strict_round_trip():
    m = _model()
    keys = set(m.state_dict())
    assert keys >= OFFICIAL_KEYS
    assert {f"blocks.0.{k}" for k in BLOCK_KEYS} <= keys and {f"decoder_blocks.0.{k}" for k in BLOCK_KEYS} <= keys
    assert keys == OFFICIAL_KEYS | {f"blocks.{i}.{k}" for i in range(2) for k in BLOCK_KEYS} | {
        f"decoder_blocks.0.{k}" for k in BLOCK_KEYS}
    other = mae.MaskedAutoencoder(m.cfg).eval()
    other.load_state_dict(m.state_dict(), strict=True)
    x, noise = torch.rand(2, 3, 32, 32), torch.rand(2, 16)
    with torch.inference_mode():
        assert torch.equal(m(x, 0.75, noise)[1], other(x, 0.75, noise)[1])


def test_fixed_sincos_position_embeddings_are_stored_frozen_with_a_zero_cls_row():
    m = _model()
    assert not m.pos_embed.requires_grad and m.pos_embed.shape == (1, 17, 32)
    assert torch.equal(m.pos_embed[0, 0], torch.zeros(32))
    from vizcore.models.sincos import sincos_2d

    torch.testing.assert_close(m.pos_embed[0, 1:], torch.from_numpy(sincos_2d(32, (4, 4))).float())


def test_mask_ratio_zero_reproduces_the_image_in_the_pasted_panel():
    x = torch.rand(2, 3, 32, 32)
    r = mae.reconstruct(_model(), x, mask_ratio=0.0)
    assert r.kept == 16 and r.mask.sum() == 0
    assert torch.equal(r.pasted, x) and torch.equal(r.masked, x)


def test_panels_paste_visible_patches_and_grey_hidden_ones():
    x = torch.rand(1, 3, 32, 32)
    r = mae.reconstruct(_model(), x, mask_ratio=0.75, seed=3)
    assert r.kept == 4 and r.patch_error.shape == (1, 4, 4)
    hidden = r.mask[0].reshape(4, 4).bool()
    for i in range(4):
        for j in range(4):
            tile = (slice(None), slice(None), slice(8 * i, 8 * i + 8), slice(8 * j, 8 * j + 8))
            if hidden[i, j]:
                assert (r.masked[tile] == 0.5).all()
                torch.testing.assert_close(r.pasted[tile], r.reconstruction[tile])
            else:
                assert torch.equal(r.pasted[tile], x[tile])


def test_same_noise_same_mask_and_prediction():
    m, x = _model(), torch.rand(2, 3, 32, 32)
    noise = mae.strategy_noise("random", 2, 4, seed=7)
    a, b = mae.reconstruct(m, x, noise=noise), mae.reconstruct(m, x, noise=noise)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.pred, b.pred)
    with torch.inference_mode():
        _, pred, mask, _ = m(x, 0.75, noise)
    assert torch.equal(a.mask, mask) and torch.equal(a.pred, pred)


def test_norm_pix_true_statistics_restore_a_perfect_normalised_prediction():
    m = _model(norm_pix_loss=True)
    x = torch.rand(1, 3, 32, 32)
    target = mae.patchify(x, 8)
    normed = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    mask = torch.ones(1, 16)
    torch.testing.assert_close(mae._unnormalize(normed, target, mask, "true"), target, atol=1e-5, rtol=1e-5)
    r = mae.reconstruct(m, x, unnormalize="visible")  # runs without the hidden patches' statistics
    assert r.pred.shape == (1, 16, 192)


def test_strategies_keep_the_right_patches():
    grid = mae.strategy_noise("grid", 1, 4)
    kept = torch.argsort(grid, 1)[0, :4]
    assert sorted(kept.tolist()) == [0, 2, 8, 10]  # one patch per 2x2 cell
    block = mae.strategy_noise("block", 2, 8, seed=1)
    assert block.shape == (2, 64) and (block > 1).any()
    with pytest.raises(InputError):
        mae.strategy_noise("spiral", 1, 4)
    with pytest.raises(InputError):
        mae.reconstruct(_model(), torch.rand(1, 3, 32, 32), mask_ratio=1.0)


def _to_hf(sd: dict, generation: int = 1) -> dict:
    """Our names -> Hugging Face ViTMAEForPreTraining names (either key generation), written out by hand."""
    out = {}
    top = {"cls_token": "vit.embeddings.cls_token", "pos_embed": "vit.embeddings.position_embeddings",
           "mask_token": "decoder.mask_token", "decoder_pos_embed": "decoder.decoder_pos_embed"}
    prefixes = {"patch_embed.proj.": "vit.embeddings.patch_embeddings.projection.", "norm.": "vit.layernorm.",
                "decoder_embed.": "decoder.decoder_embed.", "decoder_norm.": "decoder.decoder_norm.",
                "decoder_pred.": "decoder.decoder_pred."}
    inner = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
             "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}
    for k, v in sd.items():
        if k in top:
            out[top[k]] = v
            continue
        pre = next((p for p in prefixes if k.startswith(p)), None)
        if pre:
            out[prefixes[pre] + k[len(pre):]] = v
            continue
        stack, i, rest = k.split(".", 2)
        enc, dec = (("vit.encoder.layer", "decoder.decoder_layers") if generation == 1
                    else ("vit.layers", "decoder.layers"))
        hf = f"{enc}.{i}" if stack == "blocks" else f"{dec}.{i}"
        name, kind = rest.rsplit(".", 1)
        if name == "attn.qkv":
            parts = ("attention.attention.query", "attention.attention.key", "attention.attention.value") \
                if generation == 1 else ("attention.q_proj", "attention.k_proj", "attention.v_proj")
            for part, t in zip(parts, v.chunk(3)):
                out[f"{hf}.{part}.{kind}"] = t
        elif name == "attn.proj" and generation == 2:
            out[f"{hf}.attention.o_proj.{kind}"] = v
        else:
            out[f"{hf}.{inner[name]}.{kind}"] = v
    return out


def test_official_checkpoint_with_namespace_and_hf_state_dict_load_identically(tmp_path):
    import argparse

    from safetensors.torch import save_file

    from vizcore.models.mae.checkpoints import load_mae

    m = _model()
    sd = {k: v.contiguous() for k, v in m.state_dict().items()}
    official = tmp_path / "checkpoint-399.pth"
    torch.save({"model": sd, "args": argparse.Namespace(model="mae_vit_tiny", norm_pix_loss=False)}, official)
    hf = tmp_path / "hf"
    hf.mkdir()
    save_file(_to_hf(sd), str(hf / "model.safetensors"))
    x, noise = torch.rand(2, 3, 32, 32), torch.rand(2, 16)
    with torch.inference_mode():
        ref = m(x, 0.75, noise)[1]
        for path in (official, hf):
            loaded = load_mae(path, num_heads=2, decoder_num_heads=2)
            assert loaded.cfg == m.cfg
            assert torch.equal(loaded(x, 0.75, noise)[1], ref)


def test_encoder_only_checkpoint_is_detected_with_a_reason(tmp_path):
    from vizcore.models.mae.checkpoints import EncoderOnlyError, load_mae

    sd = {k: v for k, v in _model().state_dict().items() if not k.startswith(("decoder", "mask_token"))}
    path = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(EncoderOnlyError, match="only the MAE encoder"):
        load_mae(path, num_heads=2)


def test_checkpoint_with_other_pickled_objects_is_refused(tmp_path):
    from vizcore.errors import CheckpointError
    from vizcore.models.mae.checkpoints import load_mae

    marker = tmp_path / "RAN"
    path = tmp_path / "odd.pth"
    torch.save({"model": _model().state_dict(), "extra": _RunsCode(str(marker))}, path)
    with pytest.raises(CheckpointError, match="could run code"):
        load_mae(path, num_heads=2)
    assert not marker.exists()


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file if unpickled


# ---- issue 5, second part: both HF generations, the handle, file: specs, focused masking -------------------------

def _hf_folder(path, sd: dict, generation: int, heads: int = 2):
    import json

    from safetensors.torch import save_file

    path.mkdir()
    save_file(_to_hf(sd, generation), str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"model_type": "vit_mae", "num_attention_heads": heads,
                                                  "decoder_num_attention_heads": heads, "norm_pix_loss": False,
                                                  "layer_norm_eps": 1e-6}))  # the eps `sd` was made with
    return path


def test_second_generation_hf_names_and_config_json_load_through_the_file_registry(tmp_path):
    import vizcore as vc

    m = _model()
    sd = {k: v.contiguous() for k, v in m.state_dict().items()}
    assert any(".attention.q_proj." in k for k in _to_hf(sd, 2))
    x, noise = torch.rand(2, 3, 32, 32), torch.rand(2, 16)
    with torch.inference_mode():
        ref = m(x, 0.75, noise)[1]
    for gen in (1, 2):
        handle = vc.load_model(f"file:{_hf_folder(tmp_path / f'gen{gen}', sd, gen)}")
        assert handle.info.kind == "mae" and handle.cfg.num_heads == 2  # heads from config.json
        with torch.inference_mode():
            assert torch.equal(handle.mae(x, 0.75, noise)[1], ref)


def test_unknown_hf_keys_are_named_not_dropped():
    from vizcore.errors import CheckpointError
    from vizcore.models.mae.checkpoints import from_hf

    sd = _to_hf(_model().state_dict(), 2)
    sd["vit.layers.0.attention.rotary.inv_freq"] = torch.zeros(2)
    with pytest.raises(CheckpointError, match="rotary"):
        from_hf(sd)


def test_official_pth_through_file_spec_gives_a_handle_whose_encoder_shares_the_mae_weights(tmp_path):
    import argparse

    import vizcore as vc

    m = _model()
    path = tmp_path / "checkpoint-399.pth"
    torch.save({"model": m.state_dict(), "args": argparse.Namespace(norm_pix_loss=False)}, path)
    handle = vc.load_model(f"file:{path}?heads=2")
    assert handle.can_reconstruct and handle.preprocess.mean == (0.485, 0.456, 0.406)
    assert handle.module.blocks[0].attn.qkv.weight.data_ptr() == handle.mae.blocks[0].attn.qkv.weight.data_ptr()
    x = torch.rand(2, 3, 32, 32)
    L = CFG.grid ** 2
    with torch.inference_mode():  # ratio 0 with the identity shuffle: the MAE encoder path == the timm encoder
        latent, mask, _ = handle.mae.forward_encoder(handle.normalize(x), torch.arange(L).float().expand(2, L), 0.0)
    assert mask.sum() == 0
    with torch.inference_mode():
        normed_last_block = handle.module.norm(handle.intermediates(x, [-1])[0])  # (B, 1 + L, D)
    torch.testing.assert_close(normed_last_block, latent, atol=1e-5, rtol=1e-5)


def test_encoder_only_file_works_for_attention_and_says_why_it_cannot_reconstruct(tmp_path):
    import vizcore as vc
    from vizcore.analysis import attention
    from vizcore.models.mae.checkpoints import EncoderOnlyError

    sd = {k: v for k, v in _model().state_dict().items() if not k.startswith(("decoder", "mask_token"))}
    path = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": sd}, path)
    handle = vc.load_model(f"file:{path}?heads=2")
    assert not handle.can_reconstruct and "encoder only" in handle.info.title
    maps = attention.capture(handle, torch.rand(1, 3, 32, 32))
    torch.testing.assert_close(maps.attn.sum(-1), torch.ones_like(maps.attn.sum(-1)))
    with pytest.raises(EncoderOnlyError, match="Attention and Embedding projector pages"):
        mae.reconstruct(handle, torch.rand(1, 3, 32, 32))


def test_reconstruct_through_a_normalising_handle_returns_display_pixels(tmp_path):
    import argparse

    import vizcore as vc

    path = tmp_path / "full.pth"
    torch.save({"model": _model().state_dict(), "args": argparse.Namespace()}, path)
    handle = vc.load_model(f"file:{path}?heads=2")  # ImageNet mean/std
    x = torch.rand(2, 3, 32, 32)
    r = mae.reconstruct(handle, x, mask_ratio=0.0)
    torch.testing.assert_close(r.original, x)
    torch.testing.assert_close(r.pasted, x, atol=1e-6, rtol=0)  # nothing hidden: pasted is the input
    r = mae.reconstruct(handle, x, mask_ratio=0.75, seed=3)
    with torch.inference_mode():  # the module itself, fed normalised pixels, predicts normalised pixels
        raw = handle.mae(handle.normalize(x), 0.75, mae.strategy_noise("random", 2, 4, seed=3))[1]
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
    raw_pred = mae.unpatchify(raw, 8, (4, 4), 3)
    torch.testing.assert_close(mae.unpatchify(r.pred, 8, (4, 4), 3), raw_pred * std + mean, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("hide", [True, False])
def test_focused_masking_hides_or_keeps_the_region_and_keeps_the_count(hide):
    region = mae.rectangle_region(4, 0, 0, 2, 2)  # the top-left 2x2 patches
    noise = mae.focus_noise(mae.strategy_noise("random", 3, 4, seed=1), region, strength=1.0, hide=hide)
    r = mae.reconstruct(_model(), torch.rand(3, 3, 32, 32), mask_ratio=0.5, noise=noise)
    in_region = region.flatten().bool()
    assert (r.mask.sum(1) == 16 - mae.kept_count(16, 0.5)).all()
    assert (r.mask[:, in_region] == (1.0 if hide else 0.0)).all()
    weak = mae.focus_noise(torch.zeros(1, 16), region, strength=0.0)
    assert torch.equal(weak, torch.zeros(1, 16))


def test_attention_region_resamples_and_scales_to_unit_max():
    rollout = torch.zeros(1, 8, 8)
    rollout[0, :4, :4] = 1.0
    r = mae.attention_region(rollout, 4)
    assert r.shape == (1, 4, 4) and r.max() == 1.0 and r.min() == 0.0
    assert torch.equal(r[0, :2, :2], torch.ones(2, 2)) and r[0, 2:, 2:].sum() == 0


def test_rectangle_outside_the_grid_is_refused():
    with pytest.raises(InputError, match="inside the 4x4 patch grid"):
        mae.rectangle_region(4, 2, 2, 2, 5)


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 0.75, 0.9, 0.95])
def test_kept_count_is_the_papers(ratio):
    assert mae.kept_count(196, ratio) == int(196 * (1 - ratio))


def test_train_mae_recipe_writes_a_card_and_weights_that_load_as_a_bundled_mae(tmp_path):
    from dataclasses import replace

    import vizcore as vc
    from vizcore.train.mae import MaeRecipe, train_mae

    steps = []
    arch = dict(embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
    _, card = train_mae(epochs=1, steps_per_epoch=2, arch=arch, out_dir=tmp_path,
                        recipe=replace(MaeRecipe(), batch_size=8, test_size=16),
                        progress=lambda step, total, m: steps.append((step, total)))
    assert steps[-1] == (2, 2) and card["kind"] == "mae" and card["recipe"]["mask_ratio"] == 0.75
    m = card["metrics"]["ratio_0.75"]
    assert set(m) == {"mae", "mean_fill", "nearest_fill"} and all(v > 0 for v in m.values())
    handle = vc.load_model(f"file:{tmp_path / 'tiny_mae.safetensors'}")  # the card beside it names the kind
    assert handle.kind == "mae" and handle.can_reconstruct and handle.cfg.embed_dim == 32
    assert mae.reconstruct(handle, torch.rand(1, 3, 64, 64), seed=1).kept == 16


def test_panel_titles_say_the_decoder_output_over_visible_patches_is_untrained():
    from vizcore.analysis.mae import PANEL_TITLES
    from vizcore.figures import mae_panels

    assert "untrained" in PANEL_TITLES[2]
    img = torch.rand(3, 16, 16)
    fig = mae_panels(img, img, img, img)
    assert "untrained" in fig.layout.annotations[2].text


def test_focus_region_figure_marks_the_hidden_patches():
    from vizcore.figures import focus_region_figure

    region = torch.zeros(4, 4)
    region[1:3, 1:3] = 1.0
    mask = (region > 0).float()
    fig = focus_region_figure(region, mask, title="Focus region: the rectangle you set")
    assert len(fig.data[1].x) == 4 and fig.data[0].zmax == 1
