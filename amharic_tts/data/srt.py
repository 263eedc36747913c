"""Read SubRip (``.srt``) subtitle files of Amharic films, news and lectures into cues that speech can be cut by.

:func:`read_srt` returns every block of the file as a :class:`Cue`, in file order, usable or not: a cue that
cannot be used says why in ``problem`` instead of disappearing, so reports can count and show what was lost.
Only what the file itself says is checked here (no media length, overlaps or merging).

Quirks handled:

* Encodings: a BOM first (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), then strict UTF-8, then charset-normalizer's best
  guess for legacy code pages, with near-ties going to cp1252 (short accented Latin text is otherwise often
  read as cp1250/cp1257). Binary or undecodable data raises :class:`SrtError`.
* Line endings: CRLF, CR and LF; a stray BOM at the start of the decoded text.
* Blocks are split on blank lines (a line of only white space or zero-width marks is blank; several blank
  lines count as one) and each block is handed to ``srt.parse`` on its own, so one broken block cannot take
  the rest of the file with it. A block that ``srt`` reads as several subtitles (a missing blank line between
  two cues) gives one cue each. NUL or ``^Z`` padding at the end of the file is ignored.
* A missing index line (the block starts with the timestamp line); an index with trailing spaces.
* Timestamps: ``.`` (or ``:``) instead of ``,`` before the fraction of a second; fewer or more than three
  digits after it, read as a decimal fraction (``01,5`` and ``01.50`` are 1.5 s, ``01,5006`` rounds to
  1.501 s); no fraction at all (``00:00:01``); one-digit hours; extra spaces or tabs around the arrow; ``->``
  or ``--->`` instead of ``-->``; position coordinates (``X1:... Y1:...``) or other text after the end time.
* Trailing spaces on any line; multi-line cues.
* A malformed timestamp line (``00:00:aa,000 --> 00:00:02,000``, a missing arrow, an index with no timestamp
  line after it, a block of text with no index or timestamp such as a title or the second half of a cue with
  a blank line in it): a cue with ``start = end = None``, problem ``"malformed_timestamp"``, and the block's
  text lines kept in ``raw_text``. A line is malformed when srt alone would misread it, too: in
  ``00:00:01,000 --> 00:00:0a,000`` srt reads the end as 0 s.
* A block with a timestamp but no text (``"empty_text"``), text that is only sound descriptions
  (``"sound_description_only"``), only emoji or other pictographic symbols (``"emoji_only"``: ``😂👍``,
  ``❤️``), nothing speakable of any other kind (``"no_speakable_text"``: only punctuation, dashes or empty
  tags), ``end == start`` (``"zero_length"``) and ``end < start`` (``"negative_length"``). Emoji next to
  words are not a problem: the cue is kept, and the normaliser leaves the emoji out of its text.

:func:`clean_cue_text` turns a cue's lines into one line of speakable text; see its docstring for the rules.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from dataclasses import dataclass, field

import srt
from charset_normalizer import CharsetMatches, from_bytes

__all__ = ["Cue", "SrtError", "SrtFile", "clean_cue_text", "parse_srt_text", "read_srt"]

MALFORMED_TIMESTAMP = "malformed_timestamp"
EMPTY_TEXT = "empty_text"
SOUND_DESCRIPTION_ONLY = "sound_description_only"
EMOJI_ONLY = "emoji_only"
NO_SPEAKABLE_TEXT = "no_speakable_text"
ZERO_LENGTH = "zero_length"
NEGATIVE_LENGTH = "negative_length"


class SrtError(ValueError):
    """The file cannot be read as subtitles at all (binary, undecodable, empty, no subtitle block)."""


@dataclass
class Cue:
    """One block of a subtitle file.

    ``index`` is the 0-based position of the block in the file (malformed blocks count too); ``start`` and
    ``end`` are seconds, or None when the timestamp line was malformed; ``text`` is :func:`clean_cue_text` of
    ``raw_text`` ("" when nothing speakable is left); ``raw_text`` is the block's text lines as in the file,
    joined with ``"\\n"``; ``problem`` is None for a usable cue, else one of ``"malformed_timestamp"``,
    ``"empty_text"``, ``"sound_description_only"``, ``"emoji_only"``, ``"no_speakable_text"``, ``"zero_length"``,
    ``"negative_length"``.
    """

    index: int
    start: float | None
    end: float | None
    text: str
    raw_text: str
    problem: str | None


@dataclass
class SrtFile:
    """A subtitle file: where it came from, the encoding it was decoded with, and all of its cues."""

    path: str
    encoding: str
    cues: list[Cue] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- decoding

# UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_MAX_CONTROL_FRACTION = 0.01
_CP1252_CHAOS_MARGIN = 0.05  # charset-normalizer's "chaos" is a 0..1 mess ratio


def _decode(data: bytes, path: str) -> tuple[str, str]:
    """(text, encoding name) of a subtitle file's bytes; SrtError when they are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as err:
                raise SrtError(f"{path}: starts with a {encoding} byte order mark but is not valid {encoding}: "
                               f"{err}") from err
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise SrtError(f"{path}: binary or undecodable data (not UTF-8, and no text encoding fits)")
    if _near_tie_with_cp1252(matches, best.chaos):
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    return str(best), codecs.lookup(best.encoding).name


