"""python -m amharic_tts.synthesize on the exported smoke model (CPU, offline)."""

from pathlib import Path

import pytest
import soundfile as sf

from amharic_tts import synthesize
from amharic_tts.inference import AmharicTTS

ROOT = Path(__file__).resolve().parents[1]
VOICE = sorted((ROOT / "samples" / "demo" / "ljspeech" / "wavs").glob("*.wav"))[0]


def test_text_to_a_wav_file(exported_model, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert synthesize.main(["--model", str(exported_model), "--text", "ሰላም።", "--output", str(out),
                            "--seed", "1", "--reference", str(VOICE)]) == 0
    info = sf.info(out)
    assert info.samplerate == 24000 and info.channels == 1 and info.duration > 0.1
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.fixture
def loaded(tts, monkeypatch):
    """The session's model instead of loading it again (the loading path is tested above)."""
    monkeypatch.setattr(AmharicTTS, "from_pretrained", classmethod(lambda cls, *a, **k: tts))
    return tts


def test_text_file_gives_one_wav_per_line_and_an_index(loaded, tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("\ufeffሰላም።\n\n!!! ።\n  ደህና ሁን።  \n", encoding="utf-8")
    out = tmp_path / "out"
    assert synthesize.main(["--model", "any", "--text-file", str(lines), "--output", str(out), "--seed", "0"]) == 0
    assert sorted(p.name for p in out.glob("*.wav")) == ["0001.wav", "0003.wav"]  # the unspeakable line skipped
    rows = [r.split("\t") for r in (out / "lines.tsv").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["file", "text", "seconds", "skipped"]
    assert [r[:2] for r in rows[1:]] == [["0001.wav", "ሰላም።"], ["", "!!! ።"], ["0003.wav", "ደህና ሁን።"]]
    assert rows[1][3] == rows[3][3] == "" and "no Amharic or Latin letters" in rows[2][3]
    assert float(rows[1][2]) == pytest.approx(sf.info(out / "0001.wav").duration, abs=0.01)
    assert "wrote 2 files" in (printed := capsys.readouterr().out) and "1 line(s) skipped" in printed


def test_text_is_written_progressively_in_the_format_its_name_asks_for(loaded, tmp_path, monkeypatch):
    """Each sentence reaches the file as soon as it is spoken; .ogg is Ogg Vorbis (not PCM, which Ogg lacks)."""
    written = []
    original = sf.SoundFile.write
    monkeypatch.setattr(sf.SoundFile, "write", lambda self, data: written.append(len(data)) or original(self, data))
    out = tmp_path / "out.ogg"
    assert synthesize.main(["--model", "any", "--text", "ሰላም ነው። ደህና ሁን።", "--output", str(out), "--seed", "2",
                            "--batch-size", "1"]) == 0
    info = sf.info(out)
    assert (info.format, info.subtype, info.samplerate) == ("OGG", "VORBIS", 24000)
    assert len(written) == 2 and abs(info.duration - sum(written) / 24000) < 0.05


@pytest.mark.parametrize("argv, message", [
    (["--text", "   ", "--output", "x.wav"], "--text is empty"),
    (["--text", "!!! ።", "--output", "x.wav"], "no Amharic or Latin letters"),
    (["--text", "ሰላም", "--output", "x.mp3"], "must end in .wav"),
    (["--text", "ሰላም", "--output", "x.wav", "--reference", "missing.wav"], "reference clip missing.wav does not"),
    (["--text", "ሰላም", "--output", "x.wav", "--reference", __file__], "cannot read the reference clip"),
    (["--text", "ሰላም", "--output", "x.wav", "--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_bad_input_is_one_clear_line(loaded, argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert synthesize.main(["--model", "any", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_empty_text_file_and_missing_model(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    assert synthesize.main(["--model", "x", "--text-file", str(tmp_path / "empty.txt"), "--output", "o"]) == 2
    assert "has no text" in capsys.readouterr().err
    assert synthesize.main(["--model", str(tmp_path / "nothing"), "--text", "ሰላም", "--output", "o.wav"]) == 2
    assert "neither a model folder nor a Hub repo id" in capsys.readouterr().err


class _Interrupted:
    """Speaks two pieces (or lines) of 0.5 s, then the user presses Ctrl-C."""

    sr = 16000

    def _pieces(self):
        import torch

        for k in range(2):
            yield k, torch.full((1, 8000), 0.1 * (k + 1))
        raise KeyboardInterrupt

    def stream(self, *args, **kwargs):
        return (wav for _, wav in self._pieces())

    def sentences(self, line):
        return [line]

    def stream_many(self, lines, **kwargs):
        return self._pieces()


def test_an_interrupt_keeps_what_was_spoken_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(AmharicTTS, "from_pretrained", classmethod(lambda cls, *a, **k: _Interrupted()))
    out = tmp_path / "long.wav"
    assert synthesize.main(["--model", "m", "--text", "ሰላም።", "--output", str(out)]) == 130
    audio, rate = sf.read(out)
    assert rate == 16000 and len(audio) == 16000 and audio[0] == pytest.approx(0.1, abs=1e-3)
    assert f"interrupted: the 1.0 s spoken so far are in {out}" in capsys.readouterr().err

    lines = tmp_path / "lines.txt"
    lines.write_text("አንድ\nሁለት\nሶስት\n", encoding="utf-8")
    assert synthesize.main(["--model", "m", "--text-file", str(lines), "--output", str(tmp_path / "out")]) == 130
    assert "interrupted: 2 of 3 lines were spoken" in capsys.readouterr().err
    index = (tmp_path / "out" / "lines.tsv").read_text(encoding="utf-8").splitlines()
    assert index[1].startswith("0001.wav\tአንድ") and index[2].startswith("0002.wav\tሁለት")
    assert index[3] == "\tሶስት\t0.0\tinterrupted before it was spoken"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == ["0001.wav", "0002.wav"]
