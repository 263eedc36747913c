"""Speak Amharic text with a fine-tuned model from the command line.

    python -m amharic_tts.synthesize --model user/repo --text "ሰላም ነው።" --output out.wav
    python -m amharic_tts.synthesize --model exported/am --text-file lines.txt --output out/ [--reference voice.wav]

``--model`` is a Hub repo, an exported folder or a training run / checkpoint folder. With ``--text-file``, each
non-empty line becomes its own file ``OUTPUT/0001.wav``, ... (``--output`` is then a folder), with a progress bar
and ``OUTPUT/lines.tsv`` listing file, text and duration; with ``--text``, ``--output`` is the audio file (.wav,
.flac or .ogg), written sentence by sentence as the audio is ready. Sentences (and lines) are decoded together,
``--batch-size`` at a time: faster, and the same audio as one at a time for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from amharic_tts.cli import UserError, add_console_arguments, check_output_path, run_cli

logger = logging.getLogger(__name__)


def read_lines(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"text file {path} does not exist")
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise UserError(f"text file {path} has no text")
    return lines


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")  # .ogg is written as Ogg Vorbis


def _subtype(path: Path) -> str:
    return "VORBIS" if path.suffix.lower() == ".ogg" else "PCM_16"


def write_wav(path: str | Path, wav, sample_rate: int) -> None:
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wav.squeeze(0).cpu().numpy(), sample_rate, subtype=_subtype(path))


def write_progressively(path: str | Path, pieces, sample_rate: int) -> float:
    """Write the audio pieces to ``path`` as they come (a long text can be heard while the rest is spoken);
    returns the seconds written."""
    import soundfile as sf

    import itertools

    path = Path(path)
    pieces = iter(pieces)
    first = next(pieces, None)  # the text and the voice are checked before the file is created
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = 0
    try:
        with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype=_subtype(path)) as handle:
            for piece in itertools.chain([first] if first is not None else [], pieces):
                handle.write(piece.squeeze(0).cpu().numpy())
                handle.flush()
                samples += piece.shape[-1]
    except KeyboardInterrupt:  # the file is closed whole: what was spoken stays playable
        print(f"interrupted: the {samples / sample_rate:.1f} s spoken so far are in {path}", file=sys.stderr)
        raise
    return samples / sample_rate


def synthesize_lines(tts, lines: list[str], output_dir: str | Path, *, progress: bool = True,
                     **generate_kwargs) -> list[dict]:
    """One wav per line in ``output_dir`` (named by line number) plus ``lines.tsv``; returns what was written.
    The lines are spoken together in batches (:meth:`AmharicTTS.stream_many`) and each file is written as soon
    as its line is done. A line that cannot be spoken (no letters) is skipped with a warning and listed in
    ``lines.tsv`` without a file, so one bad line does not stop a long batch. With ``seed``, line ``i`` (from 1)
    is spoken with seed ``seed + i - 1``."""
    from tqdm.auto import tqdm

    from amharic_tts.inference import TextError

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(lines))))
    rows: list[dict] = []
    speakable = []
    for i, line in enumerate(lines, start=1):
        try:
            tts.sentences(line)
        except TextError as err:
            logger.warning("line %d skipped: %s", i, err)
            rows.append({"file": "", "text": line, "seconds": 0.0, "skipped": str(err)})
            continue
        rows.append(None)
        speakable.append(i)
    seed = generate_kwargs.pop("seed", None)
    seeds = [None if seed is None else seed + i - 1 for i in speakable]
    stream = tts.stream_many([lines[i - 1] for i in speakable], seeds=seeds, **generate_kwargs)
    try:
        for k, wav in tqdm(stream, total=len(speakable), desc="lines", unit="line", disable=not progress):
            i = speakable[k]
            path = output_dir / f"{i:0{width}d}.wav"
            write_wav(path, wav, tts.sr)
            rows[i - 1] = {"file": path.name, "text": lines[i - 1], "seconds": round(wav.shape[-1] / tts.sr, 2),
                           "skipped": ""}
    except KeyboardInterrupt:  # each finished line is already its own file; lines.tsv says which
        done = sum(1 for r in rows if r and r["file"])
        print(f"interrupted: {done} of {len(lines)} lines were spoken, in {output_dir} (see lines.tsv)",
              file=sys.stderr)
        raise
    finally:
        rows = [r or {"file": "", "text": lines[i], "seconds": 0.0, "skipped": "interrupted before it was spoken"}
                for i, r in enumerate(rows)]
        with open(output_dir / "lines.tsv", "w", encoding="utf-8") as handle:
            handle.write("file\ttext\tseconds\tskipped\n")
            handle.writelines(f"{r['file']}\t{r['text']}\t{r['seconds']}\t{r['skipped']}\n" for r in rows)
    return [r for r in rows if r["file"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amharic_tts.synthesize", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Hub repo id, exported folder, or training run/checkpoint")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to speak (long text is split into sentences)")
    source.add_argument("--text-file", help="a UTF-8 file: one utterance per non-empty line")
    parser.add_argument("--output", required=True, help="wav file (--text) or folder (--text-file)")
    parser.add_argument("--reference", help="a clip of the voice to clone (3-10 s of clean speech)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--exaggeration", type=float, default=0.5)
    parser.add_argument("--cfg-weight", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--repetition-penalty", type=float, default=1.2,
                        help="upstream's v3 recipe: 1.2 (2.0, the v2 default, pushes away every token already said)")
    parser.add_argument("--min-p", type=float, default=0.05)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8,
                        help="sentences decoded together (more is faster, on a GPU especially; the output is the same)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="T3's precision: bfloat16 is much faster on a GPU and on CPUs with AMX/AVX-512 bf16")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when there is one)")
    parser.add_argument("--revision", default=None, help="Hub revision of --model")
    parser.add_argument("--no-watermark", action="store_true", help="leave out the Perth watermark")
    add_console_arguments(parser)
    args = parser.parse_args(argv)

    def run() -> int:
        from amharic_tts.inference import AmharicTTS

        if args.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
        if args.text is not None and not args.text.strip():
            raise UserError("--text is empty")
        lines = read_lines(args.text_file) if args.text_file else None
        check_output_path(args.output, kind="file" if lines is None else "dir",
                          suffixes=AUDIO_SUFFIXES if lines is None else ())
        if args.reference and not Path(args.reference).is_file():
            raise UserError(f"reference clip {args.reference} does not exist")
        tts = AmharicTTS.from_pretrained(args.model, device=args.device, revision=args.revision,
                                         watermark=not args.no_watermark, dtype=args.dtype)
        options = dict(seed=args.seed, exaggeration=args.exaggeration, cfg_weight=args.cfg_weight,
                       temperature=args.temperature, repetition_penalty=args.repetition_penalty, min_p=args.min_p,
                       top_p=args.top_p, batch_size=args.batch_size)
        if lines is None:
            pieces = tts.stream(args.text, args.reference, **options)
            sentences = len(tts.sentences(args.text))
            if sentences > 1:  # a long text: a bar over its sentences (each is written as it comes)
                from tqdm.auto import tqdm

                pieces = tqdm(pieces, total=sentences, desc="sentences", unit="sentence")
            seconds = write_progressively(args.output, pieces, tts.sr)
            print(f"wrote {args.output} ({seconds:.2f} s)")
        else:
            voices = [args.reference] * len(lines) if args.reference else None
            written = synthesize_lines(tts, lines, args.output, audio_prompt_paths=voices, **options)
            total = sum(w["seconds"] for w in written)
            skipped = len(lines) - len(written)
            print(f"wrote {len(written)} files ({total:.1f} s) to {args.output}"
                  + (f"; {skipped} line(s) skipped, see lines.tsv" if skipped else ""))
            if not written:
                raise UserError("no line of the text file could be spoken")
        return 0

    return run_cli(run, debug=args.debug, verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
