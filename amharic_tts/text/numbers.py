"""Numbers in Amharic text read as Amharic words, for the text-to-speech front end.

Pure Python (``re`` only); the word lists below are the standard modern spelling. Public functions:

- :func:`cardinal` -- ``2015`` -> ``"ሁለት ሺህ አስራ አምስት"`` (0 <= n < 10**15)
- :func:`ordinal` -- ``3`` -> ``"ሶስተኛ"`` (1 <= n < 10**15)
- :func:`digits` -- ``"0911"`` -> ``"ዜሮ ዘጠኝ አንድ አንድ"``
- :func:`ethiopic_numeral_value` -- ``"፳፻፲፭"`` -> ``2015``
- :func:`verbalize_numbers` -- every number in running text -> words

Cardinals: groups of three digits, highest first; a multiplier always carries its count, one included
(``100`` -> ``"አንድ መቶ"``, ``1000`` -> ``"አንድ ሺህ"``); zero groups are left out
(``1000005`` -> ``"አንድ ሚሊዮን አምስት"``, ``100005`` -> ``"አንድ መቶ ሺህ አምስት"``); 11..19 are ``"አስራ "`` + unit
(``11`` -> ``"አስራ አንድ"``).

Ordinals: the cardinal with its last word made ordinal by ``ኛ``. A last letter of the 6th order becomes the
1st order of its consonant (``አራት`` -> ``"አራተኛ"``), ``ኝ`` becomes ``ነ`` (``ዘጠኝ`` -> ``"ዘጠነኛ"``), ``ህ`` is
dropped (``ሺህ`` -> ``"ሺኛ"``), a vowel just takes ``ኛ`` (``ሃያ`` -> ``"ሃያኛ"``).

Ethiopic numerals (U+1369..U+137C): groups of an optional value (one tens and/or one unit numeral, 1..99;
omitted means 1) followed by multipliers ``፻`` (100) and ``፼`` (10000); a group adds value x its multipliers
(``"፲፱፻፹፯"`` -> 1987). A group whose multipliers include ``፼`` also takes in the smaller groups written just
before it, as the traditional notation of pairs of digits does (``"፲፪፻፴፬፼"`` -> 12340000, like
``"፲፪፻፼፴፬፼"``); every non-empty run of numerals has a value (``"፩፩"`` -> 2).

:func:`verbalize_numbers` rules, the more specific first (at each place in the text the first that fits wins):

1. Ethiopic numeral runs become their value in digits first, so the rules below apply to them.
   ``"በ፳፻፲፭ ዓ.ም"`` -> ``"በሁለት ሺህ አስራ አምስት ዓ.ም"``, ``"፫ኛ"`` -> ``"ሶስተኛ"``
2. Money: ``ብር`` before or after the amount, one or two decimals are ሳንቲም; ``$`` before or after is ዶላር.
   ``"25.50 ብር"`` and ``"ብር 25.50"`` -> ``"ሃያ አምስት ብር ከሃምሳ ሳንቲም"``, ``"25.5 ብር"`` -> the same,
   ``"0.75 ብር"`` -> ``"ሰባ አምስት ሳንቲም"``, ``"$5"`` -> ``"አምስት ዶላር"``
3. Percentages: ``"12.5%"`` -> ``"አስራ ሁለት ነጥብ አምስት በመቶ"`` (``"50 በመቶ"`` needs only rule 8)
4. Ordinals, digits written onto ``ኛ``; letters after ``ኛ`` stay. ``"3ኛው"`` -> ``"ሶስተኛው"``
5. Decimals: integer part as a cardinal, fraction digit by digit. ``"0.05"`` -> ``"ዜሮ ነጥብ ዜሮ አምስት"``
6. Thousands separators (groups of exactly three digits). ``"12,500"`` -> ``"አስራ ሁለት ሺህ አምስት መቶ"``;
   ``"1,2"`` -> ``"አንድ,ሁለት"``
7. Minus sign: ``-`` or ``−`` at the start or after white space or an opening bracket. ``"-5"`` ->
   ``"አሉታዊ አምስት"``; ``"1990-2000"`` -> ``"አንድ ሺህ ዘጠኝ መቶ ዘጠና-ሁለት ሺህ"``
8. Plain integers. ``"1999"`` -> ``"አንድ ሺህ ዘጠኝ መቶ ዘጠና ዘጠኝ"``; a leading zero (``"007"`` ->
   ``"ዜሮ ዜሮ ሰባት"``) or 10**15 and more are read digit by digit.

Numbers written onto letters keep them: ``"በ2015"`` -> ``"በሁለት ሺህ አስራ አምስት"``, ``"COVID19"`` ->
``"COVIDአስራ ዘጠኝ"``. All other text, Latin words included, is left as it was. The number words of a money
expression or a percentage are joined to ብር/ዶላር/በመቶ by one space; nothing else changes spacing.
A dotted run such as ``"1.2.3"`` (a version or a date) is not a decimal: each number is read on its own.
"""

