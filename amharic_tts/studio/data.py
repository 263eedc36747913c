"""Data tab: subtitled media, LJSpeech folders (as a zip) and Hub datasets -> a prepared dataset with its report.

The work is :func:`amharic_tts.data.sources.collect_sources` + :func:`amharic_tts.data.prepare.prepare_dataset`,
the same functions ``prepare_dataset.py`` calls; this module only stages the uploaded files, turns the report
into tables and decodes a few kept segments for listening.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Sequence

from amharic_tts.studio.common import StudioError, Workspace, read_json, safe_name, timestamp

SOURCE_COLUMNS = ["source", "kind", "status", "inputs", "kept", "dropped (reason: count)", "segments",
                  "minutes kept", "error"]
DROPPED_COLUMNS = ["source", "recording", "cue / row", "reason", "detail"]


# ----------------------------------------------------------------------------------------------- inputs


def _unique_dir(parent: Path, name: str) -> Path:
    candidate, n = parent / name, 2
    while candidate.exists():
        candidate, n = parent / f"{name}-{n}", n + 1
    candidate.mkdir(parents=True)
    return candidate


def stage_media(ws: Workspace, files: Sequence[str] | None) -> tuple[Path | None, list[str]]:
    """Put uploaded media and ``.srt`` files into one upload folder (pairs are matched by file stem, as
    ``--srt-dir`` does); returns the folder (None without files) and warnings for files that are neither."""
    from amharic_tts.data.sources import MEDIA_SUFFIXES

    files = [f for f in files or [] if f]
    if not files:
        return None, []
    folder = _unique_dir(ws.dir("uploads"), f"media-{timestamp()}")
    warnings = []
    for name in files:
        path = Path(name)
        if path.suffix.lower() not in (*MEDIA_SUFFIXES, ".srt"):
            warnings.append(f"{path.name} is neither a media file nor .srt subtitles: left out")
            continue
        try:  # hours of video: a hard link where Gradio's upload folder is on the same disk, else a copy
            os.link(path, folder / path.name)
        except OSError:
            shutil.copy2(path, folder / path.name)
    return folder, warnings


def extract_ljspeech_zip(ws: Workspace, zip_path: str) -> list[Path]:
    """Unpack an LJSpeech-style zip (``metadata.csv`` + ``wavs/``, at the top or in a folder) into the upload
    folder; returns every folder in it that holds a ``metadata.csv`` (a top-level one is named after the zip)."""
    zip_path = Path(zip_path)
    holder = _unique_dir(ws.dir("uploads"), f"zip-{timestamp()}")
    dest = holder / safe_name(zip_path.stem, "ljspeech")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.infolist():
                if not (dest / member.filename).resolve().is_relative_to(dest.resolve()):
                    raise StudioError(f"{zip_path.name} holds a path outside its folder ({member.filename}): "
                                      "refusing to unpack it")
            archive.extractall(dest)
    except zipfile.BadZipFile as err:
        shutil.rmtree(holder, ignore_errors=True)
        raise StudioError(f"{zip_path.name} is not a readable zip file ({err})") from err
    except StudioError:
        shutil.rmtree(holder, ignore_errors=True)
        raise
    folders = sorted({p.parent for p in dest.rglob("metadata.csv") if "__MACOSX" not in p.parts})
    if not folders:
        shutil.rmtree(holder, ignore_errors=True)
        raise StudioError(f"{zip_path.name} has no metadata.csv: an LJSpeech-style zip holds metadata.csv "
                          "(id|text lines) and a wavs/ folder")
    return folders


def gather_sources(ws: Workspace, *, media_files: Sequence[str] | None = None, ljspeech_zip: str | None = None,
                   ljspeech_folder: str | None = None, hub_dataset: str | None = None, hub_split: str = "train",
                   hub_config: str | None = None, text_column: str = "text", audio_column: str = "audio",
                   speaker_column: str | None = None) -> tuple[list, list[str]]:
    """``(source specs, warnings)`` for what was given in the page (:func:`collect_sources`)."""
    from amharic_tts.data.sources import collect_sources

    media_dir, warnings = stage_media(ws, media_files)
    ljspeech = extract_ljspeech_zip(ws, ljspeech_zip) if ljspeech_zip else []
    if ljspeech_folder and ljspeech_folder.strip():
        folder = ws.server_path(ljspeech_folder.strip(), "the LJSpeech folder")
        if not folder.is_dir():
            raise StudioError(f"the LJSpeech folder {folder} does not exist on this machine")
        ljspeech.append(folder)
    hub = []
    if hub_dataset and hub_dataset.strip():
        ws.hub_or_server_path(hub_dataset.strip(), "the dataset")
        hub.append({"dataset": hub_dataset.strip(), "split": (hub_split or "train").strip(),
                    "config_name": (hub_config or "").strip() or None,
                    "text_column": (text_column or "text").strip(), "audio_column": (audio_column or "audio").strip(),
                    "speaker_column": (speaker_column or "").strip() or None})
    specs = collect_sources(srt_dirs=[str(media_dir)] if media_dir else [], ljspeech=[str(p) for p in ljspeech],
                            hub=hub)
    if not specs:
        raise StudioError("Nothing to prepare: upload media files with their .srt subtitles, an LJSpeech zip, "
                          "or name a Hub dataset.")
    return specs, warnings


def prepare_config(limits: dict | None = None, *, validation_size: float = 0.05, test_size: float = 0.05,
                   seed: int = 0):
    """``PrepareConfig`` with the page's segment limits (unknown keys are refused by ``PrepareConfig``)."""
    from amharic_tts.data.prepare import PrepareConfig

    limits = {k: v for k, v in (limits or {}).items() if v is not None}
    try:
        return PrepareConfig.from_dict({"segment": limits, "validation_size": validation_size,
                                        "test_size": test_size, "seed": int(seed)})
    except ValueError as err:
        raise StudioError(str(err)) from err


