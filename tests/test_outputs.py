"""Output folders: one run at a time (a lock naming its holder, taken over from a dead process), a new dataset
swapped in only when complete (an interrupt or a full disk leaves the old one byte for byte), outputs that
would replace their own inputs refused."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amharic_tts.cli import UserError
from amharic_tts.outputs import (ForeignOutputError, OutputLockedError, lock_file, output_lock, recover_folder,
                                 refuse_foreign_output, refuse_output_among_inputs, replace_folder, staging_folder)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo"


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _holder(folder: Path) -> subprocess.Popen:
    """A process that takes the lock on ``folder`` and keeps it until killed."""
    code = ("import sys, time\nfrom amharic_tts.outputs import output_lock\n"
            f"with output_lock({str(folder)!r}, what='holder'):\n    print('held', flush=True)\n    time.sleep(600)\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_naming_the_holder_and_a_dead_holder_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    holder = _holder(out)
    try:
        with pytest.raises(OutputLockedError) as err:
            with output_lock(out):
                pass
        assert f"process {holder.pid}" in str(err.value) and "holder" in str(err.value)
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock, without cleaning up
        holder.wait()
    with output_lock(out, what="second") as held:  # the OS released the dead process's lock
        assert held == out
        assert lock_file(out).exists()
    assert f"taking over {out} from process {holder.pid}" in capsys.readouterr().err
    with output_lock(out):  # released at the end of the block
        pass


def test_a_swap_cut_between_its_two_renames_is_undone_or_finished(tmp_path):
    target = tmp_path / "data"
    target.mkdir()
    (target / "a").write_text("old")
    staging = staging_folder(target)
    (staging / "a").write_text("new")
    replace_folder(staging, target)
    assert (target / "a").read_text() == "new" and not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]

    # cut after the old version was moved aside, before the new one was moved in: the old one comes back
    target.rename(tmp_path / ".data.old")
    leftover = staging_folder(target)
    recover_folder(target)
    assert (target / "a").read_text() == "new" and not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    # cut after the new one was moved in, before the old one was removed: the old one goes
    shutil.copytree(target, tmp_path / ".data.old")
    recover_folder(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_outputs_that_would_replace_their_inputs_are_refused(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "wavs").mkdir(parents=True)
    for output in (corpus, corpus / "out", tmp_path):
        with pytest.raises(ValueError, match="input folder"):
            refuse_output_among_inputs(output, folders=[str(corpus)])
    with pytest.raises(ValueError, match="contains the input"):
        refuse_output_among_inputs(tmp_path / "media", files=[str(tmp_path / "media" / "film.mp4")])
    refuse_output_among_inputs(tmp_path / "data", folders=[str(corpus)], files=[str(tmp_path / "film.mp4")])


def test_outputs_holding_something_else_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    for output, words in ((tmp_path / "notes.txt", "is a file; give a folder"),
                          (tmp_path / "notes", "holds something other than an exported model")):
        with pytest.raises(ForeignOutputError, match=words) as caught:
            refuse_foreign_output(output, marker="config.json", holds="an exported model")
        assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)
    for output in (tmp_path / "model", tmp_path / "empty", tmp_path / "new"):  # the command's own, empty, new
        refuse_foreign_output(output, marker="config.json", holds="an exported model")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


# --- prepare_dataset.py --------------------------------------------------------------------------------------------


def _prepare(*args) -> tuple[int, str]:
    done = subprocess.run([sys.executable, str(ROOT / "prepare_dataset.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return done.returncode, done.stderr


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory, tiny_base_dir):
    """The demo LJSpeech folder prepared once; each test copies it."""
    out = tmp_path_factory.mktemp("prepared") / "data"
    from amharic_tts.data.prepare import PrepareConfig, prepare_dataset
    from amharic_tts.data.sources import collect_sources

    prepare_dataset(collect_sources(ljspeech=[str(DEMO / "ljspeech")]), out,
                    PrepareConfig(validation_size=1, test_size=0), base_model=str(tiny_base_dir))
    return out


@pytest.mark.parametrize("failure", ["disk full", "interrupt"])
def test_a_save_that_fails_half_way_leaves_the_old_dataset_byte_for_byte(tmp_path, tiny_base_dir, demo_dataset,
                                                                         monkeypatch, failure):
    from datasets import Dataset, DatasetDict, load_from_disk

    from amharic_tts.data.prepare import PrepareConfig, prepare_dataset
    from amharic_tts.data.sources import collect_sources

    out = tmp_path / "data"
    shutil.copytree(demo_dataset, out)
    before = _snapshot(out)
    real = Dataset.save_to_disk

    def half_way(self, path, **kwargs):  # the first split is written, then the disk fills up (or Ctrl-C)
        name = next(iter(self))
        real(self[name], os.path.join(path, name))
        if failure == "disk full":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise KeyboardInterrupt

    monkeypatch.setattr(DatasetDict, "save_to_disk", half_way)
    with pytest.raises(OSError if failure == "disk full" else KeyboardInterrupt):
        prepare_dataset(collect_sources(ljspeech=[str(DEMO / "ljspeech")]), out,
                        PrepareConfig(validation_size=0, test_size=0), base_model=str(tiny_base_dir))
    assert _snapshot(out) == before
    assert len(load_from_disk(str(out))["train"]) == 3
    # no staging folder left behind (the empty lock file stays, as lock files do; its owner note is gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".data.lock", "data"]


def test_prepare_refuses_a_locked_output_and_outputs_among_its_inputs(tmp_path, demo_dataset):
    out = tmp_path / "data"
    shutil.copytree(demo_dataset, out)
    before = _snapshot(out)
    holder = _holder(out)
    try:
        started = time.monotonic()
        code, err = _prepare("--output", out, "--ljspeech", DEMO / "ljspeech")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"is in use by process {holder.pid}" in err
        assert time.monotonic() - started < 60  # at once, not after the work
    finally:
        holder.kill()
        holder.wait()
    assert _snapshot(out) == before

    corpus = tmp_path / "corpus"
    shutil.copytree(DEMO / "ljspeech", corpus)
    code, err = _prepare("--output", corpus / "prepared", "--ljspeech", corpus)
    assert code == 2 and "overlaps the input folder" in err and not (corpus / "prepared").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    code, err = _prepare("--output", tmp_path / "notes", "--ljspeech", DEMO / "ljspeech")
    assert code == 2 and "holds something other than a prepared dataset" in err
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


# --- train_t3.py ---------------------------------------------------------------------------------------------------


def test_a_second_training_into_a_busy_output_dir_stops_at_once(demo_run_inputs, tmp_path, capsys):
    from amharic_tts import train as train_cli

    out = tmp_path / "run"
    holder = _holder(out)
    try:
        code = train_cli.main(["smoke", "--base_model", str(demo_run_inputs["base"]),
                               "--tokenizer", str(demo_run_inputs["tokenizer"]),
                               "--dataset", str(demo_run_inputs["data"]), "--output_dir", str(out), "--max_steps", "1"])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert code == 2 and f"error: {out} is in use by process {holder.pid} on" in err and "Traceback" not in err
    assert not out.exists()  # nothing of the second run was written


def test_training_never_writes_into_the_prepared_dataset(smoke_run, demo_run_inputs):
    """datasets writes map/filter caches beside a load_from_disk dataset's files; training keeps them in the
    datasets cache, so reading a prepared dataset never changes it."""
    import datasets

    from amharic_tts.training.run import PREPROCESS_CACHE

    data = Path(demo_run_inputs["data"])
    assert not [p for p in data.rglob("*") if p.name.startswith("cache-")]
    assert list((Path(datasets.config.HF_DATASETS_CACHE) / PREPROCESS_CACHE).glob("tokenize-*.arrow"))