from __future__ import annotations

import re

__all__ = ["cardinal", "digits", "ethiopic_numeral_value", "ordinal", "verbalize_numbers"]

LIMIT = 10**15
"""Integers from here on are read digit by digit; :func:`cardinal` refuses them."""

ZERO = "ዜሮ"
UNITS = ("", "አንድ", "ሁለት", "ሶስት", "አራት", "አምስት", "ስድስት", "ሰባት", "ስምንት", "ዘጠኝ")
TEN = "አስር"
TEEN_PREFIX = "አስራ"
TENS = ("", "", "ሃያ", "ሰላሳ", "አርባ", "ሃምሳ", "ስልሳ", "ሰባ", "ሰማንያ", "ዘጠና")
HUNDRED = "መቶ"
SCALES = ("", "ሺህ", "ሚሊዮን", "ቢሊዮን", "ትሪሊዮን")  # 10**0, 10**3, 10**6, 10**9, 10**12
DIGIT_WORDS = (ZERO,) + UNITS[1:]

ORDINAL_SUFFIX = "ኛ"
POINT = "ነጥብ"
NEGATIVE = "አሉታዊ"
PERCENT = "በመቶ"
BIRR = "ብር"
DOLLAR = "ዶላር"
CENT = "ሳንቲም"
CENTS_LINK = "ከ"  # "ሃያ አምስት ብር ከሃምሳ ሳንቲም": 25 birr "and" 50 cents

ETHIOPIC_SYLLABLES = (0x1200, 0x135A)
ETHIOPIC_NUMERAL_DIGITS = {chr(0x1369 + i): i + 1 for i in range(9)}  # ፩..፱
ETHIOPIC_NUMERAL_TENS = {chr(0x1372 + i): 10 * (i + 1) for i in range(9)}  # ፲..፺
ETHIOPIC_NUMERAL_MULTIPLIERS = {"\u137b": 100, "\u137c": 10_000}  # ፻ ፼

_ETHIOPIC_LETTER = "\u1200-\u135a\u1380-\u138f\u2d80-\u2ddf\uab00-\uab2f"
_ETHIOPIC_NUMERAL_RUN = re.compile("[\u1369-\u137c]+")
_ASCII_DIGITS = frozenset("0123456789")


def _whole(name: str) -> str:
    """An integer: comma-grouped (groups of exactly three, all or nothing) or plain digits."""
    return rf"(?P<{name}>(?<![0-9],)[0-9]{{1,3}}(?:,[0-9]{{3}})+(?![0-9]|,[0-9])|[0-9]+)"


def _number(prefix: str, fraction: str = "[0-9]+") -> str:
    """An integer with an optional fraction; ``1.2.3`` and a fraction after ``digit.`` are not decimals."""
    return (
        rf"(?:(?<![0-9]\.){_whole(prefix + '_w')}\.(?P<{prefix}_f>{fraction})(?![0-9]|\.[0-9])"
        rf"|{_whole(prefix + '_i')}(?![0-9]))"
    )


def _sign(name: str) -> str:
    """A minus sign at the start of the text or after white space or an opening bracket."""
    return rf"(?P<{name}>(?<![^\s(\[{{])[-\u2212])?"


