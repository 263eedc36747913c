"""SERA-like Latin transliteration of Ethiopic, used to start new token embeddings near related Latin ones.

Every Ethiopic syllable is a consonant series (``data/transliteration.tsv``) plus an order, whose vowel is one of
``e u i a ie - o wa``: ``ሰ`` se, ``ሱ`` su, ``ሲ`` si, ``ሳ`` sa, ``ሴ`` sie, ``ስ`` s, ``ሶ`` so, ``ሷ`` swa.
Ejectives keep an apostrophe so they never collapse onto their plain partners (``ጠ`` t'e vs ``ተ`` te, ``ጨ``
ch'e vs ``ቸ`` che, ``ቀ`` qe vs ``ከ`` ke, ``ጰ`` p'e vs ``ፐ`` pe, ``ጸ`` ts'e vs ``ሰ`` se), which uroman, the scheme
MMS uses, does not. The vowel carriers አ/ዐ give plain vowels (``አማርኛ`` -> ``amarnya``). Ethiopic punctuation
becomes its Latin look-alike. Letters of series not in the table (Ge'ez/Tigrinya-only) give an empty string.
"""

from __future__ import annotations

from functools import lru_cache

from amharic_tts.text.normalize import _read_table

VOWELS = ("e", "u", "i", "a", "ie", "", "o", "wa")
CARRIER_VOWELS = ("a", "u", "i", "a", "ie", "i", "o", "wa")  # አ / ዐ series: the vowel alone
PUNCTUATION = {"።": ".", "፣": ",", "፤": ";", "፥": ":", "፦": ":", "፧": "?", "፨": ".", "፡": " ", "፠": "."}


@lru_cache(maxsize=None)
def series_table() -> dict[int, str]:
    """``{codepoint of a series' first letter: Latin consonant}`` from ``data/transliteration.tsv``."""
    table = {}
    for row in _read_table("transliteration.tsv"):
        first = row[0]
        if len(first) != 1 or (ord(first) - 0x1200) % 8:
            raise ValueError(f"bad transliteration.tsv row: {row}")
        table[ord(first)] = row[1] if len(row) > 1 else ""
    return table


def transliterate_char(ch: str) -> str:
    cp = ord(ch)
    if ch in PUNCTUATION:
        return PUNCTUATION[ch]
    if 0x1369 <= cp <= 0x1371:  # ፩..፱
        return str(cp - 0x1368)
    if 0x1372 <= cp <= 0x137A:  # ፲..፺
        return str((cp - 0x1371) * 10)
    if cp == 0x137B:
        return "100"
    if cp == 0x137C:
        return "10000"
    if not 0x1200 <= cp <= 0x135A:
        return ch
    start, order = cp - (cp - 0x1200) % 8, (cp - 0x1200) % 8
    consonant = series_table().get(start)
    if consonant is None:
        return ""
    return consonant + (VOWELS[order] if consonant else CARRIER_VOWELS[order])


def transliterate(text: str) -> str:
    """``"ሰላም ጤና"`` -> ``"selam t'iena"``."""
    return "".join(transliterate_char(ch) for ch in text)


def transliteration_init_map(tokenizer) -> dict[int, list[int]]:
    """``{new id: base ids}``: each new token's transliteration encoded with the base part of the vocabulary.

    ``tokenizer`` is an :class:`amharic_tts.text.tokenizer.AmharicTokenizer`. Tokens whose transliteration is
    empty or encodes only to ``[UNK]`` (the language token, letters outside the table) are left out, and so
    start at the mean of the pretrained rows. Feed the result to ``extend_text_vocab(init_from=...)``.
    """
    base_size = tokenizer.base_vocab_size
    vocab = tokenizer.tokenizer.get_vocab(with_added_tokens=True)
    mapping: dict[int, list[int]] = {}
    for token, token_id in sorted(vocab.items(), key=lambda item: item[1]):
        if token_id < base_size:
            continue
        latin = transliterate(token).strip()
        if not latin or latin.startswith("["):
            continue
        ids = [i for i in tokenizer.encode(latin, normalized=True, language=None)
               if i < base_size and i != tokenizer.unk_id]
        if ids:
            mapping[token_id] = ids
    return mapping