def _near_tie_with_cp1252(matches: CharsetMatches, best_chaos: float) -> bool:
    """Whether cp1252 is among charset-normalizer's candidates and about as clean as its best guess.

    On a few lines of accented Latin the detector cannot tell cp1252 from cp1250/cp1257 (``à`` read as ``ą``);
    Ethiopic has no legacy code page, so a legacy subtitle file here is Latin text, mostly from Windows
    (cp1252), and near-ties go to cp1252.
    """
    return any("cp1252" in match.could_be_from_charset and match.chaos <= best_chaos + _CP1252_CHAOS_MARGIN
               for match in matches)


def _check_text_like(text: str, path: str) -> None:
    """SrtError when decoded text is more than 1% control characters (binary data that happened to decode)."""
    text = text.rstrip("\x00\x1a")  # padding at the end is dropped when the blocks are split
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)
    if controls > _MAX_CONTROL_FRACTION * len(text):
        raise SrtError(f"{path}: looks like binary data ({controls} control characters in {len(text)})")


def read_srt(path: str | os.PathLike) -> SrtFile:
    """Read a subtitle file: decode it (BOM, UTF-8, then a detected legacy encoding) and parse every block.

    Raises :class:`SrtError` when the file is empty, binary or undecodable, or has no subtitle block.
    """
    name = os.fspath(path)
    name = name if isinstance(name, str) else os.fsdecode(name)
    with open(name, "rb") as handle:
        data = handle.read()
    if not data.strip():
        raise SrtError(f"{name}: empty file")
    text, encoding = _decode(data, name)
    _check_text_like(text, name)
    return SrtFile(path=name, encoding=encoding, cues=parse_srt_text(text, name))


# ---------------------------------------------------------------------------------------------- blocks

_BLANK_LINE = re.compile(r"^[\s\u200b\u200c\u200d\u2060\ufeff]*$")
_INDEX_LINE = re.compile(r"^\s*-?\d+(?:\.\d*)?\s*$")  # what srt accepts as an index
# A line meant as a timestamp line, even a broken one: it has an arrow or an H:M:S time in it.
_TIMESTAMPISH_LINE = re.compile(r"-+\s*>|\d+\s*:\s*\d+\s*:\s*\d+")
# A timestamp line in one of the lenient forms, rewritten into the canonical one before srt reads it.
# Anything after the end time (position coordinates) must be set off by white space: ``00:00:0a,000`` is not
# the time ``00:00:0`` followed by ``a,000``.
_TIME = r"(\d+)[:：](\d+)[:：](\d+)(?:[,.:，．。：](\d*))?"
_TIMESTAMP_LINE = re.compile(rf"^\s*{_TIME}[ \t]*-+[ \t]*>[ \t]*{_TIME}((?:\s.*?)?)\s*$")


