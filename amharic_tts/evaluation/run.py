"""``python -m amharic_tts.evaluate``: speak a dataset split and measure intelligibility, voice and speed.

    python -m amharic_tts.evaluate --model user/repo --dataset data/am --split test \\
        [--asr-model facebook/mms-1b-all] [--max-samples 200] [--output eval/am] [--update-card]

For each sentence of the split the model speaks its text in the voice of another recording of the same speaker
(from the split, else from the dataset's other splits; never the sentence's own recording, which the model could
copy: a speaker with no other recording gets the default voice, counted in ``default_voice_sentences``;
``--voice default`` uses the default voice for all), then:

- intelligibility: a CTC ASR model (default ``facebook/mms-1b-all`` with its ``amh`` adapter) transcribes the
  audio, and the local ``amharic_cer`` ``evaluate`` metric compares transcript and text after one Amharic
  normalisation of both (CER and WER, corpus level);
- speaker similarity: cosine of the voice encoder's embeddings of the output and of the voice clip it was given
  (for sentences spoken in their speaker's voice; the clip is the recording of the speaker whose embedding is
  closest to the sentence's own, so comparing with the sentence's own recording would flatter the score);
- real-time factor: synthesis seconds per second of audio.

Written to ``--output``: ``results.json`` (the numbers; what ``export --evaluation`` and the model card read),
``sentences.tsv`` (every sentence, worst CER first) and ``wavs/``. ``--update-card`` also writes the results
into an exported model folder's ``evaluation.json`` and ``README.md`` (model-index).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amharic_tts.cli import UserError, add_console_arguments, run_cli
from amharic_tts.data.voices import nearest, speaker_embeddings

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
S3_RATE = 16000


@dataclass
class EvaluationConfig:
    split: str = "test"
    max_samples: int | None = None
    voice: str = "same-speaker"  # or "default"
    seed: int = 0
    max_new_tokens: int | None = None
    batch_size: int = 8  # sentences decoded together (speed only: each sentence has its own seed)
    generate_kwargs: dict = field(default_factory=dict)


def load_split(dataset: str, split: str, *, revision: str | None = None):
    """One split of a prepared dataset directory or Hub dataset, with its ``text`` column checked."""
    import datasets

    from amharic_tts.data.prepare import load_prepared

    data = load_prepared(dataset, revision=revision)
    if isinstance(data, datasets.DatasetDict):
        if split not in data:
            raise UserError(f"the dataset {dataset} has no split {split!r} (it has {', '.join(data)})")
        data = data[split]
    if "text" not in data.column_names:
        raise UserError(f"the dataset {dataset} has no `text` column")
    if len(data) == 0:
        raise UserError(f"the {split!r} split of {dataset} is empty")
    return data


def _recording(row) -> np.ndarray | None:
    """A row's recording at 16 kHz (datasets' Audio column, kept undecoded), or None."""
    import soxr

    from amharic_tts.data.features import decode_audio_bytes

    item = row.get("audio")
    if not item or not item.get("bytes"):
        return None
    audio, rate = decode_audio_bytes(item["bytes"])
    return audio if rate == S3_RATE else soxr.resample(audio, rate, S3_RATE).astype(np.float32)


def other_splits(dataset: str, split: str, *, revision: str | None = None):
    """The dataset's other splits together (voices for sentences whose speaker has no other recording in
    ``split``), or None."""
    import datasets

    from amharic_tts.data.prepare import load_prepared

    data = load_prepared(dataset, revision=revision)
    if not isinstance(data, datasets.DatasetDict):
        return None
    parts = [part for name, part in data.items()
             if name != split and len(part) and {"speaker", "audio"} <= set(part.column_names)]
    columns = ["speaker", "audio"] + (["speaker_emb"] if all("speaker_emb" in p.column_names for p in parts) else [])
    others = [part.select_columns(columns) for part in parts]
    try:
        return datasets.concatenate_datasets(others) if others else None
    except ValueError as err:  # splits whose columns differ in type: an optional extra, not worth failing for
        logger.warning("voices from the other splits are not available: %s", err)
        return None


def _voice_rows(rows: list[dict], pool_speakers: list | None = None,
                pool_embeddings=None) -> list[tuple[str, list[int]] | None]:
    """For each row, where its voice prompt comes from: ``("split", [j, ...])``, other rows of the same speaker
    with a recording; else ``("pool", [k, ...])``, rows of that speaker in the dataset's other splits (tried in
    turn: their recordings are read only when needed); else None (the default voice). Never the row itself: prompting
    with the very recording to be spoken would let the model copy it. Where speaker embeddings are known (the rows'
    ``speaker_emb``, ``pool_embeddings``), the closest voices come first: a film prepared as one speaker label holds
    many voices; else each row starts at another candidate."""

    def matrix(embeddings):
        if embeddings is None or len(embeddings) == 0 or any(e is None for e in embeddings):
            return None
        return np.stack([np.asarray(e, dtype=np.float32) for e in embeddings])

    own = matrix([row.get("speaker_emb") for row in rows])
    pool_matrix = matrix(pool_embeddings)
    members: dict[str, list[int]] = {}
    voiced: dict[str, list[int]] = {}  # the rows with a recording
    for i, row in enumerate(rows):
        members.setdefault(str(row.get("speaker")), []).append(i)
        if row.get("audio"):
            voiced.setdefault(str(row.get("speaker")), []).append(i)
    pool: dict[str, list[int]] = {}
    for k, speaker in enumerate(pool_speakers if pool_speakers is not None else []):
        pool.setdefault(str(speaker), []).append(k)

    def choose(queries: list[int], candidates: list[int], embeddings, own_position: dict) -> list[list[int]]:
        if own is not None and embeddings is not None:
            picks = nearest(own[queries], embeddings[candidates], 5,
                            exclude=[own_position.get(i, -1) for i in queries] if own_position else None)
            return [[candidates[p] for p in pick] for pick in picks]
        chosen = []
        for i in queries:
            others = [j for j in candidates if j != i] if own_position else candidates
            start = i % len(others)
            chosen.append((others[start:] + others[:start])[:5])
        return chosen

    chosen: list[tuple[str, list[int]] | None] = [None] * len(rows)
    for speaker, indices in members.items():
        candidates = voiced.get(speaker, [])
        position = {j: p for p, j in enumerate(candidates)}
        in_split = [i for i in indices if any(j != i for j in candidates)]
        for i, pick in zip(in_split, choose(in_split, candidates, own, position) if in_split else []):
            chosen[i] = ("split", pick)
        taken = set(in_split)
        rest = [i for i in indices if i not in taken]
        if rest and pool.get(speaker):
            for i, pick in zip(rest, choose(rest, pool[speaker], pool_matrix, {})):
                chosen[i] = ("pool", pick)
    return chosen


def evaluate_model(tts, data, output_dir: str | Path, config: EvaluationConfig, *, transcriber,
                   dataset_name: str = "", asr_model: str = "", voices=None) -> dict:
    """Speak ``data``'s sentences with ``tts``, transcribe them with ``transcriber`` and score; write results.
    ``voices``: rows of the dataset's other splits, for speakers with a single recording in ``data``."""
    import soundfile as sf
    from tqdm.auto import tqdm

    from amharic_tts.evaluation.metrics import load_amharic_cer, score

    output_dir = Path(output_dir)
    (output_dir / "wavs").mkdir(parents=True, exist_ok=True)
    if config.max_samples:
        data = data.select(range(min(config.max_samples, len(data))))
    rows = [data[i] for i in range(len(data))]
    pool_embeddings = None
    if voices is not None and "speaker_emb" in voices.column_names:
        pool_embeddings = speaker_embeddings(voices)
    voice_of = _voice_rows(rows, voices["speaker"] if voices is not None else None, pool_embeddings)
    voice_paths, voice_clips, voice_files = [], [], []
    default_voice = 0  # sentences spoken in the default voice although same-speaker was asked for
    for i, row in enumerate(rows):
        reference = voice_path = None
        if config.voice == "same-speaker":
            if voice_of[i] is not None:
                where, candidates = voice_of[i]
                for j in candidates:
                    reference = _recording(rows[j] if where == "split" else voices[j])
                    if reference is not None:
                        break
            default_voice += reference is None
            if reference is not None:
                voice_path = output_dir / "wavs" / f"voice-{i:04d}.wav"
                sf.write(voice_path, reference, S3_RATE)
                voice_files.append(voice_path)
        voice_paths.append(voice_path)
        voice_clips.append(reference)
    # all sentences through the batched decoder; sentence i keeps its own seed, so the output does not depend on
    # the batch size
    outputs = [None] * len(rows)
    writing = 0.0
    started = time.perf_counter()
    spoken = tts.stream_many([row["text"] for row in rows], voice_paths,
                             seeds=[config.seed + i for i in range(len(rows))], max_new_tokens=config.max_new_tokens,
                             batch_size=config.batch_size, **config.generate_kwargs)
    for i, wav in tqdm(spoken, total=len(rows), desc="speaking", unit="sentence"):
        written = time.perf_counter()
        outputs[i] = wav[0].numpy()
        sf.write(output_dir / "wavs" / f"{i:04d}.wav", outputs[i], tts.sr)  # as it comes: progress can be seen
        writing += time.perf_counter() - written
    synth_seconds = time.perf_counter() - started - writing
    audio_seconds = sum(len(audio) for audio in outputs) / tts.sr
    similarities = []
    for i, audio in enumerate(outputs):
        # how closely the output clones the voice clip it was given (not the sentence's own recording: the clip
        # was chosen as the nearest voice to that recording, which would flatter the score)
        similarities.append(_speaker_similarity(tts, audio, tts.sr, voice_clips[i])
                            if voice_paths[i] is not None else None)
    for path in voice_files:
        path.unlink(missing_ok=True)
    transcripts = transcriber.transcribe(outputs, sample_rate=tts.sr, progress=True)
    references = [row["text"] for row in rows]
    metric = load_amharic_cer().compute(predictions=transcripts, references=references)
    per_sentence = score(transcripts, references)["per_sentence"]
    known = [s for s in similarities if s is not None]
    results = {
        "model": str(tts.config.get("source") or ""),
        "dataset": dataset_name,
        "split": config.split,
        "sentences": len(rows),
        "asr_model": asr_model,
        "cer": round(float(metric["cer"]), 4),
        "wer": round(float(metric["wer"]), 4),
        "speaker_similarity": round(float(np.mean(known)), 4) if known else None,
        "rtf": round(synth_seconds / audio_seconds, 4) if audio_seconds else None,
        "audio_seconds": round(audio_seconds, 2),
        "voice": config.voice,
        # same-speaker: sentences whose speaker has no other recording in the dataset, spoken in the default
        # voice (and left out of speaker_similarity)
        "default_voice_sentences": default_voice if config.voice == "same-speaker" else len(rows),
        "seed": config.seed,
        "device": str(tts.device),
    }
    order = sorted(range(len(rows)), key=lambda i: -per_sentence[i])
    with open(output_dir / "sentences.tsv", "w", encoding="utf-8") as handle:
        handle.write("file\tcer\tspeaker_similarity\ttext\ttranscript\n")
        for i in order:
            sim = "" if similarities[i] is None else f"{similarities[i]:.4f}"
            handle.write(f"wavs/{i:04d}.wav\t{per_sentence[i]:.4f}\t{sim}\t{references[i]}\t{transcripts[i]}\n")
    results["worst"] = [{"file": f"wavs/{i:04d}.wav", "cer": round(per_sentence[i], 4), "text": references[i],
                         "transcript": transcripts[i]} for i in order[:10]]
    (output_dir / RESULTS_FILE).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
    return results


