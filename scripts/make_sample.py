"""Write the bundled demo sample, ``samples/demo/``, that the README's demo runs the whole pipeline on.

    python scripts/make_sample.py [OUT_DIR]        # default: samples/demo next to this script's repo root

Needs ``espeak-ng`` (with its Amharic voice) and the project's Python environment; the outputs are committed, so
nobody else needs espeak-ng. Given the same espeak-ng and ``av`` wheel, the output is byte-for-byte the same.

What it writes:

* ``lecture.webm``: a little "lecture": a 2 s intro (no speech), then 10 Amharic sentences spoken by
  ``espeak-ng -v am`` with 0.6-1.0 s pauses, and a 1 s outro. Low noise (-50 dBFS RMS) runs under all of it.
  Opus 48 kHz mono, with a tiny VP8 video (96x64, 2 fps: one colour per sentence), like a recorded talk.
* ``lecture.srt``: one cue per sentence, timed the way real subtitles are off: sentences 1, 4, 7, 10 are 0.15 s
  late, sentences 2, 5, 8 are 0.2 s early, the rest exact; plus a ``[ሙዚቃ]`` (music) cue over the silent intro.
* ``lecture_truth.tsv``: where each sentence really is (first and last sample above -40 dBFS) next to its
  cue's times, for checking segmentation.
* ``ljspeech/``: an LJSpeech-style folder (``metadata.csv``: ``id|text|normalized text``, no header;
  ``wavs/<id>.wav``, 22050 Hz 16-bit mono) with 4 more sentences from another voice (``am+f2 -p 70 -s 150``),
  so the demo has two speakers. The normalized column is ``amharic_tts.text.normalize`` of the text.
* ``README.md``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
RATE = 22050  # espeak-ng's output rate
SENTENCES = [
    "ሰላም ነው። እንኳን ደህና መጣችሁ።",
    "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።",
    "ዛሬ የአየሩ ሁኔታ በጣም ጥሩ ነው።",
    "ልጆቹ ወደ ትምህርት ቤት ሄዱ።",
    "እኔ ቡና መጠጣት እወዳለሁ።",
    "ገበያው ዛሬ በሰዎች ተሞልቷል።",
    "የአማርኛ ቋንቋ የራሱ ፊደል አለው።",
    "ባቡሩ በሰዓቱ ደረሰ።",
    "ውሃ ለሕይወት አስፈላጊ ነው።",
    "በ2015 ዓ.ም ብዙ ለውጦች ተደርገዋል።",
]
LJSPEECH_SENTENCES = [
    "መጽሐፉን ትናንት ማታ አነበብኩት።",
    "ዶ/ር አበበ በ3 ሰዓት ይመጣሉ።",
    "ኢትዮጵያ ብዙ ቋንቋዎች ያሏት ሀገር ናት።",
    "ዝናቡ ከጠዋት ጀምሮ እየዘነበ ነው።",
]
LECTURE_VOICE = ("-v", "am")
LJSPEECH_VOICE = ("-v", "am+f2", "-p", "70", "-s", "150")
INTRO_S, OUTRO_S = 2.0, 1.0
PAUSE_RANGE_S = (0.6, 1.0)
NOISE_DBFS = -50.0
SPEECH_THRESHOLD = 10 ** (-40 / 20)  # a sentence starts/ends at its first/last sample above -40 dBFS
EDGE_S = 0.02  # kept around each sentence when espeak's own silence is trimmed
CUE_SHIFTS = (0.15, -0.2, 0.0)  # cue i is shifted by CUE_SHIFTS[i % 3] seconds: late, early, exact
MUSIC_CUE = (0.25, 1.6, "[ሙዚቃ]")
SEED = 2015


def espeak(text: str, voice: tuple[str, ...]) -> np.ndarray:
    """Float samples in [-1, 1) at 22050 Hz of ``text`` spoken by espeak-ng."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", *voice, "-w", str(wav), text], check=True)
        samples, rate = sf.read(wav, dtype="float32")
    if rate != RATE:
        raise SystemExit(f"espeak-ng wrote {rate} Hz, expected {RATE}")
    return samples