def _split_blocks(text: str) -> list[list[str]]:
    """Lines of each block of the text, split on blank lines (empty, or only white space and zero-width marks).

    A BOM at the start and NUL or DOS end-of-file (``^Z``) padding at the end are dropped.
    """
    text = text.removeprefix("\ufeff").rstrip("\x00\x1a").replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if not _BLANK_LINE.match(line):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _split_header(lines: list[str]) -> tuple[list[str], list[str], bool]:
    """(header lines, text lines, whether the header has a timestamp line) of a block.

    The header is the optional index line plus the timestamp line. An index line followed by something that
    is not a timestamp line, or a block that starts with neither, has no timestamp line: all of it but the
    index is text.
    """
    has_index = bool(_INDEX_LINE.match(lines[0]))
    ts_at = 1 if has_index else 0
    if ts_at < len(lines) and _TIMESTAMPISH_LINE.search(lines[ts_at]):
        return lines[: ts_at + 1], lines[ts_at + 1 :], True
    return lines[:ts_at], lines[ts_at:], False


def _milliseconds(fraction: str | None) -> str:
    """The digits after the seconds, read as a decimal fraction of a second, as whole milliseconds."""
    if not fraction:
        return "000"
    if len(fraction) <= 3:
        return fraction.ljust(3, "0")
    return "%03d" % (int(fraction[:3]) + (fraction[3] >= "5"))


def _normalize_timestamp_line(line: str) -> str | None:
    """The canonical ``H:MM:SS,mmm --> H:MM:SS,mmm rest`` form of a lenient timestamp line, else None.

    srt alone would read ``00:00:0a,000`` as 0 s followed by metadata, so a line that does not have this
    form is malformed, not handed to srt.
    """
    match = _TIMESTAMP_LINE.match(line)
    if match is None:
        return None
    h1, m1, s1, f1, h2, m2, s2, f2, rest = match.groups()
    return f"{h1}:{m1}:{s1},{_milliseconds(f1)} --> {h2}:{m2}:{s2},{_milliseconds(f2)}{rest}"


def _parse_block(lines: list[str]) -> list[srt.Subtitle] | None:
    """The subtitles srt reads from one block (more than one when a blank line was missing), or None."""
    header, text_lines, has_timestamp = _split_header(lines)
    if not has_timestamp:
        return None
    timestamp_line = _normalize_timestamp_line(header[-1])
    if timestamp_line is None:
        return None
    index_line = [line.strip() for line in header[:-1]]
    try:
        subtitles = list(srt.parse("\n".join(index_line + [timestamp_line] + text_lines)))
    except (srt.SRTParseError, ValueError):
        return None
    return subtitles or None


def _problem(start: float, end: float, text: str, raw_text: str) -> str | None:
    if not text:
        return _unspeakable_reason(raw_text)
    if end == start:
        return ZERO_LENGTH
    if end < start:
        return NEGATIVE_LENGTH
    return None


def _cues_of_block(lines: list[str], first_index: int) -> list[Cue]:
    subtitles = _parse_block(lines)
    if subtitles is None:
        raw_text = "\n".join(_split_header(lines)[1])
        return [Cue(first_index, None, None, clean_cue_text(raw_text), raw_text, MALFORMED_TIMESTAMP)]
    cues = []
    for offset, sub in enumerate(subtitles):
        start, end = sub.start.total_seconds(), sub.end.total_seconds()
        text = clean_cue_text(sub.content)
        cues.append(Cue(first_index + offset, start, end, text, sub.content, _problem(start, end, text, sub.content)))
    return cues


def parse_srt_text(text: str, path: str = "<string>") -> list[Cue]:
    """Every block of decoded SRT text as a :class:`Cue`, in file order.

    Raises :class:`SrtError` (naming ``path``) when the text has no block with a readable timestamp line.
    """
    blocks = _split_blocks(text)
    if not blocks:
        raise SrtError(f"{path}: no subtitle block (the text is empty or white space only)")
    cues: list[Cue] = []
    for lines in blocks:
        cues.extend(_cues_of_block(lines, len(cues)))
    if all(cue.start is None for cue in cues):
        raise SrtError(f"{path}: no subtitle block with a readable timestamp line in {len(blocks)} "
                       f"block(s); not an SRT file?")
    return cues


