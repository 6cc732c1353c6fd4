"""The training command's settings: every setting is checked before any data is loaded, and a wrong
one ends the command with exit status 2 and one line naming it, its value and what is allowed;
``--out`` must be writable; ``--resume`` refuses settings (or training data) that differ from those
the run was started with, except the few that may change (train_config.MAY_CHANGE_ON_RESUME).

The command runs in this process (``train.main``); the runs train a tiny model for one or two
epochs on an invented corpus of 384 sentence pairs written into a temporary folder, so nothing here
needs the real corpus. Tests that must not load data replace the corpus loaders by a failure.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from attention_course import train as train_module
from attention_course.models import ModelConfig

from helpers_models import one_thread  # noqa: F401 (autouse fixture)

CONFIGS = Path(train_module.__file__).parent / "configs"
PROG = "python -m attention_course.train: error: "

CONFIG = {
    "name": "tiny-cli",
    "model": {"decoder": "bahdanau", "emb_size": 8, "hidden_size": 8, "decoder_size": 16,
              "attention_size": 16, "dropout": 0.1},
    "data": {"subset": 200, "dev_subset": 4, "min_freq": 1},
    "train": {"epochs": 1, "batch_size": 16, "lr": 0.002, "checkpoint_every": 4, "threads": 1, "seed": 3},
}

SUBJECTS = [("The cat", "Le chat"), ("The dog", "Le chien"), ("My friend", "Mon ami"),
            ("The teacher", "Le professeur"), ("His brother", "Son frère"), ("The child", "L'enfant"),
            ("Our neighbour", "Notre voisin"), ("The doctor", "Le médecin")]
VERBS = [("sees", "voit"), ("likes", "aime"), ("wants", "veut"), ("finds", "trouve"), ("buys", "achète"),
         ("reads", "lit")]
OBJECTS = [("the apple", "la pomme"), ("a book", "un livre"), ("the bread", "le pain"), ("the car", "la voiture"),
           ("a letter", "une lettre"), ("the map", "la carte"), ("a chair", "une chaise"), ("the key", "la clé")]
OTHER_OBJECTS = [("the river", "la rivière"), ("a horse", "un cheval"), ("the garden", "le jardin"),
                 ("the boat", "le bateau"), ("a song", "une chanson"), ("the cake", "le gâteau"),
                 ("a window", "une fenêtre"), ("the moon", "la lune")]


def write_corpus(folder: Path, objects) -> Path:
    """384 invented pairs ("The cat sees the apple." ...) as a fra.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{s} {v} {o}.\t{fs} {fv} {fo}.\n" for s, fs in SUBJECTS for v, fv in VERBS for o, fo in objects]
    (folder / "fra.txt").write_text("".join(lines), encoding="utf-8")
    return folder / "fra.txt"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"), OBJECTS)


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path_factory, corpus):
    monkeypatch.setenv("ATTENTION_COURSE_DATA", str(corpus))
    monkeypatch.setenv("ATTENTION_COURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("TQDM_DISABLE", "1")


@pytest.fixture
def no_data(monkeypatch):
    """Loading any data fails the test: what is checked must be checked before."""
    def loaded(*args, **kwargs):
        raise AssertionError("the corpus was loaded although a setting was wrong")
    for target in ("attention_course.train.prepare_data", "attention_course.train.load_splits",
                   "attention_course.train.test_set", "attention_course.data.split._cached_splits",
                   "attention_course.data.corpus._read_text"):
        monkeypatch.setattr(target, loaded)


def run_main(tmp_path: Path, config: dict | str, *extra: str, out: Path | None = None) -> int:
    """``python -m attention_course.train CONFIG --out OUT ...`` in this process; returns its exit status."""
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
    argv = [str(path), "--out", str(out or tmp_path / "run"), "--no-progress", "--device", "cpu", *extra]
    threads = torch.get_num_threads()
    try:
        return train_module.main(argv)
    finally:
        torch.set_num_threads(threads)


def one_error_line(capsys) -> str:
    """The command's only output: one line on stderr, argparse style, with no traceback."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, f"expected one line on stderr, got:\n{captured.err}"
    assert lines[0].startswith(PROG) and "Traceback" not in captured.err
    return lines[0][len(PROG):]


def changed(section: str | None, key: str, value) -> dict:
    d = copy.deepcopy(CONFIG)
    if section:
        d[section][key] = value
    else:
        d[key] = value
    return d


# ------------------------------------------------------------------------------------------
# Validation: before any data is loaded, one line, exit status 2
# ------------------------------------------------------------------------------------------

# (section, key, value, what the message must say about the allowed values). The model section is
# checked by checkpoint.validate_model_config, whose wording this only samples.
OUT_OF_RANGE = [
    ("train", "epochs", 0, "an integer >= 1"),
    ("train", "epochs", -2, "an integer >= 1"),
    ("train", "epochs", 1.5, "an integer >= 1"),
    ("train", "batch_size", 0, "an integer >= 1"),
    ("train", "batch_size", -16, "an integer >= 1"),
    ("train", "checkpoint_every", 0, "an integer >= 1"),
    ("train", "lr", 0, "a number > 0"),
    ("train", "lr", "0.001", "a number > 0"),
    ("train", "lr_decay", 1.5, "a number > 0 and <= 1"),
    ("train", "clip", -1.0, "a number > 0"),
    ("train", "seed", -1, "an integer from 0 to 4294967295"),
    ("train", "threads", 0, "an integer >= 1 or null"),
    ("train", "projection", "half", "one of auto, float32, bfloat16"),
    ("data", "max_len", 0, "an integer >= 1"),
    ("data", "subset", -5, "an integer >= 1 or null"),
    ("data", "dev_subset", 0, "an integer >= 1 or null"),
    ("data", "min_freq", 0, "an integer >= 1"),
    ("model", "decoder", "perceiver", "one of context-init, context-every-step, bahdanau, luong, transformer"),
    ("model", "attention", "additive", "one of "),
    ("model", "local_score", "local-p", "one of "),
    ("model", "window", 0, "an integer"),
    ("model", "input_feeding", "yes", "true or false"),
    ("model", "emb_size", 0, "an integer"),
    ("model", "hidden_size", 12.5, "an integer"),
    ("model", "decoder_size", True, "an integer"),
    ("model", "attention_size", -1, "an integer"),
    ("model", "dropout", 1.0, "a number"),
    (None, "name", "", "a non-empty string"),
    (None, "name", "../elsewhere", "a non-empty string without /"),
    (None, "description", 3, "a string or null"),
]


def shown(value) -> tuple[str, str]:
    return json.dumps(value), repr(value)     # as JSON (here) or as Python writes it (validate_model_config)


@pytest.mark.parametrize("section, key, value, allowed", OUT_OF_RANGE,
                         ids=[f"{s or 'top'}.{k}={json.dumps(v)}" for s, k, v, _ in OUT_OF_RANGE])
def test_a_setting_out_of_range_is_one_line_before_any_data(section, key, value, allowed, tmp_path, capsys, no_data):
    assert run_main(tmp_path, changed(section, key, value)) == 2
    message = one_error_line(capsys)
    name = f"{section}.{key}" if section else key
    assert message.startswith(f"{tmp_path / 'config.json'}: {name} is ")
    assert any(f"{name} is {v}, expected {allowed}" in message for v in shown(value)), message
    assert not (tmp_path / "run").exists(), "nothing is written for a wrong setting"


def every_setting() -> list[tuple[str | None, str]]:
    """Every key of every shipped config, every field of the three sections, name and description."""
    keys = {(None, "name"), (None, "description")}
    keys |= {("model", f) for f in ModelConfig.__dataclass_fields__}
    keys |= {("data", f) for f in train_module.DataConfig.__dataclass_fields__}
    keys |= {("train", f) for f in train_module.TrainConfig.__dataclass_fields__}
    for path in CONFIGS.glob("*.json"):
        d = json.loads(path.read_text(encoding="utf-8"))
        keys |= {(None, k) for k in d if not isinstance(d[k], dict)}
        keys |= {(s, k) for s, v in d.items() if isinstance(v, dict) for k in v}
    return sorted(keys, key=lambda k: (k[0] or "", k[1]))


@pytest.mark.parametrize("section, key", every_setting(), ids=[f"{s or 'top'}.{k}" for s, k in every_setting()])
def test_every_setting_is_checked(section, key, tmp_path, capsys, no_data):
    """A JSON list fits no setting: each one is refused, by name, before any data is loaded."""
    assert run_main(tmp_path, changed(section, key, [7])) == 2
    name = f"{section}.{key}" if section else key
    assert one_error_line(capsys).startswith(f"{tmp_path / 'config.json'}: {name} is [7], expected ")


def test_every_model_the_rules_allow_can_be_built():
    """The model rules are complete: whatever they accept builds (so it cannot fail after the data loaded)."""
    import itertools
    from attention_course.models import build_model
    from attention_course.models.seq2seq import DECODERS
    from attention_course.train_config import ConfigError, validate_config
    scores = ("dot", "general", "concat")
    built = 0
    for decoder, attention, score, feeding, decoder_size in itertools.product(
            DECODERS, ("bahdanau", *scores, "local-m", "local-p"), scores, (True, False), (6, 8)):
        model = dict(decoder=decoder, attention=attention, local_score=score, input_feeding=feeding, window=1,
                     emb_size=2, hidden_size=4, decoder_size=decoder_size, attention_size=3, dropout=0.0)
        try:
            validate_config({"name": "x", "model": model})
        except ConfigError:
            assert decoder_size == 6 and "dot" in (attention, score)
            continue
        build_model(ModelConfig(**model), 5, 5)
        built += 1
    assert built > 100


def test_every_shipped_config_is_valid():
    for path in sorted(CONFIGS.glob("*.json")):
        cfg = train_module.RunConfig.load(path)
        assert cfg.name == path.stem


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_on_the_command_line_is_checked(epochs, tmp_path, capsys, no_data):
    """--epochs 0 used to be ignored (a falsy check), training for the config's epochs."""
    assert run_main(tmp_path, CONFIG, "--epochs", epochs) == 2
    assert one_error_line(capsys) == f"train.epochs is {epochs} (from --epochs), expected an integer >= 1"


@pytest.mark.parametrize("text, expected", [
    ('{"name": "x",, }', "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 14)"),
    ('[1, 2]', "the config is [1, 2], expected a JSON object with name, model, data and train"),
    ('{"name": "x", "train": {"lr": 0.1, "lr": 0.2}}', "lr is given twice in one JSON object (0.1 and 0.2)"),
    ('{"model": {}}', "name is missing, expected a non-empty string"),
    ('{"name": "x", "optimizer": {"lr": 1}}',
     'optimizer is {"lr": 1}, but there is no such config section (unknown config sections are refused)'),
    ('{"name": "x", "train": {"epoch": 3}}',
     "train.epoch is 3, but there is no such train setting (did you mean epochs?); known: epochs, batch_size"),
    ('{"name": "x", "model": {"dropot": 0.1}}',
     "model.dropot is 0.1, but there is no such model setting (did you mean dropout?); known: decoder,"),
    ('{"name": "x", "data": [1]}', "data is [1], expected a JSON object of data settings"),
    ('{"name": "x", "model": {"decoder": "luong", "attention": "dot", "hidden_size": 8, "decoder_size": 12}}',
     "model.decoder_size is 12"),
    ('{"name": "x", "model": {"decoder": "luong", "attention": "local-m", "local_score": "dot", "hidden_size": 8, '
     '"decoder_size": 12}}', "model.decoder_size is 12"),
])
def test_a_broken_config_file_is_one_line(text, expected, tmp_path, capsys, no_data):
    assert run_main(tmp_path, text) == 2
    message = one_error_line(capsys)
    assert message.startswith(f"{tmp_path / 'config.json'}: ") and expected in message, message


def test_a_missing_config_file_is_one_line(tmp_path, capsys, no_data):
    missing = tmp_path / "nowhere.json"
    assert train_module.main([str(missing), "--out", str(tmp_path / "run")]) == 2
    assert one_error_line(capsys) == f"cannot read the config {missing}: No such file or directory"


def test_an_unknown_device_is_one_line(tmp_path, capsys, no_data):
    assert run_main(tmp_path, CONFIG, "--device", "gpu") == 2
    assert one_error_line(capsys) == '--device is "gpu", expected cpu, cuda or cuda:N'


# ------------------------------------------------------------------------------------------
# --out must be writable before training starts
# ------------------------------------------------------------------------------------------

def test_out_under_a_file(tmp_path, capsys, no_data):
    (tmp_path / "a-file").write_text("not a folder")
    assert run_main(tmp_path, CONFIG, out=tmp_path / "a-file" / "run") == 2
    assert one_error_line(capsys) == (f"--out is {tmp_path / 'a-file' / 'run'}, under the file {tmp_path / 'a-file'}; "
                                      f"expected a folder that can be written, or created")
    assert run_main(tmp_path, CONFIG, out=tmp_path / "a-file") == 2
    assert one_error_line(capsys).startswith(f"--out is {tmp_path / 'a-file'}, a file; expected a folder")


def test_out_in_a_read_only_folder(tmp_path, capsys, monkeypatch, no_data):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:      # root may write anyway: let the folder look read-only as it would to a user
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == read_only and mode & os.W_OK
                            else access(p, mode, **kw))
    try:
        assert run_main(tmp_path, CONFIG, out=read_only / "run") == 2
        assert one_error_line(capsys) == (f"--out is {read_only / 'run'}, to be created in the folder {read_only} "
                                          f"that is not writable; expected a folder that can be written, or created")
        assert run_main(tmp_path, CONFIG, out=read_only) == 2
        assert one_error_line(capsys).startswith(f"--out is {read_only}, a folder that is not writable; expected")
    finally:
        read_only.chmod(0o755)
    assert list(read_only.iterdir()) == []