def _speaker_similarity(tts, audio: np.ndarray, sample_rate: int, voice: np.ndarray) -> float:
    import soxr

    audio16 = soxr.resample(audio, sample_rate, S3_RATE).astype(np.float32)
    a, b = tts.ve.embeds_from_wavs([audio16, voice], sample_rate=S3_RATE)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-8))


def check_card_folder(model_folder: str | Path) -> Path:
    """The exported model folder whose card ``--update-card`` writes (checked before any evaluation work)."""
    from amharic_tts.formats import MODEL_CONFIG_FILE

    folder = Path(model_folder)
    if not (folder / MODEL_CONFIG_FILE).is_file():
        raise UserError(f"--update-card needs an exported model folder (from python -m amharic_tts.export); "
                        f"{folder} has no {MODEL_CONFIG_FILE}")
    return folder


def update_card(model_folder: str | Path, results: dict) -> None:
    """Write ``results`` into an exported model folder: ``evaluation.json`` and the card's model-index."""
    from amharic_tts.formats import EVALUATION_FILE, MODEL_CONFIG_FILE
    from amharic_tts.hub import model_card

    folder = check_card_folder(model_folder)
    config = json.loads((folder / MODEL_CONFIG_FILE).read_text(encoding="utf-8"))
    summary = {k: v for k, v in results.items() if k != "worst"}
    (folder / EVALUATION_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
    model_card(config, evaluation=summary).save(folder / "README.md")


def main(argv: list[str] | None = None) -> int:
    from amharic_tts.evaluation.asr import DEFAULT_ASR_MODEL

    parser = argparse.ArgumentParser(prog="python -m amharic_tts.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Hub repo id, exported folder, or training run/checkpoint")
    parser.add_argument("--dataset", required=True, help="prepared dataset directory or Hub dataset")
    parser.add_argument("--split", default="test")
    parser.add_argument("--asr-model", default=DEFAULT_ASR_MODEL,
                        help="a CTC model that writes Ethiopic (default: %(default)s, amh adapter)")
    parser.add_argument("--asr-lang", default="amh", help="adapter language of multilingual (MMS) ASR models")
    parser.add_argument("--max-samples", type=int, default=None, help="only the first N sentences")
    parser.add_argument("--voice", choices=("same-speaker", "default"), default="same-speaker",
                        help="voice prompt: another recording of the sentence's speaker, or the default voice")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="speech tokens per sentence at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8,
                        help="sentences decoded together (more is faster, on a GPU especially; same results)")
    parser.add_argument("--output", default=None, help="results folder (default: eval-<model name>-<split>)")
    parser.add_argument("--update-card", action="store_true",
                        help="write the results into the exported model folder's card (model-index)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="T3's precision: bfloat16 is much faster on a GPU and on CPUs with AMX/AVX-512 bf16")
    parser.add_argument("--device", default=None)
    add_console_arguments(parser)
    args = parser.parse_args(argv)

    def run() -> int:
        from amharic_tts.evaluation.asr import ASRModelError, CTCTranscriber
        from amharic_tts.inference import AmharicTTS

        if args.update_card:
            check_card_folder(args.model)
        data = load_split(args.dataset, args.split)
        try:
            transcriber = CTCTranscriber(args.asr_model, target_lang=args.asr_lang, device=args.device)
        except ASRModelError as err:
            raise UserError(str(err)) from err
        tts = AmharicTTS.from_pretrained(args.model, device=args.device, dtype=args.dtype)
        tts.config["source"] = args.model
        output = args.output or f"eval-{Path(str(args.model)).name}-{args.split}"
        config = EvaluationConfig(split=args.split, max_samples=args.max_samples, voice=args.voice, seed=args.seed,
                                  max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
        voices = other_splits(args.dataset, args.split) if args.voice == "same-speaker" else None
        results = evaluate_model(tts, data, output, config, transcriber=transcriber, dataset_name=args.dataset,
                                 asr_model=args.asr_model, voices=voices)
        if args.update_card:
            update_card(args.model, results)
        print(json.dumps({k: v for k, v in results.items() if k != "worst"}, ensure_ascii=False, indent=2))
        print(f"details: {Path(output) / 'sentences.tsv'}")
        return 0

    return run_cli(run, debug=args.debug, verbose=args.verbose)
