"""Every sample's speech tokens are checked once when training starts; an evaluation without targets says so."""

import json
import logging
import math
import types
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from amharic_tts import train as train_cli
from amharic_tts.training import run
from amharic_tts.training.trainer import speech_metrics

SMOKE = str(Path(__file__).resolve().parents[2] / "configs" / "train" / "smoke.yaml")
STOP = 6562  # upstream's stop_speech: a speech id in the middle of a row would teach the model to stop there


class _Tokenizer:
    def text_ids(self, text):
        return [255, *(ord(c) % 100 for c in text), 0]


def args_for(inputs, output_dir, *extra):
    return [SMOKE, "--base_model", str(inputs["base"]), "--tokenizer", str(inputs["tokenizer"]),
            "--dataset", str(inputs["data"]), "--output_dir", str(output_dir), *extra]


def _rows(speech_tokens):
    n = len(speech_tokens)
    return Dataset.from_dict({"text": [f"ሰላም {i}" for i in range(n)], "speech_tokens": speech_tokens,
                              "speaker_emb": [[0.0] * 4] * n, "speaker": ["a"] * n})


def test_speech_ids_outside_the_s3_vocabulary_and_near_empty_rows_are_left_out_and_counted(caplog):
    from chatterbox.models.t3.modules.t3_config import T3Config

    hp = T3Config.multilingual()  # the vocabulary comes from upstream's config: ids 0..6560 are speech
    args = types.SimpleNamespace(max_text_tokens=None, max_speech_tokens=None, preprocessing_num_workers=None)
    rows = [[1, 2, 3], [0, 6560], [5, STOP, 7], [5, 6561, 7], [9000, 1], [8194, 2], [3, -1], [], [42], [4, 5, 6]]
    with caplog.at_level(logging.WARNING, logger="amharic_tts.train"):
        kept, dropped = run.preprocess(_rows(rows), _Tokenizer(), hp, args)
    assert kept["speech_tokens"] == [[1, 2, 3], [0, 6560], [4, 5, 6]]
    assert kept["_index"] == [0, 1, 2] and "_speech_problem" not in kept.column_names
    assert dropped == {"speech_ids_out_of_range": 5, "too_few_speech_tokens": 2}
    assert ("train: 7 of 10 samples have unusable speech tokens and are left out: 5 with ids outside the speech "
            "tokens 0..6560, 2 with fewer than 2 speech tokens") in caplog.text

    with pytest.raises(run.TrainingSetupError, match=r"^validation: 7 of 10 samples \(70.0%\) have unusable "
                                                     r"speech tokens .* more than max_bad_speech_share 0.5"):
        run.preprocess(_rows(rows), _Tokenizer(), hp, args, split="validation", max_bad_share=0.5)
    kept, _ = run.preprocess(_rows(rows), _Tokenizer(), hp, args, max_bad_share=0.7)  # 7 of 10 is not more
    assert len(kept) == 3

    # the check is part of the cache's fingerprint: another speech vocabulary checks again, not reuses
    again, _ = run.preprocess(_rows(rows), _Tokenizer(), hp, args)
    hp.start_speech_token, hp.stop_speech_token = 8192, 8193
    wider, dropped = run.preprocess(_rows(rows), _Tokenizer(), hp, args)
    assert again._fingerprint == kept._fingerprint != wider._fingerprint
    assert len(wider) == 5 and dropped == {"speech_ids_out_of_range": 3, "too_few_speech_tokens": 2}


@pytest.fixture
def damaged(demo_run_inputs, tmp_path):
    """The demo dataset with one training row holding stop_speech mid-row and one an id beyond the speech head."""
    from amharic_tts.data.prepare import load_prepared

    data = load_prepared(str(demo_run_inputs["data"]))

    def damage(tokens, index):
        tokens = list(tokens)
        if index == 0:
            tokens[len(tokens) // 2] = STOP
        elif index == 1:
            tokens[3] = 9000  # beyond the 8194 rows of the speech embedding: an IndexError at step 1 before
        return {"speech_tokens": tokens}

    out = tmp_path / "damaged"
    # in memory: a map of a load_from_disk dataset writes its cache beside the shared demo dataset's files
    damaged = data["train"].map(damage, with_indices=True, input_columns="speech_tokens", keep_in_memory=True)
    DatasetDict({**data, "train": damaged}).save_to_disk(str(out))
    return {**demo_run_inputs, "data": out, "train_rows": len(data["train"])}


def test_a_damaged_dataset_stops_the_run_in_one_line_before_anything_is_written(damaged, tmp_path, capsys):
    assert train_cli.main(args_for(damaged, tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error, = [line for line in err.splitlines() if line.startswith("error:")]  # after the progress bars
    assert error.startswith(f"error: train: 2 of {damaged['train_rows']} samples (")
    assert "(2 with ids outside the speech tokens 0..6560), more than max_bad_speech_share 0.01" in error
    assert not (tmp_path / "run").exists()


def test_a_few_bad_samples_are_left_out_and_the_run_trains_on_the_rest(damaged, tmp_path, caplog):
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="amharic_tts.train"):
        code = train_cli.main(args_for(damaged, out, "--max_bad_speech_share", "0.2", "--max_steps", "2",
                                 "--eval_steps", "2", "--save_steps", "100", "--num_samples", "0"))
    assert code == 0  # the id 9000 would have ended step 1 with an IndexError
    total = damaged["train_rows"]
    assert (f"train: 2 of {total} samples have unusable speech tokens and are left out: 2 with ids outside the "
            f"speech tokens 0..6560") in caplog.text
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 2
    from amharic_tts.training.trainer import read_log

    evals = [r for r in read_log(str(out)) if "eval_speech_targets" in r]
    assert evals and evals[-1]["eval_speech_targets"] > 0 and 0 <= evals[-1]["eval_speech_accuracy"] < 1


def test_an_evaluation_without_speech_targets_says_so_instead_of_a_perfect_score(caplog):
    with caplog.at_level(logging.WARNING, logger="amharic_tts.training.trainer"):
        empty = speech_metrics(0.0, 0.0, 0.0)
    assert empty["eval_speech_targets"] == 0
    assert all(math.isnan(empty[f"eval_{k}"]) for k in ("loss", "speech_loss", "speech_accuracy", "perplexity"))
    assert "eval: no speech targets" in caplog.text
    some = speech_metrics(6.0, 3.0, 4.0, prefix="test")
    assert some == {"test_loss": 1.5, "test_speech_loss": 1.5, "test_speech_accuracy": 0.75,
                    "test_perplexity": pytest.approx(math.exp(1.5)), "test_speech_targets": 4}
