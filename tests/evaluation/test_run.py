"""python -m amharic_tts.evaluate end to end: exported smoke model, tiny random CTC ASR, demo dataset (offline)."""

import json
import shutil

import pytest
from huggingface_hub import ModelCard

from amharic_tts.evaluation import run
from amharic_tts.evaluation.metrics import normalize_for_scoring
from amharic_tts.testing.tiny_asr import build_tiny_asr


@pytest.fixture(scope="module")
def tiny_asr(tmp_path_factory):
    return build_tiny_asr(tmp_path_factory.mktemp("asr") / "asr")


def test_evaluate_cli_end_to_end_with_a_tiny_asr(exported_model, demo_run_inputs, tiny_asr, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(exported_model, model)
    out = tmp_path / "eval"
    code = run.main(["--model", str(model), "--dataset", str(demo_run_inputs["data"]), "--split", "train",
                     "--max-samples", "2", "--asr-model", str(tiny_asr), "--max-new-tokens", "10",
                     "--output", str(out), "--update-card"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["sentences"] == 2 and results["split"] == "train" and results["asr_model"] == str(tiny_asr)
    assert results["cer"] > 0.5  # random weights: the transcript has nothing to do with the text
    assert -1 <= results["speaker_similarity"] <= 1 and results["rtf"] > 0 and results["audio_seconds"] > 0
    assert results["default_voice_sentences"] == 0  # both sentences' speaker has other recordings
    rows = (out / "sentences.tsv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and rows[0].startswith("file\tcer")
    assert sorted(p.name for p in (out / "wavs").iterdir()) == ["0000.wav", "0001.wav"]  # voice prompts removed
    # the card of the exported folder now carries the results
    card = ModelCard.load(model / "README.md")
    cer = next(r for r in card.data.eval_results if r.metric_type == "cer")
    # the local ASR folder is described on the card, never named by its path (results.json keeps the path)
    assert cer.metric_value == results["cer"] and cer.metric_config == "a local ASR model"
    assert str(tiny_asr) not in (model / "README.md").read_text(encoding="utf-8")
    assert json.loads((model / "evaluation.json").read_text())["cer"] == results["cer"]
    printed = capsys.readouterr()
    assert '"cer"' in printed.out
    # the console: bars with totals for the long steps, none for loading the ASR model's weights tensor by tensor
    assert "speaking: 100%" in printed.err and "transcribing: 100%" in printed.err and "2/2" in printed.err
    assert "Loading weights" not in printed.err and "Materializing" not in printed.err


class KnownTranscripts:
    """An ASR stand-in that returns given transcripts (to check the scoring end of the pipeline)."""

    def __init__(self, transcripts):
        self.transcripts = transcripts
        self.calls = []

    def transcribe(self, wavs, sample_rate, progress=False):
        self.calls.append((len(wavs), sample_rate))
        return list(self.transcripts)


def test_a_known_transcript_gives_the_expected_cer(tts, demo_run_inputs, tmp_path):
    data = run.load_split(str(demo_run_inputs["data"]), "train").select(range(2))
    first, second = data[0]["text"], data[1]["text"]
    wrong = "ቀ" + second[1:] if second[0] != "ቀ" else "በ" + second[1:]  # one substituted letter
    asr = KnownTranscripts([first.replace("።", ""), wrong])  # punctuation does not count
    config = run.EvaluationConfig(split="train", voice="default", max_new_tokens=8)
    results = run.evaluate_model(tts, data, tmp_path, config, transcriber=asr)
    assert asr.calls == [(2, 24000)]
    total = len(normalize_for_scoring(first)) + len(normalize_for_scoring(second))
    assert results["cer"] == pytest.approx(1 / total, abs=1e-4)
    worst = results["worst"][0]
    assert worst["text"] == second and worst["cer"] == pytest.approx(1 / len(normalize_for_scoring(second)), abs=1e-4)
    assert results["worst"][1]["cer"] == 0
    assert results["default_voice_sentences"] == 2 and results["speaker_similarity"] is None


def test_voices_come_from_another_recording_of_the_same_speaker():
    rows = [{"speaker": "a", "audio": {"bytes": b"1"}}, {"speaker": "b", "audio": {"bytes": b"2"}},
            {"speaker": "a", "audio": {"bytes": b"3"}}, {"speaker": "c", "audio": None},
            {"speaker": "a", "audio": {"bytes": b"4"}}]
    chosen = run._voice_rows(rows)
    assert chosen[1] is None and chosen[3] is None  # no other recording: the default voice, never its own
    for i in (0, 2, 4):
        where, candidates = chosen[i]
        assert where == "split" and len(candidates) == 2 and i not in candidates
        assert all(rows[j]["speaker"] == "a" for j in candidates)
    # the dataset's other splits lend their recordings to speakers with one sentence in this split
    chosen = run._voice_rows(rows, pool_speakers=["b", "x", "b", "a"])
    assert chosen[1] == ("pool", [2, 0]) and chosen[3] is None and chosen[0][0] == "split"


def test_the_closest_voices_of_the_speaker_come_first():
    """A film is one speaker label holding many voices: the sentence is voiced by the nearest embedding."""
    voice = [[1.0, 0.0], [0.0, 1.0], [0.95, 0.05], [0.1, 0.9], [0.8, 0.2]]
    rows = [{"speaker": "film", "audio": {"bytes": b"x"}, "speaker_emb": e} for e in voice]
    chosen = run._voice_rows(rows)
    assert chosen[0] == ("split", [2, 4, 3, 1]) and chosen[1] == ("split", [3, 4, 2, 0])
    lonely = [{"speaker": "talk", "audio": {"bytes": b"y"}, "speaker_emb": [0.0, 1.0]}]
    pool = [[1.0, 0.0], [0.2, 0.8], [0.0, 1.0]]
    assert run._voice_rows(lonely, ["talk", "talk", "film"], pool) == [("pool", [1, 0])]
    assert run._voice_rows(lonely, ["talk", "talk", "film"]) == [("pool", [0, 1])]  # no embeddings: in turn


def test_a_speaker_alone_in_the_split_is_voiced_from_the_other_splits(tts, demo_run_inputs, tmp_path):
    data = run.load_split(str(demo_run_inputs["data"]), "test")
    assert len(data) == 1  # its speaker has no other recording in the split
    voices = run.other_splits(str(demo_run_inputs["data"]), "test")
    assert set(voices["speaker"]) >= set(data["speaker"]) and len(voices) > len(data)
    config = run.EvaluationConfig(split="test", max_new_tokens=8)
    results = run.evaluate_model(tts, data, tmp_path / "with", config, transcriber=KnownTranscripts(["x"]),
                                 voices=voices)
    assert results["default_voice_sentences"] == 0 and -1 <= results["speaker_similarity"] <= 1
    alone = run.evaluate_model(tts, data, tmp_path / "alone", config, transcriber=KnownTranscripts(["x"]))
    assert alone["default_voice_sentences"] == 1 and alone["speaker_similarity"] is None


def test_bad_dataset_or_split_is_one_clear_line(tmp_path, demo_run_inputs, capsys):
    assert run.main(["--model", "m", "--dataset", str(tmp_path / "none"), "--asr-model", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run.main(["--model", "m", "--dataset", str(demo_run_inputs["data"]), "--split", "dev",
                     "--asr-model", "x"]) == 2
    assert "has no split 'dev'" in capsys.readouterr().err
    # --update-card on what is not an exported folder: refused before any data, ASR or model is loaded
    assert run.main(["--model", str(tmp_path), "--dataset", str(tmp_path / "none"), "--asr-model", "x",
                     "--update-card"]) == 2
    assert "--update-card needs an exported model folder" in capsys.readouterr().err
