"""Where speech comes from: subtitled media, LJSpeech-style folders, Hub datasets -> recordings with cues.

A *source* is one input the user named (a media file with its subtitles, an LJSpeech folder, a Hub dataset);
it yields *recordings* (a media file, a wav, a dataset row), each with its 16 kHz audio and its *cues* (subtitle
cues, or one cue covering a whole clip for transcribed corpora). Each cue is an input the report accounts for.
A source that cannot be read at all raises :class:`SourceError` with the reason; the other sources go on.
"""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from amharic_tts.data.segment import CueInput

SAMPLE_RATE = 16000
MEDIA_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".opus",
                  ".ogg", ".oga", ".wma", ".ts", ".m4v", ".3gp")


class SourceError(RuntimeError):
    """A whole source cannot be used (missing file, unreadable subtitles, no audio stream ...)."""


@dataclass
class SourceSpec:
    kind: str  # "srt" | "ljspeech" | "hub"
    name: str  # unique within a run; used in segment ids and the report
    media: str | None = None  # srt
    subtitles: str | None = None  # srt
    path: str | None = None  # ljspeech folder, or a dataset saved with save_to_disk
    dataset: str | None = None  # hub
    config_name: str | None = None
    revision: str | None = None  # hub: the commit read (resolved when the run starts, so the cache notices pushes)
    split: str = "train"
    audio_column: str = "audio"
    text_column: str = "text"
    speaker_column: str | None = None
    speaker: str | None = None
    skipped: str | None = None  # why this source is left out (the report lists it with this reason)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def files(self) -> list[str]:
        """Local files whose change must invalidate cached results."""
        if self.kind == "srt":
            return [p for p in (self.media, self.subtitles) if p]
        if self.kind == "ljspeech" and self.path:
            folder = Path(self.path)
            return [str(folder / "metadata.csv"), *sorted(str(p) for p in (folder / "wavs").glob("*"))]
        if self.kind == "hub" and self.path:
            return sorted(str(p) for p in Path(self.path).rglob("*") if p.is_file())
        return []


@dataclass
class Recording:
    name: str
    speaker: str
    audio: np.ndarray | None  # 16 kHz mono float32; None when it could not be read (cues carry the reason)
    cues: list[CueInput]
    media: str | None = None  # a media file left to stream (iter_recordings(decode=False)); audio is then None
    source_inputs: int | None = None  # inputs (cues, clips) of the whole source, for a progress bar with a total

    def blocks(self) -> Iterator[np.ndarray]:
        """The media's 16 kHz audio in consecutive blocks (``media.iter_audio``); a file that cannot be decoded
        is a :class:`SourceError`, as when it is decoded whole."""
        from amharic_tts.data.media import MediaError, iter_audio

        try:
            yield from iter_audio(self.media, SAMPLE_RATE)
        except (MediaError, OSError) as err:
            raise SourceError(f"cannot decode {self.media}: {err}") from err


# --------------------------------------------------------------------------------------------- naming sources


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


# a language tag in a subtitle name (talk.am.srt, talk.amh.srt, talk.en-US.srt), as yt-dlp and subtitle sites write
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})?$", re.IGNORECASE)
AMHARIC_TAGS = ("am", "amh")


def _language(tag: str | None) -> str | None:
    return tag.lower().replace("_", "-").split("-")[0] if tag else None


def pair_subtitles(media_stems: Sequence[str], subtitles: Sequence[Path]
                   ) -> tuple[dict[str, Path], dict[Path, tuple[str, str]], dict[Path, str]]:
    """Pair subtitle files with media stems: ``STEM.srt`` or ``STEM.LANG.srt`` (LANG a short language code such as
    ``am``, ``amh``, ``en``, ``en-US``) goes with the media file ``STEM.*``. When a media file has several,
    Amharic (``am``/``amh``) wins, then the one without a language tag, then the others by name.

    Returns ``({stem: chosen subtitles}, {skipped subtitles: (stem, reason)}, {subtitles without media: stem})``.
    """
    stems = set(media_stems)
    candidates: dict[str, list[tuple[str | None, Path]]] = defaultdict(list)
    orphans: dict[Path, str] = {}
    for path in sorted(subtitles):
        stem = path.stem
        if stem in stems:
            candidates[stem].append((None, path))
            continue
        base, dot, tag = stem.rpartition(".")
        if dot and base in stems and _LANGUAGE_TAG.match(tag):
            candidates[base].append((tag, path))
        else:
            orphans[path] = stem

    def preference(item: tuple[str | None, Path]):
        tag, path = item
        language = _language(tag)
        return (0 if language in AMHARIC_TAGS else 1 if tag is None else 2, path.name)

    chosen: dict[str, Path] = {}
    skipped: dict[Path, tuple[str, str]] = {}
    for stem, items in candidates.items():
        items = sorted(items, key=preference)
        chosen[stem] = items[0][1]
        for _, path in items[1:]:
            skipped[path] = (stem, f"the media file {stem} has several subtitle files; {items[0][1].name} was used "
                                   "(Amharic first, then the one without a language tag)")
    return chosen, skipped, orphans


