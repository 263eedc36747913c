"""Train/validation/test splits when recordings are few or long: blocks from the end of a recording, said so."""

import importlib.util
from pathlib import Path

import pytest

from amharic_tts.data.prepare import assign_splits

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "samples" / "demo"


def test_one_recording_gives_blocks_from_its_end():
    plan = assign_splits({"lecture/lecture": 10}, 2, 2, seed=0)
    assert plan.segments["lecture/lecture"] == ["train"] * 6 + ["validation"] * 2 + ["test"] * 2
    assert plan.sizes() == {"train": 6, "validation": 2, "test": 2}
    assert plan.notes["test"] == ("2 segments from the end of recording lecture/lecture, which also has segments "
                                  "in train and validation")
    assert plan.notes["validation"].startswith("2 segments from the end of recording lecture/lecture, just before "
                                               "the test block")
    assert plan.warnings == []
    assert plan == assign_splits({"lecture/lecture": 10}, 2, 2, seed=0)


def test_long_films_each_larger_than_a_split():
    films = {f"film{i:02d}": 100 for i in range(10)}
    plan = assign_splits(films, 0.05, 0.05, seed=0)
    assert plan.sizes() == {"train": 900, "validation": 50, "test": 50}
    cut = {name: splits for name, splits in plan.segments.items() if set(splits) != {"train"}}
    assert len(cut) == 2  # validation and test each from their own film
    for splits in cut.values():
        held_out = [s for s in splits if s != "train"]
        assert splits == ["train"] * 50 + held_out and len(set(held_out)) == 1  # contiguous, at the end
    for split in ("validation", "test"):
        assert "50 segments from the end of recording film" in plan.notes[split]
        assert plan.notes[split].endswith("which also has segments in train")
    assert plan == assign_splits(films, 0.05, 0.05, seed=0)


def test_whole_recordings_are_used_when_they_fit():
    plan = assign_splits({"big": 1000, "a": 30, "b": 30, "c": 30}, 30, 30, seed=0)
    assert set(plan.whole()) == {"big", "a", "b", "c"}
    assert plan.sizes() == {"train": 1030, "validation": 30, "test": 30}
    one = "1 whole recording with 30 segments"
    assert plan.notes == {"validation": one, "test": one}


def test_a_split_too_small_for_any_whole_recording_takes_a_block():
    plan = assign_splits({"big": 1000, "small": 30}, 0.05, 0.05, seed=0)  # 52 each; "small" fits only one
    sizes = plan.sizes()
    assert sizes["validation"] >= 26 and sizes["test"] >= 26
    assert any("from the end of recording big" in note for note in plan.notes.values())


def test_any_share_asks_for_at_least_one_segment():
    plan = assign_splits({f"r{i}": 1 for i in range(10)}, 0.05, 0.05, seed=0)
    assert plan.sizes() == {"train": 8, "validation": 1, "test": 1}
    none = assign_splits({f"r{i}": 1 for i in range(10)}, 0, 0, seed=0)
    assert none.sizes() == {"train": 10, "validation": 0, "test": 0}
    assert none.warnings == [] and none.notes["validation"] == "empty (none asked for)"


@pytest.mark.parametrize("groups,empty", [({"only": 1}, ["validation", "test"]), ({"only": 2}, ["validation"])])
def test_an_empty_split_that_was_asked_for_is_a_warning(groups, empty):
    plan = assign_splits(groups, 1, 1, seed=0)
    assert plan.segments["only"][0] == "train"  # train keeps at least one segment
    assert [w.split(" split is empty")[0] for w in plan.warnings] == [f"the {split}" for split in empty]
    assert all("1 segment was asked for" in w and "train keeps at least one" in w for w in plan.warnings)
    for split in empty:
        assert plan.notes[split] == "empty"


def test_the_demo_lecture_alone_gets_validation_and_test(tmp_path, tiny_base_dir, capsys):
    """The reviewer's repro: one recording, --validation-size 2 --test-size 2."""
    import json

    from datasets import load_from_disk

    spec = importlib.util.spec_from_file_location("prepare_cli", ROOT / "prepare_dataset.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "lect"
    code = cli.main(["--output", str(out), "--srt", str(DEMO / "lecture.webm"), str(DEMO / "lecture.srt"),
                     "--base-model", str(tiny_base_dir), "--validation-size", "2", "--test-size", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "splits {'train': 6, 'validation': 2, 'test': 2}" in printed
    assert ("  test: 2 segments from the end of recording lecture/lecture, which also has segments in train and "
            "validation") in printed
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["splits"] == {"train": 6, "validation": 2, "test": 2}
    assert "from the end of recording lecture/lecture" in report["split_notes"]["validation"]
    assert report["warnings"] == []
    dataset = load_from_disk(str(out))
    starts = {split: sorted(dataset[split]["start"]) for split in dataset}
    assert max(starts["train"]) < min(starts["validation"]) <= max(starts["validation"]) < min(starts["test"])
