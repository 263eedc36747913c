#!/usr/bin/env python
"""Seconds of audio prepared per wall second, and where the time goes.

    python bench/bench_prepare.py --base runs/demo/base [--minutes 5] [--device cpu]

Builds a long recording by repeating the demo lecture (``samples/demo``) and times each stage of
``prepare_dataset.py`` on it with the base's real-size S3 tokenizer and voice encoder (random weights are fine
for timing): decoding, voice activity detection, cutting + FLAC encoding, speech tokens + log-mel, speaker
embeddings. Then runs the whole step through ``prepare_dataset`` (fresh cache) and again (cached).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "samples" / "demo"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="base model directory or repo id (needs s3gen.pt, ve.pt)")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the test recording")
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    import os

    import soundfile as sf

    from amharic_tts.data.features import FeatureExtractor, encode_flac
    from amharic_tts.data.media import load_audio
    from amharic_tts.data.prepare import PrepareConfig, prepare_dataset
    from amharic_tts.data.segment import CueInput, SegmentConfig, segment_recording, speech_regions
    from amharic_tts.data.sources import SourceSpec
    from amharic_tts.data.srt import read_srt
    from amharic_tts.text import normalize

    work = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    lecture = load_audio(DEMO / "lecture.webm")
    cues = read_srt(DEMO / "lecture.srt").cues
    length = len(lecture) / 16000
    repeats = max(1, int(np.ceil(args.minutes * 60 / length)))
    audio = np.tile(lecture, repeats)
    wav = work / "long.flac"
    sf.write(wav, audio, 16000, format="FLAC", subtype="PCM_16")
    with open(work / "long.srt", "w", encoding="utf-8") as srt:
        n = 0
        for r in range(repeats):
            for c in cues:
                if c.start is None:
                    continue
                n += 1
                s, e = c.start + r * length, c.end + r * length
                fmt = lambda t: f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}".replace(".", ",")  # noqa
                srt.write(f"{n}\n{fmt(s)} --> {fmt(e)}\n{c.raw_text}\n\n")
    seconds = len(audio) / 16000
    stages: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        out = fn()
        stages[name] = round(time.perf_counter() - start, 3)
        return out

    decoded = timed("decode (PyAV, 16 kHz)", lambda: load_audio(wav))
    timed("voice activity (silero)", lambda: speech_regions(decoded, "silero"))
    cue_inputs = [CueInput(c.index, c.start, c.end, normalize(c.text), c.raw_text, c.problem)
                  for c in read_srt(work / "long.srt").cues]
    segments, _ = timed("cut + refine + filter", lambda: segment_recording(cue_inputs, decoded, SegmentConfig()))
    clips = [decoded[int(s.start * 16000): int(s.end * 16000)] for s in segments]
    timed("FLAC encoding", lambda: [encode_flac(c) for c in clips])
    extractor = timed("load S3 tokenizer + voice encoder", lambda: FeatureExtractor(args.base, device=args.device))

    def tokens():
        import torch
        from s3tokenizer.utils import padding

        with torch.inference_mode():
            for i in range(0, len(clips), args.batch_size):
                mels = [extractor.s3.log_mel_spectrogram(torch.from_numpy(c)) for c in clips[i:i + args.batch_size]]
                batch, lens = padding(mels)
                extractor.s3.quantize(batch.to(extractor.device), lens.to(extractor.device))

    def speakers():
        for i in range(0, len(clips), args.batch_size):
            extractor.ve.embeds_from_wavs(clips[i:i + args.batch_size], sample_rate=16000)

    timed("log-mel + S3 speech tokens", tokens)
    timed("speaker embeddings (voice encoder)", speakers)
    os.environ["HF_DATASETS_CACHE"] = str(work / "cache")
    spec = SourceSpec("srt", "long", media=str(wav), subtitles=str(work / "long.srt"))
    config = PrepareConfig(feature_batch_size=args.batch_size)
    whole = timed("prepare_dataset, whole step", lambda: prepare_dataset([spec], work / "out", config,
                                                                          base_model=args.base, device=args.device))
    timed("prepare_dataset, second run (cached)", lambda: prepare_dataset([spec], work / "out2", config,
                                                                           base_model=args.base, device=args.device))
    size = sum(p.stat().st_size for p in (work / "out").rglob("*") if p.is_file())
    hours = whole.report["totals"]["hours_kept"]
    print(json.dumps({
        "audio_seconds": round(seconds, 1), "segments": whole.report["totals"]["segments"], "stages_s": stages,
        "audio_seconds_per_wall_second": round(seconds / stages["prepare_dataset, whole step"], 2),
        "disk_mb_per_hour_kept_with_mel": round(size / 2**20 / hours, 1) if hours else None,
    }, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
