"""The Amharic tokenizer: a SentencePiece vocabulary merged into Chatterbox's multilingual tokenizer.

Upstream's ``grapheme_mtl_merged_expanded_v1.json`` is a ``tokenizers`` BPE model (2454 ids, ``Whitespace``
pre-tokenizer, spaces written as ``[SPACE]``) with no Ethiopic letter in it. The merge keeps every base id as it
is and appends, in this order:

1. ``[am]``, the language token (id 2454 for the real base);
2. every assigned character of the Ethiopic block U+1200–U+137F, in code point order, so that no Amharic letter
   can ever become ``[UNK]``, trained on or not;
3. the SentencePiece pieces (unigram or BPE, trained on the normalised words the base pre-tokenizer yields),
   each written as a BPE merge of two tokens already in the vocabulary; a piece whose parts are missing gets its
   prefix added first (counted as ``intermediate`` in the report).

Merges involving Ethiopic characters rank after every base merge and never combine with a base token, so text in
the 23 base languages encodes to exactly the ids it had. ``MTLTokenizer(path).encode(text, language_id="am")``
of upstream chatterbox reads the result; :class:`AmharicTokenizer` encodes the same way without upstream's
network-bound constructor, and normalises first with the settings saved in ``tokenizer_config.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from amharic_tts.text.normalize import NormalizerConfig, normalize

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
REPORT_FILE = "tokenizer_report.json"
SENTENCEPIECE_VOCAB_FILE = "sentencepiece.vocab"
LANGUAGE = "am"
LANGUAGE_TOKEN = "[am]"
SPACE, UNK, START, STOP = "[SPACE]", "[UNK]", "[START]", "[STOP]"
MIN_VOCAB_SIZE, MAX_VOCAB_SIZE = 100, 10000
ETHIOPIC_BLOCK = range(0x1200, 0x1380)


class TokenizerBuildError(ValueError):
    """The inputs cannot produce a tokenizer (bad vocabulary size, no Amharic text, an unusable base)."""


def ethiopic_characters() -> list[str]:
    """Every assigned character of the Ethiopic block (letters, punctuation, numerals), in code point order."""
    return [chr(cp) for cp in ETHIOPIC_BLOCK if unicodedata.name(chr(cp), None)]


def is_ethiopic_word(word: str) -> bool:
    return bool(word) and all(0x1200 <= ord(ch) <= 0x135A for ch in word)


def preprocess(text: str) -> str:
    """What upstream's ``MTLTokenizer.preprocess_text`` does before encoding: lower case, then NFKD."""
    return unicodedata.normalize("NFKD", text.lower())


# --------------------------------------------------------------------------------------------- using it


