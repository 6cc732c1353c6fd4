"""Training speed of the package's Bahdanau model against a tutorial-style reference.

    python benchmarks/train_speed.py [--warmup 20] [--steps 60] [--block 3] [--threads 2] [--synthetic]

Both models have the shipped ``bahdanau`` architecture and sizes (read from
``attention_course/configs/bahdanau.json``; vocabulary sizes from the shipped
``checkpoints/bahdanau/vocab.json``): embeddings 128, a bidirectional GRU encoder with
128 units per direction, a 256-unit GRU decoder, additive attention of width 256,
a maxout deep output of width 128 and a vocabulary projection tied to the target
embedding, dropout 0.2.

* **package**: ``attention_course.models.build_model`` and ``attention_course.train``'s own
  ``training_step`` and ``make_optimizer`` (``model.loss``, backward, gradient clipping, fused
  Adam), with the vocabulary projection in the precision the shipped config's
  ``train.projection`` picks on this machine (``auto``: bfloat16 mixed precision on a CPU with
  native bf16 matrix units, else float32; ``--projection float32`` forces float32).
* **reference**: the same network written the way the PyTorch tutorial "NLP From
  Scratch: Translation with a Sequence to Sequence Network and Attention" writes its
  ``AttnDecoderRNN``: a Python loop over target steps; at every step embed the
  previous word, score ``Va(tanh(Wa(query) + Ua(keys)))`` (``Ua`` applied to all the
  keys again at every step), softmax, context by ``bmm``, one ``nn.GRU`` step on
  ``[embedded; context]``, then the deep output and the vocabulary projection for
  that step and ``log_softmax``; ``NLLLoss`` on the concatenated outputs. Following
  the tutorial it projects every position, padding included (``ignore_index`` drops
  padding from the loss). Padding is masked in the attention and the encoder runs
  on packed sequences, so both models compute the same function.

The reference receives a copy of the package model's initial parameters, and before
anything is timed both must give the same loss on the first batch (dropout off, float32,
tolerance 1e-4); the largest gradient difference is printed too, and so is the package's
loss with the mixed-precision projection. Both then train with Adam (the tutorial's
``torch.optim.Adam`` for the reference; same learning rate and clipping) on the same batches, for ``--warmup`` untimed
steps and ``--steps`` timed ones, in blocks of ``--block`` steps that alternate
package/reference (ABBA...), so a burst of load from other work on a shared machine
hits both. Reported numbers are medians over blocks; the ratio is the median of the
per-block ratios (same batches, so it is reference time over package time).

Batches are real training batches of epoch 1 (``prepare_data`` / ``epoch_batches``
with the shipped config, corpus from ``$ATTENTION_COURSE_DATA``); without the corpus
(or with ``--synthetic``) they are synthetic batches with the corpus's source-length
distribution, random word ids and the same bucketing.

FLOPs (package, analytic, multiply-adds counted as 2 FLOPs). With E = 128 (embedding),
H = 128 (encoder, per direction), K = 2H (annotation), D = 256 (decoder), A = 256
(attention), V = target vocabulary, per batch:

    encoder    N_src · 2 directions · 2·3H(E + H)      (input and recurrent GRU matmuls)
    keys       N_src · 2·K·A                           (U_a h_j, once per sentence)
    s_0        B · 2·H·D
    per real target token of a sentence with S source words:
      attention  2·D·A (W_a s) + 2·A·S (v_a) + 2·K·S (context)
      GRU        2·3D(E + K) + 2·3D·D
      deep out   2·(D + E + K)·2E
      projection 2·E·V
    forward+backward = 3 × forward

where N_src is the number of real source words. Padding positions are not counted
(the useful work), elementwise operations (gates, tanh, softmax) are ignored, and
backward is taken as twice the forward matmuls (on a real batch this agrees with the
matmul FLOPs that ``torch.utils.flop_counter.FlopCounterMode`` records, to within 1%).
For comparison the reference's own count is printed too: the same terms over every
padded position, plus U_a h_j recomputed at every step. The fp32 matmul peak is measured in
the same run with the same thread count: ``torch.mm`` of two 2048 x 2048 matrices,
three times between every pair of blocks; the median is the peak used for the
percentage (it was measured under the same load), the best is printed beside it. With the
bf16 projection the package's FLOPs are not all float32 ones, so the bf16 matmul peak
(same sizes) is printed as well.
The last line is ``ratio: X.XX`` (package tokens/s over reference tokens/s).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attention_course.data.batching import bucket_batches
from attention_course.data.vocabulary import Vocabulary
from attention_course.models import build_model
from attention_course.train import RunConfig, epoch_batches, make_optimizer, projection_dtype, training_step

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "attention_course"
CONFIG = PACKAGE / "configs" / "bahdanau.json"
VOCAB = PACKAGE / "checkpoints" / "bahdanau" / "vocab.json"
PAD = Vocabulary.pad_index

# Source lengths (tokens) of the training pairs and how many pairs have each (aggregate
# counts from the corpus, max_len 50); the synthetic batches draw from this.
SOURCE_LENGTHS = {2: 39, 3: 1049, 4: 8954, 5: 18503, 6: 23836, 7: 24480, 8: 19383, 9: 13819, 10: 9123,
                  11: 5852, 12: 3708, 13: 2416, 14: 1479, 15: 1038, 16: 645, 17: 440, 18: 277, 19: 168,
                  20: 105, 21: 67, 22: 40, 23: 37, 24: 19, 25: 20, 26: 17, 28: 12, 30: 6, 32: 7, 36: 3}


# --------------------------------------------------------------------------------------
# The tutorial-style reference (same parameter shapes as the package's model)
# --------------------------------------------------------------------------------------

class EncoderRNN(nn.Module):
    def __init__(self, input_size, emb_size, hidden_size, dropout_p):
        super().__init__()
        self.embedding = nn.Embedding(input_size, emb_size, padding_idx=PAD)
        self.gru = nn.GRU(emb_size, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, src, lengths):
        embedded = self.dropout(self.embedding(src))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.gru(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=src.size(1))
        return self.dropout(output)


class BahdanauAttention(nn.Module):
    def __init__(self, query_size, key_size, attention_size):
        super().__init__()
        self.Wa = nn.Linear(query_size, attention_size, bias=False)
        self.Ua = nn.Linear(key_size, attention_size, bias=False)
        self.Va = nn.Linear(attention_size, 1, bias=False)

    def forward(self, query, keys, mask):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))    # Ua(keys) again at every step
        scores = scores.squeeze(2).unsqueeze(1)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)
        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, output_size, emb_size, hidden_size, key_size, attention_size, dropout_p):
        super().__init__()
        self.emb_size, self.key_size = emb_size, key_size
        self.embedding = nn.Embedding(output_size, emb_size, padding_idx=PAD)
        self.attention = BahdanauAttention(hidden_size, key_size, attention_size)
        self.init = nn.Linear(key_size // 2, hidden_size)            # s_0 = tanh(W_s ←h_1)
        self.gru = nn.GRU(emb_size + key_size, hidden_size, batch_first=True)
        self.maxout = nn.Linear(hidden_size + emb_size + key_size, 2 * emb_size)
        self.out_bias = nn.Parameter(torch.zeros(output_size))      # out = E t + b (tied to the embedding)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, mask, target_in):
        backward_first = encoder_outputs[:, 0, self.key_size // 2:]
        decoder_hidden = torch.tanh(self.init(backward_first)).unsqueeze(0)
        decoder_outputs = []
        for i in range(target_in.size(1)):
            decoder_input = target_in[:, i].unsqueeze(1)             # teacher forcing
            decoder_output, decoder_hidden, _ = self.forward_step(decoder_input, decoder_hidden,
                                                                  encoder_outputs, mask)
            decoder_outputs.append(decoder_output)
        return torch.cat(decoder_outputs, dim=1)

    def forward_step(self, input, hidden, encoder_outputs, mask):
        embedded = self.dropout(self.embedding(input))
        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs, mask)
        input_gru = torch.cat((embedded, context), dim=2)
        output, hidden = self.gru(input_gru, hidden)
        t = self.maxout(torch.cat((self.dropout(output), embedded, context), dim=2))
        t = t.view(t.size(0), 1, self.emb_size, 2).max(dim=-1).values
        t = self.dropout(t)
        output = F.linear(t, self.embedding.weight, self.out_bias)
        return F.log_softmax(output, dim=-1), hidden, attn_weights


class Reference(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, m):
        super().__init__()
        key = 2 * m.hidden_size
        self.encoder = EncoderRNN(src_vocab, m.emb_size, m.hidden_size, m.dropout)
        self.decoder = AttnDecoderRNN(tgt_vocab, m.emb_size, m.decoder_size, key, m.attention_size, m.dropout)
        self.criterion = nn.NLLLoss(ignore_index=PAD)

    def loss(self, src, src_lengths, tgt_in, tgt_out, projection_dtype=None):
        """The tutorial's loss; ``projection_dtype`` is accepted and ignored (the tutorial runs float32),
        so the package's ``training_step`` drives both models."""
        encoder_outputs = self.encoder(src, src_lengths)
        mask = torch.arange(src.size(1))[None, :] < src_lengths[:, None]
        decoder_outputs = self.decoder(encoder_outputs, mask, tgt_in)
        return self.criterion(decoder_outputs.view(-1, decoder_outputs.size(-1)), tgt_out.reshape(-1))


