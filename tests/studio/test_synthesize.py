"""Synthesize tab: AmharicTTS loaded once per model, speech written to the work folder, readable errors."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from amharic_tts.inference import ModelLoadError, TextError
from amharic_tts.model.voice import VoiceError
from amharic_tts.studio import synthesize as studio_synth
from amharic_tts.studio.common import StudioError

VOICE = min((Path(__file__).resolve().parents[2] / "samples" / "demo" / "ljspeech" / "wavs").glob("*.wav"))


def test_speech_is_written_and_the_model_is_loaded_once(ws, exported_model, cached_tts):
    first, seconds = studio_synth.synthesize(ws, str(exported_model), "ሰላም።", reference=str(VOICE), seed=3,
                                            exaggeration=0.7, cfg_weight=0.3, temperature=0.6)
    again, _ = studio_synth.synthesize(ws, str(exported_model), "ሰላም።", reference=str(VOICE), seed=3,
                                       exaggeration=0.7, cfg_weight=0.3, temperature=0.6)
    assert cached_tts == [str(exported_model)]  # the second sentence did not load the model again
    assert first.parent == ws.dir("synth") and first != again
    audio, rate = sf.read(first)
    assert rate == 24000 and seconds == pytest.approx(len(audio) / rate) and seconds > 0.1
    assert np.array_equal(audio, sf.read(again)[0])  # the same seed, the same speech


def test_the_settings_reach_generate(ws, exported_model, cached_tts, monkeypatch, tts):
    seen = {}
    original = type(tts).generate

    def spy(self, text, audio_prompt_path=None, **kwargs):
        seen.update(text=text, audio_prompt_path=audio_prompt_path, **kwargs)
        return original(self, text, audio_prompt_path, **kwargs)

    monkeypatch.setattr(type(tts), "generate", spy)
    studio_synth.synthesize(ws, str(exported_model), "ደህና ሁን።", exaggeration=0.9, cfg_weight=0.2, temperature=1.1,
                            seed="", max_new_tokens=20)
    assert seen == {"text": "ደህና ሁን።", "audio_prompt_path": None, "exaggeration": 0.9, "cfg_weight": 0.2,
                    "temperature": 1.1, "repetition_penalty": 1.2, "seed": None, "max_new_tokens": 20}
    studio_synth.synthesize(ws, str(exported_model), "ደህና ሁን።", repetition_penalty=1.6, max_new_tokens=20)
    assert seen["repetition_penalty"] == 1.6


def test_readable_errors(ws, exported_model, cached_tts, tmp_path):
    with pytest.raises(StudioError, match="Type some Amharic text"):
        studio_synth.synthesize(ws, str(exported_model), "   ")
    with pytest.raises(StudioError, match="Choose a model"):
        studio_synth.synthesize(ws, "", "ሰላም")
    with pytest.raises(TextError, match="no Amharic or Latin letters"):
        studio_synth.synthesize(ws, str(exported_model), "!!! ።")
    with pytest.raises(VoiceError, match="reference clip .* does not exist"):
        studio_synth.synthesize(ws, str(exported_model), "ሰላም", reference=str(tmp_path / "none.wav"))
    assert list(ws.dir("synth").iterdir()) == []


def test_models_that_cannot_be_loaded_say_why(ws, tmp_path):
    with pytest.raises(ModelLoadError, match="neither a model folder nor a Hub repo id"):
        studio_synth.load_model(str(tmp_path / "a" / "b" / "c"))
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE"):
        studio_synth.load_model("someone/not-cached-anywhere")


def test_a_real_load_from_an_exported_folder_is_kept(exported_model, monkeypatch):
    monkeypatch.setattr(studio_synth, "_MODELS", type(studio_synth._MODELS)())
    tts = studio_synth.load_model(str(exported_model), device="cpu")
    assert studio_synth.load_model(str(exported_model), device="cpu") is tts
    assert tts.config["source"] == str(exported_model) and tts.sr == 24000
