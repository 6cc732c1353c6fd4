"""Train a model: ``python -m attention_course.train CONFIG [--out DIR] [--resume]``.

CONFIG is a JSON file (one per shipped model in ``attention_course/configs``) with
``name``, ``model`` (see :class:`ModelConfig`), ``data`` and ``train`` settings.
Every setting is checked before any data is loaded (the rules: :mod:`attention_course.train_config`),
and so are ``--epochs``, ``--device`` and that ``--out`` can be written; a wrong one ends the
command with exit status 2 and one line naming it, its value and what is allowed.
Progress shows loss and target tokens/s; dev BLEU is printed after each epoch; the
full training state is written atomically every ``checkpoint_every`` batches and at
each epoch's end, and ``--resume`` continues from it exactly (same batches, same
random numbers), so an interrupted run ends with the same parameters.

The run's settings are written to ``OUT/run_config.json`` when it starts (a config that can be
given again) and with every saved state. ``--resume`` refuses settings that differ from those
the state was saved with, and lists them (``key: stored → given``); only ``train.epochs`` (to
extend a run), ``train.threads``, ``train.checkpoint_every``, the description and ``--device``
may change. It also refuses training data (vocabularies and encoded pairs) that differ from
those the run started with, e.g. because ``ATTENTION_COURSE_DATA`` points at another corpus.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
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
from .models.seq2seq import ModelConfig, Seq2Seq, build_model  # noqa: F401 (ModelConfig: documented above)
from .train_config import (ConfigError, DataConfig, RunConfig, TrainConfig,  # noqa: F401 (re-exported)
                           check_setting, settings_differences, show)
from .translator import Translator

STATE_FILE = "training_state.safetensors"
SETTINGS_FILE = "run_config.json"


class ResumeError(ConfigError):
    """The run in the output folder cannot be resumed with these settings or this training data."""


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

def save_state(path: Path, model, optimizer, epoch: int, batch: int, step: int, log: dict,
               settings: dict | None = None, data: dict | None = None) -> None:
    """Write the training state; ``settings`` (the run's config dict) and ``data`` (the
    :func:`data_fingerprint`) go into its metadata, so that a resumed run can be checked against them."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors = {k: v.clone() for k, v in tensors.items()}  # untie shared storage for safetensors
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for key, val in st.items():
            tensors[f"optim.{pid}.{key}"] = val.detach().cpu().clone().reshape(val.shape)
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"epoch": epoch, "batch": batch, "step": step, "log": log, "param_groups": opt["param_groups"],
            "python_random": random.getstate()}
    if settings is not None:
        meta["settings"] = settings
    if data is not None:
        meta["data"] = data
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


def read_state_meta(path: Path) -> dict:
    """The metadata of a training state (epoch, batch, step, log, settings, ...), read from its header only."""
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads(f.metadata()["state"])
        if not isinstance(meta, dict) or not {"epoch", "batch", "step", "log"} <= set(meta):
            raise ValueError("its metadata lack epoch, batch, step or log")
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as e:
        raise ResumeError(f"the training state {path} cannot be read ({e}); delete it to start the run over, "
                          f"or train into another --out folder") from None
    return meta


def load_state(path: Path, model, optimizer) -> tuple[int, int, int, dict]:
    meta = read_state_meta(path)
    tensors = load_file(str(path))
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as e:   # sizes that do not fit: another model or other vocabularies
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise ResumeError(f"the training state {path} does not fit the model built from these settings and "
                          f"this corpus ({first}); resume with the settings and corpus the run was started "
                          f"with, or train into another --out folder") from None
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


def data_fingerprint(src_vocab: Vocabulary, tgt_vocab: Vocabulary, encoded) -> dict:
    """Sizes and a sha256 of the vocabularies and encoded training pairs a run trains on."""
    digest = hashlib.sha256(json.dumps([src_vocab.itos, tgt_vocab.itos, encoded], ensure_ascii=False).encode())
    return {"source_vocabulary": len(src_vocab), "target_vocabulary": len(tgt_vocab), "pairs": len(encoded),
            "sha256": digest.hexdigest()}