# ----------------------------------------------------------------------------------------------- preparing


def prepare(ws: Workspace, specs, name: str | None, config):
    """Prepare ``specs`` into ``data/NAME``; returns the package's ``PrepareResult``. The package writes the dataset
    next to it first and swaps it in only when complete, so a failure leaves an earlier dataset of that name as it
    was."""
    from amharic_tts.data.prepare import REPORT_FILE, prepare_dataset

    final = ws.new_dir("data", name, "data")
    result = prepare_dataset(specs, final, config, base_model=ws.base_model)
    if result.report_file.name != REPORT_FILE:  # nothing kept: the earlier dataset stays, with this run's report
        raise StudioError(f"{result.report['warnings'][0]}: the dataset {ws.label(final)} is left as it was (give "
                          "another name to see this run's report)")
    return result


def load_report(dataset_dir: str | Path) -> dict:
    from amharic_tts.data.prepare import REPORT_FILE

    return read_json(Path(dataset_dir) / REPORT_FILE,
                     f"{dataset_dir} has no {REPORT_FILE}: it was not prepared by prepare_dataset")


def report_tables(report: dict):
    """``(summary markdown, sources table, dropped-inputs table)`` of a preparation report."""
    import pandas as pd

    totals = report["totals"]
    by_reason = ", ".join(f"{k} {v}" for k, v in totals["dropped_by_reason"].items()) or "none"
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    summary = (f"**{totals['segments']} segments kept: {totals['hours_kept']:.4f} h "
               f"({totals['hours_kept'] * 60:.1f} min)** from {totals['inputs']} inputs of {totals['sources']} "
               f"source(s).  \nDropped: {totals['dropped']} ({by_reason}). Splits: {splits}.")
    notes = report.get("split_notes") or {}
    if notes:
        summary += "  \n" + "; ".join(f"{split}: {note}" for split, note in notes.items()) + "."
    if totals.get("failed_sources"):
        summary += f"  \n**{totals['failed_sources']} source(s) failed**: see the table."
    for warning in report.get("warnings") or []:
        summary += f"  \n**Warning:** {warning}."
    sources = pd.DataFrame([[
        s["name"], s["kind"], s["status"], s["inputs"], s["kept"],
        ", ".join(f"{k}: {v}" for k, v in s["dropped"].items()), s["segments"], round(s["hours_kept"] * 60, 2),
        s.get("error") or "",
    ] for s in report["sources"]], columns=SOURCE_COLUMNS)
    dropped = pd.DataFrame([[e["source"], e["recording"], e["index"], e.get("reason", ""), e.get("detail", "")]
                            for e in report["inputs"] if e["fate"] == "dropped"], columns=DROPPED_COLUMNS)
    return summary, sources, dropped


