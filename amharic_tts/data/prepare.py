"""Prepare a training set: sources -> segments -> features -> ``DatasetDict`` on disk + ``prepare_report.json``.

1. Segmentation (decode, cut by cue, refine edges, filter) runs in ``Dataset.from_generator``, one row per kept
   segment plus one row per input (its fate) and per failed source, so the report is rebuilt from cached rows.
2. Duplicate segments are dropped across the whole run, the first one staying: identical samples, and copies of
   one recording (re-encoded, re-cut by other subtitles: a programme's intro in every episode, a clip uploaded
   twice), found among segments with the same text by their loudness fingerprints (see :func:`_dedup`).
3. Features (S3 speech tokens, speaker embedding, log-mel) are added with a batched ``Dataset.map``.
4. Recordings, not segments, are shuffled into ``train``/``validation``/``test`` with a seed, so one recording
   spans two splits only when no whole recording fits a split (one long recording, or only long ones): then the
   split takes a block of segments from the end of a recording (see :func:`assign_splits`; the report says so).

Both cached steps carry explicit fingerprints made of the inputs' sizes and modification times, the settings,
the base model's feature weights and the code of the data modules, so a second run with the same inputs reuses
the cache (seconds) and any change recomputes. Under ``accelerate launch`` each process takes a share of the
sources and rank 0 merges the shards, de-duplicates, splits and writes the report: the same dataset as one process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from amharic_tts.data.segment import (Fate, SegmentConfig, WindowedSegmentation, audio_hash, fingerprint_similarity,
                                      loudness_fingerprint, segment_recording)
from amharic_tts.data.sources import SAMPLE_RATE, SourceError, SourceSpec, iter_recordings
from amharic_tts.text.normalize import NormalizerConfig, normalize, normalizer_signature

logger = logging.getLogger(__name__)

REPORT_FILE = "prepare_report.json"
FAILED_REPORT_FILE = "prepare_report.failed.json"  # a run that kept nothing, next to an earlier dataset it left
SPLITS = ("train", "validation", "test")
MAX_COPY_COMPARISONS = 256  # a segment is compared with at most this many earlier ones of its text (nearest length)
_CODE_MODULES = ("segment", "sources", "srt", "media", "features", "prepare")


@dataclass
class PrepareConfig:
    """Settings of ``prepare_dataset.py`` (``configs/data/*.yaml``)."""

    segment: SegmentConfig = field(default_factory=SegmentConfig)
    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)
    validation_size: float = 0.05  # a share of the segments (< 1) or a number of segments (>= 1)
    test_size: float = 0.05
    near_duplicate_similarity: float = 0.95  # copies of one recording; above 1 turns the search off
    seed: int = 0
    cache_mel: bool = True
    feature_batch_size: int = 16  # segments handed to feature extraction at a time ...
    feature_batch_frames: int = 4000  # ... in batches of at most this many padded log-mel frames (100 a second)
    license: str = "other"
    pretty_name: str = "Amharic speech for Chatterbox"

    def __post_init__(self):
        for name in ("feature_batch_size", "feature_batch_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"data setting {name} must be a whole number of at least 1, got {value!r}")

    @classmethod
    def from_dict(cls, data: dict | None) -> "PrepareConfig":
        data = dict(data or {})
        segment = _segment_config(data.pop("segment", None) or {})
        normalizer = NormalizerConfig.from_dict(data.pop("normalizer", None))
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown data settings: {', '.join(unknown)}")
        return cls(segment=segment, normalizer=normalizer, **data)

    def to_dict(self) -> dict:
        return {**asdict(self), "normalizer": self.normalizer.to_dict()}


VAD_METHODS = ("silero", "energy")


def _segment_config(settings) -> SegmentConfig:
    """The ``segment`` section checked: known names, numbers where numbers go, a known detector, sane limits."""
    if not isinstance(settings, dict):
        raise ValueError(f"segment settings must be a mapping of names to values, not {settings!r}")
    known = SegmentConfig.__dataclass_fields__
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"unknown segment settings: {', '.join(unknown)} (known: {', '.join(known)})")
    defaults = SegmentConfig()
    for name, value in settings.items():
        default = getattr(defaults, name)
        if isinstance(default, bool) and not isinstance(value, bool) or \
                isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"segment setting {name} must be a {type(default).__name__}, got {value!r}")
    config = SegmentConfig(**settings)
    if config.vad not in VAD_METHODS:
        raise ValueError(f"segment setting vad must be one of {', '.join(VAD_METHODS)}, got {config.vad!r}")
    for name, default in vars(defaults).items():  # times, rates and shares; a level in dBFS may be negative
        value = getattr(config, name)
        if isinstance(default, float) and name != "min_rms_dbfs" and \
                not 0 <= value <= (1 if name.endswith("_share") else float("inf")):
            raise ValueError(f"segment setting {name} must be "
                             f"{'between 0 and 1' if name.endswith('_share') else 'at least 0'}, got {value!r}")
    for low, high in (("min_duration", "max_duration"), ("min_cps", "max_cps")):
        if not 0 <= getattr(config, low) < getattr(config, high):
            raise ValueError(f"segment setting {low} ({getattr(config, low)}) must be at least 0 and below {high} "
                             f"({getattr(config, high)})")
    return config


def _row_features():
    from datasets import Array2D, Features, Sequence as Seq, Value

    return Features({
        "kind": Value("string"),  # "segment" | "input" | "source_error" | "source_skipped"
        "order": Value("int64"),  # source position << 32 | row number: one order for any sharding
        "source": Value("string"),
        "source_kind": Value("string"),
        "recording": Value("string"),
        "speaker": Value("string"),
        "index": Value("int64"),  # input index within its source (cue / metadata row / dataset row)
        "kept": Value("bool"),
        "reason": Value("string"),
        "detail": Value("string"),
        "segment_ids": Seq(Value("string")),
        "id": Value("string"),
        "text": Value("string"),
        "raw_text": Value("string"),
        "start": Value("float64"),
        "end": Value("float64"),
        "duration": Value("float64"),
        "edges_moved": Value("bool"),
        "start_shift": Value("float32"),
        "end_shift": Value("float32"),
        "audio_sha1": Value("string"),
        "fingerprint": Array2D(shape=(None, 4), dtype="float16"),  # loudness_fingerprint, for near duplicates
        # Audio's own storage type; it becomes an ``Audio`` feature by a cast at the end, because datasets 5
        # encodes Audio values through torchcodec, which has no build for torch 2.6.
        "audio": {"bytes": Value("binary"), "path": Value("string")},
    })


_EMPTY = {"recording": "", "speaker": "", "index": -1, "kept": False, "reason": None, "detail": "",
          "segment_ids": [], "id": "", "text": "", "raw_text": "", "start": 0.0, "end": 0.0, "duration": 0.0,
          "edges_moved": False, "start_shift": 0.0, "end_shift": 0.0, "audio_sha1": "", "fingerprint": None,
          "audio": None}


def generate_rows(specs: list[str], positions: list[int], config: str):
    """``Dataset.from_generator`` body: rows for the given sources (JSON specs; lists shard across workers), with
    a progress bar per source over its inputs (cues, clips)."""
    from tqdm.auto import tqdm

    from amharic_tts.data.features import encode_flac

    cfg = PrepareConfig.from_dict(json.loads(config))
    norm = lambda text: normalize(text, cfg.normalizer)  # noqa: E731
    for spec_json, position in zip(specs, positions):
        spec = SourceSpec(**json.loads(spec_json))
        base = {**_EMPTY, "source": spec.name, "source_kind": spec.kind}
        row_no = 0

        def order() -> int:
            nonlocal row_no
            row_no += 1
            return (position << 32) | row_no

        if spec.skipped:  # e.g. a second subtitle file for one media file in --srt-dir
            yield {**base, "kind": "source_skipped", "order": order(), "reason": "source_skipped",
                   "detail": spec.skipped}
            continue
        produced = 0
        # the total is known once the source is open (its subtitles or metadata read)
        bar = tqdm(desc=f"segmenting {spec.name}", unit="cue" if spec.kind == "srt" else "clip")
        try:
            for recording in iter_recordings(spec, norm, decode=False):
                if bar.total is None and recording.source_inputs is not None:
                    bar.total = recording.source_inputs
                    bar.refresh()
                before = bar.n  # inputs of the earlier recordings
                place = {cue.index: k for k, cue in enumerate(recording.cues)}
                # (segment, its samples) pairs, and the cues' fates once they are all out
                if recording.media is not None:  # subtitled media, however long: streamed window by window
                    windowed = WindowedSegmentation(recording.cues, recording.blocks, cfg.segment)
                    pieces, fates_of = windowed.segments(), lambda windowed=windowed: windowed.fates
                elif recording.audio is None:
                    pieces = iter(())
                    fates = [Fate(c.index, False, c.problem or "unreadable_audio", detail=c.detail)
                             for c in recording.cues]
                    fates_of = lambda fates=fates: fates  # noqa: E731
                else:  # a clip (LJSpeech, Hub): short, held whole
                    segments, fates = segment_recording(recording.cues, recording.audio, cfg.segment)
                    pieces = ((seg, recording.audio[int(round(seg.start * SAMPLE_RATE)):
                                                    int(round(seg.end * SAMPLE_RATE))]) for seg in segments)
                    fates_of = lambda fates=fates: fates  # noqa: E731
                ids = []
                for seg, clip in pieces:
                    # a long recording: the bar follows the cues its segments come from
                    reached = before + 1 + max((place.get(i, -1) for i in seg.cue_indices), default=-1)
                    if reached > bar.n:
                        bar.update(reached - bar.n)
                    seg_id = f"{spec.name}-{produced:05d}"
                    produced += 1
                    ids.append(seg_id)
                    yield {**base, "kind": "segment", "order": order(), "recording": recording.name,
                           "speaker": recording.speaker, "id": seg_id, "text": seg.text, "raw_text": seg.raw_text,
                           "start": seg.start, "end": seg.end, "duration": len(clip) / SAMPLE_RATE,
                           "edges_moved": seg.edges_moved, "start_shift": seg.start_shift,
                           "end_shift": seg.end_shift, "audio_sha1": audio_hash(clip),
                           "fingerprint": loudness_fingerprint(clip),
                           "audio": {"bytes": encode_flac(clip), "path": f"{seg_id}.flac"}}
                if before + len(recording.cues) > bar.n:
                    bar.update(before + len(recording.cues) - bar.n)
                for fate in fates_of():
                    yield {**base, "kind": "input", "order": order(), "recording": recording.name,
                           "speaker": recording.speaker, "index": fate.index, "kept": fate.kept,
                           "reason": fate.reason, "detail": fate.detail,
                           "segment_ids": [ids[i] for i in fate.segments]}
        except SourceError as err:
            bar.close()
            logger.error("source %s failed: %s", spec.name, err)
            yield {**base, "kind": "source_error", "order": order(), "reason": "source_failed", "detail": str(err)}
        finally:
            bar.close()


# --------------------------------------------------------------------------------------------- fingerprints


def _sha(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _code_signature() -> str:
    import importlib

    digest = hashlib.sha1()
    for name in _CODE_MODULES:
        digest.update(Path(importlib.import_module(f"amharic_tts.data.{name}").__file__).read_bytes())
    digest.update(normalizer_signature().encode())  # the normaliser's code and tables (abbreviations ...)
    return digest.hexdigest()[:20]


def _file_signature(path: str) -> list:
    try:
        stat = os.stat(path)
        return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns]
    except OSError:
        return [os.path.abspath(path), None]


def segmentation_fingerprint(specs: Sequence[SourceSpec], config: PrepareConfig) -> str:
    return _sha("rows", [s.to_dict() for s in specs], [[_file_signature(f) for f in s.files()] for s in specs],
                config.to_dict(), _code_signature())


# --------------------------------------------------------------------------------------------- assembly


def _dedup(rows, meta: list[dict], similarity: float) -> tuple[set[str], dict[str, str]]:
    """Segment ids to keep, and ``{dropped id: why}``; the first segment (in input order) stays.

    ``meta`` is ``rows`` as dicts without the audio. Identical samples are duplicates; so are copies of one
    recording: segments with the same text, durations within 10 % (or 0.5 s) and loudness fingerprints at least
    ``similarity`` alike (:func:`~amharic_tts.data.segment.fingerprint_similarity`). Two readings of a sentence,
    even by one voice, differ in timing and stay (measured on espeak-ng speech: re-encoded or re-cut copies
    0.96-1.0, a slower reading 0.49; ``tests/data/test_segment.py``)."""
    first: dict[str, str] = {}
    duplicates: dict[str, str] = {}
    survivors: list[int] = []
    segments = sorted((i for i, r in enumerate(meta) if r["kind"] == "segment"), key=lambda i: meta[i]["order"])
    for i in segments:
        row = meta[i]
        if row["audio_sha1"] in first:
            duplicates[row["id"]] = f"same audio as {first[row['audio_sha1']]}"
        else:
            first[row["audio_sha1"]] = row["id"]
            survivors.append(i)
    by_text: dict[str, list[int]] = defaultdict(list)
    for i in survivors:
        by_text[meta[i]["text"]].append(i)
    candidates = sorted(i for group in by_text.values() if len(group) > 1 for i in group)
    if similarity <= 1 and candidates:
        table = rows.select(candidates).select_columns(["fingerprint"]).with_format("numpy")
        prints = dict(zip(candidates, table[:]["fingerprint"]))
        for group in (g for g in by_text.values() if len(g) > 1):
            originals: list[int] = []
            for i in group:
                duration = meta[i]["duration"]
                near = [j for j in originals
                        if abs(meta[j]["duration"] - duration) <= max(0.5, 0.1 * max(duration, meta[j]["duration"]))]
                near.sort(key=lambda j: abs(meta[j]["duration"] - duration))
                scores = [(fingerprint_similarity(prints[j], prints[i]), j) for j in near[:MAX_COPY_COMPARISONS]]
                score, j = max(scores, default=(-1.0, -1))
                if score >= similarity:
                    duplicates[meta[i]["id"]] = f"a copy of {meta[j]['id']} (loudness fingerprints {score:.2f} alike)"
                else:
                    originals.append(i)
    return {meta[i]["id"] for i in survivors} - set(duplicates), duplicates


@dataclass
class SplitPlan:
    """Which split each segment goes to, and how each split was made (for the report).

    ``segments[group]`` holds the split of each segment of a group (recording), in the group's order.
    """

    segments: dict[str, list[str]]
    notes: dict[str, str] = field(default_factory=dict)  # split -> how it was made
    warnings: list[str] = field(default_factory=list)

    def whole(self) -> dict[str, str]:
        """``{group: split}`` for the groups that lie in one split (all of them unless a block was cut)."""
        return {g: splits[0] for g, splits in self.segments.items() if len(set(splits)) == 1}

    def sizes(self) -> dict[str, int]:
        counts = Counter(s for splits in self.segments.values() for s in splits)
        return {split: counts.get(split, 0) for split in SPLITS}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def assign_splits(groups: dict[str, int], validation_size: float, test_size: float, seed: int) -> SplitPlan:
    """Split the segments of ``groups`` (``{recording: number of segments}``) into train/validation/test.

    Sizes are a share of all segments (< 1; any share above 0 asks for at least one segment) or a number of
    segments (>= 1). Recordings are shuffled with ``seed``; each of test and validation first takes whole
    recordings that fit in what it still needs, so near-identical material of one recording never spans two
    splits. Train always keeps at least one recording. When whole recordings give a split less than half of its
    size (one long recording, or only recordings larger than the split), it takes a contiguous block of segments
    from the end of a recording's part in train (preferring one that can give all that is still needed, then one
    no other split cut, then the largest), keeping at least one of that recording's segments in train. How each
    split was made is in ``notes``; a split that was asked for but stays empty is in ``warnings``. Deterministic
    given the sizes and ``seed``.
    """
    total = sum(groups.values())
    names = sorted(groups)
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    rank = {name: k for k, name in enumerate(order)}

    def target(size: float) -> int:
        if size <= 0 or total == 0:
            return 0
        return int(size) if size >= 1 else max(1, int(round(size * total)))

    held_out = ("test", "validation")
    wanted = {"test": target(test_size), "validation": target(validation_size)}
    filled = {split: 0 for split in held_out}
    whole: dict[str, list[str]] = {split: [] for split in held_out}
    segments: dict[str, list[str]] = {}
    for k, name in enumerate(order):
        size = groups[name]
        split = "train"
        if k < len(order) - 1:  # the last recording stays in train
            for candidate in held_out:
                if 0 < size <= wanted[candidate] - filled[candidate]:
                    split = candidate
                    break
        if split != "train":
            whole[split].append(name)
            filled[split] += size
        segments[name] = [split] * size

    blocks: dict[str, tuple[str, int]] = {}
    cut: dict[str, list[str]] = defaultdict(list)
    for split in held_out:
        need = wanted[split] - filled[split]
        if need <= 0 or 2 * filled[split] >= wanted[split]:
            continue
        in_train = {name: segments[name].count("train") for name in order}
        candidates = [name for name in order if in_train[name] > 1]  # one segment always stays in train
        if not candidates:
            continue
        # one that can give all that is needed, then one no other split cut, then the largest
        source = max(candidates, key=lambda name: (in_train[name] > need, name not in cut, in_train[name],
                                                   -rank[name]))
        take = min(need, in_train[source] - 1)
        positions = [i for i, s in enumerate(segments[source]) if s == "train"][-take:]
        for i in positions:
            segments[source][i] = split
        filled[split] += take
        blocks[split] = (source, take)
        cut[source].append(split)

    plan = SplitPlan(segments)
    for split in ("validation", "test"):
        parts = []
        if whole[split]:
            parts.append(f"{_plural(len(whole[split]), 'whole recording')} with "
                         f"{_plural(sum(groups[g] for g in whole[split]), 'segment')}")
        if split in blocks:
            source, take = blocks[split]
            before = cut[source][: cut[source].index(split)]
            others = ["train"] + [s for s in cut[source] if s != split]
            parts.append(f"{_plural(take, 'segment')} from the end of recording {source}"
                         + "".join(f", just before the {s} block" for s in before)
                         + f", which also has segments in {' and '.join(others)}")
        if parts:
            plan.notes[split] = " and ".join(parts)
        elif wanted[split] == 0:
            plan.notes[split] = "empty: no segments were kept" if total == 0 else "empty (none asked for)"
        else:
            plan.notes[split] = "empty"
            plan.warnings.append(
                f"the {split} split is empty although {_plural(wanted[split], 'segment')} "
                f"{'was' if wanted[split] == 1 else 'were'} asked for: there "
                f"{'is' if total == 1 else 'are'} only {_plural(total, 'segment')} in "
                f"{_plural(len(groups), 'recording')}, and train keeps at least one")
        if parts and filled[split] < wanted[split]:
            plan.notes[split] += f" ({filled[split]} of the {wanted[split]} asked for)"
    return plan


def build_report(meta: list[dict], duplicates: dict[str, str], split_of: dict[str, str],
                 durations: dict[str, float], config: PrepareConfig, plan: SplitPlan | None = None,
                 specs: Sequence[SourceSpec] = ()) -> dict:
    """Every input with its fate, totals per source and overall, split sizes, how the splits were made and
    warnings (an empty split that was asked for, no segments kept). Each source names what it read under
    ``spec`` (files, or the Hub dataset with the commit read)."""
    kept_ids = set(durations)
    inputs, sources = [], {}
    for row in sorted(meta, key=lambda r: r["order"]):
        source = sources.setdefault(row["source"], {"name": row["source"], "kind": row["source_kind"],
                                                    "status": "ok", "error": None, "inputs": 0, "kept": 0,
                                                    "dropped": Counter(), "segments": 0, "hours_kept": 0.0})
        if row["kind"] == "source_error":
            source["status"], source["error"] = "failed", row["detail"]
        elif row["kind"] == "source_skipped":
            source["status"], source["error"] = "skipped", row["detail"]
        elif row["kind"] == "input":
            segment_ids = [s for s in row["segment_ids"] if s in kept_ids]
            reason, detail = row["reason"], row["detail"]
            if row["kept"] and not segment_ids:  # all its segments were duplicates
                reason = "duplicate"
                detail = "; ".join(duplicates[s] for s in row["segment_ids"])
            fate = "kept" if segment_ids else "dropped"
            entry = {"source": row["source"], "recording": row["recording"], "index": row["index"], "fate": fate}
            if segment_ids:
                entry["segments"] = segment_ids
            else:
                entry["reason"] = reason
                source["dropped"][reason] += 1
            if detail:
                entry["detail"] = detail
            inputs.append(entry)
            source["inputs"] += 1
            source["kept"] += bool(segment_ids)
    for seg_id, duration in durations.items():
        source = sources[seg_id.rsplit("-", 1)[0]]
        source["segments"] += 1
        source["hours_kept"] += duration / 3600
    origin = {spec.name: spec.to_dict() for spec in specs}
    for source in sources.values():
        source["dropped"] = dict(sorted(source["dropped"].items()))
        if source["name"] in origin:
            source["spec"] = {k: v for k, v in origin[source["name"]].items() if k not in ("kind", "name", "skipped")}
        source["hours_kept"] = round(source["hours_kept"], 4)
    by_reason = Counter(e["reason"] for e in inputs if e["fate"] == "dropped")
    split_sizes = Counter(split_of[s] for s in durations)
    warnings = list(plan.warnings) if plan else []
    if not durations:
        failed = sum(s["status"] == "failed" for s in sources.values())
        why = f"{failed} of {_plural(len(sources), 'source')} failed"
        if inputs:
            why += f", {sum(e['fate'] == 'dropped' for e in inputs)} of {_plural(len(inputs), 'input')} dropped"
        warnings.insert(0, f"no segments were kept ({why})")
    return {
        "totals": {
            "sources": len(sources), "failed_sources": sum(s["status"] == "failed" for s in sources.values()),
            "skipped_sources": sum(s["status"] == "skipped" for s in sources.values()),
            "inputs": len(inputs), "kept": sum(e["fate"] == "kept" for e in inputs),
            "dropped": sum(e["fate"] == "dropped" for e in inputs),
            "dropped_by_reason": dict(sorted(by_reason.items())),
            "segments": len(durations), "hours_kept": round(sum(durations.values()) / 3600, 4),
            "duplicate_segments": len(duplicates),
        },
        "splits": {split: split_sizes.get(split, 0) for split in SPLITS},
        "split_notes": dict(plan.notes) if plan else {},
        "warnings": warnings,
        "sources": list(sources.values()),
        "inputs": inputs,
        "config": config.to_dict(),
    }


# --------------------------------------------------------------------------------------------- the whole step


@dataclass
class PrepareResult:
    output_dir: Path
    report: dict
    report_file: Path | None = None  # where the report was written

    def __post_init__(self):
        self.report_file = self.report_file or self.output_dir / REPORT_FILE


def prepare_dataset(
    specs: Sequence[SourceSpec],
    output_dir: str | os.PathLike,
    config: PrepareConfig | None = None,
    *,
    base_model: str,
    revision: str | None = None,
    num_proc: int = 1,
    cache_dir: str | None = None,
    device: str | None = None,
    input_folders: Sequence[str] = (),
) -> PrepareResult:
    """Run the whole preparation (see the module docstring); returns the output directory and the report.

    The output folder is locked for the run, and the new dataset is written beside it and swapped in only when
    complete (:mod:`amharic_tts.outputs`): an interrupted or failed run leaves the dataset that was there as it
    was. ``input_folders`` (folders the sources were found in) and the sources' own files and folders may not
    overlap the output."""
    from accelerate import PartialState

    config = config or PrepareConfig()
    if not specs:
        raise ValueError("no sources: give --srt, --srt-dir, --ljspeech or --hub-dataset")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be unique, got {names}")
    import torch

    from amharic_tts.outputs import output_lock, refuse_foreign_output, refuse_output_among_inputs

    output_dir = Path(output_dir)
    refuse_output_among_inputs(
        output_dir, folders=[*input_folders, *(s.path for s in specs),
                             *(s.dataset for s in specs if s.kind == "hub" and s.dataset)],
        files=[f for s in specs if s.kind == "srt" for f in s.files()])
    refuse_foreign_output(output_dir, marker="dataset_dict.json", holds="a prepared dataset")
    # without a GPU, processes started by `accelerate launch --multi_gpu` (torch.distributed) talk over gloo
    state = PartialState(cpu=not torch.cuda.is_available() or str(device).startswith("cpu"))
    with output_lock(output_dir, what="prepare_dataset") if state.is_main_process else nullcontext():
        return _prepare(specs, output_dir, config, state, base_model=base_model, revision=revision,
                        num_proc=num_proc, cache_dir=cache_dir, device=device)


def _prepare(specs, output_dir: Path, config: PrepareConfig, state, *, base_model, revision, num_proc, cache_dir,
             device) -> PrepareResult:
    from datasets import Dataset
    import torch

    if device is None:
        device = f"cuda:{state.local_process_index}" if torch.cuda.is_available() else "cpu"
    if state.num_processes > 1:  # each process looked up the Hub datasets' commits: all read those rank 0 found
        from accelerate.utils import broadcast_object_list

        revisions = broadcast_object_list([[spec.revision for spec in specs]])[0]
        specs = [replace(spec, revision=revision) for spec, revision in zip(specs, revisions)]
    mine = list(range(len(specs)))[state.process_index::state.num_processes]
    rows_fp = segmentation_fingerprint([specs[i] for i in mine], config)
    with datasets_bars_off():  # "Generating train split: N examples" has no total; each source has a bar
        rows = Dataset.from_generator(
            generate_rows, features=_row_features(), cache_dir=cache_dir, fingerprint=rows_fp,
            gen_kwargs={"specs": [json.dumps(specs[i].to_dict()) for i in mine], "positions": mine,
                        "config": json.dumps(config.to_dict())},
            num_proc=min(max(1, num_proc), len(mine)) if len(mine) > 1 else None,
        ) if mine else Dataset.from_dict({k: [] for k in _row_features()}, features=_row_features())

    segments = _unique_segments(rows, config)
    with_features = _add_features(segments, base_model=base_model, revision=revision, config=config,
                                  num_proc=num_proc, device=device, fingerprint=rows_fp)
    if state.num_processes == 1:
        return _finish(rows, with_features, output_dir, config, specs)
    shard_dir = output_dir.parent / f".{output_dir.name}.shards"  # beside the output, never inside it
    with_features.save_to_disk(str(shard_dir / f"segments-{state.process_index}"))
    rows.remove_columns("audio").save_to_disk(str(shard_dir / f"rows-{state.process_index}"))
    state.wait_for_everyone()
    result = None
    if state.is_main_process:
        from datasets import concatenate_datasets, load_from_disk

        all_rows = concatenate_datasets([load_from_disk(str(shard_dir / f"rows-{r}"))
                                         for r in range(state.num_processes)])
        all_segments = concatenate_datasets([load_from_disk(str(shard_dir / f"segments-{r}"))
                                             for r in range(state.num_processes)])
        result = _finish(all_rows, all_segments, output_dir, config, specs)
        shutil.rmtree(shard_dir, ignore_errors=True)
    state.wait_for_everyone()
    if result is None:  # the other processes read what rank 0 wrote
        report_file = output_dir / FAILED_REPORT_FILE
        report_file = report_file if report_file.exists() else output_dir / REPORT_FILE
        result = PrepareResult(output_dir, json.loads(report_file.read_text(encoding="utf-8")), report_file)
    return result


@contextmanager
def datasets_bars_off():
    """``datasets``' own progress bars off inside the block (where the package shows better ones), as they were
    after it."""
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_off = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_off:
            enable_progress_bars()


def _unique_segments(rows, config: PrepareConfig):
    """The segment rows of ``rows`` without duplicates (features are not computed for what is dropped)."""
    meta = rows.select_columns(["kind", "order", "id", "audio_sha1", "text", "duration"]).to_list()
    keep, _ = _dedup(rows, meta, config.near_duplicate_similarity)
    return rows.select([i for i, r in enumerate(meta) if r["kind"] == "segment" and r["id"] in keep])


def _add_features(segments, *, base_model, revision, config: PrepareConfig, num_proc, device, fingerprint):
    """``segments`` with the feature columns, in the same row order. Extraction takes the rows longest first (each
    worker an even share of long and short ones) in batches of at most ``feature_batch_frames`` padded frames, so
    short clips are not padded to long neighbours (see :mod:`amharic_tts.data.features`)."""
    from datasets import Array2D, Sequence as Seq, Value

    from amharic_tts.data.features import MEL_BINS, add_features, length_order, mel_frames
    from amharic_tts.model.base import S3GEN_FILE, VOICE_ENCODER_FILE, base_signature

    columns = ["id", "order", "source", "recording", "speaker", "text", "raw_text", "duration", "start", "end",
               "edges_moved", "start_shift", "end_shift", "audio"]
    segments = segments.select_columns(columns)
    features = segments.features.copy()
    features["speech_tokens"] = Seq(Value("int16"))
    features["speaker_emb"] = Seq(Value("float32"), length=256)
    if config.cache_mel:
        features["mel"] = Array2D(shape=(None, MEL_BINS), dtype="float16")
    if len(segments) == 0:
        from datasets import Dataset

        return Dataset.from_dict({k: [] for k in features}, features=features)
    on_gpu = str(device).startswith("cuda")  # CUDA does not survive the fork of datasets' worker processes
    workers = num_proc if num_proc > 1 and not on_gpu else None
    # a segment's duration is its samples / 16 kHz, so this is its log-mel length
    frames = [mel_frames(round(d * SAMPLE_RATE)) for d in segments.select_columns(["duration"])["duration"]]
    order = length_order(frames, shards=min(workers or 1, len(frames)))
    ordered = segments.select(order)  # its fingerprint names the order, so a cache never comes back in another
    signature = base_signature(base_model, [S3GEN_FILE, VOICE_ENCODER_FILE], revision=revision)
    new_fp = _sha("features", fingerprint, ordered._fingerprint, signature, config.cache_mel, _code_signature())
    with_features = ordered.map(
        add_features, batched=True, batch_size=config.feature_batch_size, features=features,
        fn_kwargs={"base": str(base_model), "revision": revision, "device": device, "cache_mel": config.cache_mel,
                   "max_frames": config.feature_batch_frames},
        num_proc=workers, new_fingerprint=new_fp, desc="speech tokens, speaker, mel",
        writer_batch_size=100,  # rows held before a write: the longest come first, with their audio and mel
    )
    return with_features.select(np.argsort(order, kind="stable"))  # back to the segments' order


def _finish(rows, segments, output_dir: Path, config: PrepareConfig, specs: Sequence[SourceSpec]) -> PrepareResult:
    from datasets import Audio, DatasetDict

    meta = rows.select_columns([c for c in rows.column_names if c not in ("audio", "fingerprint")]).to_list()
    keep, duplicates = _dedup(rows, meta, config.near_duplicate_similarity)  # across all shards
    segments = segments.sort("order")
    seg_meta = segments.select_columns(["id", "source", "recording", "duration"]).to_list()
    if any(row["id"] not in keep for row in seg_meta):
        segments = segments.select([i for i, row in enumerate(seg_meta) if row["id"] in keep])
        seg_meta = [row for row in seg_meta if row["id"] in keep]
    groups: dict[str, int] = defaultdict(int)
    for row in seg_meta:
        groups[f"{row['source']}/{row['recording']}"] += 1
    plan = assign_splits(groups, config.validation_size, config.test_size, config.seed)
    position: dict[str, int] = defaultdict(int)  # segments are in time order within a recording
    split_of = {}
    for row in seg_meta:
        group = f"{row['source']}/{row['recording']}"
        split_of[row["id"]] = plan.segments[group][position[group]]
        position[group] += 1
    durations = {row["id"]: row["duration"] for row in seg_meta}
    report = build_report(meta, duplicates, split_of, durations, config, plan, specs)

    dataset = DatasetDict({
        split: segments.select([i for i, row in enumerate(seg_meta) if split_of[row["id"]] == split])
        .remove_columns("order")
        .cast_column("audio", Audio(sampling_rate=SAMPLE_RATE, decode=False))
        for split in SPLITS
    })
    from amharic_tts.outputs import replace_folder, staging_folder

    text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    if not durations and (output_dir / "dataset_dict.json").exists():  # never replace a dataset with nothing
        failed = output_dir / FAILED_REPORT_FILE
        partial = failed.with_name(failed.name + ".part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(failed)
        return PrepareResult(output_dir, report, failed)
    # the new dataset and its report are written beside the output and swapped in only when complete
    staging = staging_folder(output_dir)
    try:
        # datasets 5 divides by zero estimating the size of an empty split with an Audio column: name its shards
        dataset.save_to_disk(str(staging), num_shards={k: 1 for k, split in dataset.items() if len(split) == 0})
        (staging / REPORT_FILE).write_text(text, encoding="utf-8")
        replace_folder(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PrepareResult(output_dir, report)


def summarize(report: dict) -> str:
    """A few console lines: per source, kept / dropped with reasons, hours; failed sources with their error."""
    lines = []
    for source in report["sources"]:
        if source["status"] == "failed":
            lines.append(f"  {source['name']}: FAILED: {source['error']}")
            continue
        if source["status"] == "skipped":
            lines.append(f"  {source['name']}: skipped: {source['error']}")
            continue
        dropped = ", ".join(f"{k} {v}" for k, v in source["dropped"].items()) or "none"
        lines.append(f"  {source['name']} ({source['kind']}): {source['kept']}/{source['inputs']} inputs kept, "
                     f"{source['segments']} segments, {source['hours_kept'] * 60:.2f} min; dropped: {dropped}")
    totals = report["totals"]
    lines.append(f"total: {totals['segments']} segments, {totals['hours_kept']:.4f} h kept; "
                 f"{totals['dropped']} of {totals['inputs']} inputs dropped; splits {report['splits']}")
    for split, note in report.get("split_notes", {}).items():
        lines.append(f"  {split}: {note}")
    for warning in report.get("warnings", []):
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)


class DatasetLoadError(ValueError):
    """A prepared dataset (directory or Hub repo) cannot be loaded; the message says which and why."""


def load_prepared(name: str, *, revision: str | None = None):
    """A ``DatasetDict`` (or a single ``Dataset``, as saved) from a ``prepare_dataset.py`` output directory or a
    Hub dataset repo: training and evaluation read data the same way."""
    import datasets

    if not name:
        raise DatasetLoadError("no dataset given (a directory from prepare_dataset.py or a Hub dataset repo)")
    try:
        if Path(name).is_dir():
            data = datasets.load_from_disk(name)
        elif name.startswith((".", "/", "~")):
            raise DatasetLoadError(f"dataset directory {name} does not exist")
        else:
            data = datasets.load_dataset(name, revision=revision)
    except DatasetLoadError:
        raise
    except Exception as err:
        raise DatasetLoadError(f"cannot load the dataset {name}: {type(err).__name__}: {err}") from err
    return data