def trim(samples: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``samples`` less espeak's leading/trailing silence (``EDGE_S`` kept), and where speech starts and ends
    (sample indices into the returned array)."""
    loud = np.flatnonzero(np.abs(samples) > SPEECH_THRESHOLD)
    edge = round(EDGE_S * RATE)
    begin, end = max(0, loud[0] - edge), min(len(samples), loud[-1] + 1 + edge)
    return samples[begin:end], loud[0] - begin, loud[-1] + 1 - begin


def build_lecture(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The lecture's samples (float, 22050 Hz) and each sentence's true (start, end) in seconds."""
    pieces = [np.zeros(round(INTRO_S * RATE), np.float32)]
    position = len(pieces[0])
    truth = []
    for i, sentence in enumerate(SENTENCES):
        clip, onset, offset = trim(espeak(sentence, LECTURE_VOICE))
        truth.append(((position + onset) / RATE, (position + offset) / RATE))
        pieces.append(clip)
        position += len(clip)
        pause = OUTRO_S if i == len(SENTENCES) - 1 else rng.uniform(*PAUSE_RANGE_S)
        pieces.append(np.zeros(round(pause * RATE), np.float32))
        position += len(pieces[-1])
    audio = np.concatenate(pieces)
    audio += rng.standard_normal(len(audio)).astype(np.float32) * np.float32(10 ** (NOISE_DBFS / 20))
    return np.clip(audio, -1.0, 32767 / 32768), truth


def cue_times(truth: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Subtitle times: the true ones shifted like real subtitles (late, early, exact, in turn), to the ms."""
    return [(round(s + CUE_SHIFTS[i % 3], 3), round(e + CUE_SHIFTS[i % 3], 3)) for i, (s, e) in enumerate(truth)]


def srt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path: Path, cues: list[tuple[float, float, str]]) -> None:
    blocks = [f"{n}\n{srt_time(s)} --> {srt_time(e)}\n{text}\n" for n, (s, e, text) in enumerate(cues, 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")


def write_truth(path: Path, truth, cues) -> None:
    lines = ["sentence\tspeech_start\tspeech_end\tcue_start\tcue_end\ttext"]
    for i, ((s, e), (cs, ce), text) in enumerate(zip(truth, cues, SENTENCES), 1):
        lines.append(f"{i}\t{s:.3f}\t{e:.3f}\t{cs:.3f}\t{ce:.3f}\t{text}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def slide(index: int, width: int = 96, height: int = 64) -> np.ndarray:
    """An RGB frame: one colour per sentence, with a bar showing which one."""
    hue = (index * 0.13) % 1.0
    colour = (255 * (0.5 + 0.5 * np.cos(2 * np.pi * (hue + np.array([0.0, 1 / 3, 2 / 3]))))).astype(np.uint8)
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = colour
    frame[height - 8 :, : max(1, (index + 1) * width // (len(SENTENCES) + 1))] = 255
    return frame


def write_webm(path: Path, audio: np.ndarray, truth: list[tuple[float, float]], fps: int = 2) -> None:
    """Opus 48 kHz mono 32 kb/s + VP8 96x64 at ``fps``, written with PyAV (bit-exact flags: no random ids)."""
    samples = np.round(audio * 32768).astype(np.int16)
    seconds = len(samples) / RATE
    with av.open(str(path), "w", format="webm", options={"fflags": "+bitexact"}) as out:
        video = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.codec_context.thread_count = 1
        video.bit_rate = 20_000
        sound = out.add_stream("libopus", rate=48000, layout="mono")
        sound.bit_rate = 32_000
        starts = [s for s, _ in truth]
        for i in range(int(np.ceil(seconds * fps))):
            current = int(np.searchsorted(starts, i / fps, side="right"))  # sentences begun so far
            frame = av.VideoFrame.from_ndarray(slide(current), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for offset in range(0, len(samples), 4096):
            block = samples[offset : offset + 4096].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, offset, Fraction(1, RATE)
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))


def write_ljspeech(folder: Path) -> None:
    from amharic_tts.text import normalize

    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, sentence in enumerate(LJSPEECH_SENTENCES, 1):
        name = f"demo_{i:03d}"
        sf.write(folder / "wavs" / f"{name}.wav", espeak(sentence, LJSPEECH_VOICE), RATE, subtype="PCM_16")
        rows.append(f"{name}|{sentence}|{normalize(sentence)}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


README = """# Demo sample

A small, synthetic Amharic dataset for the demo (`bash scripts/demo.sh`) and for trying the pipeline:

- `lecture.webm` ({duration:.1f} s): a "lecture" with a tiny video: 10 sentences with pauses, after a 2 s intro.
  `lecture.srt` has one cue per sentence, timed the way real subtitles are off (some 0.15 s late, some 0.2 s
  early) and a `[ሙዚቃ]` cue over the silent intro. `lecture_truth.tsv` gives where each sentence really is.
- `ljspeech/`: an LJSpeech-style folder (`metadata.csv` as `id|text|normalized text`, `wavs/*.wav` at 22050 Hz)
  with 4 sentences by a second voice.

Made by `python scripts/make_sample.py` with espeak-ng's Amharic voice (`-v am` for the lecture,
`-v am+f2 -p 70 -s 150` for the LJSpeech folder), encoded with PyAV (Opus and VP8 in WebM). It is robotic
speech, for testing the plumbing, not for training a voice.

Licence: generated by espeak-ng from sentences written for this project; no rights reserved (CC0).
"""


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    audio, truth = build_lecture(rng)
    cues = cue_times(truth)
    write_webm(out_dir / "lecture.webm", audio, truth)
    write_srt(out_dir / "lecture.srt", [MUSIC_CUE] + [(s, e, text) for (s, e), text in zip(cues, SENTENCES)])
    write_truth(out_dir / "lecture_truth.tsv", truth, cues)
    write_ljspeech(out_dir / "ljspeech")
    (out_dir / "README.md").write_text(README.format(duration=len(audio) / RATE), encoding="utf-8")

    from amharic_tts.data.media import probe  # the file must read back through the project's own decoder

    info = probe(out_dir / "lecture.webm")
    print(f"lecture.webm: {info.duration:.2f} s of {info.codec} at {info.sample_rate} Hz in {info.container}")
    total = 0
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        size = path.stat().st_size
        total += size
        print(f"{size:>9,} {path.relative_to(out_dir.parent)}")
    print(f"{total:>9,} total")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "samples" / "demo")