def resolve_device(device: str | None) -> str:
    """``device`` checked (a ConfigError when this machine does not have it); None: cuda when available."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    allowed = "expected cpu, cuda or cuda:N"
    try:
        d = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device is {show(device)}, {allowed}") from None
    if d.type == "cpu":
        return device
    if d.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ConfigError(f"--device is {show(device)}, but CUDA is not available on this machine; "
                              f"expected cpu")
        if d.index is not None and d.index >= n:
            raise ConfigError(f"--device is {show(device)}, expected cpu, cuda or cuda:0 to cuda:{n - 1} "
                              f"on this machine")
        return device
    if d.type == "mps" and torch.backends.mps.is_available():
        return device
    raise ConfigError(f"--device is {show(device)}, {allowed}")


def prepare_output(out: Path, cfg: RunConfig) -> None:
    """Create the output folder and write the run's settings into it (``run_config.json``),
    or raise a one-line ConfigError when that folder cannot be written."""
    expected = "expected a folder that can be written, or created"
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "a file" if existing == out else f"under the file {existing}"
        raise ConfigError(f"--out is {out}, {where}; {expected}")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        where = "a folder" if existing == out else f"to be created in the folder {existing}"
        raise ConfigError(f"--out is {out}, {where} that is not writable; {expected}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / SETTINGS_FILE, cfg.to_dict())
    except OSError as e:
        raise ConfigError(f"--out is {out}, which cannot be written ({e.strerror or e}); {expected}") from None


def stored_settings(out: Path, meta: dict) -> tuple[dict | None, str]:
    """The settings a run was saved with, and where they were found: the state's metadata, else
    (a state written before settings were stored) the run config of a model the run exported."""
    if isinstance(meta.get("settings"), dict):
        return meta["settings"], str(out / STATE_FILE)

    def number(path: Path) -> int:
        k = path.parent.name.removeprefix("epoch-")
        return int(k) if k.isdigit() else -1

    epochs = sorted(out.glob("epoch-*/config.json"), key=number, reverse=True)
    for path in [out / "model" / "config.json", *epochs]:
        try:
            run = json.loads(path.read_text(encoding="utf-8")).get("run")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(run, dict):
            return run, str(path)
    return None, ""


def check_resume(cfg: RunConfig, out: Path, meta: dict) -> None:
    """Refuse (ResumeError) to resume the run in ``out``, saved with ``meta``, with other settings."""
    stored, source = stored_settings(out, meta)
    if stored is None:
        print(f"warning: {out / STATE_FILE} holds no settings (a run started before they were stored): "
              f"resuming it with those of {cfg.name!r}, unchecked", file=sys.stderr)
    else:
        differences = settings_differences(stored, cfg.to_dict())
        if differences:
            lines = "".join(f"\n  {key}: {show(old)} → {show(new)}" for key, old, new in differences)
            raise ResumeError(
                f"cannot resume the run in {out}: {len(differences)} setting(s) differ from those it was started "
                f"with ({source}); resume it with those (only train.epochs, train.threads, train.checkpoint_every, "
                f"the description and --device may change), or train into another --out folder:{lines}")
    done, started = meta["epoch"], meta["batch"] > 0
    if cfg.train.epochs < done + started:
        what = f"{done} epoch(s)" + (f" and part of epoch {done + 1}" if started else "")
        raise ResumeError(f"train.epochs is {cfg.train.epochs}, but the run in {out} has already trained {what}; "
                          f"expected train.epochs >= {done + started} to resume it (e.g. --epochs {done + started})")


def train(cfg: RunConfig, out: Path, resume: bool = False, device: str | None = None,
          corpus: str | None = None, progress: bool = True, stop_after: int | None = None,
          keep_epochs: bool = False) -> Path:
    """Train ``cfg`` into ``out``; returns the exported model directory ``out/model``.

    ``keep_epochs`` also exports the model after every epoch (``out/epoch-K``).
    ``stop_after`` ends the run after that many batches in total (used by tests to simulate an interruption).

    Before any data is loaded or anything written, the settings and the device are checked, and a
    resumed run's settings are compared with the stored ones: :class:`ConfigError` (or its subclass
    :class:`ResumeError`) says what is wrong. Then the output folder is created (or found not writable:
    ConfigError) and ``run_config.json`` written into it; after loading the data, a resumed run's
    training data are compared with those it was saved with (ResumeError).
    """
    cfg.validate()
    device = resolve_device(device)
    out = Path(out)
    state_path = out / STATE_FILE
    resuming = resume and state_path.exists()
    meta = read_state_meta(state_path) if resuming else None
    if resuming:
        check_resume(cfg, out, meta)
    prepare_output(out, cfg)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)
    random.seed(cfg.train.seed)
    src_vocab, tgt_vocab, encoded, dev = prepare_data(cfg, corpus)
    if not encoded:
        raise ConfigError(f"data.max_len is {cfg.data.max_len}, but no training pair is that short "
                          f"(of {cfg.data.subset or 'all'} pairs); expected a larger one")
    data = data_fingerprint(src_vocab, tgt_vocab, encoded)
    if resuming and meta.get("data") not in (None, data):
        then, now = meta["data"], data
        raise ResumeError(
            f"cannot resume the run in {out}: the training data differ from those it was started with "
            f"(then {then.get('pairs')} pairs, vocabularies of {then.get('source_vocabulary')} / "
            f"{then.get('target_vocabulary')} words; now {now['pairs']} pairs, {now['source_vocabulary']} / "
            f"{now['target_vocabulary']} words): is ATTENTION_COURSE_DATA another corpus than then?")
    model = build_model(cfg.model, len(src_vocab), len(tgt_vocab)).to(device)
    optimizer = make_optimizer(model, cfg.train.lr)
    dtype = projection_dtype(cfg.train.projection, device)
    settings = cfg.to_dict()
    epoch, start_batch, step = 0, 0, 0
    log = {"epochs": [], "train_seconds": 0.0, "train_tokens": 0, "wall_seconds": 0.0}
    if resuming:
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
                           dict(log, partial_epoch={"loss_sum": loss_sum, "tokens": epoch_tokens}), settings, data)
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
        save_state(state_path, model, optimizer, epoch, 0, step, log, settings, data)
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
    p.add_argument("--epochs", type=int, help="override the number of epochs (also to extend a run with --resume)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--keep-epochs", action="store_true", help="also export OUT/epoch-K after every epoch")
    args = p.parse_args(argv)
    try:
        cfg = RunConfig.load(args.config)
        if args.epochs is not None:
            cfg.train.epochs = check_setting("train.epochs", args.epochs, origin="from --epochs")
        out = Path(args.out or Path("runs") / cfg.name)
        model_dir = train(cfg, out, resume=args.resume, device=args.device, progress=not args.no_progress,
                          keep_epochs=args.keep_epochs)
    except ConfigError as e:   # a wrong setting: its one-line message, no traceback (argparse's convention)
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    print(f"saved {model_dir} (sha256 {sha256_file(model_dir / 'model.safetensors')[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