def _splits(dataset_dir: str | Path) -> list[tuple[str, object]]:
    """``(split, Dataset)`` pairs of a prepared dataset, read by the package's one loader."""
    from datasets import DatasetDict

    from amharic_tts.data.prepare import load_prepared

    data = load_prepared(str(dataset_dir))
    return list(data.items()) if isinstance(data, DatasetDict) else [("train", data)]


def kept_segments(dataset_dir: str | Path) -> list[dict]:
    """``{id, split, text, duration}`` of every segment of a prepared dataset, in split order."""
    rows = []
    for split, part in _splits(dataset_dir):
        for row in part.select_columns(["id", "text", "duration"]).to_list():
            rows.append({**row, "split": split})
    return rows


def segment_choices(segments: list[dict]) -> list[tuple[str, str]]:
    return [(f"{s['id']} ({s['split']}, {s['duration']:.1f} s): {s['text'][:70]}", s["id"]) for s in segments]


def segment_clip(ws: Workspace, dataset_dir: str | Path, segment_id: str) -> tuple[Path, str]:
    """A kept segment as a wav file (decoded from the dataset's FLAC bytes) and its normalised text."""
    import soundfile as sf

    from amharic_tts.data.features import decode_audio_bytes

    for _, part in _splits(dataset_dir):
        ids = part["id"]
        if segment_id in ids:
            row = part[ids.index(segment_id)]
            audio, rate = decode_audio_bytes(row["audio"]["bytes"])
            out = ws.dir("cache") / "segments" / Path(dataset_dir).name / f"{safe_name(segment_id, 'segment')}.wav"
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(out, audio, rate)
            return out, row["text"]
    raise StudioError(f"no segment {segment_id!r} in {dataset_dir}")


# ----------------------------------------------------------------------------------------------- the tab


