"""Evaluate tab: evaluate_model through a CTC ASR (the tiny random one), results as tables, progress, errors."""

import json

import pytest

from amharic_tts.evaluation.asr import ASRModelError
from amharic_tts.studio import evaluate as studio_eval
from amharic_tts.studio.common import StudioError
from amharic_tts.testing.tiny_asr import build_tiny_asr


@pytest.fixture(scope="module")
def tiny_asr(tmp_path_factory):
    return build_tiny_asr(tmp_path_factory.mktemp("asr") / "asr")


def test_results_tables_and_worst_sentences_with_audio(ws, exported_model, demo_run_inputs, tiny_asr, cached_tts):
    progress = []
    results, folder = studio_eval.evaluate(ws, str(exported_model), str(demo_run_inputs["data"]), split="train",
                                           asr_model=str(tiny_asr), max_sentences=2, max_new_tokens=10,
                                           on_progress=lambda done, total: progress.append((done, total)))
    assert folder.parent == ws.dir("eval") and ws.evaluations() == [folder / "results.json"]
    assert json.loads((folder / "results.json").read_text(encoding="utf-8")) == results
    assert results["sentences"] == 2 and results["split"] == "train" and results["asr_model"] == str(tiny_asr)
    assert results["dataset"] == demo_run_inputs["data"].name  # a local folder is named, not given as a path
    table = dict(studio_eval.metric_table(results).values.tolist())
    assert table["CER (character error rate, lower is better)"] == f"{results['cer']:.4f}"
    assert table["real-time factor (synthesis s per audio s)"] == f"{results['rtf']:.4f}"
    worst = studio_eval.worst_table(results)
    assert worst.values.tolist() == [[w["file"], w["cer"], w["text"], w["transcript"]] for w in results["worst"]]
    assert all((folder / f).is_file() for f in worst.file) and worst.CER.is_monotonic_decreasing
    assert progress and all(total == 2 for _, total in progress)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress) and progress[-1][0] <= 2


def test_readable_errors(ws, exported_model, demo_run_inputs, tmp_path, cached_tts):
    with pytest.raises(StudioError, match="Choose a model"):
        studio_eval.evaluate(ws, None, str(demo_run_inputs["data"]))
    with pytest.raises(StudioError, match="A prepared dataset .* does not exist"):
        studio_eval.evaluate(ws, str(exported_model), str(tmp_path / "gone"))
    with pytest.raises(Exception, match="has no split 'dev'"):
        studio_eval.evaluate(ws, str(exported_model), str(demo_run_inputs["data"]), split="dev")
    with pytest.raises(ASRModelError, match="does not exist"):
        studio_eval.evaluate(ws, str(exported_model), str(demo_run_inputs["data"]), asr_model=str(tmp_path / "asr"))
    assert list(ws.dir("eval").iterdir()) == []


def test_cancel_stops_before_the_next_sentence_and_keeps_nothing(ws, exported_model, demo_run_inputs, tiny_asr,
                                                                 cached_tts):
    from amharic_tts.studio.common import Cancelled, CancelSwitch

    switch = CancelSwitch()
    with pytest.raises(Cancelled, match="the evaluation stopped"):
        studio_eval.evaluate(ws, str(exported_model), str(demo_run_inputs["data"]), split="train",
                             asr_model=str(tiny_asr), max_sentences=2, max_new_tokens=10, cancel=switch,
                             on_progress=lambda done, total: switch.set())
    assert list(ws.dir("eval").iterdir()) == [] and ws.evaluations() == []