def collect_sources(*, srt_pairs: Sequence[Sequence[str]] = (), srt_dirs: Sequence[str] = (),
                    ljspeech: Sequence[str] = (), hub: Sequence[dict] = ()) -> list[SourceSpec]:
    """Source specs from the command line. ``--srt-dir`` pairs each media file with the ``.srt`` of its stem or
    a language-tagged one (``talk.am.srt``; see :func:`pair_subtitles`); other subtitles for a media file that
    has its pair become a skipped source, and a media file without subtitles or subtitles without media become
    a source that fails with that reason."""
    taken: set[str] = set()
    specs: list[SourceSpec] = []
    for media, subtitles in srt_pairs:
        specs.append(SourceSpec("srt", _unique(Path(media).stem, taken), media=str(media), subtitles=str(subtitles)))
    for folder in srt_dirs:
        folder = Path(folder)
        if not folder.is_dir():
            specs.append(SourceSpec("srt", _unique(folder.name or "srt_dir", taken), media=None,
                                    subtitles=str(folder)))
            continue
        by_stem: dict[str, list[Path]] = defaultdict(list)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in MEDIA_SUFFIXES and path.is_file():
                by_stem[path.stem].append(path)
        # several media files of one stem (talk.mp4 and talk.wav): the largest, most likely the whole recording
        media = {stem: max(paths, key=lambda p: (p.stat().st_size, p.name)) for stem, paths in by_stem.items()}
        chosen, skipped, orphans = pair_subtitles(
            list(media), [p for p in folder.iterdir() if p.suffix.lower() == ".srt" and p.is_file()])
        entries = [(stem, media[stem], chosen.get(stem), None) for stem in media]
        entries += [(path.name, path, chosen.get(stem), f"{media[stem].name} has the same name and is larger; it was "
                     f"{'paired with the subtitles' if chosen.get(stem) else 'used'} instead (rename one to use both)")
                    for stem, paths in by_stem.items() for path in paths if path != media[stem]]
        entries += [(stem, None, path, None) for path, stem in orphans.items()]
        entries += [(path.name, media[stem], path, reason) for path, (stem, reason) in skipped.items()]
        for stem, media_path, subtitles, reason in sorted(entries, key=lambda e: (e[0], e[3] is not None)):
            specs.append(SourceSpec("srt", _unique(stem, taken), media=str(media_path) if media_path else None,
                                    subtitles=str(subtitles) if subtitles else None, skipped=reason))
    for folder in ljspeech:
        specs.append(SourceSpec("ljspeech", _unique(Path(folder).name or "ljspeech", taken), path=str(folder)))
    for options in hub:
        options = dict(options)
        dataset = str(options.pop("dataset"))
        local = Path(dataset).is_dir()
        name = _unique((Path(dataset).name if local else dataset.split("/")[-1]) or "hub", taken)
        if not local and not options.get("revision"):
            options["revision"] = hub_dataset_commit(dataset)
        specs.append(SourceSpec("hub", name, dataset=None if local else dataset, path=dataset if local else None,
                                **options))
    return specs