class AmharicTokenizer:
    """Encode Amharic (and base-language) text to the merged vocabulary's ids, as upstream's MTLTokenizer does."""

    def __init__(self, tokenizer, config: dict):
        self.tokenizer = tokenizer
        self.config = config
        self.source_dir: str | None = None  # the directory it was read from, if any
        self.normalizer = NormalizerConfig.from_dict(config.get("normalizer"))
        vocab = tokenizer.get_vocab()
        self.language_token_id = vocab[config.get("language_token", LANGUAGE_TOKEN)]
        self.start_id, self.stop_id, self.unk_id = vocab[START], vocab[STOP], vocab[UNK]

    @classmethod
    def from_dir(cls, directory: str | os.PathLike) -> "AmharicTokenizer":
        from tokenizers import Tokenizer

        directory = Path(directory)
        for name in (TOKENIZER_FILE, CONFIG_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"{directory} has no {name}: is it a directory written by build_tokenizer.py?")
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        tokenizer = cls(Tokenizer.from_file(str(directory / TOKENIZER_FILE)), config)
        tokenizer.source_dir = str(directory)
        return tokenizer

    @property
    def vocab_size(self) -> int:
        """The number of text ids: the size T3's text embedding must have."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def base_vocab_size(self) -> int:
        return int(self.config["base_vocab_size"])

    def normalize(self, text: str) -> str:
        return normalize(text, self.normalizer)

    def encode(self, text: str, *, normalized: bool = False, language: str | None = LANGUAGE) -> list[int]:
        """Ids of ``text`` with the language token first (no [START]/[STOP]); normalises unless told it is."""
        if not normalized:
            text = self.normalize(text)
        text = preprocess(text)
        if language:
            text = f"[{language}]{text}"
        return self.tokenizer.encode(text.replace(" ", SPACE)).ids

    def text_ids(self, text: str, *, normalized: bool = False) -> list[int]:
        """``[START] [am] ... [STOP]``: the text sequence T3 trains on and is prompted with."""
        return [self.start_id, *self.encode(text, normalized=normalized), self.stop_id]

    def decode(self, ids: Sequence[int]) -> str:
        text = self.tokenizer.decode(list(ids), skip_special_tokens=False)
        text = text.replace(" ", "").replace(SPACE, " ")
        for token in (STOP, START, UNK, self.config.get("language_token", LANGUAGE_TOKEN)):
            text = text.replace(token, "")
        return text


# --------------------------------------------------------------------------------------------- building it


@dataclass
class TokenizerBuildConfig:
    """Options of ``build_tokenizer.py`` (also readable from ``configs/tokenizer/*.yaml``)."""

    vocab_size: int = 2000
    # BPE by default: the merged tokenizer is a BPE model, and a SentencePiece BPE vocabulary is closed under its
    # merges, so encoding segments words the way they were learned. Unigram pieces work too (with intermediate
    # tokens added where a piece's prefix is missing), but need more text to pay off.
    model_type: str = "bpe"
    held_out_every: int = 20  # every n-th line is held out for the report (0: none)
    max_piece_length: int = 8
    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)

    def validate(self) -> None:
        if not MIN_VOCAB_SIZE <= self.vocab_size <= MAX_VOCAB_SIZE:
            raise TokenizerBuildError(
                f"--vocab-size must be between {MIN_VOCAB_SIZE} and {MAX_VOCAB_SIZE}, got {self.vocab_size}.")
        if self.model_type not in ("unigram", "bpe"):
            raise TokenizerBuildError(f"model_type must be 'unigram' or 'bpe', got {self.model_type!r}.")


def split_held_out(lines: Sequence[str], every: int) -> tuple[list[str], list[str]]:
    if every <= 1 or len(lines) < 2 * every:
        return list(lines), []
    train = [line for i, line in enumerate(lines) if i % every != every - 1]
    held = [line for i, line in enumerate(lines) if i % every == every - 1]
    return train, held


def word_counts(lines: Iterable[str], pre_tokenizer) -> Counter:
    """Ethiopic words as the base tokenizer will see them (preprocessed, split by its pre-tokenizer)."""
    counts: Counter = Counter()
    for line in lines:
        for chunk in preprocess(line).split(" "):
            for word, _ in pre_tokenizer.pre_tokenize_str(chunk):
                if is_ethiopic_word(word):
                    counts[word] += 1
    return counts


def train_sentencepiece(counts: Counter, config: TokenizerBuildConfig, workdir: Path) -> list[str]:
    """Pieces of a SentencePiece model trained on ``word<TAB>count`` lines, best first (no ``<unk>``)."""
    import sentencepiece as spm

    tsv = workdir / "words.tsv"
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    tsv.write_text("".join(f"{word}\t{count}\n" for word, count in rows), encoding="utf-8")
    prefix = workdir / "sp"
    spm.SentencePieceTrainer.train(
        input=str(tsv), input_format="tsv", model_prefix=str(prefix), vocab_size=config.vocab_size,
        model_type=config.model_type, character_coverage=1.0, hard_vocab_limit=False,
        add_dummy_prefix=False, split_by_whitespace=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", byte_fallback=False, max_sentencepiece_length=config.max_piece_length,
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, num_threads=1, minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
    pieces = []
    for i in range(processor.get_piece_size()):
        if processor.is_unknown(i) or processor.is_control(i):
            continue
        piece = processor.id_to_piece(i).replace("\u2581", "")
        if piece and is_ethiopic_word(piece):
            pieces.append((piece, processor.get_score(i)))
    return [p for p, _ in pieces]


class _VocabularyMerge:
    """Appends tokens (and the BPE merges that build them) to a base BPE vocabulary."""

    def __init__(self, vocab: dict[str, int], merges: list):
        self.vocab = vocab
        self.merges = merges
        self.merge_as_strings = bool(merges) and isinstance(merges[0], str)
        self.added: dict[str, str] = {}  # token -> kind

    def add_token(self, token: str, kind: str) -> None:
        if token not in self.vocab:
            self.vocab[token] = len(self.vocab)
            self.added[token] = kind

    def add_piece(self, piece: str, kind: str = "piece") -> None:
        """Add a multi-character piece with one merge of two tokens already present."""
        if piece in self.vocab:
            return
        splits = [(piece[:i], piece[i:]) for i in range(1, len(piece))]
        known = [(a, b) for a, b in splits if a in self.vocab and b in self.vocab]
        if known:
            left, right = min(known, key=lambda ab: (max(self.vocab[ab[0]], self.vocab[ab[1]]), len(ab[0])))
        else:
            self.add_piece(piece[:-1], "intermediate")
            left, right = piece[:-1], piece[-1]
        self.merges.append(f"{left} {right}" if self.merge_as_strings else [left, right])
        self.add_token(piece, kind)


def merge_vocabulary(base_json: str, pieces: Sequence[str]) -> tuple[str, dict[str, str]]:
    """Return the merged tokenizer JSON and ``{added token: kind}`` (language / character / piece / intermediate)."""
    data = json.loads(base_json)
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise TokenizerBuildError(f"the base tokenizer is a {model.get('type')} model; a BPE model was expected")
    vocab, merges = model["vocab"], model["merges"]
    if LANGUAGE_TOKEN in vocab:
        raise TokenizerBuildError(f"the base tokenizer already has {LANGUAGE_TOKEN}")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise TokenizerBuildError("the base tokenizer's ids are not contiguous; new ids could not be appended safely")
    merge = _VocabularyMerge(vocab, merges)
    merge.add_token(LANGUAGE_TOKEN, "language")
    for ch in ethiopic_characters():
        merge.add_token(ch, "character")
    for piece in pieces:
        merge.add_piece(piece)
    data["added_tokens"].append({
        "id": vocab[LANGUAGE_TOKEN], "content": LANGUAGE_TOKEN, "single_word": False, "lstrip": False,
        "rstrip": False, "normalized": False, "special": True,
    })
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n", merge.added


@dataclass
class TokenizerReport:
    base_vocab_size: int
    vocab_size: int
    added: dict[str, int]
    sentencepiece: dict
    train: dict
    held_out: dict
    ethiopic_unk_rate: float
    longest_new_tokens: list[str]

    def to_dict(self) -> dict:
        return dict(vars(self))

    def summary(self) -> str:
        lines = [
            f"vocabulary: {self.base_vocab_size} base + {sum(self.added.values())} new = {self.vocab_size} ids "
            f"({', '.join(f'{v} {k}' for k, v in self.added.items())})",
            f"tokens per character: train {self.train['tokens_per_char']}, held-out {self.held_out['tokens_per_char']} "
            f"(base tokenizer on train: {self.train['base_tokens_per_char']})",
            f"[UNK] rate over Ethiopic characters: {self.ethiopic_unk_rate}",
            f"longest new tokens: {' '.join(self.longest_new_tokens)}",
        ]
        requested, kept = self.sentencepiece["requested_vocab_size"], self.sentencepiece["pieces_kept"]
        if kept < 0.8 * requested:
            lines.append(f"note: SentencePiece found {kept} pieces, fewer than the {requested} asked for: the text "
                         f"has only {self.sentencepiece['distinct_words']} distinct words. More text, or a smaller "
                         f"--vocab-size, gives the same vocabulary.")
        return "\n".join(lines)


def _measure(tokenizer: AmharicTokenizer, base, lines: Sequence[str]) -> tuple[dict, int, int]:
    """Token counts of the merged and base tokenizers, and how many Ethiopic characters became [UNK]."""
    chars = tokens = base_tokens = ethiopic = ethiopic_unk = 0
    for line in lines:
        prepared = preprocess(line).replace(" ", SPACE)
        encoding = tokenizer.tokenizer.encode(prepared)
        chars += len(line)
        tokens += len(encoding.ids)
        base_tokens += len(base.encode(prepared).ids)
        ethiopic += sum(1 for ch in prepared if ord(ch) in ETHIOPIC_BLOCK)
        ethiopic_unk += sum(
            sum(1 for ch in prepared[start:end] if ord(ch) in ETHIOPIC_BLOCK)
            for token_id, (start, end) in zip(encoding.ids, encoding.offsets) if token_id == tokenizer.unk_id
        )
    stats = {
        "lines": len(lines), "characters": chars, "tokens": tokens,
        "tokens_per_char": round(tokens / chars, 4) if chars else None,
        "base_tokens_per_char": round(base_tokens / chars, 4) if chars else None,
    }
    return stats, ethiopic, ethiopic_unk


def build_tokenizer(
    lines: Iterable[str],
    base_json: str,
    output_dir: str | os.PathLike,
    config: TokenizerBuildConfig | None = None,
    *,
    base_model: str = "",
) -> TokenizerReport:
    """Normalise ``lines``, train SentencePiece, merge into ``base_json``, write ``output_dir``, return the report.

    Writes nothing unless it succeeds (the directory appears complete or not at all).
    """
    from tokenizers import Tokenizer

    config = config or TokenizerBuildConfig()
    config.validate()
    output_dir = Path(output_dir)
    normalized = [text for text in (normalize(line, config.normalizer) for line in lines) if text]
    train_lines, held_lines = split_held_out(normalized, config.held_out_every)
    base = Tokenizer.from_str(base_json)
    counts = word_counts(train_lines, base.pre_tokenizer)
    if not counts:
        raise TokenizerBuildError("the corpus has no Amharic (Ethiopic) words after normalisation; nothing to learn from")

    with tempfile.TemporaryDirectory(prefix="amharic-tokenizer-") as tmp:
        pieces = train_sentencepiece(counts, config, Path(tmp))
        merged_json, added = merge_vocabulary(base_json, pieces)
        merged = Tokenizer.from_str(merged_json)
        base_size = base.get_vocab_size(with_added_tokens=True)
        tokenizer_config = {
            "tokenizer_class": "AmharicTokenizer",
            "language": LANGUAGE,
            "language_token": LANGUAGE_TOKEN,
            "base_model": base_model,
            "base_vocab_size": base_size,
            "vocab_size": merged.get_vocab_size(with_added_tokens=True),
            "normalizer": config.normalizer.to_dict(),
            "sentencepiece": {"model_type": config.model_type, "vocab_size": config.vocab_size},
        }
        tokenizer = AmharicTokenizer(merged, tokenizer_config)
        _check_base_ids_unchanged(base, merged)

        train_stats, eth_train, unk_train = _measure(tokenizer, base, train_lines)
        held_stats, eth_held, unk_held = _measure(tokenizer, base, held_lines)
        counts_by_kind = Counter(added.values())
        new_tokens = sorted((t for t, kind in added.items() if kind != "language"),
                            key=lambda t: (-len(t), merged.token_to_id(t)))
        report = TokenizerReport(
            base_vocab_size=base_size,
            vocab_size=tokenizer.vocab_size,
            added={kind: counts_by_kind[kind] for kind in ("language", "character", "piece", "intermediate")},
            sentencepiece={"model_type": config.model_type, "requested_vocab_size": config.vocab_size,
                           "pieces_kept": len(pieces), "distinct_words": len(counts)},
            train=train_stats,
            held_out=held_stats,
            ethiopic_unk_rate=round((unk_train + unk_held) / max(1, eth_train + eth_held), 6),
            longest_new_tokens=new_tokens[:20],
        )

        staging = Path(tmp) / "out"
        staging.mkdir()
        (staging / TOKENIZER_FILE).write_text(merged_json, encoding="utf-8")
        (staging / CONFIG_FILE).write_text(json.dumps(tokenizer_config, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
        (staging / REPORT_FILE).write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
        (staging / SENTENCEPIECE_VOCAB_FILE).write_text("".join(f"{p}\n" for p in pieces), encoding="utf-8")
        _publish(staging, output_dir)
    return report


def _check_base_ids_unchanged(base, merged) -> None:
    merged_vocab = merged.get_vocab(with_added_tokens=True)
    moved = [t for t, i in base.get_vocab(with_added_tokens=True).items() if merged_vocab.get(t) != i]
    if moved:
        raise TokenizerBuildError(f"merging moved base tokens (e.g. {moved[:5]}); refusing to write")


def _publish(staging: Path, output_dir: Path) -> None:
    """Move the finished files into ``output_dir`` (created if needed; our own files in it are replaced)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in staging.iterdir():
        shutil.move(str(path), output_dir / path.name)


def read_text_sources(sources: Sequence[str | os.PathLike], *, text_column: str = "text") -> list[str]:
    """Lines of text from plain UTF-8 files (one sentence per line) and prepared dataset directories
    (``datasets.load_from_disk``; every split's ``text_column``)."""
    lines: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            from datasets import Dataset, DatasetDict, load_from_disk

            try:
                data = load_from_disk(str(path))
            except Exception as err:
                raise TokenizerBuildError(f"{path} is not a dataset saved with save_to_disk: {err}") from err
            splits = data.values() if isinstance(data, DatasetDict) else [data] if isinstance(data, Dataset) else []
            for split in splits:
                if text_column not in split.column_names:
                    raise TokenizerBuildError(
                        f"{path} has no {text_column!r} column (columns: {', '.join(split.column_names)})")
                lines.extend(str(t) for t in split[text_column] if t)
        elif path.is_file():
            try:
                lines.extend(path.read_text(encoding="utf-8-sig").splitlines())
            except UnicodeDecodeError as err:
                raise TokenizerBuildError(f"{path} is not UTF-8 text: {err}") from err
        else:
            raise TokenizerBuildError(f"text source {path} does not exist")
    return lines
