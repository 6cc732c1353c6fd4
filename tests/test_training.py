"""Training: a tiny model learns 20 invented sentence pairs by heart; an interrupted run
(stopped, or killed with SIGKILL in the middle of an epoch) resumes to exactly the parameters
of an uninterrupted one; checkpoints are written atomically.

The resume tests train on a slice of the real corpus, copied into a temporary folder (never
into the repository); they are skipped when the corpus cannot be located, unless CI is set.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from attention_course import train as train_module
from attention_course.checkpoint import load_model
from attention_course.data import read_pairs, tokenize
from attention_course.data.batching import make_batch
from attention_course.data.vocabulary import Vocabulary
from attention_course.models import ModelConfig, build_model
from attention_course.search import greedy_search
from attention_course.train import (RunConfig, learning_rate, load_state, make_optimizer, projection_dtype,
                                    save_state, train, training_step)
from attention_course.translator import Translator

from helpers_models import corpus_or_skip, one_thread, random_batch, tiny_model  # noqa: F401 (one_thread: autouse fixture)

# Invented for this test (none of them is in the corpus).
PAIRS = [
    ("The purple giraffe sings.", "La girafe violette chante."),
    ("My robot eats green soup.", "Mon robot mange de la soupe verte."),
    ("The tiny dragon sleeps.", "Le petit dragon dort."),
    ("Seven penguins play chess.", "Sept pingouins jouent aux échecs."),
    ("The orange whale reads.", "La baleine orange lit."),
    ("My neighbour's cactus dances.", "Le cactus de mon voisin danse."),
    ("A silver fox paints clouds.", "Un renard argenté peint des nuages."),
    ("The lazy moon drinks tea.", "La lune paresseuse boit du thé."),
    ("Nine owls sell hats.", "Neuf hiboux vendent des chapeaux."),
    ("The blue kettle whistles loudly.", "La bouilloire bleue siffle fort."),
    ("Our submarine collects stamps.", "Notre sous-marin collectionne des timbres."),
    ("The clever snail drives slowly.", "L'escargot malin conduit lentement."),
    ("Two wizards bake bread.", "Deux sorciers font du pain."),
    ("The giant teapot travels.", "La théière géante voyage."),
    ("My umbrella tells jokes.", "Mon parapluie raconte des blagues."),
    ("The red tractor knits.", "Le tracteur rouge tricote."),
    ("A shy volcano whispers.", "Un volcan timide chuchote."),
    ("The golden spoon swims.", "La cuillère dorée nage."),
    ("Three lamps climb mountains.", "Trois lampes escaladent des montagnes."),
    ("The sleepy comet hums.", "La comète endormie fredonne."),
]


@pytest.mark.parametrize("decoder, attention, projection", [
    ("bahdanau", "general", "float32"), ("luong", "general", "float32"), ("bahdanau", "general", "bfloat16")])
def test_a_tiny_model_learns_twenty_invented_pairs_by_heart(decoder, attention, projection):
    src = [tokenize(en, "en") for en, _ in PAIRS]
    tgt = [tokenize(fr, "fr") for _, fr in PAIRS]
    src_vocab, tgt_vocab = Vocabulary.build(src, min_freq=1), Vocabulary.build(tgt, min_freq=1)
    batch = make_batch([src_vocab.encode(s) for s in src], [tgt_vocab.encode(t) for t in tgt])
    torch.manual_seed(0)
    cfg = ModelConfig(decoder=decoder, attention=attention, emb_size=32, hidden_size=32, decoder_size=64,
                      attention_size=64, dropout=0.0)
    model = build_model(cfg, len(src_vocab), len(tgt_vocab))
    optimizer = make_optimizer(model, lr=0.01)
    dtype = projection_dtype(projection, "cpu")
    first_loss, correct = None, 0
    for step in range(1, 301):
        model.train()
        loss = training_step(model, optimizer, batch, clip=1.0, dtype=dtype)   # what the training CLI runs
        first_loss = first_loss or float(loss)
        if step % 10 == 0:
            results = greedy_search(model, batch.src, batch.src_lengths)
            correct = sum(tgt_vocab.decode(r.tokens) == t for r, t in zip(results, tgt))
            if correct == len(PAIRS):
                break
    assert correct == len(PAIRS), f"only {correct}/20 pairs reproduced after {step} steps"
    assert float(loss) < first_loss / 10
    # the same through the Translator, from text to text
    tr = Translator(model, src_vocab, tgt_vocab)
    assert [t.text for t in tr.translate_batch([en for en, _ in PAIRS])] == [fr for _, fr in PAIRS]


def test_projection_precision_setting():
    assert projection_dtype("float32", "cpu") is None
    assert projection_dtype("bfloat16", "cpu") is torch.bfloat16
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()      # bf16 in hardware: auto uses it
    assert projection_dtype("auto", "cpu") is (torch.bfloat16 if native else None)
    assert projection_dtype("auto", "cuda") is None
    with pytest.raises(ValueError, match="auto, float32 or bfloat16"):
        projection_dtype("half", "cpu")
    assert RunConfig.from_dict({"name": "x"}).train.projection == "auto"


def test_learning_rate_decays_per_epoch():
    cfg = RunConfig.from_dict({"name": "x", "train": {"lr": 0.01, "lr_decay": 0.5}}).train
    assert [learning_rate(cfg, e) for e in range(3)] == pytest.approx([0.01, 0.005, 0.0025])
    with pytest.raises(ValueError, match="unknown config sections"):
        RunConfig.from_dict({"name": "x", "optimizer": {}})


# ------------------------------------------------------------------------------------------
# Resuming: a slice of the real corpus, a tiny model, 3 epochs of 19 batches
# ------------------------------------------------------------------------------------------

CONFIG = {
    "name": "tiny-resume",
    "model": {"decoder": "bahdanau", "emb_size": 16, "hidden_size": 16, "decoder_size": 32,
              "attention_size": 32, "dropout": 0.2},          # dropout: the random state must be restored too
    "data": {"subset": 300, "dev_subset": 20, "min_freq": 2},
    "train": {"epochs": 3, "batch_size": 16, "checkpoint_every": 4, "threads": 1, "seed": 7},
}
BATCHES_PER_EPOCH = 19   # 300 pairs / 16


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """Every 100th pair of the real corpus as a fra.txt in a temporary folder (fast to load)."""
    pairs = read_pairs(corpus_or_skip())
    path = tmp_path_factory.mktemp("corpus") / "fra.txt"
    path.write_text("".join(f"{en}\t{fr}\n" for en, fr in pairs[::100]), encoding="utf-8")
    return path


def run_in_process(out: Path, corpus: Path, **kw) -> Path:
    threads = torch.get_num_threads()
    try:
        return train(RunConfig.from_dict(CONFIG), out, device="cpu", corpus=str(corpus), progress=False, **kw)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def uninterrupted(small_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    run_in_process(out, small_corpus)
    return out


def assert_same_tensors(a: Path, b: Path) -> None:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert sorted(ta) == sorted(tb)
    different = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def assert_no_temporary_files(folder: Path) -> None:
    leftovers = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def test_the_uninterrupted_run_exports_a_loadable_model(uninterrupted):
    model, config, src_vocab, tgt_vocab = load_model(uninterrupted / "model")
    assert config["run"] == RunConfig.from_dict(CONFIG).to_dict()
    log = json.loads((uninterrupted / "model" / "train_log.json").read_text(encoding="utf-8"))
    assert [e["epoch"] for e in log["epochs"]] == [1, 2, 3]
    assert log["steps"] == 3 * BATCHES_PER_EPOCH and log["tokens_per_second"] > 0
    t = Translator(model, src_vocab, tgt_vocab).translate("The purple giraffe sings.")
    assert isinstance(t.text, str)
    assert_no_temporary_files(uninterrupted)


@pytest.mark.parametrize("stop_after", [6, 2 * BATCHES_PER_EPOCH + 1])
def test_stop_and_resume_gives_the_same_parameters(stop_after, small_corpus, uninterrupted, tmp_path):
    """Stopped after ``stop_after`` batches (between two checkpoints), then resumed."""
    run_in_process(tmp_path, small_corpus, stop_after=stop_after)
    assert not (tmp_path / "model").exists()
    with safe_open(str(tmp_path / "training_state.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["state"])
    assert meta["step"] < stop_after, "the state on disk is the last checkpoint before the stop"
    run_in_process(tmp_path, small_corpus, resume=True)
    assert_same_tensors(tmp_path / "model" / "model.safetensors", uninterrupted / "model" / "model.safetensors")
    assert_same_tensors(tmp_path / "training_state.safetensors", uninterrupted / "training_state.safetensors")
    log = json.loads((tmp_path / "model" / "train_log.json").read_text(encoding="utf-8"))
    ref = json.loads((uninterrupted / "model" / "train_log.json").read_text(encoding="utf-8"))
    assert [e["dev_bleu"] for e in log["epochs"]] == [e["dev_bleu"] for e in ref["epochs"]]
    # the epoch cut by the stop still logs its loss over all its batches, and its time before the stop
    assert [e["train_loss"] for e in log["epochs"]] == [e["train_loss"] for e in ref["epochs"]]
    assert log["train_tokens"] == ref["train_tokens"] and log["wall_seconds"] >= log["train_seconds"]
    assert_no_temporary_files(tmp_path)


def cli(config: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "attention_course.train", str(config), "--out", str(out), "--no-progress",
            "--device", "cpu", *extra]


def test_sigkill_in_the_middle_of_an_epoch_then_resume(small_corpus, uninterrupted, tmp_path, monkeypatch, capfd):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    out = tmp_path / "run"
    env = dict(os.environ, ATTENTION_COURSE_DATA=str(small_corpus), TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    state_path = out / "training_state.safetensors"
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(cli(config, out), env=env, stdout=log, stderr=subprocess.STDOUT)
    seen, deadline = None, time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if state_path.exists():
                # every read must find a whole file: it is only ever replaced, never written in place
                with safe_open(str(state_path), "pt") as f:
                    meta = json.loads(f.metadata()["state"])
                if meta["batch"] > 0:          # a mid-epoch checkpoint
                    os.kill(proc.pid, signal.SIGKILL)
                    seen = meta
                    break
            time.sleep(0.002)
    finally:
        if proc.poll() is None and seen is None:
            proc.kill()
        proc.wait(timeout=30)
        log.close()
    output = (tmp_path / "killed.log").read_text(encoding="utf-8", errors="replace")
    assert seen is not None, f"no mid-epoch checkpoint was seen (exit {proc.returncode}):\n{output[-3000:]}"
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model").exists(), "the run had already finished: the kill came too late to test anything"
    epoch, batch, step, _ = load_state(state_path, _model_for(small_corpus), _optimizer_for(small_corpus))
    assert step >= seen["step"]                               # the file is whole and loads
    # resume through the same command line, in this process (a second interpreter would only add start-up time)
    monkeypatch.setenv("ATTENTION_COURSE_DATA", str(small_corpus))
    threads = torch.get_num_threads()
    try:
        assert train_module.main(cli(config, out, "--resume")[3:]) == 0
    finally:
        torch.set_num_threads(threads)
    assert "resuming tiny-resume" in capfd.readouterr().err
    assert_same_tensors(out / "model" / "model.safetensors", uninterrupted / "model" / "model.safetensors")
    assert_no_temporary_files(out)


_MODELS: dict = {}


def _model_for(corpus: Path):
    """A model with the tiny config's shapes (vocabularies from the same data), to load a state into."""
    if "model" not in _MODELS:
        from attention_course.train import prepare_data
        src, tgt, _, _ = prepare_data(RunConfig.from_dict(CONFIG), str(corpus))
        _MODELS["model"] = build_model(RunConfig.from_dict(CONFIG).model, len(src), len(tgt))
        _MODELS["optimizer"] = torch.optim.Adam(_MODELS["model"].parameters())
    return _MODELS["model"]


def _optimizer_for(corpus: Path):
    _model_for(corpus)
    return _MODELS["optimizer"]


def test_a_crash_while_saving_the_state_keeps_the_previous_state(tmp_path, monkeypatch):
    model = tiny_model("bahdanau", dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters())
    batch = random_batch()
    model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out).backward()
    optimizer.step()                                   # so the optimizer has a state to save
    path = tmp_path / "training_state.safetensors"
    save_state(path, model, optimizer, epoch=1, batch=4, step=23, log={"epochs": []})
    before = path.read_bytes()

    def crash(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a st")     # a partial write, then the process "dies"
        raise OSError("disk full")

    monkeypatch.setattr(train_module, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, model, optimizer, epoch=1, batch=8, step=27, log={"epochs": []})
    assert path.read_bytes() == before
    assert load_state(path, model, optimizer)[:3] == (1, 4, 23)
    assert_no_temporary_files(tmp_path)