def hub_dataset_commit(repo_id: str) -> str | None:
    """The current commit of a Hub dataset; offline, the one last fetched (the Hub cache's ``refs/main``, which
    ``datasets`` reads offline too), so a cache made online is still used. None when neither can tell (loading
    then says why)."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.file_download import repo_folder_name

    if constants.HF_HUB_OFFLINE:
        ref = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="dataset") / "refs" / "main"
        commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else ""
        return commit or None
    try:
        return HfApi().dataset_info(repo_id).sha
    except Exception:  # network, auth, missing repo: load_dataset reports it for the source
        return None


# --------------------------------------------------------------------------------------------- reading


def iter_recordings(spec: SourceSpec, normalize, *, decode: bool = True) -> Iterator[Recording]:
    """Recordings of a source, cue texts normalised with ``normalize``. Raises SourceError for the whole source.

    ``decode=False``: a subtitled media file is not decoded here; its recording has ``media`` set and
    ``audio=None``, to be streamed with ``Recording.blocks()`` (long recordings; clips are still decoded)."""
    if spec.kind == "srt":
        yield _srt_recording(spec, normalize, decode=decode)
    elif spec.kind == "ljspeech":
        yield from _ljspeech_recordings(spec, normalize)
    elif spec.kind == "hub":
        yield from _hub_recordings(spec, normalize)
    else:
        raise SourceError(f"unknown source kind {spec.kind!r}")


def _cue(index: int, start, end, text: str, raw: str, problem: str | None, normalize, detail: str = "") -> CueInput:
    normalized = normalize(text) if text else ""
    if not problem and not normalized:
        problem = "empty_text"
    return CueInput(index, start, end, normalized, raw, problem, detail)


def _srt_recording(spec: SourceSpec, normalize, *, decode: bool = True) -> Recording:
    from amharic_tts.data.media import MediaError, load_audio
    from amharic_tts.data.srt import SrtError, read_srt

    if not spec.media:
        stem = Path(spec.subtitles or "").stem
        base, dot, tag = stem.rpartition(".")
        expected = f"{base}.* or {stem}.*" if dot and _LANGUAGE_TAG.match(tag) else f"{stem}.*"
        raise SourceError(f"no media file for the subtitles {spec.subtitles} (expected one with the same stem: "
                          f"{expected})")
    if not spec.subtitles:
        stem = Path(spec.media).stem
        raise SourceError(f"no subtitles for {spec.media} (expected {stem}.srt, or {stem}.LANG.srt such as "
                          f"{stem}.am.srt)")
    for path in (spec.media, spec.subtitles):
        if not Path(path).is_file():
            raise SourceError(f"{path} does not exist")
    try:
        subtitles = read_srt(spec.subtitles)
    except SrtError as err:
        raise SourceError(f"cannot read the subtitles {spec.subtitles}: {err}") from err
    cues = [_cue(c.index, c.start, c.end, c.text, c.raw_text, c.problem, normalize) for c in subtitles.cues]
    if not decode:
        return Recording(Path(spec.media).stem, spec.speaker or spec.name, None, cues, media=spec.media,
                         source_inputs=len(cues))
    try:
        audio = load_audio(spec.media, SAMPLE_RATE)
    except (MediaError, OSError) as err:
        raise SourceError(f"cannot decode {spec.media}: {err}") from err
    return Recording(Path(spec.media).stem, spec.speaker or spec.name, audio, cues, source_inputs=len(cues))


def _clip_recording(name: str, speaker: str, index: int, text: str, load) -> Recording:
    """A transcribed clip: one cue covering the whole clip (its edges are still refined and filtered)."""
    try:
        audio = load()
    except FileNotFoundError:
        return Recording(name, speaker, None, [CueInput(index, None, None, text, text, "missing_audio")])
    except Exception as err:  # a broken file costs one row, never the source
        cue = CueInput(index, None, None, text, text, "unreadable_audio", f"{type(err).__name__}: {err}")
        return Recording(name, speaker, None, [cue])
    return Recording(name, speaker, audio, [CueInput(index, 0.0, len(audio) / SAMPLE_RATE, text, text)])


def _ljspeech_recordings(spec: SourceSpec, normalize) -> Iterator[Recording]:
    from amharic_tts.data.media import load_audio

    folder = Path(spec.path)
    metadata = folder / "metadata.csv"
    if not metadata.is_file():
        raise SourceError(f"{folder} is not an LJSpeech-style folder: it has no metadata.csv")
    speaker = spec.speaker or spec.name
    with open(metadata, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE))
    for index, row in enumerate(rows):
        if len(row) < 2 or not row[0].strip():
            yield Recording(f"row {index}", speaker, None,
                            [CueInput(index, None, None, "", "|".join(row), "malformed_row")],
                            source_inputs=len(rows))
            continue
        clip_id, raw = row[0].strip(), row[1]
        wav = folder / "wavs" / (clip_id if Path(clip_id).suffix else f"{clip_id}.wav")

        def load(path=wav):
            if not path.is_file():
                raise FileNotFoundError(path)
            return load_audio(path, SAMPLE_RATE)

        recording = _clip_recording(clip_id, speaker, index, raw, load)
        recording.cues = [_cue(c.index, c.start, c.end, raw, raw, c.problem, normalize, c.detail)
                          for c in recording.cues]
        recording.source_inputs = len(rows)
        yield recording


def _hub_recordings(spec: SourceSpec, normalize) -> Iterator[Recording]:
    import datasets

    try:
        if spec.path:
            data = datasets.load_from_disk(spec.path)
            if isinstance(data, datasets.DatasetDict):
                if spec.split not in data:
                    raise SourceError(f"{spec.path} has no split {spec.split!r} (it has {', '.join(data)})")
                data = data[spec.split]
        else:
            data = datasets.load_dataset(spec.dataset, spec.config_name, split=spec.split, revision=spec.revision)
    except SourceError:
        raise
    except Exception as err:
        raise SourceError(f"cannot load the dataset {spec.dataset or spec.path}: {type(err).__name__}: {err}") from err
    for column in (spec.audio_column, spec.text_column, spec.speaker_column):
        if column and column not in data.column_names:
            raise SourceError(f"the dataset {spec.dataset or spec.path} has no column {column!r} "
                              f"(columns: {', '.join(data.column_names)})")
    if isinstance(data.features[spec.audio_column], datasets.Audio):
        data = data.cast_column(spec.audio_column, datasets.Audio(decode=False))
    for index, row in enumerate(data):
        raw = str(row[spec.text_column] or "")
        speaker = _speaker_label(spec, row[spec.speaker_column] if spec.speaker_column else None)
        recording = _clip_recording(f"row {index}", speaker, index, raw, lambda item=row[spec.audio_column]:
                                    _decode_hub_audio(item))
        recording.cues = [_cue(c.index, c.start, c.end, raw, raw, c.problem, normalize, c.detail)
                          for c in recording.cues]
        recording.source_inputs = len(data)
        yield recording


def _speaker_label(spec: SourceSpec, value) -> str:
    """A row's speaker: ``SOURCE/VALUE`` from the speaker column (so "7" of two datasets are two speakers), the
    source's name for rows without one."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        return spec.speaker or spec.name
    return f"{spec.name}/{str(value).strip()}"


