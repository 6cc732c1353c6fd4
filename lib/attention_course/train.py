"""Train a model: ``python -m attention_course.train CONFIG [--out DIR] [--resume]``.

CONFIG is a JSON file (one per shipped model in ``attention_course/configs``) with
``name``, ``model`` (see :class:`ModelConfig`), ``data`` and ``train`` settings.
Progress shows loss and target tokens/s; dev BLEU is printed after each epoch; the
full training state is written atomically every ``checkpoint_every`` batches and at
each epoch's end, and ``--resume`` continues from it exactly (same batches, same
random numbers), so an interrupted run ends with the same parameters.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from . import __version__
from .checkpoint import atomic_write_json, save_model, sha256_file
from .data.batching import bucket_batches
from .data.corpus import CORPUS_SHA256
from .data.dataset import build_vocabularies, encode_pairs, tokenize_pairs
from .data.split import load_splits, test_set
from .data.vocabulary import Vocabulary
from .evaluation.bleu import corpus_bleu
from .models.seq2seq import ModelConfig, Seq2Seq, build_model
from .translator import Translator


@dataclass
class DataConfig:
    min_freq: int = 3          # vocabulary threshold (training split counts)
    max_len: int = 50          # drop training pairs longer than this (tokens, either side)
    subset: int | None = None  # use only the first N training pairs (for quick runs)
    dev_subset: int | None = None


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    lr_decay: float = 0.8            # lr · decay^(epoch - 1): a run stopped after k epochs equals a k-epoch run
    clip: float = 1.0
    seed: int = 1234
    checkpoint_every: int = 500      # batches
    threads: int | None = None       # torch CPU threads (None: leave as is)
    projection: str = "auto"         # precision of the vocabulary projection while training: float32,
                                     # bfloat16 (mixed precision) or auto (bfloat16 on CPUs with native bf16)


@dataclass
class RunConfig:
    name: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        unknown = set(d) - {"name", "model", "data", "train", "description"}
        if unknown:
            raise ValueError(f"unknown config sections {sorted(unknown)}")
        return cls(d["name"], ModelConfig.from_dict(d.get("model", {})), DataConfig(**d.get("data", {})),
                   TrainConfig(**d.get("train", {})))

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model.to_dict(), "data": asdict(self.data), "train": asdict(self.train)}


def prepare_data(cfg: RunConfig, corpus: str | None = None):
    """Vocabularies and encoded training pairs, plus the multi-reference dev set."""
    splits = load_splits(corpus)
    train_pairs = splits["train"][: cfg.data.subset] if cfg.data.subset else splits["train"]
    tokenized = tokenize_pairs(train_pairs)
    src_vocab, tgt_vocab = build_vocabularies(tokenized, cfg.data.min_freq)
    encoded = encode_pairs(tokenized, src_vocab, tgt_vocab, cfg.data.max_len)
    dev = test_set("dev", corpus)[: cfg.data.dev_subset] if cfg.data.dev_subset else test_set("dev", corpus)
    return src_vocab, tgt_vocab, encoded, dev


def projection_dtype(setting: str, device) -> torch.dtype | None:
    """The dtype :meth:`Seq2Seq.loss` runs the vocabulary projection in while training (None: float32).

    ``auto`` picks bfloat16 only on a CPU whose matrix units do bf16 natively (e.g. AVX512-BF16,
    AMX), where those products run about 2.5x faster; elsewhere bf16 would be emulated and slower.
    """
    if setting not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"train.projection must be auto, float32 or bfloat16, got {setting!r}")
    if setting == "auto":
        setting = "bfloat16" if torch.device(device).type == "cpu" and _cpu_has_native_bf16() else "float32"
    return torch.bfloat16 if setting == "bfloat16" else None


def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):   # a torch build without oneDNN
        return False


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused implementation (one kernel for all parameters) where this torch has it for the device."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):   # older torch: fused Adam on CUDA only
        return torch.optim.Adam(model.parameters(), lr=lr)


def training_step(model: Seq2Seq, optimizer: torch.optim.Optimizer, batch, clip: float,
                  dtype: torch.dtype | None = None) -> torch.Tensor:
    """One update: teacher-forced loss, backward, gradient-norm clipping, Adam. Returns the loss."""
    loss = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, projection_dtype=dtype)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.detach()


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    return cfg.lr * cfg.lr_decay ** epoch


def epoch_batches(encoded, cfg: TrainConfig, epoch: int):
    return bucket_batches(encoded, cfg.batch_size, random.Random(cfg.seed * 1000 + epoch))


# --- the training state, saved as one safetensors file (tensors + JSON metadata) ---

def save_state(path: Path, model, optimizer, epoch: int, batch: int, step: int, log: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors = {k: v.clone() for k, v in tensors.items()}  # untie shared storage for safetensors
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for key, val in st.items():
            tensors[f"optim.{pid}.{key}"] = val.detach().cpu().clone().reshape(val.shape)
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"epoch": epoch, "batch": batch, "step": step, "log": log, "param_groups": opt["param_groups"],
            "python_random": random.getstate()}
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:   # write beside it, then rename: a reader (or a resumed run) never sees half a file
        save_file(tensors, str(tmp), metadata={"state": json.dumps(meta)})
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_state(path: Path, model, optimizer) -> tuple[int, int, int, dict]:
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["state"])
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    ps = meta["python_random"]
    random.setstate((ps[0], tuple(ps[1]), ps[2]))
    return meta["epoch"], meta["batch"], meta["step"], meta["log"]


def dev_bleu(model: Seq2Seq, src_vocab: Vocabulary, tgt_vocab: Vocabulary, dev, device) -> float:
    translator = Translator(model, src_vocab, tgt_vocab, device=device)
    hyps = [t.text for t in translator.translate_batch([ex.source for ex in dev], beam_size=1)]
    return corpus_bleu(hyps, [ex.references for ex in dev]).score


def train(cfg: RunConfig, out: Path, resume: bool = False, device: str | None = None,
          corpus: str | None = None, progress: bool = True, stop_after: int | None = None,
          keep_epochs: bool = False) -> Path:
    """Train ``cfg`` into ``out``; returns the exported model directory ``out/model``.

    ``keep_epochs`` also exports the model after every epoch (``out/epoch-K``).
    ``stop_after`` ends the run after that many batches in total (used by tests to simulate an interruption).
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)
    random.seed(cfg.train.seed)
    src_vocab, tgt_vocab, encoded, dev = prepare_data(cfg, corpus)
    model = build_model(cfg.model, len(src_vocab), len(tgt_vocab)).to(device)
    optimizer = make_optimizer(model, cfg.train.lr)
    dtype = projection_dtype(cfg.train.projection, device)
    state_path = out / "training_state.safetensors"
    epoch, start_batch, step = 0, 0, 0
    log = {"epochs": [], "train_seconds": 0.0, "train_tokens": 0, "wall_seconds": 0.0}
    if resume and state_path.exists():
        epoch, start_batch, step, log = load_state(state_path, model, optimizer)
        print(f"resuming {cfg.name} at epoch {epoch + 1}, batch {start_batch}", file=sys.stderr)
    print(f"{cfg.name}: {sum(p.numel() for p in model.parameters()):,} parameters, {len(encoded):,} training pairs, "
          f"vocabularies {len(src_vocab):,} / {len(tgt_vocab):,}, device {device}, "
          f"vocabulary projection in {dtype or torch.float32}", file=sys.stderr)
    while epoch < cfg.train.epochs:
        batches = epoch_batches(encoded, cfg.train, epoch)
        model.train()
        bar = tqdm(total=len(batches), initial=start_batch, desc=f"{cfg.name} epoch {epoch + 1}/{cfg.train.epochs}",
                   disable=not progress, mininterval=2.0)
        # a resumed epoch continues the loss sum and token count of the batches before its checkpoint
        partial = log.pop("partial_epoch", {"loss_sum": 0.0, "tokens": 0})
        t0, tokens, epoch_tokens, loss_sum = time.perf_counter(), 0, partial["tokens"], partial["loss_sum"]
        wall0 = t0
        for g in optimizer.param_groups:
            g["lr"] = learning_rate(cfg.train, epoch)
        for b in range(start_batch, len(batches)):
            batch = batches[b].to(device)
            loss = training_step(model, optimizer, batch, cfg.train.clip, dtype)
            step += 1
            n = batch.n_tokens
            tokens += n
            epoch_tokens += n
            loss_sum += float(loss.detach()) * n
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / epoch_tokens:.3f}",
                            tok_s=f"{tokens / max(time.perf_counter() - t0, 1e-9):,.0f}", refresh=False)
            if (b + 1) % cfg.train.checkpoint_every == 0 and b + 1 < len(batches):
                now = time.perf_counter()
                log["train_seconds"] += now - t0
                log["wall_seconds"] += now - wall0
                log["train_tokens"] += tokens
                save_state(state_path, model, optimizer, epoch, b + 1, step,
                           dict(log, partial_epoch={"loss_sum": loss_sum, "tokens": epoch_tokens}))
                t0 = wall0 = time.perf_counter()
                tokens = 0
            if stop_after is not None and step >= stop_after:
                bar.close()
                return out
        bar.close()
        log["train_seconds"] += time.perf_counter() - t0
        log["train_tokens"] += tokens
        bleu = dev_bleu(model, src_vocab, tgt_vocab, dev, device)
        log["wall_seconds"] += time.perf_counter() - wall0   # training + dev evaluation (not data loading)
        log["epochs"].append({"epoch": epoch + 1, "dev_bleu": round(bleu, 2),
                              "train_loss": round(loss_sum / epoch_tokens, 4)})
        print(f"{cfg.name} epoch {epoch + 1}: dev BLEU {bleu:.1f}", file=sys.stderr)
        epoch, start_batch = epoch + 1, 0
        save_state(state_path, model, optimizer, epoch, 0, step, log)
        if keep_epochs:
            export(out / f"epoch-{epoch}", model, cfg, src_vocab, tgt_vocab, log, step, device)
    return export(out / "model", model, cfg, src_vocab, tgt_vocab, log, step, device)