# ------------------------------------------------------------------------------------------
# Resuming only with the settings the run was started with
# ------------------------------------------------------------------------------------------

def state_meta(out: Path) -> dict:
    with safe_open(str(out / "training_state.safetensors"), "pt") as f:
        return json.loads(f.metadata()["state"])


def train_tiny(out: Path, corpus: Path, config: dict = CONFIG, **kw) -> None:
    threads = torch.get_num_threads()
    try:
        train_module.train(train_module.RunConfig.from_dict(config), out, device="cpu", corpus=str(corpus),
                           progress=False, **kw)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def interrupted(corpus, tmp_path_factory) -> Path:
    """A run stopped after 6 batches of its first epoch (its state: the checkpoint after batch 4)."""
    out = tmp_path_factory.mktemp("interrupted")
    train_tiny(out, corpus, stop_after=6)
    assert (state_meta(out)["epoch"], state_meta(out)["batch"]) == (0, 4)
    return out


@pytest.fixture(scope="module")
def two_epochs(corpus, tmp_path_factory) -> Path:
    """The same run, uninterrupted, for two epochs."""
    out = tmp_path_factory.mktemp("two-epochs")
    train_tiny(out, corpus, config=changed("train", "epochs", 2))
    return out


def copy_run(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def test_the_settings_are_stored_when_a_run_starts(interrupted):
    expected = train_module.RunConfig.from_dict(CONFIG).to_dict()
    assert json.loads((interrupted / "run_config.json").read_text(encoding="utf-8")) == expected
    assert state_meta(interrupted)["settings"] == expected
    # the stored file is itself a config the command accepts
    assert train_module.RunConfig.load(interrupted / "run_config.json").to_dict() == expected


RESUME_CHANGES = [
    ("train", "lr", 0.2, "train.lr: 0.002 → 0.2"),
    ("train", "batch_size", 32, "train.batch_size: 16 → 32"),
    ("train", "seed", 4, "train.seed: 3 → 4"),
    ("train", "lr_decay", 0.5, "train.lr_decay: 0.8 → 0.5"),
    ("train", "projection", "float32", 'train.projection: "auto" → "float32"'),
    (None, "name", "another-name", 'name: "tiny-cli" → "another-name"'),
    ("model", "hidden_size", 16, "model.hidden_size: 8 → 16"),
    ("model", "decoder", "context-init", 'model.decoder: "bahdanau" → "context-init"'),
    ("data", "min_freq", 2, "data.min_freq: 1 → 2"),
    ("data", "subset", 150, "data.subset: 200 → 150"),
]


@pytest.mark.parametrize("section, key, value, difference", RESUME_CHANGES,
                         ids=[f"{s or 'top'}.{k}" for s, k, _, _ in RESUME_CHANGES])
def test_resume_with_other_settings_is_refused(section, key, value, difference, interrupted, tmp_path, capsys,
                                               no_data):
    out = copy_run(interrupted, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run_main(tmp_path, changed(section, key, value), "--resume", out=out) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{PROG}cannot resume the run in {out}: 1 setting(s) differ") and "Traceback" not in err
    assert err.splitlines()[1:] == [f"  {difference}"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "a refused resume changes nothing"


def test_every_difference_is_listed(interrupted, tmp_path, capsys, no_data):
    config = changed("train", "lr", 0.2)
    config["train"]["batch_size"] = 32
    config["train"]["epochs"] = 3           # may change: not listed
    assert run_main(tmp_path, config, "--resume", out=copy_run(interrupted, tmp_path)) == 2
    assert capsys.readouterr().err.splitlines()[1:] == ["  train.batch_size: 16 → 32", "  train.lr: 0.002 → 0.2"]


def test_resume_may_extend_the_run_and_change_how_often_it_is_saved(interrupted, two_epochs, tmp_path, capsys):
    """epochs, checkpoint_every and the description may change: the resumed run then ends exactly
    like an uninterrupted two-epoch run."""
    out = copy_run(interrupted, tmp_path)
    config = changed("train", "checkpoint_every", 5)
    config["description"] = "extended to two epochs"
    assert run_main(tmp_path, config, "--resume", "--epochs", "2", out=out) == 0
    assert "resuming tiny-cli at epoch 1, batch 4" in capsys.readouterr().err
    for name in ("model/model.safetensors", "training_state.safetensors"):
        a, b = load_file(str(out / name)), load_file(str(two_epochs / name))
        assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a), name
    stored = json.loads((out / "run_config.json").read_text(encoding="utf-8"))
    assert stored["train"]["epochs"] == 2 and stored["train"]["checkpoint_every"] == 5
    assert state_meta(out)["settings"] == stored


def test_resume_with_fewer_epochs_than_trained_is_refused(two_epochs, tmp_path, capsys, no_data):
    out = copy_run(two_epochs, tmp_path)
    assert run_main(tmp_path, CONFIG, "--resume", out=out) == 2     # CONFIG: 1 epoch
    assert one_error_line(capsys) == (f"train.epochs is 1, but the run in {out} has already trained 2 epoch(s); "
                                      f"expected train.epochs >= 2 to resume it (e.g. --epochs 2)")


def test_resume_on_another_corpus_is_refused(interrupted, tmp_path, capsys, monkeypatch):
    """Same settings, other sentences: other vocabularies (this used to fail with a size mismatch)."""
    monkeypatch.setenv("ATTENTION_COURSE_DATA", str(write_corpus(tmp_path / "other", OTHER_OBJECTS)))
    out = copy_run(interrupted, tmp_path)
    state = (out / "training_state.safetensors").read_bytes()
    assert run_main(tmp_path, CONFIG, "--resume", out=out) == 2
    message = one_error_line(capsys)
    assert message.startswith(f"cannot resume the run in {out}: the training data differ from those it was "
                              f"started with"), message
    assert (out / "training_state.safetensors").read_bytes() == state


def test_resume_from_a_damaged_state_is_one_line(interrupted, tmp_path, capsys, no_data):
    out = copy_run(interrupted, tmp_path)
    state = out / "training_state.safetensors"
    state.write_bytes(state.read_bytes()[:100])
    assert run_main(tmp_path, CONFIG, "--resume", out=out) == 2
    message = one_error_line(capsys)
    assert message.startswith(f"the training state {state} cannot be read (") and "delete it" in message


def strip_settings(out: Path) -> None:
    """Make the state look like one written before settings were stored."""
    path = out / "training_state.safetensors"
    tensors = load_file(str(path))
    meta = {k: v for k, v in state_meta(out).items() if k not in ("settings", "data")}
    save_file(tensors, str(path), metadata={"state": json.dumps(meta)})
    (out / "run_config.json").unlink()


def test_an_older_run_is_checked_against_the_settings_of_its_exported_models(two_epochs, tmp_path, capsys, no_data):
    out = copy_run(two_epochs, tmp_path)
    strip_settings(out)
    assert run_main(tmp_path, changed("train", "lr", 0.2), "--resume", "--epochs", "3", out=out) == 2
    err = capsys.readouterr().err
    assert f"({out / 'model' / 'config.json'})" in err and err.splitlines()[1:] == ["  train.lr: 0.002 → 0.2"]


def test_an_older_run_without_stored_settings_resumes_with_a_warning(interrupted, tmp_path, capsys):
    out = copy_run(interrupted, tmp_path)
    strip_settings(out)
    assert run_main(tmp_path, CONFIG, "--resume", out=out) == 0
    assert "holds no settings" in capsys.readouterr().err
    assert (out / "model" / "model.safetensors").exists() and "settings" in state_meta(out)


def test_which_settings_may_change_on_resume():
    from attention_course.train_config import MAY_CHANGE_ON_RESUME, settings_differences
    assert MAY_CHANGE_ON_RESUME == {"description", "train.epochs", "train.threads", "train.checkpoint_every"}
    given = changed("train", "threads", None)
    given["train"].update(epochs=9, checkpoint_every=1)
    assert settings_differences(CONFIG, given) == []
    # a config written before a setting existed is read with its default
    older = copy.deepcopy(CONFIG)
    older["train"].pop("projection", None)
    assert settings_differences(older, changed("train", "projection", "auto")) == []
    assert settings_differences(older, changed("train", "projection", "bfloat16")) == [
        ("train.projection", "auto", "bfloat16")]
