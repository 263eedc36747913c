"""Amharic text normalisation: one ``normalize(text)`` for dataset preparation, tokenizer training and inference.

Rules, in the order they run (each can be switched off in :class:`NormalizerConfig` where it says so):

1. Unicode NFC; control characters become spaces; format characters (category Cf: zero-width space/joiners,
   BOM, soft hyphen, direction marks and isolates, tags) are removed; runs of white space become one space.
   ``"ሰላም\\u200b  ነው\\tወይ"`` -> ``"ሰላም ነው ወይ"``
2. Ethiopic word separators: a doubled word space or colon written for the full stop becomes ``።``; a single
   ``፡`` (the old word space) becomes a space.   ``"ሰላም::"`` -> ``"ሰላም።"``, ``"ሰላም፡ነው"`` -> ``"ሰላም ነው"``
3. Abbreviations (``expand_abbreviations``), from ``data/abbreviations.tsv``, matched as whole words, longer ones
   first: a proclitic (:data:`PROCLITICS`: የ በ ለ ከ እንደ ...) written onto one stays, and so does a suffix
   (:data:`SUFFIXES`) after it, whose vowel may change a final consonant, which the expansion then takes too;
   any other letter before or after it means it is not that abbreviation, and one is never matched as a piece
   of a longer dotted or slashed one (``"አ.አ"`` is not read inside ``"ኢ.አ.አ"``, ``"ክ/ከ"`` not inside
   ``"ክ/ከተማ"``; unknown ones are kept as written). Spaced forms and homophone spellings match too (an exact
   spelling wins). Rows ending in ``/`` are prefixes: a title reads the word or abbreviation after it with a
   space (``"ም/ጠ/ሚ"`` -> ``"ምክትል ጠቅላይ ሚኒስትር"``), a name part (expansion ending in ``-``) joins a name of two
   letters or more and nothing else (``"ገ/ማርያም"`` -> ``"ገብረማርያም"``, ``"ተ/መ/ድ"`` is its own row); a word
   with a piece the table lacks stays as written. A suffix changes a final consonant only as suffixes do (-u
   alone, -a and -o before another suffix): ``"ኮ/ሌ"`` stays. An acronym the table
   lacks, dotted between letters, is read letter by letter without its dots (``"ኢ.ፌ.ዲ.ሪ"`` -> ``"ኢፌዲሪ"``; a dot
   after its last letter goes too where the sentence goes on: ``"የኢ.ፌ.ዲ.ሪ. መንግስት"`` -> ``"የኢፌዲሪ መንግስት"``).
   ``"የዶ/ር አበበ"`` -> ``"የዶክተር አበበ"``, ``"ዶ.ር"`` -> ``"ዶክተር"``, ``"በ1999 ዓ. ም."`` -> ``"በ... ዓመተ ምሕረት።"``,
   ``"በት/ቤቱ"`` -> ``"በትምህርት ቤቱ"``, ``"ት/ቤቶች"`` -> ``"ትምህርት ቤቶች"``, ``"ሃ/ማርያም"`` -> ``"ኃይለማርያም"``,
   ``"ወ/ት ሰላም"`` -> ``"ወይዘሪት ሰላም"``, ``"5 ኪ.ሜ"`` -> ``"... ኪሎ ሜትር"``, ``"አ.አ.ዩ"`` -> ``"አዲስ አበባ ዩኒቨርሲቲ"``
   A dot after an unknown one-letter word with a number after it is dropped, never a sentence end
   (``"አንቀጽ ሐ. 3"`` -> ``"አንቀጽ ሀ ሶስት"``); known ones expand (``"አዋጅ ቁ. 5"`` -> ``"አዋጅ ቁጥር አምስት"``,
   ``"ወዘተ. ይሸጣሉ"`` -> ``"ወዘተርፈ ይሸጣሉ"``).
4. Numbers read as words (``verbalize_numbers``; see :mod:`amharic_tts.text.numbers`): Ethiopic numerals,
   integers up to 10^15, thousands separators, decimals, percentages, ብር/ሳንቲም, ordinals (``3ኛ``, ``2ተኛ``),
   dates (``12.05.2015``, ``12/05/2015``: three numbers), times (``12:30``), degrees, phone numbers digit by
   digit (``011-551-2233``), ranges (``ከ5-10`` -> ``ከአምስት እስከ አስር``), fractions (``2/3ኛ`` -> ``ሁለት
   ሶስተኛ``), a day and a year (``30/2015``) and budget years (``2015/16``); a scale or unit word
   written onto the digits is split off (``5ሺህ``). ``"50%"`` -> ``"ሃምሳ በመቶ"`` (then folded: ``"ሀምሳ በመቶ"``),
   ``"3ኛ"`` -> ``"ሶስተኛ"``, ``"፳፻፲፭"`` -> 2015 in words, ``"12:30"`` -> ``"አስራ ሁለት ሰዓት ከሰላሳ"`` (folded:
   ``ሰአት``), ``"100ሺ"`` -> ``"አንድ መቶ ሺ"``, ``"12.05.2015"`` -> ``"አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"``
5. Symbols nobody can speak (``drop_unspeakable``, always on): emoji and pictographs, ``© ® ™ ★``, modifier
   symbols (``^``, the backtick, ``´``, skin tones), private-use characters, keycap and other enclosing marks and
   variation selectors become a space (categories So, Sk, Co, Me). Letters, digits, punctuation, ``$ %`` and
   math signs (``+ = <``) are kept; a ``°`` after a number was read by rule 4.   ``"ሰላም 😀 ነው"`` -> ``"ሰላም ነው"``
6. Homophone folding (``fold_homophones``), from ``data/homophones.tsv``: ሐ/ኀ->ሀ, ሠ->ሰ, ዐ->አ and ፀ->ጸ series,
   each order to the same order, plus ሃ/ኃ/ሓ->ሀ, ኣ/ዓ->አ, ቍ->ቁ, ኵ->ኩ, ሗ->ኋ. Vowel orders and labialisation are
   otherwise kept.   ``"ሐሳብ"`` -> ``"ሀሳብ"``, ``"ኅብረት"`` -> ``"ህብረት"``, ``"ሥራ"`` -> ``"ስራ"``, ``"ዓለም"`` -> ``"አለም"``
7. Punctuation (``ethiopic_punctuation``): ``,`` ``;`` written after an Ethiopic letter become ``፣`` ``፤``; a
   ``.`` becomes ``።`` only where it ends a sentence: after an Ethiopic letter and before white space, the end
   of the text or a closing quote or bracket. A dot between numbers or letters is never a sentence end (an
   unknown dotted abbreviation, or a version read by rule 4, keeps its dots), nor is ``...``. Ethiopic
   punctuation and ``?`` ``!`` are kept, with no space before them and one after.
   ``"ሰላም , ነው ."`` -> ``"ሰላም፣ ነው።"``, ``"1.5.2"`` -> ``"አንድ.አምስት.ሁለት"``, ``"ሰላም.እንዴት"`` kept
8. Latin words, their case and other punctuation are kept as they are. ``"ሰላም Google!"`` -> ``"ሰላም Google!"``

:func:`split_sentences` cuts normalised text after ``።`` ``?`` ``!`` ``፧`` (and a ``.`` followed by a space),
then cuts sentences longer than ``max_chars`` at ``፣ ፤ , ;``, then at spaces.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

ETHIOPIC_LETTERS = "\u1200-\u135a"  # syllables (the block's letters, without punctuation and numerals)
ETHIOPIC_PUNCTUATION = "።፣፤፥፦፧፨"
SENTENCE_END = "።?!፧"


@dataclass(frozen=True)
class NormalizerConfig:
    """Normalisation settings. They are saved with the tokenizer, so training and inference agree."""

    fold_homophones: bool = True
    verbalize_numbers: bool = True
    expand_abbreviations: bool = True
    ethiopic_punctuation: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "NormalizerConfig":
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown normaliser settings: {', '.join(unknown)}")
        return cls(**data)


def normalizer_signature() -> str:
    """A digest of the normaliser's code and tables (abbreviations, homophones ...): what any cached normalised
    text depends on, so a changed table re-normalises prepared and preprocessed datasets."""
    import hashlib
    import importlib
    from pathlib import Path

    digest = hashlib.sha1()
    here = Path(importlib.import_module("amharic_tts.text").__file__).parent
    for path in [here / "normalize.py", here / "numbers.py", *sorted((here / "data").glob("*.tsv"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _read_table(name: str) -> list[list[str]]:
    text = resources.files("amharic_tts.text").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@lru_cache(maxsize=None)
def homophone_table() -> dict[str, str]:
    """``{letter: folded letter}`` from ``data/homophones.tsv``."""
    table = {}
    for row in _read_table("homophones.tsv"):
        source, target = row[0], row[1]
        if len(source) != 1 or len(target) != 1 or source in table:
            raise ValueError(f"bad homophones.tsv row: {row}")
        table[source] = target
    return table


@lru_cache(maxsize=None)
def _homophone_translation() -> dict[int, str]:
    return str.maketrans(homophone_table())


def fold_homophones(text: str) -> str:
    """Fold letters that sound the same in modern Amharic to one spelling (``data/homophones.tsv``)."""
    return text.translate(_homophone_translation())


@lru_cache(maxsize=None)
def abbreviation_table() -> dict[str, str]:
    """``{abbreviation: expansion}`` from ``data/abbreviations.tsv``."""
    return {row[0]: row[1] for row in _read_table("abbreviations.tsv")}


# Words Amharic writes onto the front of another (prepositions, the genitive የ, ነ of company), longest first, and
# suffixes that may follow an abbreviation whose last letter is a consonant (sixth order): the suffix vowel fuses
# with that consonant (ቤት + ኡ = ቤቱ, + ኦች = ቤቶች), so that letter may stand in any order, then one of these may follow
PROCLITICS = ("እንደ", "እስከ", "ስለ", "ወደ", "ከነ", "የነ", "በነ", "ለነ", "የ", "በ", "ለ", "ከ")
SUFFIXES = ("ዎቻቸው", "ዎቹ", "ዎች", "ቻቸው", "ችን", "ችም", "ቸው", "ችሁ", "ንም", "ች", "ቹ", "ቿ", "ን", "ም", "ና", "ስ",
            "ው", "ዋ", "ኛ")
_ETHIOPIC_FIRST, _ETHIOPIC_LAST = 0x1200, 0x1357  # the regular consonant-by-order part of the syllabary
_SIXTH_ORDER = 5


def _order(letter: str) -> int | None:
    """The vowel order (0-7) of an Ethiopic syllable, or None for anything else."""
    cp = ord(letter)
    return (cp - _ETHIOPIC_FIRST) % 8 if _ETHIOPIC_FIRST <= cp <= _ETHIOPIC_LAST else None


def _with_order(letter: str, order: int) -> str:
    cp = ord(letter)
    return chr(cp - (cp - _ETHIOPIC_FIRST) % 8 + order)


@lru_cache(maxsize=None)
def _same_sound() -> dict[str, str]:
    """``{letter: regex class of every letter folded to the same one}`` (ሃ ኃ ሐ ... for ሀ)."""
    groups: dict[str, set[str]] = {}
    for source, target in homophone_table().items():
        groups.setdefault(target, {target}).add(source)
    return {letter: "[" + "".join(sorted(group)) + "]" for group in groups.values() for letter in group}


def _abbreviation_regex(short: str) -> str:
    """The abbreviation as written: its letters in any homophone spelling, a space allowed after a dot or around a
    slash, and a final consonant (sixth order) in any order, as suffixes make it."""
    sounds = _same_sound()
    parts = []
    for i, ch in enumerate(short):
        if ch == "." and i == len(short) - 1:
            parts.append(r"\.\s*")  # ቁ. : read with a space after it (ቁ.5 -> ቁጥር 5)
        elif ch == ".":
            parts.append(r"\.\s?")
        elif ch == "/":
            parts.append(r"\s?/\s?")
        elif i == len(short) - 1 and _order(ch) == _SIXTH_ORDER:
            parts.append("[" + "".join(sorted({_with_order(c, o) for c in sounds.get(ch, ch).strip("[]")
                                               for o in range(8)})) + "]")
        else:
            parts.append(sounds.get(ch, re.escape(ch)))
    return "".join(parts)


@lru_cache(maxsize=None)
def _abbreviation_pattern() -> tuple[re.Pattern, dict[str, str]]:
    table = abbreviation_table()
    # exact spellings first, then the homophone-folded ones: a real abbreviation wins over a folded one (ዓ.ዓ,
    # "year of the world", folds to አ.አ, Addis Ababa)
    lookup = {short: long for short, long in table.items()}
    for short, long in table.items():
        if fold_homophones(short) == short:
            lookup[short] = long
        else:
            lookup.setdefault(fold_homophones(short), long)
    prefixes = sorted((s for s in table if s.endswith("/")), key=len, reverse=True)
    words = sorted((s for s in table if not s.endswith("/")), key=len, reverse=True)
    letter = f"[{ETHIOPIC_LETTERS}]"
    proclitic = "|".join(PROCLITICS)
    suffix = "|".join(sorted(SUFFIXES, key=len, reverse=True))
    # a whole word: nothing but a proclitic before it, nothing but a suffix after it, and never a piece of a longer
    # dotted or slashed abbreviation (አ.አ in አ.አ.ዩ, ዶ/ር in X.ዶ/ር); a prefix (ገ/ ም/ ...) takes the rest of the
    # word after it. A final dot is swallowed only where the sentence goes on.
    pattern = re.compile(
        rf"(?<!{letter})(?<!{letter}[./])({proclitic})?"
        rf"(?:(?P<word>{'|'.join(map(_abbreviation_regex, words))})(?P<suffix>(?:{suffix}){{1,2}})?(?!{letter})"
        rf"(?![./]{letter})(?P<dot>\.(?=\s*[{ETHIOPIC_LETTERS}0-9]))?"
        rf"|(?P<prefix>{'|'.join(map(_abbreviation_regex, prefixes))})(?P<rest>{letter}[{ETHIOPIC_LETTERS}/]*))"
    )
    return pattern, lookup


# the vowel orders a suffix may give an abbreviation's final consonant (ቤት -> ቤቱ, ቤታችን, ቤቶች): alone, only
# the -u of "the" (ሚ/ሩ); before another suffix also -a and -o. Any other order is not this abbreviation (ኮ/ሌ).
_FUSED_ORDERS = {False: (1,), True: (1, 3, 6)}
NAME_PART_MARK = "-"
"""A prefix row whose expansion ends with this is a part of a name, joined to it (``ገ/`` -> ``ገብረ-``)."""


def expand_abbreviations(text: str) -> str:
    """Expand the abbreviations of ``data/abbreviations.tsv`` (see rule 3 of the module docstring)."""
    pattern, lookup = _abbreviation_pattern()

    def find(written: str) -> str | None:
        written = re.sub(r"\s", "", written)
        return lookup.get(written) or lookup.get(fold_homophones(written))

    def prefixed(match: re.Match, proclitic: str, after_title: bool) -> str:
        long, rest = find(match.group("prefix")), match.group("rest")
        if long.endswith(NAME_PART_MARK):  # ገ/ማርያም -> ገብረማርያም: a name of two letters or more, no abbreviation,
            if "/" in rest or len(rest) < 2 or after_title:  # and never right after a title (ም/ተ/ሊቀመንበር)
                return match.group(0)
            return proclitic + long[:-len(NAME_PART_MARK)] + rest
        # a title before a word or another abbreviation: ም/ጠ/ሚ, ረ/ፕ/ር
        read = pattern.sub(lambda inner: expand(inner, after_title=True), rest)
        if "/" in read or len(rest) < 2:
            return match.group(0)  # a piece is not in the table: the whole word stays as written
        return proclitic + long + " " + read

    def expand(match: re.Match, after_title: bool = False) -> str:
        proclitic = match.group(1) or ""
        if match.group("prefix"):
            return prefixed(match, proclitic, after_title)
        written = match.group("word")
        long = find(written)
        if long is None:  # a suffix changed the final consonant's order (ቤቱ): the entry has the sixth (ቤት)
            last = written[-1]
            long = find(written[:-1] + _with_order(last, _SIXTH_ORDER))
            if long is None or _order(last) not in _FUSED_ORDERS[bool(match.group("suffix"))]:
                return match.group(0)
            if _order(long[-1]) == _SIXTH_ORDER:
                long = long[:-1] + _with_order(long[-1], _order(last))  # ትምህርት ቤት -> ትምህርት ቤቱ
            else:  # the expansion ends otherwise: the suffix vowel cannot be moved onto it
                return match.group(0)
        after = match.string[match.end():match.end() + 1]
        ending = " " if written.rstrip().endswith(".") and after and not after.isspace() else ""  # ቁ.5 -> ቁጥር 5
        return proclitic + long + (match.group("suffix") or "") + ending

    return _DOTTED_ACRONYM.sub(lambda m: m.group(1).replace(".", ""), pattern.sub(expand, text))


# an acronym the table lacks, written with dots between its letters (ኢ.ፌ.ዲ.ሪ, ኤፍ.ቢ.ሲ): read letter by letter,
# without the dots (pieces of one or two letters; not a piece of a slashed abbreviation). A dot after its last
# letter goes too where the sentence goes on (የኢ.ፌ.ዲ.ሪ. መንግስት), as after the table's abbreviations; at the end
# of a sentence it stays the full stop.
_DOTTED_ACRONYM = re.compile(
    rf"(?<![{ETHIOPIC_LETTERS}./])([{ETHIOPIC_LETTERS}]{{1,2}}(?:\.[{ETHIOPIC_LETTERS}]{{1,2}})+)"
    rf"(?![{ETHIOPIC_LETTERS}/]|\.[{ETHIOPIC_LETTERS}])(?:\.(?=\s*[{ETHIOPIC_LETTERS}0-9]))?"
)


_CONTROL_TO_SPACE = "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"
UNSPEAKABLE_CATEGORIES = ("So", "Sk", "Co", "Me")
"""Unicode categories dropped as symbols nobody can speak: emoji and other pictographs, ©, ™, arrows drawn as
symbols, modifier symbols (^ ` ´, emoji skin tones), private use, enclosing marks (keycaps)."""


def _is_variation_selector(cp: int) -> bool:
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


@lru_cache(maxsize=None)
def _character_classes() -> tuple[re.Pattern, re.Pattern]:
    """(every Cc and Cf character; runs of unspeakable symbols with the combining marks on them), built from one
    pass over Unicode."""
    ranges: dict[str, list[list[int]]] = {"format": [], "symbol": [], "mark": []}
    # planes 3..13 hold ideographs (Lo) and unassigned code points only: not scanned
    for cp in itertools.chain(range(0x30000), range(0xE0000, sys.maxunicode + 1)):
        category = unicodedata.category(chr(cp))
        if category in ("Cc", "Cf"):
            kind = "format"
        elif category in UNSPEAKABLE_CATEGORIES or _is_variation_selector(cp):
            kind = "symbol"
        elif category in ("Mn", "Mc"):
            kind = "mark"
        else:
            continue
        if ranges[kind] and ranges[kind][-1][1] == cp - 1:
            ranges[kind][-1][1] = cp
        else:
            ranges[kind].append([cp, cp])

    def char_class(kind: str) -> str:
        return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                             for a, b in ranges[kind]) + "]"

    symbol, mark = char_class("symbol"), char_class("mark")
    return re.compile(char_class("format")), re.compile(f"{symbol}(?:{symbol}|{mark})*")


def drop_unspeakable(text: str) -> str:
    """Replace emoji, pictographs and other symbols that cannot be spoken (:data:`UNSPEAKABLE_CATEGORIES`), with
    any combining marks written on them, by a space. Letters, digits, punctuation, currency signs (``$``) and math
    signs (``+ = <``) are kept."""
    return _character_classes()[1].sub(" ", text)

_SPACES = re.compile(r"\s+")
# a dot after a one-letter word, with a number after it, is an abbreviation the table lacks (አንቀጽ ሐ. 3), never a
# sentence end: the dot goes (two letters are too often a sentence's last word: ነው. 5 ሰዎች ...)
_SHORT_WORD_DOT = re.compile(rf"(?<![{ETHIOPIC_LETTERS}.])([{ETHIOPIC_LETTERS}])\.(?=\s*[0-9\u1369-\u137c])")
_DOUBLE_WORDSPACE = re.compile(r"[፡:]\s?[፡:]")
_CLOSING = "\"'»”’)\\]"
# a period ends a sentence only before white space, the end or a closing quote/bracket: never between digits
# (1.5.2) or letters (ኪ.ሜ, an abbreviation the table lacks), nor in "..."
_AFTER_ETHIOPIC = re.compile(rf"(?<=[{ETHIOPIC_LETTERS}])\s*([,;]|\.(?=\s|$|[{_CLOSING}]))")
_SPACE_BEFORE_PUNCT = re.compile(rf"\s+([{ETHIOPIC_PUNCTUATION}?!])")
_NO_SPACE_AFTER_PUNCT = re.compile(rf"([{ETHIOPIC_PUNCTUATION}])(?=[^\s{ETHIOPIC_PUNCTUATION}?!{_CLOSING}])")
_REPEATED_STOP = re.compile(r"።(\s*።)+")
_ASCII_TO_ETHIOPIC = {",": "፣", ";": "፤", ".": "።"}


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _character_classes()[0].sub(lambda m: " " if m.group() in _CONTROL_TO_SPACE else "", text)
    return _SPACES.sub(" ", text).strip()


def _punctuation(text: str) -> str:
    text = _AFTER_ETHIOPIC.sub(lambda m: _ASCII_TO_ETHIOPIC[m.group(1)], text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _NO_SPACE_AFTER_PUNCT.sub(r"\1 ", text)
    return _REPEATED_STOP.sub("።", text)


def normalize(text: str, config: NormalizerConfig | None = None) -> str:
    """Normalise Amharic text for TTS (see the module docstring for every rule, with examples)."""
    config = config or NormalizerConfig()
    text = _clean(text)
    text = _DOUBLE_WORDSPACE.sub("።", text).replace("፡", " ")
    if config.expand_abbreviations:
        text = expand_abbreviations(text)
    text = _SHORT_WORD_DOT.sub(r"\1", text)
    if config.verbalize_numbers:
        from amharic_tts.text.numbers import verbalize_numbers

        text = verbalize_numbers(text)
    text = drop_unspeakable(text)
    if config.fold_homophones:
        text = fold_homophones(text)
    if config.ethiopic_punctuation:
        text = _punctuation(text)
    return _SPACES.sub(" ", text).strip()


_SENTENCE_BREAK = re.compile(rf"(?<=[{SENTENCE_END}])\s*|(?<=\.)\s+")
_CLAUSE_BREAK = re.compile(r"(?<=[፣፤,;])\s*")


def _pack(pieces: list[str], max_chars: int, joiner: str) -> list[str]:
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + len(joiner) + len(piece) <= max_chars:
            out[-1] = out[-1] + joiner + piece
        else:
            out.append(piece)
    return out


def split_sentences(text: str, max_chars: int = 200) -> list[str]:
    """Split (normalised) text into sentences of at most ``max_chars`` characters for synthesis.

    ``"ሰላም ነው። እንዴት ነህ?"`` -> ``["ሰላም ነው።", "እንዴት ነህ?"]``. Over-long sentences are cut at clause
    punctuation, then between words; a single word longer than ``max_chars`` is cut where it must be.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    result: list[str] = []
    for sentence in filter(None, (s.strip() for s in _SENTENCE_BREAK.split(text))):
        if len(sentence) <= max_chars:
            result.append(sentence)
            continue
        for clause in _pack([c for c in _CLAUSE_BREAK.split(sentence) if c], max_chars, " "):
            if len(clause) <= max_chars:
                result.append(clause)
                continue
            for chunk in _pack(clause.split(" "), max_chars, " "):
                result.extend(chunk[i:i + max_chars] for i in range(0, len(chunk), max_chars))
    return result