# package parameter name -> reference parameter name
NAME_MAP = {
    "encoder.embedding.": "encoder.embedding.", "encoder.rnn.": "encoder.gru.",
    "decoder.embedding.": "decoder.embedding.", "decoder.attention.W_a.": "decoder.attention.Wa.",
    "decoder.attention.U_a.": "decoder.attention.Ua.", "decoder.attention.v_a.": "decoder.attention.Va.",
    "decoder.init.W_s.": "decoder.init.", "decoder.rnn.": "decoder.gru.",
    "decoder.output.inputs.": "decoder.maxout.", "decoder.project.bias": "decoder.out_bias",
}


def copy_parameters(package: nn.Module, reference: nn.Module) -> None:
    """Load the package model's parameters into the reference; every parameter must map, shapes equal."""
    ref = dict(reference.named_parameters())
    pkg = dict(package.named_parameters())          # tied embedding listed once
    if len(ref) != len(pkg):
        raise SystemExit(f"parameter lists differ: {len(pkg)} in the package, {len(ref)} in the reference")
    with torch.no_grad():
        for name, p in pkg.items():
            prefix = next(k for k in NAME_MAP if name.startswith(k))
            target = ref.pop(NAME_MAP[prefix] + name[len(prefix):])
            if target.shape != p.shape:
                raise SystemExit(f"{name}: shape {tuple(p.shape)} in the package, {tuple(target.shape)} in the reference")
            target.copy_(p)


