"""Evaluate tab: speak a split of a prepared dataset and measure intelligibility (CER/WER through a CTC ASR
model), voice (speaker similarity) and speed (real-time factor); list the worst sentences with their audio.

The work is :func:`amharic_tts.evaluation.run.evaluate_model` with :func:`load_split` and
:class:`amharic_tts.evaluation.asr.CTCTranscriber`, as ``python -m amharic_tts.evaluate`` does.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from amharic_tts.studio.common import Cancelled, Workspace, existing_path, require, safe_name, timestamp

METRIC_COLUMNS = ["metric", "value"]
WORST_COLUMNS = ["file", "CER", "text", "transcript"]
_TRANSCRIBERS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def transcriber(asr_model: str, device: str | None = None):
    """A :class:`CTCTranscriber`, loaded once per model (MMS is large)."""
    from amharic_tts.evaluation.asr import CTCTranscriber

    key = (asr_model, device)
    with _LOCK:
        if key not in _TRANSCRIBERS:
            _TRANSCRIBERS[key] = CTCTranscriber(asr_model, target_lang="amh", device=device)
        return _TRANSCRIBERS[key]


def evaluate(ws: Workspace, model: str, dataset: str, *, split: str = "test", asr_model: str | None = None,
             max_sentences: int | None = 20, voice: str = "same-speaker", seed: int = 0,
             max_new_tokens: int | None = None, on_progress=None, cancel=None) -> tuple[dict, Path]:
    """Evaluate ``model`` on ``dataset``'s ``split``; returns the results (``results.json``) and their folder.

    ``on_progress(done, total)`` is called about twice a second with the number of sentences spoken so far;
    a set ``cancel`` (:class:`CancelSwitch`) stops before the next sentence and removes the partial results."""
    from amharic_tts.evaluation.asr import DEFAULT_ASR_MODEL
    from amharic_tts.evaluation.run import EvaluationConfig, evaluate_model, load_split, other_splits
    from amharic_tts.studio.synthesize import load_model

    model = ws.hub_or_server_path(require(model, "Choose a model to evaluate."), "the model")
    dataset_dir = existing_path(dataset, "a prepared dataset", ws)
    asr_model = ws.hub_or_server_path((asr_model or "").strip() or DEFAULT_ASR_MODEL, "the ASR model")
    data = load_split(str(dataset_dir), split)
    voices = other_splits(str(dataset_dir), split) if voice == "same-speaker" else None
    asr = transcriber(asr_model)
    tts = load_model(model)
    output = ws.dir("eval") / f"{safe_name(Path(str(model)).name, 'model')}-{split}-{timestamp()}"
    config = EvaluationConfig(split=split, max_samples=int(max_sentences) if max_sentences else None, voice=voice,
                              seed=int(seed or 0), max_new_tokens=max_new_tokens)
    total = min(len(data), config.max_samples or len(data))

    speaker = _Cancellable(tts, cancel) if cancel is not None else tts

    def run():
        try:
            return evaluate_model(speaker, data, output, config, transcriber=asr, dataset_name=dataset_dir.name,
                                  asr_model=asr_model, voices=voices)
        except Cancelled:
            shutil.rmtree(output, ignore_errors=True)
            raise

    if on_progress is None:
        return run(), output
    # evaluate_model runs in a worker thread, outside Gradio's tqdm tracking (a tqdm bar left open by a library
    # once made Gradio's tracker iterate the wrong range); progress is read from the wavs written so far instead.
    from concurrent.futures import ThreadPoolExecutor, wait

    with ThreadPoolExecutor(1, thread_name_prefix="studio-evaluate") as pool:
        future = pool.submit(run)
        while not future.done():
            on_progress(len(list((output / "wavs").glob("[0-9]*.wav"))) if (output / "wavs").is_dir() else 0, total)
            wait([future], timeout=0.5)
    return future.result(), output


class _Cancellable:
    """The model as ``evaluate_model`` sees it, checking the Cancel switch before speaking and after each
    sentence."""

    def __init__(self, tts, cancel):
        self._tts, self._cancel = tts, cancel

    def __getattr__(self, name):
        return getattr(self._tts, name)

    def stream_many(self, *args, **kwargs):
        self._cancel.check("the evaluation")
        for item in self._tts.stream_many(*args, **kwargs):
            yield item
            self._cancel.check("the evaluation")


def metric_table(results: dict):
    import pandas as pd

    def fmt(value, digits=4):
        return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    rows = [["CER (character error rate, lower is better)", fmt(results["cer"])],
            ["WER (word error rate)", fmt(results["wer"])],
            ["speaker similarity (cosine, higher is better)", fmt(results["speaker_similarity"])],
            ["real-time factor (synthesis s per audio s)", fmt(results["rtf"])],
            ["sentences", fmt(results["sentences"])], ["audio seconds", fmt(results["audio_seconds"])],
            ["ASR model", results["asr_model"]], ["split", results["split"]], ["device", results["device"]]]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def worst_table(results: dict):
    import pandas as pd

    return pd.DataFrame([[w["file"], w["cer"], w["text"], w["transcript"]] for w in results.get("worst", [])],
                        columns=WORST_COLUMNS)


# ----------------------------------------------------------------------------------------------- the tab


def build_tab(ws: Workspace, tab) -> dict:
    import gradio as gr

    from amharic_tts.evaluation.asr import DEFAULT_ASR_MODEL
    from amharic_tts.studio.common import CancelSwitch, refreshed, ui

    switch = CancelSwitch()
    gr.Markdown("The model speaks sentences it never trained on; a speech recogniser for Amharic writes down what "
                "it hears. **CER** is the share of characters it got wrong (lower is better); **speaker "
                "similarity** compares the voice with the speaker's clip it was given; **RTF** is seconds of work per second "
                "of speech. Listen to the worst sentences below.")
    with gr.Row():
        model = gr.Dropdown(label="model", choices=ws.choices(ws.models()), allow_custom_value=True)
        dataset = gr.Dropdown(label="prepared dataset", choices=ws.choices(ws.datasets()))
        split = gr.Radio(["test", "validation", "train"], value="test", label="split")
    with gr.Row():
        asr = gr.Textbox(label="ASR model (Hub id or folder; a CTC model writing Ethiopic)", value=DEFAULT_ASR_MODEL)
        count = gr.Number(label="sentences at most", value=20, precision=0, minimum=1)
        voice = gr.Radio([("another recording of the same speaker", "same-speaker"),
                          ("the model's default voice", "default")], value="same-speaker", label="voice")
    with gr.Row():
        run = gr.Button("Evaluate", variant="primary")
        cancel = gr.Button("Cancel", variant="stop")
    summary = gr.Markdown()
    metrics = gr.Dataframe(headers=METRIC_COLUMNS, label="results", interactive=False)
    worst = gr.Dataframe(headers=WORST_COLUMNS, label="worst sentences first", interactive=False, wrap=True)
    folder = gr.State(None)
    with gr.Row():
        pick = gr.Dropdown(label="listen to", choices=[])
        audio = gr.Audio(label="synthesised", type="filepath", interactive=False)

    def worst_choices(results):
        return [(f"CER {w['cer']:.2f}: {w['text'][:70]}", w["file"]) for w in results.get("worst", [])]

    @ui
    def on_run(model_name, data_dir, which, asr_model, n, voice_kind, progress=gr.Progress()):
        switch.reset()
        progress(0, desc="loading the ASR and TTS models")
        results, out = evaluate(ws, model_name, data_dir, split=which, asr_model=asr_model, max_sentences=n,
                                voice=voice_kind, cancel=switch, on_progress=lambda done, total: progress(
                                    (done, total), desc="speaking and transcribing", unit="sentences"))
        choices = worst_choices(results)
        first = choices[0][1] if choices else None
        note = (f"Saved in `{ws.label(out)}` (results.json, sentences.tsv, wavs/): use it in **Publish** to put the "
                "numbers on the model card.")
        return (note, metric_table(results), worst_table(results), str(out), gr.update(choices=choices, value=first),
                str(out / first) if first else None)

    def on_pick(out, file):
        return str(Path(out) / file) if out and file else None

    event = run.click(on_run, [model, dataset, split, asr, count, voice],
                      [summary, metrics, worst, folder, pick, audio], show_progress_on=[metrics])
    def on_cancel():
        switch.set()
        gr.Info("Cancelled: the evaluation stops before its next sentence.")

    cancel.click(on_cancel, None, None, cancels=[event])
    pick.input(on_pick, [folder, pick], [audio])

    def refresh(current_model, current_data):
        return (refreshed(ws.choices(ws.models()), current_model, typed=True),
                refreshed(ws.choices(ws.datasets()), current_data))

    tab.select(refresh, [model, dataset], [model, dataset])
    return {"model": model, "dataset": dataset}