def _decode_hub_audio(item) -> np.ndarray:
    """An ``Audio(decode=False)`` value ({"bytes", "path"}), a decoded one ({"array", "sampling_rate"}) or a path,
    as 16 kHz mono float32."""
    import io

    import soundfile as sf
    import soxr

    from amharic_tts.data.media import MediaError, load_audio

    def resampled(audio, rate):
        audio = np.asarray(audio)
        if np.issubdtype(audio.dtype, np.integer):  # PCM integers: full scale becomes 1.0 (uint8 is offset)
            info = np.iinfo(audio.dtype)
            audio = (audio - (int(info.max) + int(info.min) + 1) / 2) / ((int(info.max) - int(info.min) + 1) / 2)
        audio = audio.astype(np.float32)
        if audio.ndim == 2:  # (channels, samples) as datasets decodes, or (samples, channels) as soundfile reads
            audio = audio.mean(axis=int(np.argmin(audio.shape)))
        elif audio.ndim != 1:
            raise MediaError(f"audio of shape {audio.shape} is neither mono nor (channels, samples)")
        return soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else audio

    if isinstance(item, dict) and item.get("array") is not None and item.get("sampling_rate"):
        return resampled(item["array"], int(item["sampling_rate"]))
    if isinstance(item, dict) and item.get("bytes"):
        try:
            audio, rate = sf.read(io.BytesIO(item["bytes"]), dtype="float32", always_2d=True)
        except sf.LibsndfileError:  # mp3/opus/m4a bytes: let FFmpeg read them from a temporary file
            import tempfile

            name = item.get("path") or "the row's audio bytes"
            with tempfile.NamedTemporaryFile(suffix=Path(item.get("path") or "audio.bin").suffix) as tmp:
                tmp.write(item["bytes"])
                tmp.flush()
                try:
                    return load_audio(tmp.name, SAMPLE_RATE)
                except Exception as err:  # name the row's file, not the temporary one
                    raise MediaError(str(err).replace(tmp.name, name)) from None
        return resampled(audio, rate)
    path = item.get("path") if isinstance(item, dict) else item
    if not path:
        raise ValueError("the row has no audio")
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return load_audio(path, SAMPLE_RATE)