# --------------------------------------------------------------------------------------
# Batches, FLOPs, timing
# --------------------------------------------------------------------------------------

def real_batches(cfg: RunConfig, n: int):
    from attention_course.data.corpus import CorpusError, locate_corpus
    from attention_course.train import prepare_data
    try:
        locate_corpus(download=False)
    except CorpusError:
        return None
    src_vocab, tgt_vocab, encoded, _ = prepare_data(cfg)
    return len(src_vocab), len(tgt_vocab), epoch_batches(encoded, cfg.train, 0)[:n]


def synthetic_batches(cfg: RunConfig, src_size: int, tgt_size: int, n: int):
    rng = random.Random(cfg.train.seed)
    lengths, weights = zip(*SOURCE_LENGTHS.items())
    pairs = []
    for _ in range(sum(weights)):
        s = rng.choices(lengths, weights)[0]
        t = min(cfg.data.max_len, max(1, round(s + 0.5 + rng.gauss(0, 1.8))))
        pairs.append(([rng.randrange(4, src_size) for _ in range(s)], [rng.randrange(4, tgt_size) for _ in range(t)]))
    return bucket_batches(pairs, cfg.train.batch_size, random.Random(cfg.train.seed * 1000))[:n]


def package_flops(batch, m, tgt_vocab: int) -> float:
    """Analytic forward+backward FLOPs of the package on one batch (formula in the docstring)."""
    E, H, D, A, V = m.emb_size, m.hidden_size, m.decoder_size, m.attention_size, tgt_vocab
    K = 2 * H
    src_len = batch.src_lengths.double()
    tgt_len = (batch.tgt_out != PAD).sum(1).double()
    n_src, n_tgt = float(src_len.sum()), float(tgt_len.sum())
    forward = (n_src * (2 * 2 * 3 * H * (E + H) + 2 * K * A)
               + batch.src.size(0) * 2 * H * D
               + n_tgt * (2 * D * A + 2 * 3 * D * (E + K) + 2 * 3 * D * D + 2 * (D + E + K) * 2 * E + 2 * E * V)
               + float((tgt_len * src_len).sum()) * (2 * A + 2 * K))
    return 3 * forward