_SPACE = "[ \u00a0]?"
_CENTS = "[0-9]{1,2}"
_NUMBER_RE = re.compile(
    "|".join(
        (
            rf"(?P<birr_pre>(?<![{_ETHIOPIC_LETTER}]){BIRR}{_SPACE}{_number('bp', _CENTS)})",
            rf"(?P<dollar_pre>\${_SPACE}{_number('dp', _CENTS)})",
            rf"(?P<birr_post>{_sign('bs_s')}{_number('bs', _CENTS)}{_SPACE}{BIRR}(?![{_ETHIOPIC_LETTER}]))",
            rf"(?P<dollar_post>{_sign('ds_s')}{_number('ds', _CENTS)}{_SPACE}\$)",
            rf"(?P<percent>{_sign('pc_s')}{_number('pc')}{_SPACE}%)",
            rf"(?P<ordinal>{_whole('od_i')}{ORDINAL_SUFFIX})",
            rf"(?P<number>{_sign('nm_s')}{_number('nm')})",
        )
    )
)


def _check_int(n: int, low: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if not low <= n < LIMIT:
        raise ValueError(f"{n} is outside {low} <= n < 10**15")


def _below_thousand(n: int) -> list[str]:
    """Words of 1..999 (empty for 0)."""
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [UNITS[hundreds], HUNDRED]
    tens, unit = divmod(rest, 10)
    if tens == 1:
        words += [TEEN_PREFIX, UNITS[unit]] if unit else [TEN]
    else:
        if tens:
            words.append(TENS[tens])
        if unit:
            words.append(UNITS[unit])
    return words


def cardinal(n: int) -> str:
    """The Amharic words of ``0 <= n < 10**15``.

    >>> cardinal(2015)
    'ሁለት ሺህ አስራ አምስት'
    """
    _check_int(n, 0)
    if n == 0:
        return ZERO
    words: list[str] = []
    for scale in range(len(SCALES) - 1, -1, -1):
        group = n // 1000**scale % 1000
        if group:
            words += _below_thousand(group)
            if SCALES[scale]:
                words.append(SCALES[scale])
    return " ".join(words)


def _ordinal_word(word: str) -> str:
    """``word`` with ``ኛ``: 6th order -> 1st order, ``ኝ`` -> ``ነ``, ``ህ`` dropped, a vowel kept."""
    stem, last = word[:-1], word[-1]
    code = ord(last)
    if last == "ኝ":
        return stem + "ነ" + ORDINAL_SUFFIX
    if last == "ህ":
        return stem + ORDINAL_SUFFIX
    if ETHIOPIC_SYLLABLES[0] <= code <= ETHIOPIC_SYLLABLES[1] and (code - 0x1200) % 8 == 5:
        return stem + chr(code - 5) + ORDINAL_SUFFIX
    return word + ORDINAL_SUFFIX


def ordinal(n: int) -> str:
    """The Amharic ordinal of ``1 <= n < 10**15``: the cardinal with its last word made ordinal.

    >>> ordinal(23)
    'ሃያ ሶስተኛ'
    """
    _check_int(n, 1)
    *head, last = cardinal(n).split(" ")
    return " ".join([*head, _ordinal_word(last)])


def digits(s: str) -> str:
    """Read a string of ASCII digits one digit at a time.

    >>> digits("0911")
    'ዜሮ ዘጠኝ አንድ አንድ'
    """
    if not s or not set(s) <= _ASCII_DIGITS:
        raise ValueError(f"not a string of digits: {s!r}")
    return " ".join(DIGIT_WORDS[int(ch)] for ch in s)


def ethiopic_numeral_value(s: str) -> int:
    """The value of a run of Ethiopic numerals (see the module docstring for the grouping).

    >>> ethiopic_numeral_value("፳፻፲፭")
    2015
    """
    if not s:
        raise ValueError("empty Ethiopic numeral")
    terms: list[int] = []
    i = 0
    while i < len(s):
        value = 0
        if s[i] in ETHIOPIC_NUMERAL_TENS:
            value += ETHIOPIC_NUMERAL_TENS[s[i]]
            i += 1
        if i < len(s) and s[i] in ETHIOPIC_NUMERAL_DIGITS:
            value += ETHIOPIC_NUMERAL_DIGITS[s[i]]
            i += 1
        multiplier = 1
        while i < len(s) and s[i] in ETHIOPIC_NUMERAL_MULTIPLIERS:
            multiplier *= ETHIOPIC_NUMERAL_MULTIPLIERS[s[i]]
            i += 1
        if not value and multiplier == 1:
            raise ValueError(f"not an Ethiopic numeral: {s[i]!r} in {s!r}")
        value = value or 1
        if multiplier >= 10_000:  # ፼ scales the smaller groups written just before it, too
            while terms and terms[-1] < multiplier:
                value += terms.pop()
        terms.append(value * multiplier)
    return sum(terms)


def _read_integer(written: str) -> str:
    """An integer as written (commas allowed): a cardinal, or digit by digit if it has a leading zero or is huge."""
    plain = written.replace(",", "")
    if (len(plain) > 1 and plain[0] == "0") or int(plain) >= LIMIT:
        return digits(plain)
    return cardinal(int(plain))


def _read_number(m: re.Match[str], prefix: str) -> str:
    """A number matched by :func:`_number` with ``prefix``: integer or decimal."""
    fraction = m.group(prefix + "_f")
    if fraction is None:
        return _read_integer(m.group(prefix + "_i"))
    return f"{_read_integer(m.group(prefix + '_w'))} {POINT} {digits(fraction)}"


def _negative(m: re.Match[str], name: str) -> str:
    return f"{NEGATIVE} " if m.group(name) else ""


def _read_money(m: re.Match[str], prefix: str, unit: str) -> str:
    """An amount in ``unit`` with up to two decimals read as ሳንቲም; a zero whole amount is left out."""
    cents_written = m.group(prefix + "_f")
    whole = m.group(prefix + "_i") if cents_written is None else m.group(prefix + "_w")
    cents = int(cents_written.ljust(2, "0")) if cents_written else 0
    if not cents:
        return f"{_read_integer(whole)} {unit}"
    cents_words = f"{cardinal(cents)} {CENT}"
    if int(whole.replace(",", "")) == 0:
        return cents_words
    return f"{_read_integer(whole)} {unit} {CENTS_LINK}{cents_words}"


def _read_ordinal(written: str) -> str:
    """Digits written onto ``ኛ``: leading zeros are padding; 0 and huge numbers keep ``ኛ`` after their reading."""
    value = int(written.replace(",", ""))
    if 1 <= value < LIMIT:
        return ordinal(value)
    return _read_integer(written) + ORDINAL_SUFFIX


def _verbalize_match(m: re.Match[str]) -> str:
    if m.group("birr_pre"):
        return _read_money(m, "bp", BIRR)
    if m.group("dollar_pre"):
        return _read_money(m, "dp", DOLLAR)
    if m.group("birr_post"):
        return _negative(m, "bs_s") + _read_money(m, "bs", BIRR)
    if m.group("dollar_post"):
        return _negative(m, "ds_s") + _read_money(m, "ds", DOLLAR)
    if m.group("percent"):
        return f"{_negative(m, 'pc_s')}{_read_number(m, 'pc')} {PERCENT}"
    if m.group("ordinal"):
        return _read_ordinal(m.group("od_i"))
    return _negative(m, "nm_s") + _read_number(m, "nm")


def verbalize_numbers(text: str) -> str:
    """Replace every number in ``text`` by Amharic words; everything else is left as it was.

    >>> verbalize_numbers("በ2015 ዓ.ም 25.50 ብር ከፈለ፤ 3ኛው ነው።")
    'በሁለት ሺህ አስራ አምስት ዓ.ም ሃያ አምስት ብር ከሃምሳ ሳንቲም ከፈለ፤ ሶስተኛው ነው።'
    """
    text = _ETHIOPIC_NUMERAL_RUN.sub(lambda m: str(ethiopic_numeral_value(m.group())), text)
    return _NUMBER_RE.sub(_verbalize_match, text)
