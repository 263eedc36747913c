#!/usr/bin/env python
"""Seconds of kept audio prepared per wall second, end to end and per stage, and the padding in feature batches.

    python bench/bench_prepare.py --base runs/demo/base [--minutes 5] [--device cpu]

The test recording is speech that is all different: cues of one to three Amharic sentences (from
``samples/amharic_sentences.txt``, no cue text twice), each spoken by ``espeak-ng -v am`` in its own voice
variant, pitch and speed, with pauses and a -50 dBFS noise floor, stored as 48 kHz Opus like a downloaded talk,
with a subtitle cue for every sentence group. It is made once (needs espeak-ng) and cached under
``$XDG_CACHE_HOME/amharic-tts/bench_prepare`` (``~/.cache/...``; ``--cache`` to move it), never in the repository.

Each stage of ``prepare_dataset.py`` is timed on it with the base's real-size S3 tokenizer and voice encoder
(random weights are fine for timing): decoding, voice activity detection, cutting, FLAC encoding, speech tokens
+ log-mel (in row order as before, and length-sorted under the frame budget as ``prepare_dataset`` does now),
speaker embeddings. Then the whole step runs through ``prepare_dataset`` (fresh cache) and again (cached). The
kept segments must cover at least 90 % of the subtitled audio, or the benchmark stops: a step that drops or
de-duplicates most of its input would time a shortcut.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "samples" / "amharic_sentences.txt"
RECORDING_VERSION = 1  # bump when the recording below changes: the cache key
SEED = 19
RATE = 48000  # the stored recording's rate; espeak-ng speaks at 22050 Hz
MIN_COVERAGE = 0.9
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "amharic-tts" / "bench_prepare"


def _speakable_sentences() -> list[str]:
    """Sentences espeak-ng reads as the normaliser does: no digits, Latin letters or abbreviations."""
    lines = [line.strip() for line in SENTENCES.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not any(ch.isdigit() or ch.isascii() and ch.isalpha() or ch in "./%"
                                                       or "\u1369" <= ch <= "\u137c" for ch in line)]


def _espeak(text: str, variant: str, pitch: int, speed: int, folder: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    wav = folder / "say.wav"
    subprocess.run(["espeak-ng", "-v", f"am+{variant}", "-p", str(pitch), "-s", str(speed), "-w", str(wav), text],
                   check=True, capture_output=True)
    samples, rate = sf.read(wav, dtype="float32")
    loud = np.flatnonzero(np.abs(samples) > 10 ** (-40 / 20))  # espeak's own silence off, 20 ms kept
    if not len(loud):
        raise RuntimeError(f"espeak-ng said nothing for {text!r}")
    edge = int(0.02 * rate)
    samples = samples[max(0, loud[0] - edge): loud[-1] + edge]
    return soxr.resample(samples, rate, RATE).astype(np.float32)


def make_recording(minutes: float, cache: Path) -> tuple[Path, Path]:
    """(media, subtitles) of at least ``minutes`` of distinct speech, made once and cached."""
    import soundfile as sf

    key = hashlib.sha1(json.dumps([RECORDING_VERSION, SEED, round(minutes, 3),
                                   SENTENCES.read_bytes().hex()]).encode()).hexdigest()[:12]
    folder = cache / f"{minutes:g}min-{key}"
    media, subtitles = folder / "long.opus", folder / "long.srt"
    if media.exists() and subtitles.exists():
        return media, subtitles
    if shutil.which("espeak-ng") is None:
        raise SystemExit("bench_prepare.py: espeak-ng is needed once to make the test recording "
                         "(apt-get install espeak-ng; its Amharic voice is included)")
    sentences = _speakable_sentences()
    rng = np.random.default_rng(SEED)
    pieces, cues, used, at = [np.zeros(RATE, np.float32)], [], set(), 1.0
    with tempfile.TemporaryDirectory() as tmp:
        while at < minutes * 60:
            count = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
            text = " ".join(sentences[i] for i in rng.choice(len(sentences), size=count, replace=False))
            if text in used:
                continue
            used.add(text)
            speech = _espeak(text, VARIANTS[int(rng.integers(len(VARIANTS)))], int(rng.integers(30, 76)),
                             int(rng.integers(140, 191)), Path(tmp))
            cues.append((at, at + len(speech) / RATE, text))
            pause = rng.uniform(0.5, 1.2)
            pieces += [speech, np.zeros(int(pause * RATE), np.float32)]
            at += len(speech) / RATE + pause
    audio = np.concatenate(pieces)
    audio += rng.normal(0, 10 ** (-50 / 20), len(audio)).astype(np.float32)
    partial = folder.with_name(folder.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    sf.write(partial / media.name, np.clip(audio, -1, 1), RATE, format="OGG", subtype="OPUS")
    stamp = lambda t: f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}".replace(".", ",")  # noqa
    (partial / subtitles.name).write_text("".join(f"{n}\n{stamp(s)} --> {stamp(e)}\n{text}\n\n"
                                                  for n, (s, e, text) in enumerate(cues, 1)), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return media, subtitles


def _covered(spans: list[tuple[float, float]], cues: list[tuple[float, float]]) -> float:
    """Seconds of ``cues`` that lie inside the union of ``spans``."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return sum(max(0.0, min(end, e) - max(start, s)) for start, end in cues for s, e in merged
               if s < end and e > start)


