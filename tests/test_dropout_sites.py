"""Every dropout site, exercised in training mode.

The other model tests run in eval mode, where dropout is the identity, so removing a site
would go unnoticed there. Here, for each decoder variant:

* the list of dropout calls made by one training loss is exactly the documented sites (module,
  tensor shape): source embeddings and annotations in the encoder; target embeddings and the
  states before the output layer in every decoder; the deep output's maxout units;
* each call's result is what the model uses: zeroing that one call's output changes the loss;
* with ``dropout = 0.999`` a training loss differs from the one with ``dropout = 0`` at each site
  taken alone (the other sites kept at 0), and in eval mode it does not differ at all.
"""
from __future__ import annotations

import pytest
import torch

from attention_course.models import build_model
from attention_course.models.dropout import Dropout

from helpers_models import SRC_VOCAB, TGT_VOCAB, one_thread, random_batch, tiny_config  # noqa: F401 (autouse fixture)

B, S, T = 4, 7, 7               # random_batch(): 4 sentences, longest source 7, longest target 6 + 1
EMB, HID, DEC = 8, 6, 12        # helpers_models.TINY

ENCODER = [("encoder.dropout", (B, S, EMB)), ("encoder.dropout", (B, S, 2 * HID))]
SITES = {
    "bahdanau": ENCODER + [("decoder.dropout", (B, T, EMB)), ("decoder.dropout", (B, T, DEC)),
                           ("decoder.output.dropout", (B, T, EMB))],
    "luong-general": ENCODER + [("decoder.dropout", (B, T, EMB)), ("decoder.dropout", (B, T, DEC))],
    "luong-general-nofeed": ENCODER + [("decoder.dropout", (B, T, EMB)), ("decoder.dropout", (B, T, DEC))],
    "luong-local-p": ENCODER + [("decoder.dropout", (B, T, EMB)), ("decoder.dropout", (B, T, DEC))],
    "context-init": ENCODER + [("decoder.dropout", (B, T, EMB)), ("decoder.dropout", (B, T, DEC)),
                               ("decoder.output.dropout", (B, T, EMB))],
    "context-every-step": ENCODER + [("decoder.dropout", (B, T, EMB)), ("decoder.dropout", (B, T, DEC)),
                                     ("decoder.output.dropout", (B, T, EMB))],
}
# The attention-free decoders read the encoder's final state, not its annotations: dropping out the
# annotations is wasted there (and harmless), so zeroing that call changes nothing.
UNUSED = {("context-init", 1), ("context-every-step", 1)}


def model_of(variant: str, dropout: float, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(tiny_config(variant, dropout=dropout), SRC_VOCAB, TGT_VOCAB).double()


def dropouts(model) -> dict[str, torch.nn.Dropout]:
    """Every dropout module by name (the package's Dropout is an nn.Dropout)."""
    found = {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}
    assert found and all(isinstance(m, Dropout) for m in found.values())
    return found


def loss_of(model, batch, seed: int = 1):
    torch.manual_seed(seed)
    return model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)


class Calls:
    """Forward hooks on every dropout module: records (module name, output shape) per call and can
    replace the output of one call (by its index) with zeros."""

    def __init__(self, model, zero_call: int | None = None):
        self.calls: list[tuple[str, tuple]] = []
        self.zero_call = zero_call
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in dropouts(model).items()]

    def _hook(self, name):
        def hook(module, args, output):
            self.calls.append((name, tuple(output.shape)))
            if len(self.calls) - 1 == self.zero_call:
                return torch.zeros_like(output)
            return None
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


@pytest.mark.parametrize("variant", list(SITES))
def test_a_training_loss_calls_every_dropout_site_once(variant):
    model = model_of(variant, 0.3).train()
    batch = random_batch()
    assert (batch.src.shape, batch.tgt_in.shape) == ((B, S), (B, T))
    calls = Calls(model)
    loss_of(model, batch)
    calls.remove()
    assert calls.calls == SITES[variant]
    assert {round(m.p, 6) for m in dropouts(model).values()} == {0.3}, "the configured rate reaches every site"


@pytest.mark.parametrize("variant", list(SITES))
def test_each_dropout_sites_output_is_what_the_model_uses(variant):
    model = model_of(variant, 0.0).train()
    batch = random_batch()
    base = loss_of(model, batch)
    for k, site in enumerate(SITES[variant]):
        calls = Calls(model, zero_call=k)
        changed = loss_of(model, batch)
        calls.remove()
        if (variant, k) in UNUSED:
            torch.testing.assert_close(changed, base, atol=0, rtol=0)
        else:
            assert not torch.allclose(changed, base), f"zeroing {site} (call {k}) changes nothing"


@pytest.mark.parametrize("variant", ["bahdanau", "luong-general", "luong-general-nofeed", "context-every-step"])
def test_a_high_rate_at_one_site_changes_the_training_loss_only(variant):
    model = model_of(variant, 0.0)
    batch = random_batch()
    model.train()
    base = loss_of(model, batch)
    for name, module in dropouts(model).items():
        module.p = 0.999
        model.train()
        assert not torch.allclose(loss_of(model, batch), base), f"dropout at {name} does nothing in training"
        model.eval()
        assert torch.equal(loss_of(model, batch), loss_of(model, batch))
        torch.testing.assert_close(loss_of(model, batch), base, atol=1e-12, rtol=0)   # eval: no dropout
        module.p = 0.0