def export(directory: Path, model, cfg: RunConfig, src_vocab, tgt_vocab, log: dict, step: int, device) -> Path:
    """The loadable model directory, with the training log (wall time, tokens/s) beside it."""
    log = dict(log, tokens_per_second=round(log["train_tokens"] / max(log["train_seconds"], 1e-9), 1),
               device=str(device), torch_threads=torch.get_num_threads(), steps=step)
    cpu_copy = build_model(cfg.model, len(src_vocab), len(tgt_vocab))
    cpu_copy.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    model_dir = save_model(directory, cpu_copy, cfg.model, src_vocab, tgt_vocab, cfg.name,
                           extra={"run": cfg.to_dict(), "package_version": __version__, "corpus_sha256": CORPUS_SHA256})
    atomic_write_json(model_dir / "train_log.json", log)
    return model_dir


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m attention_course.train", description=__doc__.splitlines()[0])
    p.add_argument("config", help="a JSON config, e.g. lib/attention_course/configs/bahdanau.json")
    p.add_argument("--out", help="output folder (default: runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/training_state.safetensors")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--epochs", type=int, help="override the number of epochs")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--keep-epochs", action="store_true", help="also export OUT/epoch-K after every epoch")
    args = p.parse_args(argv)
    cfg = RunConfig.load(args.config)
    if args.epochs:
        cfg.train.epochs = args.epochs
    out = Path(args.out or Path("runs") / cfg.name)
    model_dir = train(cfg, out, resume=args.resume, device=args.device, progress=not args.no_progress,
                      keep_epochs=args.keep_epochs)
    print(f"saved {model_dir} (sha256 {sha256_file(model_dir / 'model.safetensors')[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