def main(argv=None) -> int:
    from amharic_tts.data.prepare import PrepareConfig

    defaults = PrepareConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="base model directory or repo id (needs s3gen.pt, ve.pt)")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the test recording")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda:0 if there is one)")
    parser.add_argument("--batch-size", type=int, default=defaults.feature_batch_size,
                        help="feature_batch_size: segments per datasets.map batch")
    parser.add_argument("--batch-frames", type=int, default=defaults.feature_batch_frames,
                        help="feature_batch_frames: padded log-mel frames per feature batch")
    parser.add_argument("--cache", type=Path, default=_cache_root(), help="where the test recording is kept")
    args = parser.parse_args(argv)

    import torch
    from datasets import load_from_disk

    from amharic_tts.data.features import FeatureExtractor, encode_flac, feature_batches, mel_frames, padded_share
    from amharic_tts.data.media import load_audio
    from amharic_tts.data.prepare import prepare_dataset
    from amharic_tts.data.segment import CueInput, SegmentConfig, segment_recording, speech_regions
    from amharic_tts.data.sources import SourceSpec
    from amharic_tts.data.srt import read_srt
    from amharic_tts.text import normalize

    media, subtitles = make_recording(args.minutes, args.cache)
    device = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")  # as prepare_dataset picks it
    cues = read_srt(subtitles).cues
    subtitled = [(c.start, c.end) for c in cues]
    work = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    stages: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stages[name] = time.perf_counter() - start
        return out

    try:
        decoded = timed("decode (Opus 48 kHz -> 16 kHz)", lambda: load_audio(media))
        timed("voice activity (silero)", lambda: speech_regions(decoded, "silero"))
        cue_inputs = [CueInput(c.index, c.start, c.end, normalize(c.text), c.raw_text, c.problem) for c in cues]
        segments, _ = timed("cut + refine + filter (runs its own VAD)",
                            lambda: segment_recording(cue_inputs, decoded, SegmentConfig()))
        clips = [decoded[int(round(s.start * 16000)): int(round(s.end * 16000))] for s in segments]
        timed("FLAC encoding", lambda: [encode_flac(c) for c in clips])
        extractor = timed("load S3 tokenizer + voice encoder", lambda: FeatureExtractor(args.base, device=device))
        frames = [mel_frames(len(c)) for c in clips]
        row_order = feature_batches(frames, batch_size=args.batch_size, max_frames=None, sort=False)
        by_length = feature_batches(frames, batch_size=args.batch_size, max_frames=args.batch_frames)

        def tokens(batches):
            from s3tokenizer.utils import padding

            with torch.inference_mode():
                for batch in batches:
                    mels = [extractor.s3.log_mel_spectrogram(torch.from_numpy(clips[i])) for i in batch]
                    mel, lens = padding(mels)
                    extractor.s3.quantize(mel.to(extractor.device), lens.to(extractor.device))

        timed("log-mel + S3 tokens, batches in row order (before)", lambda: tokens(row_order))
        timed("log-mel + S3 tokens, length-sorted batches", lambda: tokens(by_length))
        timed("speaker embeddings (voice encoder, a clip at a time)",
              lambda: [extractor.ve.embeds_from_wavs([clip], sample_rate=16000) for clip in clips])
        extractor = None  # the whole step loads its own

        spec = SourceSpec("srt", "long", media=str(media), subtitles=str(subtitles))
        config = PrepareConfig(feature_batch_size=args.batch_size, feature_batch_frames=args.batch_frames)
        run = lambda out: prepare_dataset([spec], work / out, config, base_model=args.base,  # noqa: E731
                                          device=device, cache_dir=str(work / "cache"))
        whole = timed("prepare_dataset, whole step", lambda: run("out"))
        used = FeatureExtractor.shared(args.base, device=device)  # the one the whole step loaded
        timed("prepare_dataset, second run (cached)", lambda: run("out2"))

        data = load_from_disk(str(work / "out"))
        rows = [row for split in data.values() for row in split.select_columns(["start", "end", "duration"])]
        kept = sum(row["duration"] for row in rows)
        coverage = _covered([(row["start"], row["end"]) for row in rows], subtitled) / sum(e - s for s, e in subtitled)
        if coverage < MIN_COVERAGE:
            raise SystemExit(f"bench_prepare.py: the kept segments cover {coverage:.0%} of the subtitled audio "
                             f"(under {MIN_COVERAGE:.0%}); the whole step would be timed on a shortcut "
                             f"(dropped: {whole.report['totals']['dropped_by_reason']})")
        size = sum(p.stat().st_size for p in (work / "out").rglob("*") if p.is_file())
        whole_s = stages["prepare_dataset, whole step"]
        print(json.dumps({
            "recording_seconds": round(len(decoded) / 16000, 1),
            "subtitled_seconds": round(sum(e - s for s, e in subtitled), 1),
            "kept_seconds": round(kept, 1), "segments": len(rows),
            "kept_share_of_subtitled_audio": round(coverage, 3),
            "kept_audio_seconds_per_wall_second": round(kept / whole_s, 2),
            "stages": {name: {"seconds": round(s, 2), **({} if name.startswith("load") else
                                                         {"kept_audio_seconds_per_second": round(kept / s, 1)})}
                       for name, s in stages.items()},
            "padded_frame_share": {
                "row_order_batches": round(padded_share(frames, row_order), 3),
                "length_sorted_batches": round(padded_share(frames, by_length), 3),
                "whole_step_measured": round(used.padding_share(), 3) if used.batch_frames else None,
            },
            "feature_batch_size": args.batch_size, "feature_batch_frames": args.batch_frames, "device": device,
            "disk_mb_per_hour_kept_with_mel": round(size / 2**20 / (kept / 3600), 1) if kept else None,
        }, indent=2, ensure_ascii=False))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