# ---------------------------------------------------------------------------------------------- cleaning

_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_ASS_BREAK = re.compile(r"\\[Nnh]")
_BRACKETED = re.compile(r"\[[^\[\]]*\]|\([^()]*\)")
_LYRICS = re.compile(r"[♪♫].*[♪♫]", re.DOTALL)  # first to last note: lyrics over several lines too
_MUSIC_NOTE = re.compile(r"[♪♫]")
# A speaker label in capitals at the start of a line, after an optional dialogue dash (which is kept).
_SPEAKER_LABEL = re.compile(r"^([ \t]*(?:[-‐–—][ \t]*)?)[A-Z][A-Z0-9 .'’&-]{0,30}:(?=\s|$)", re.MULTILINE)
_DIALOGUE_DASH = re.compile(r"^[ \t]*[-‐–—](?!\d)[ \t]*", re.MULTILINE)
_WHITESPACE = re.compile(r"\s+")


def _is_speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


# what makes a character an emoji besides Unicode category So: the emoji presentation selector (``‼️``) and the
# keycap mark (``#️⃣``)
_EMOJI_MARKS = frozenset("\ufe0f\u20e3")


def _unspeakable_reason(raw_text: str) -> str:
    """Why a cue whose :func:`clean_cue_text` is "" has nothing to say: no text at all, only sound descriptions
    (something in brackets, lyrics or a music note was removed), only emoji or other pictographic symbols
    (Unicode category So, or a character shown as emoji, with their joiners and skin tones, and what punctuation
    there is around them), or only punctuation."""
    if not raw_text.strip():
        return EMPTY_TEXT
    text = _ASS_BREAK.sub(" ", _ASS_OVERRIDE.sub("", _HTML_TAG.sub("", raw_text)))
    if _MUSIC_NOTE.sub("", _LYRICS.sub("", _BRACKETED.sub("", text))) != text:
        return SOUND_DESCRIPTION_ONLY
    if any(unicodedata.category(ch) == "So" or ch in _EMOJI_MARKS for ch in text):
        return EMOJI_ONLY
    return NO_SPEAKABLE_TEXT


def clean_cue_text(text: str) -> str:
    """One line of speakable text from a cue's text lines; "" when nothing speakable is left.

    In order: HTML-like tags (``<i>``, ``<font color=...>``) and ASS/SSA override blocks (``{\\an8}``) are
    removed, ASS line breaks (``\\N``, ``\\n``, ``\\h``) become spaces; sound and music descriptions in
    brackets or parentheses (``[ሙዚቃ]``, ``(ሳቅ)``, ``[MUSIC]``), sung lyrics (from the first to the last music
    note, ``♪ ... ♪``, over several lines too) and a lone ``♪``/``♫`` are removed; a speaker label in capitals
    with a colon at the start of a line (``NARRATOR:``) is removed; a dialogue dash at the start of a line
    (``-``, ``–``, ``—``, not a minus before a digit) is removed; the lines are joined with single spaces and
    white space is collapsed and stripped. Text left with no letter or digit (only punctuation) becomes "".
    Ethiopic text and punctuation and Latin words are kept exactly; nothing else is normalised.
    """
    text = _HTML_TAG.sub("", text)
    text = _ASS_OVERRIDE.sub("", text)
    text = _ASS_BREAK.sub(" ", text)
    text = _BRACKETED.sub("", text)
    text = _LYRICS.sub("", text)
    text = _MUSIC_NOTE.sub("", text)
    text = _SPEAKER_LABEL.sub(r"\1", text)
    text = _DIALOGUE_DASH.sub("", text)
    text = _WHITESPACE.sub(" ", text).strip()
    return text if _is_speakable(text) else ""
