"""Fixtures of the studio tests: a work folder on the tiny stand-in base (the session fixtures of tests/conftest.py
provide the base, the prepared demo data, the smoke run and its export)."""

import pytest


@pytest.fixture
def ws(tmp_path, tiny_base_dir):
    """A fresh studio work folder whose base model is the tiny stand-in."""
    from amharic_tts.studio.common import Workspace

    return Workspace(tmp_path / "studio", str(tiny_base_dir))


@pytest.fixture
def cached_tts(tts, exported_model, monkeypatch):
    """The session's loaded model stands in for every ``AmharicTTS.from_pretrained`` call (the loading itself is
    tested in test_synthesize.py and the browser test); returns the list of names it was asked to load."""
    from amharic_tts.inference import AmharicTTS
    from amharic_tts.studio import synthesize

    calls = []

    def fake(cls, name, **kwargs):
        calls.append(str(name))
        return tts

    monkeypatch.setattr(AmharicTTS, "from_pretrained", classmethod(fake))
    monkeypatch.setattr(synthesize, "_MODELS", type(synthesize._MODELS)())
    return calls
