#!/usr/bin/env python
"""Peak memory and wall time of cutting a long recording into segments, decoded whole vs window by window.

    python bench/bench_prepare_memory.py [--hours 2 6] [--vad silero|energy] [--cache DIR]

The recording is the demo lecture (``samples/demo/lecture.webm``, 34 s) followed by 2 s of silence, repeated to
the length asked for, with its subtitles shifted along; stored once as 16 kHz FLAC (Opus would be more like a
downloaded talk, but libsndfile encodes it at only ~20x real time on this machine; decoding cost is not what is
measured) under ``$XDG_CACHE_HOME/amharic-tts/bench_prepare_memory`` (``--cache`` to move it). Repeats do
not matter here: duplicates are found later, and this measures only the stage before: decoding, voice activity
detection, cutting + refining + filtering, and each segment's samples hash, loudness fingerprint and FLAC
encoding (no speech tokenizer, no voice encoder).

Each measurement runs in a fresh Python process and reports its peak resident memory (``ru_maxrss``), its
resident memory once the libraries are imported and the VAD model loaded (the baseline), and its wall time:

* ``whole``: as before, the media decoded into one array (``iter_recordings`` with ``decode=True``) and
  ``segment_recording`` run on it;
* ``windowed``: ``prepare.generate_rows`` as ``prepare_dataset.py`` runs it now (streamed detection, then the
  recording decoded again and cut ``segment.WINDOW_SECONDS`` at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LECTURE = ROOT / "samples" / "demo" / "lecture.webm"
SUBTITLES = ROOT / "samples" / "demo" / "lecture.srt"
RATE = 16000
SILENCE_S = 2.0


def _stamp(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def build(hours: float, cache: Path) -> tuple[Path, Path]:
    """The lecture repeated for ``hours`` as FLAC + SRT (made once, written copy by copy: little memory)."""
    import numpy as np
    import soundfile as sf

    from amharic_tts.data.media import load_audio
    from amharic_tts.data.srt import read_srt

    media, subtitles = cache / f"lecture_{hours:g}h.flac", cache / f"lecture_{hours:g}h.srt"
    if media.is_file() and subtitles.is_file():
        return media, subtitles
    cache.mkdir(parents=True, exist_ok=True)
    piece = np.concatenate([load_audio(LECTURE, RATE), np.zeros(round(SILENCE_S * RATE), np.float32)])
    step = len(piece) / RATE
    copies = int(hours * 3600 // step)
    cues = read_srt(SUBTITLES).cues
    partial = media.with_suffix(".part.flac")
    with sf.SoundFile(partial, "w", RATE, 1, format="FLAC", subtype="PCM_16") as out, \
            open(subtitles.with_suffix(".part"), "w", encoding="utf-8") as srt:
        number = 0
        for k in range(copies):
            out.write(piece)
            for cue in cues:
                number += 1
                srt.write(f"{number}\n{_stamp(cue.start + k * step)} --> {_stamp(cue.end + k * step)}\n"
                          f"{cue.raw_text}\n\n")
    partial.rename(media)
    subtitles.with_suffix(".part").rename(subtitles)
    return media, subtitles


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def child(mode: str, media: str, subtitles: str, vad: str) -> dict:
    """One measurement, in this (fresh) process."""
    from amharic_tts.data.features import encode_flac
    from amharic_tts.data.prepare import PrepareConfig, generate_rows
    from amharic_tts.data.segment import (SegmentConfig, audio_hash, loudness_fingerprint, segment_recording,
                                          speech_regions)
    from amharic_tts.data.sources import SourceSpec, iter_recordings
    from amharic_tts.text import normalize
    import numpy as np

    speech_regions(np.zeros(RATE, np.float32), vad)  # load the VAD model before the baseline
    baseline = _rss_mb()
    spec = SourceSpec("srt", "long", media=media, subtitles=subtitles)
    config = PrepareConfig(segment=SegmentConfig(vad=vad))
    began = time.perf_counter()
    segments = 0
    if mode == "whole":
        for recording in iter_recordings(spec, lambda text: normalize(text, config.normalizer)):
            found, _ = segment_recording(recording.cues, recording.audio, config.segment)
            for seg in found:
                clip = recording.audio[int(round(seg.start * RATE)): int(round(seg.end * RATE))]
                audio_hash(clip), loudness_fingerprint(clip), encode_flac(clip)
                segments += 1
    else:
        for row in generate_rows([json.dumps(spec.to_dict())], [0], json.dumps(config.to_dict())):
            segments += row["kind"] == "segment"
    return {"mode": mode, "segments": segments, "wall_s": round(time.perf_counter() - began, 1),
            "baseline_rss_mb": round(baseline), "peak_rss_mb": round(_rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[2.0, 6.0])
    parser.add_argument("--vad", default="silero", choices=["silero", "energy"])
    parser.add_argument("--modes", nargs="+", default=["whole", "windowed"], choices=["whole", "windowed"])
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "amharic-tts" / "bench_prepare_memory")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "MEDIA", "SUBTITLES", "VAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    for hours in args.hours:
        media, subtitles = build(hours, args.cache)
        for mode in args.modes:
            done = subprocess.run([sys.executable, __file__, "--child", mode, str(media), str(subtitles), args.vad],
                                  capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if done.returncode:
                raise SystemExit(f"{mode}, {hours:g} h failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps({"hours": hours, "vad": args.vad, **result}), flush=True)


if __name__ == "__main__":
    main()