def reference_flops(batch, m, tgt_vocab: int) -> float:
    """What the reference computes: the same terms over every padded target position and
    every padded source position, plus U_a h_j again at each step (2·K·A per key per step)."""
    E, H, D, A, V = m.emb_size, m.hidden_size, m.decoder_size, m.attention_size, tgt_vocab
    K = 2 * H
    B, T, S = batch.tgt_out.size(0), batch.tgt_out.size(1), batch.src.size(1)
    n_src = float(batch.src_lengths.sum())
    forward = (n_src * 2 * 2 * 3 * H * (E + H) + B * 2 * H * D
               + B * T * (2 * D * A + 2 * 3 * D * (E + K) + 2 * 3 * D * D + 2 * (D + E + K) * 2 * E + 2 * E * V)
               + B * T * S * (2 * K * A + 2 * A + 2 * K))
    return 3 * forward


def matmul_gflops(n: int = 2048, repeats: int = 3, dtype=torch.float32) -> list[float]:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        out.append(2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return out


def train_steps(model, optimizer, batches, clip: float, dtype=None) -> float:
    """Seconds for ``attention_course.train.training_step`` (loss, backward, clipping, optimizer) on each batch."""
    t0 = time.perf_counter()
    for b in batches:
        training_step(model, optimizer, b, clip, dtype)
    return time.perf_counter() - t0


def check_same_function(package, reference, batch, dtype) -> tuple[float, float, float, float]:
    package.eval(), reference.eval()
    losses, grads = [], []
    for model in (package, reference):
        model.zero_grad(set_to_none=True)
        loss = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        loss.backward()
        losses.append(float(loss.detach()))
        grads.append([p.grad.clone() for p in model.parameters()])
        model.zero_grad(set_to_none=True)
    # parameters() order differs; compare through the name map
    ref_grads = dict(zip([n for n, _ in reference.named_parameters()], grads[1]))
    worst = 0.0
    for (name, _), g in zip(package.named_parameters(), grads[0]):
        prefix = next(k for k in NAME_MAP if name.startswith(k))
        worst = max(worst, float((g - ref_grads[NAME_MAP[prefix] + name[len(prefix):]]).abs().max()))
    mixed = float(package.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out,
                               projection_dtype=dtype).detach()) if dtype is not None else losses[0]
    package.train(), reference.train()
    return losses[0], losses[1], worst, mixed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warmup", type=int, default=20, help="untimed steps per model (default 20)")
    p.add_argument("--steps", type=int, default=60,
                   help="timed steps per model (default 60: two runs agree within 5 %% on an idle machine)")
    p.add_argument("--block", type=int, default=3, help="steps per timed block (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--synthetic", action="store_true", help="synthetic batches even when the corpus is there")
    p.add_argument("--projection", choices=("auto", "float32", "bfloat16"),
                   help="the package's projection precision (default: the shipped config's, auto)")
    args = p.parse_args()
    if args.steps < args.block or args.block < 1:
        raise SystemExit("--steps must be at least --block, and --block at least 1")
    torch.set_num_threads(args.threads)
    cfg = RunConfig.load(CONFIG)
    m = cfg.model
    vocab = json.loads(VOCAB.read_text(encoding="utf-8"))
    src_size, tgt_size = len(vocab["source"]), len(vocab["target"])
    n_batches = max(1, args.warmup) + args.steps
    got = None if args.synthetic else real_batches(cfg, n_batches)
    if got is None:
        batches, kind = synthetic_batches(cfg, src_size, tgt_size, n_batches), "synthetic (corpus length distribution)"
    else:
        (s, t, batches), kind = got, "real training batches (epoch 1)"
        if (s, t) != (src_size, tgt_size):
            raise SystemExit(f"vocabularies from the corpus ({s}, {t}) differ from the shipped ones ({src_size}, {tgt_size})")
    if len(batches) < n_batches:
        raise SystemExit(f"only {len(batches)} batches available, {n_batches} needed")
    warm, timed = batches[: max(1, args.warmup)], batches[max(1, args.warmup):]
    dtype = projection_dtype(args.projection or cfg.train.projection, "cpu")

    torch.manual_seed(cfg.train.seed)
    package = build_model(m, src_size, tgt_size)
    reference = Reference(src_size, tgt_size, m)
    copy_parameters(package, reference)
    n_params = (sum(q.numel() for q in package.parameters()), sum(q.numel() for q in reference.parameters()))
    load = os.getloadavg()
    print(f"bahdanau: emb {m.emb_size}, encoder BiGRU {m.hidden_size}/dir, decoder GRU {m.decoder_size}, "
          f"attention {m.attention_size}, dropout {m.dropout}, batch {cfg.train.batch_size}, "
          f"vocabularies {src_size}/{tgt_size}; parameters package {n_params[0]:,}, reference {n_params[1]:,}")
    print(f"batches: {kind}; {len(warm)} warm-up + {len(timed)} timed steps per model, blocks of {args.block}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    loss_p, loss_r, grad_diff, loss_mixed = check_same_function(package, reference, batches[0], dtype)
    print(f"first batch, dropout off, float32: loss package {loss_p:.6f}, reference {loss_r:.6f} "
          f"(|diff| {abs(loss_p - loss_r):.1e}); largest gradient difference {grad_diff:.1e}")
    print(f"package's vocabulary projection while training: {dtype or torch.float32}"
          + (f" (first-batch loss {loss_mixed:.6f}, |diff| {abs(loss_mixed - loss_p):.1e})" if dtype else ""))
    if abs(loss_p - loss_r) > 1e-4:
        raise SystemExit("the two models do not compute the same loss; not timing them")

    opts = {"package": make_optimizer(package, cfg.train.lr),
            "reference": torch.optim.Adam(reference.parameters(), lr=cfg.train.lr)}
    models = {"package": package, "reference": reference}
    for name in ("package", "reference"):
        train_steps(models[name], opts[name], warm, cfg.train.clip, dtype)

    blocks = [timed[k: k + args.block] for k in range(0, len(timed) - args.block + 1, args.block)]
    tok_s = {"package": [], "reference": []}
    gflops, ref_gflops, ratios, peaks = [], [], [], matmul_gflops()
    for j, block in enumerate(blocks):
        tokens = sum(b.n_tokens for b in block)
        seconds = {}
        for name in (("package", "reference") if j % 2 == 0 else ("reference", "package")):
            seconds[name] = train_steps(models[name], opts[name], block, cfg.train.clip, dtype)
            tok_s[name].append(tokens / seconds[name])
        gflops.append(sum(package_flops(b, m, tgt_size) for b in block) / seconds["package"] / 1e9)
        ref_gflops.append(sum(reference_flops(b, m, tgt_size) for b in block) / seconds["reference"] / 1e9)
        ratios.append(seconds["reference"] / seconds["package"])
        peaks += matmul_gflops()

    peak = statistics.median(peaks)
    bf16_peak = statistics.median(matmul_gflops(dtype=torch.bfloat16, repeats=5)) if dtype else None
    pkg_gflops = statistics.median(gflops)
    load = os.getloadavg()
    print(f"fp32 matmul (torch.mm 2048x2048, {torch.get_num_threads()} threads): median {peak:.1f} GFLOP/s, "
          f"best {max(peaks):.1f} GFLOP/s over {len(peaks)} runs"
          + (f"; bf16 matmul (same sizes): {bf16_peak:.1f} GFLOP/s" if bf16_peak else ""))
    print(f"package: {statistics.median(tok_s['package']):.0f} tok/s, {pkg_gflops:.1f} GFLOP/s = "
          f"{100 * pkg_gflops / peak:.1f}% of peak {peak:.1f} GFLOP/s ({100 * pkg_gflops / max(peaks):.1f}% of the best)")
    flop_ratio = sum(reference_flops(b, m, tgt_size) for b in timed) / sum(package_flops(b, m, tgt_size) for b in timed)
    print(f"reference: {statistics.median(tok_s['reference']):.0f} tok/s, {statistics.median(ref_gflops):.1f} GFLOP/s = "
          f"{100 * statistics.median(ref_gflops) / peak:.1f}% of peak (it computes {flop_ratio:.2f}x the package's FLOPs)")
    print(f"per-block ratios: {' '.join(f'{r:.2f}' for r in ratios)}; load average now {load[0]:.2f}")
    print(f"ratio: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