def build_tab(ws: Workspace, tab) -> dict:
    import gradio as gr

    from amharic_tts.data.segment import SegmentConfig
    from amharic_tts.studio.common import CancelSwitch, refreshed, ui, warn

    defaults = SegmentConfig()
    switch = CancelSwitch()
    gr.Markdown("Give the studio Amharic speech with its text. **Videos or audio with subtitles**: upload each media "
                "file together with its `.srt` (same file name, e.g. `day1.mp4` + `day1.srt`). **An LJSpeech "
                "folder**: zip `metadata.csv` and `wavs/` together. **A Hub dataset**: type its name. Every "
                "subtitle line ends up kept or dropped with a reason, listed below.")
    with gr.Row():
        media = gr.File(label="Media files and their .srt subtitles", file_count="multiple", type="filepath",
                        elem_id="data_media")
        lj_zip = gr.File(label="LJSpeech folder as a .zip", file_types=[".zip"], type="filepath",
                         elem_id="data_ljspeech_zip")
    with gr.Accordion("More sources: a folder on this machine, a Hub dataset", open=False):
        lj_folder = gr.Textbox(label="LJSpeech folder path on this machine (optional)")
        with gr.Row():
            hub_name = gr.Textbox(label="Hub dataset (user/name)", placeholder="user/amharic-speech")
            hub_config = gr.Textbox(label="configuration (optional)")
            hub_split = gr.Textbox(label="split", value="train")
        with gr.Row():
            text_col = gr.Textbox(label="text column", value="text")
            audio_col = gr.Textbox(label="audio column", value="audio")
            speaker_col = gr.Textbox(label="speaker column (optional)")
    with gr.Accordion("Limits", open=False):
        with gr.Row():
            min_dur = gr.Number(label="shortest segment (s)", value=defaults.min_duration, minimum=0.1)
            max_dur = gr.Number(label="longest segment (s)", value=defaults.max_duration, minimum=1)
            min_cps = gr.Number(label="fewest characters per second", value=defaults.min_cps, minimum=0)
            max_cps = gr.Number(label="most characters per second", value=defaults.max_cps, minimum=1)
        with gr.Row():
            refine = gr.Checkbox(label="move segment edges to the nearest pause", value=defaults.refine_edges)
            vad = gr.Radio(["silero", "energy"], value=defaults.vad, label="pause detector")
            ethiopic = gr.Slider(0, 1, value=defaults.min_ethiopic_share, step=0.05,
                                 label="least share of Ethiopic letters")
        with gr.Row():
            val_size = gr.Number(label="validation: share (<1) or number of segments", value=0.05, minimum=0)
            test_size = gr.Number(label="test: share (<1) or number of segments", value=0.05, minimum=0)
    with gr.Row():
        name = gr.Textbox(label="dataset name", value="data", elem_id="data_name")
        run = gr.Button("Prepare dataset", variant="primary", elem_id="data_prepare")
        cancel = gr.Button("Cancel", variant="stop")
    summary = gr.Markdown(elem_id="data_summary")
    with gr.Row():
        existing = gr.Dropdown(label="prepared datasets", choices=ws.choices(ws.datasets()), elem_id="data_existing")
    sources = gr.Dataframe(headers=SOURCE_COLUMNS, label="per source", interactive=False, wrap=True,
                           elem_id="data_sources")
    dropped = gr.Dataframe(headers=DROPPED_COLUMNS, label="dropped inputs", interactive=False, wrap=True)
    gr.Markdown("Listen to kept segments next to their (normalised) text:")
    with gr.Row():
        segment = gr.Dropdown(label="segment", choices=[], elem_id="data_segment")
        with gr.Column():
            clip = gr.Audio(label="segment audio", type="filepath", interactive=False, elem_id="data_clip")
            clip_text = gr.Textbox(label="text", interactive=False)

    def show(dataset_dir):
        report = load_report(dataset_dir)
        text, table, drops = report_tables(report)
        segments = kept_segments(dataset_dir)
        choices = segment_choices(segments)
        first = choices[0][1] if choices else None
        audio, words = segment_clip(ws, dataset_dir, first) if first else (None, "")
        return (f"{text}  \nSaved as `{ws.label(dataset_dir)}`.", table, drops,
                gr.update(choices=choices, value=first), str(audio) if audio else None, words)

    @ui
    def on_prepare(media_files, zip_file, folder, hub, config_name, split, tcol, acol, scol, mind, maxd, minc,
                   maxc, refine_edges, detector, share, vsize, tsize, dataset_name,
                   progress=gr.Progress(track_tqdm=True)):
        switch.reset()
        switch.watch(progress, "the preparation")
        progress(0, desc="reading the sources")
        config = prepare_config({"min_duration": mind, "max_duration": maxd, "min_cps": minc, "max_cps": maxc,
                                 "refine_edges": refine_edges, "vad": detector, "min_ethiopic_share": share},
                                validation_size=vsize or 0, test_size=tsize or 0)
        specs, warnings = gather_sources(ws, media_files=media_files, ljspeech_zip=zip_file, ljspeech_folder=folder,
                                         hub_dataset=hub, hub_split=split, hub_config=config_name,
                                         text_column=tcol, audio_column=acol, speaker_column=scol)
        result = prepare(ws, specs, dataset_name, config)
        failed = [s for s in result.report["sources"] if s["status"] == "failed"]
        warnings += [f"source {s['name']} failed: {s['error']}" for s in failed]
        if result.report["totals"]["segments"] == 0:
            warnings.append("no segment was kept: look at the reasons in the tables")
        warn(warnings)
        out = show(result.output_dir)
        return (*out, gr.update(choices=ws.choices(ws.datasets()), value=str(result.output_dir)))

    @ui
    def on_existing(dataset_dir):
        if not dataset_dir:
            return (gr.skip(),) * 6
        return show(dataset_dir)

    @ui
    def on_segment(dataset_dir, segment_id):
        if not dataset_dir or not segment_id:
            return None, ""
        audio, text = segment_clip(ws, dataset_dir, segment_id)
        return str(audio), text

    outputs = [summary, sources, dropped, segment, clip, clip_text]
    event = run.click(on_prepare, [media, lj_zip, lj_folder, hub_name, hub_config, hub_split, text_col, audio_col,
                                   speaker_col, min_dur, max_dur, min_cps, max_cps, refine, vad, ethiopic, val_size,
                                   test_size, name], outputs + [existing], show_progress_on=[sources])
    def on_cancel():
        switch.set()
        gr.Info("Cancelled: the preparation stops at its next step.")

    cancel.click(on_cancel, None, None, cancels=[event])
    existing.input(on_existing, [existing], outputs)
    segment.input(on_segment, [existing, segment], [clip, clip_text])
    tab.select(lambda current: refreshed(ws.choices(ws.datasets()), current, optional=True), [existing], [existing])
    return {"datasets": existing}

