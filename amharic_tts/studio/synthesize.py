"""Synthesize tab: speak typed Amharic with a run, a checkpoint, an exported folder or a Hub model.

The work is :meth:`amharic_tts.inference.AmharicTTS.from_pretrained` and ``.generate``; loaded models are kept
(a few, per path and file time) so the second sentence does not load the model again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from amharic_tts.studio.common import StudioError, Workspace, require, timestamp

MAX_MODELS = 2
_MODELS: OrderedDict[tuple, object] = OrderedDict()
_LOCK = threading.Lock()


def _key(name: str) -> tuple:
    """A model's cache key: its path and the time of its weights, a run's or an export's (so a re-exported
    folder is loaded again)."""
    from amharic_tts.formats import T3_FILE, WEIGHTS_FILE

    path = Path(name).expanduser()
    if path.is_dir():
        times = tuple((path / f).stat().st_mtime_ns for f in (WEIGHTS_FILE, T3_FILE) if (path / f).is_file())
        return (str(path.resolve()), times)
    return (name, ())


def load_model(name: str, device: str | None = None):
    """``AmharicTTS`` for a path or Hub id, loaded once and kept (the last :data:`MAX_MODELS` are kept)."""
    from amharic_tts.inference import AmharicTTS

    name = str(require(name.strip() if isinstance(name, str) else name,
                       "Choose a model: a run, a checkpoint, an exported folder, or type a Hub id (user/name)."))
    key = _key(name) + (device,)
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        tts = AmharicTTS.from_pretrained(name, device=device)
        tts.config.setdefault("source", name)
        _MODELS[key] = tts
        while len(_MODELS) > MAX_MODELS:
            _MODELS.popitem(last=False)
        return tts


def synthesize(ws: Workspace, model: str, text: str, *, reference: str | None = None, exaggeration: float = 0.5,
               cfg_weight: float = 0.5, temperature: float = 0.8, repetition_penalty: float = 1.2,
               seed: int | None = 0, max_new_tokens: int | None = None) -> tuple[Path, float]:
    """Speak ``text``; returns the wav written under ``synth/`` and its length in seconds."""
    import soundfile as sf

    if not text or not text.strip():
        raise StudioError("Type some Amharic text to speak.")
    tts = load_model(ws.hub_or_server_path(model, "the model") if isinstance(model, str) else model)
    wav, rate = tts.generate(text, audio_prompt_path=reference or None, exaggeration=float(exaggeration),
                             cfg_weight=float(cfg_weight), temperature=float(temperature),
                             repetition_penalty=float(repetition_penalty),
                             seed=None if seed is None or seed == "" else int(seed), max_new_tokens=max_new_tokens)
    audio = wav[0].numpy()
    if len(audio) == 0:
        raise StudioError("The model produced no speech for this text (it stopped at once); try another seed, or "
                          "a model trained for longer.")
    out = ws.dir("synth") / f"{timestamp()}-{abs(hash((model, text, seed))) % 10**6:06d}.wav"
    sf.write(out, audio, rate)
    return out, len(audio) / rate


# ----------------------------------------------------------------------------------------------- the tab


def build_tab(ws: Workspace, tab) -> dict:
    import gradio as gr

    from amharic_tts.studio.common import refreshed, ui

    gr.Markdown("Choose a model (a training run, one of its checkpoints, an exported folder, or type a Hub model "
                "id), type Amharic (several sentences are fine) and listen. A reference clip of 3-10 s of clean "
                "speech gives the voice; without one the model's default voice speaks.")
    with gr.Row():
        model = gr.Dropdown(label="model", choices=ws.choices(ws.models()), allow_custom_value=True,
                            elem_id="synth_model")
    text = gr.Textbox(label="Amharic text", lines=4, value="ሰላም፣ እንዴት ነህ? ዛሬ አየሩ ጥሩ ነው።", elem_id="synth_text")
    with gr.Row():
        reference = gr.Audio(label="reference voice (optional): upload or record", sources=["upload", "microphone"],
                             type="filepath", elem_id="synth_reference")
        with gr.Column():
            exaggeration = gr.Slider(0.25, 2.0, value=0.5, step=0.05, label="exaggeration")
            cfg = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="CFG weight")
            temperature = gr.Slider(0.05, 2.0, value=0.8, step=0.05, label="temperature")
            repetition = gr.Slider(1.0, 2.0, value=1.2, step=0.05, label="repetition penalty")
            seed = gr.Number(label="seed (empty: random)", value=0, precision=0)
    speak = gr.Button("Speak", variant="primary", elem_id="synth_speak")
    output = gr.Audio(label="speech", type="filepath", interactive=False, buttons=["download"], elem_id="synth_output")
    info = gr.Markdown(elem_id="synth_info")

    @ui
    def on_speak(model_name, words, ref, exa, cfg_weight, temp, penalty, seed_value,
                 progress=gr.Progress(track_tqdm=True)):
        progress(0, desc="loading the model")
        path, seconds = synthesize(ws, model_name, words, reference=ref, exaggeration=exa, cfg_weight=cfg_weight,
                                   temperature=temp, repetition_penalty=penalty, seed=seed_value)
        return str(path), f"{seconds:.1f} s of speech, saved as `{ws.label(path)}`."

    speak.click(on_speak, [model, text, reference, exaggeration, cfg, temperature, repetition, seed], [output, info])

    tab.select(lambda current: refreshed(ws.choices(ws.models()), current, typed=True), [model], [model])
    return {"model": model}
