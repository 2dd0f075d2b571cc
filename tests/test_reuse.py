"""`vizcore.ui.reuse`: figures built once per control value, and the heap frozen so Streamlit's post-run gc is cheap."""

from __future__ import annotations

import gc

from vizcore.ui import reuse


def test_a_figure_is_built_once_per_ident_and_shared():
    built = []

    def build(value):
        built.append(value)
        return {"value": value}

    first = reuse.figure(("test_reuse", "layer", 1), lambda: build(1))
    again = reuse.figure(("test_reuse", "layer", 1), lambda: build(99))  # same ident: not built again
    other = reuse.figure(("test_reuse", "layer", 2), lambda: build(2))
    assert first is again and first == {"value": 1}
    assert other == {"value": 2} and built == [1, 2]


def test_settle_freezes_the_loaded_heap_once_and_again_after_it_grows(monkeypatch):
    real_collect, collections = gc.collect, []
    # Count collections rather than compare freeze counts: frozen objects freed by reference counting (anywhere
    # in the process) lower the count between two calls.
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or real_collect(*args))
    gc.unfreeze()
    try:
        reuse.settle()
        assert len(collections) == 1 and gc.get_freeze_count() > 0
        assert len(gc.get_objects(generation=2)) < reuse.REFREEZE
        reuse.settle()  # nothing new: no second collection
        assert len(collections) == 1
        keep = [[i] for i in range(reuse.REFREEZE + 10)]  # a newly loaded model's worth of long-lived objects
        real_collect()  # they reach the oldest generation
        reuse.settle()
        assert len(collections) == 2 and gc.get_freeze_count() >= reuse.REFREEZE and keep
    finally:
        gc.unfreeze()


def test_the_app_s_random_weights_are_the_same_after_its_model_cache_lets_them_go():
    """A random-weight model loaded again (the model cache holds 6) has the weights it had: flip-books and figures
    kept from the first load describe the model on the page."""
    import torch

    from vizcore.ui import cache

    first = cache.model("bundled:tiny_vit", False)
    cache.model.clear()
    second = cache.model("bundled:tiny_vit", False)
    assert second is not first and second.info.pretrained is False
    a, b = first.module.state_dict(), second.module.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
