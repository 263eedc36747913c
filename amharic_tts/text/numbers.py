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
``"፲፪፻፼፴፬፼"``). Those groups must decrease; where they do not, the run is read in ICU/CLDR's positional form
(groups below 10000 between ``፼`` signs: ``"፼፳፫፻፵፭፼፷፯፻፹፱"`` -> 123456789), and a run that is neither
(``"፩፩"``) is read symbol by symbol, never given a guessed value.

:func:`verbalize_numbers` rules, the more specific first (at each place in the text the first that fits wins):

1. Ethiopic numeral runs become their value in digits first, so the rules below apply to them.
   ``"በ፳፻፲፭ ዓ.ም"`` -> ``"በሁለት ሺህ አስራ አምስት ዓ.ም"``, ``"፫ኛ"`` -> ``"ሶስተኛ"``
2. Scale and unit words written onto the digits are split off by a space first (:data:`SPLIT_OFF_WORDS`:
   ሺ/ሺህ, መቶ, ሚሊዮን ..., ኪሎ, ሜትር, ግራም, ሊትር, ሰዓት, ደቂቃ, ቀን, ወር, አመት, ሰው ..., each also as the start of a
   longer word); other letters after the digits stay written onto the words (suffixes: ``"2015ን"``).
   ``"5ሺህ ብር"`` -> ``"አምስት ሺህ ብር"``, ``"100ሺ"`` -> ``"አንድ መቶ ሺ"``
3. Dates: day, month and year joined by the same ``.`` ``/`` or ``-`` (``d.m.yyyy``, ``m/d/yy`` ...: the first two
   numbers 1..31, one of them 1..13, a year of two or four digits; or the year first, ``yyyy-m-d``) are read as
   three cardinals in the order written, separated by spaces; a leading zero of day or month is not read. The
   calendar is not guessed (no month names). ``"12.05.2015"`` and ``"12/05/2015"`` -> ``"አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"``
4. Times ``h:mm`` and ``h:mm:ss`` (hours 0..24, minutes and seconds 00..59) as written, on the clock written
   (no conversion to the Ethiopian hours): ``"12:30"`` -> ``"አስራ ሁለት ሰዓት ከሰላሳ"``, ``"8:00"`` ->
   ``"ስምንት ሰዓት"``, ``"8:05:30"`` -> ``"ስምንት ሰዓት ከአምስት ደቂቃ ከሰላሳ ሰከንድ"``. A ``ሰዓት`` written after the
   time is not read twice (``"2:30 ሰዓት"`` -> ``"ሁለት ሰዓት ከሰላሳ"``). A chapter and verse such as ``"3:16"``
   reads as a time too; ``"2:1"`` (one digit after the colon) and ``"25:00"`` are not times.
4a. Phone numbers, digit by digit a group at a time, never as one large number: ``+`` and a three-digit country
   code, or a leading ``0`` and groups split by spaces or hyphens (or ten digits). ``"+251911234567"`` ->
   ``"ሁለት አምስት አንድ ዘጠኝ አንድ አንድ ..."``, ``"011-551-2233"`` -> ``"ዜሮ አንድ አንድ አምስት አምስት አንድ ..."``
4b. Ranges, two numbers joined by ``-`` ``–`` or ``—`` (not followed by ``=``): ``"ከ5-10"`` ->
   ``"ከአምስት እስከ አስር"``, ``"2012–2014"`` -> ``"ሁለት ሺህ አስራ ሁለት እስከ ሁለት ሺህ አስራ አራት"``. A range rises;
   a first number as large as the second or larger is a score: ``"2-1"`` -> ``"ሁለት ለአንድ"``, ``"0-0"`` ->
   ``"ዜሮ ለዜሮ"``
4c. Two numbers around ``/``: a day and a four-digit year (``"ሰኔ 30/2015"`` -> ``"ሰኔ ሰላሳ ሁለት ሺህ አስራ
   አምስት"``); a year and the next year's last two digits, a budget year (``"2015/16"`` -> ``"ሁለት ሺህ አስራ አምስት
   እና አስራ ስድስት"``); a fraction with a denominator of 2..99, ``ኛ`` after it or not (``"2/3ኛ"`` -> ``"ሁለት
   ሶስተኛ"``, ``"1/2"`` -> ``"ግማሽ"``, ``"1/4"`` -> ``"ሩብ"``); else the two numbers. No ``/`` stays between digits.
5. Money: ``ብር`` before or after the amount, one or two decimals are ሳንቲም; ``$`` before or after is ዶላር.
   ``"25.50 ብር"`` and ``"ብር 25.50"`` -> ``"ሃያ አምስት ብር ከሃምሳ ሳንቲም"``, ``"25.5 ብር"`` -> the same,
   ``"0.75 ብር"`` -> ``"ሰባ አምስት ሳንቲም"``, ``"$5"`` -> ``"አምስት ዶላር"``
6. Percentages: ``"12.5%"`` -> ``"አስራ ሁለት ነጥብ አምስት በመቶ"`` (``"50 በመቶ"`` needs only rule 11)
7. Degrees: ``°`` after a number is ዲግሪ, ``°C``/``℃`` ዲግሪ ሴልሲየስ, ``°F``/``℉`` ዲግሪ ፋራናይት.
   ``"25°C"`` -> ``"ሃያ አምስት ዲግሪ ሴልሲየስ"``
8. Ordinals, digits written onto ``ኛ``, or onto ``ተኛ`` ``ደኛ`` ``ነኛ`` ``ረኛ`` (the ordinal's own ending spelled
   out); letters after ``ኛ`` stay. ``"3ኛው"`` -> ``"ሶስተኛው"``, ``"2ተኛ"`` -> ``"ሁለተኛ"``
9. Decimals: integer part as a cardinal, fraction digit by digit. ``"0.05"`` -> ``"ዜሮ ነጥብ ዜሮ አምስት"``
10. Thousands separators (groups of exactly three digits). ``"12,500"`` -> ``"አስራ ሁለት ሺህ አምስት መቶ"``;
    ``"1,2"`` -> ``"አንድ,ሁለት"``
11. Minus sign: ``-`` or ``−`` at the start or after white space or an opening bracket. ``"-5"`` ->
    ``"አሉታዊ አምስት"``; ``"1990-2000"`` is a range (rule 4b)
12. Plain integers. ``"1999"`` -> ``"አንድ ሺህ ዘጠኝ መቶ ዘጠና ዘጠኝ"``; a leading zero (``"007"`` ->
    ``"ዜሮ ዜሮ ሰባት"``) or 10**15 and more are read digit by digit.

Numbers written onto letters keep them: ``"በ2015"`` -> ``"በሁለት ሺህ አስራ አምስት"``, ``"COVID19"`` ->
``"COVIDአስራ ዘጠኝ"``. All other text, Latin words included, is left as it was. The number words of a money
expression, a percentage or a degree are joined to ብር/ዶላር/በመቶ/ዲግሪ by one space; apart from that and rule 2
nothing changes spacing. A dotted run that is not a date, such as ``"1.2.3"`` (a version), is not a decimal:
each number is read on its own and the dots stay (``"አንድ.ሁለት.ሶስት"``); the normaliser does not make them ``።``.
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
HOUR = "ሰዓት"
MINUTE = "ደቂቃ"
SECOND = "ሰከንድ"
TIME_LINK = "ከ"  # "አስራ ሁለት ሰዓት ከሰላሳ": twelve o'clock "and" thirty
DEGREE = "ዲግሪ"
DEGREE_UNITS = {"C": "ሴልሲየስ", "F": "ፋራናይት", "\u2103": "ሴልሲየስ", "\u2109": "ፋራናይት"}  # ℃ ℉
ORDINAL_SPELLED_ENDINGS = "ተደነረ"  # 2ተኛ ሁለተኛ, 1ደኛ አንደኛ, 9ነኛ ዘጠነኛ, 10ረኛ አስረኛ

SPLIT_OFF_WORDS = (
    "ሺ", "መቶ", "ሚሊዮን", "ሚሊየን", "ቢሊዮን", "ቢሊየን", "ትሪሊዮን", "ትሪሊየን",
    "ኪሎ", "ሚሊ", "ሴንቲ", "ሜትር", "ግራም", "ሊትር", "ቶን",
    "ሰዓት", "ደቂቃ", "ሰከንድ", "ቀን", "ቀናት", "ሳምንት", "ወር", "አመት", "ዓመት", "አመተ", "ዓመተ", "ሰው", "ሰዎች", "ጊዜ",
    "ሳንቲም", "ዶላር", "ዩሮ",
)
"""Words split off the digits they are written onto (each also as the start of a longer word: ሺህ, ኪሎሜትር)."""

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
_DAY = "(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = "(?:0?[1-9]|1[0-3])"  # the Ethiopian year has 13 months
_ALONE_BEFORE = r"(?<![0-9])(?<![0-9][.,/:-])"  # not the tail of a longer run of numbers
_ALONE_AFTER = r"(?![0-9]|[.,/:-][0-9])"
_DATE = (
    # day and month (either order: one of them is 1..13), then a year of 2 or 4 digits; or the year first
    rf"{_ALONE_BEFORE}(?:(?=(?:{_MONTH}[./-]{_DAY}|{_DAY}[./-]{_MONTH})[./-])"
    rf"(?P<dt_a>{_DAY})(?P<dt_s>[./-])(?P<dt_b>{_DAY})(?P=dt_s)(?P<dt_y>[0-9]{{4}}|[0-9]{{2}})"
    rf"|(?P<dt_y2>[1-9][0-9]{{3}})(?P<dt_s2>[./-])(?P<dt_m2>{_MONTH})(?P=dt_s2)(?P<dt_d2>{_DAY})){_ALONE_AFTER}"
)
_TIME = (
    rf"{_ALONE_BEFORE}(?P<tm_h>[01]?[0-9]|2[0-4]):(?P<tm_m>[0-5][0-9])(?::(?P<tm_s>[0-5][0-9]))?{_ALONE_AFTER}"
    rf"(?:{_SPACE}ሰ[ዓአዐ]ት(?![{_ETHIOPIC_LETTER}]))?"  # "2:30 ሰዓት": the word is already read
)
_INT = "(?:[1-9][0-9]{0,3}|0)"
# phone numbers (read digit by digit, group by group): +country code and subscriber number, or a number with a
# leading 0 written in groups (0911 23 45 67, 011-551-2233, 0911-234567); never read as one large number
_PHONE = (
    rf"{_ALONE_BEFORE}(?:\+(?P<ph_cc>[1-9][0-9]{{2}})[ -]?(?P<ph_rest>[0-9]{{2,3}}(?:[ -]?[0-9]{{2,4}}){{1,4}})"
    rf"|(?P<ph_local>0[0-9]{{2,3}}(?:[ -][0-9]{{2,6}}){{1,4}}|0[0-9]{{9}})){_ALONE_AFTER}"
)
# a range of two numbers (ከ5-10, 2012–2014): "A እስከ B"
_RANGE = rf"{_ALONE_BEFORE}(?P<rg_a>{_INT})[ \u00a0]?[-\u2013\u2014][ \u00a0]?(?P<rg_b>{_INT}){_ALONE_AFTER}(?![ \u00a0]?=)"  # 5-3=2 is sums
# two numbers around a slash: a day and a year (ሰኔ 30/2015), a budget year (2015/16), else a fraction (2/3ኛ, 1/2)
_SLASH = rf"{_ALONE_BEFORE}(?P<sl_a>{_INT})/(?P<sl_b>{_INT})(?P<sl_o>ኛ)?{_ALONE_AFTER}"
_SPLIT_OFF_RE = re.compile(rf"(?<=[0-9])(?=(?:{'|'.join(SPLIT_OFF_WORDS)}))")
_NUMBER_RE = re.compile(
    "|".join(
        (
            rf"(?P<date>{_DATE})",
            rf"(?P<time>{_TIME})",
            rf"(?P<phone>{_PHONE})",
            rf"(?P<range>{_RANGE})",
            rf"(?P<slash>{_SLASH})",
            rf"(?P<birr_pre>(?<![{_ETHIOPIC_LETTER}]){BIRR}{_SPACE}{_number('bp', _CENTS)})",
            rf"(?P<dollar_pre>\${_SPACE}{_number('dp', _CENTS)})",
            rf"(?P<birr_post>{_sign('bs_s')}{_number('bs', _CENTS)}{_SPACE}{BIRR}(?![{_ETHIOPIC_LETTER}]))",
            rf"(?P<dollar_post>{_sign('ds_s')}{_number('ds', _CENTS)}{_SPACE}\$)",
            rf"(?P<percent>{_sign('pc_s')}{_number('pc')}{_SPACE}%)",
            rf"(?P<degree>{_sign('dg_s')}{_number('dg')}{_SPACE}(?:°(?P<dg_u>[CF](?![A-Za-z]))?|(?P<dg_u2>[℃℉])))",
            rf"(?P<ordinal>{_whole('od_i')}[{ORDINAL_SPELLED_ENDINGS}]?{ORDINAL_SUFFIX})",
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
    if all(a > b for a, b in zip(terms, terms[1:])):  # the traditional notation: each group smaller than the last
        return sum(terms)
    positional = _positional_value(s)
    if positional is None:
        raise ValueError(f"{s!r} is no well-formed Ethiopic numeral (its groups do not decrease, and it is not "
                         "ICU's form either)")
    return positional


_MYRIAD_GROUP = re.compile("^(?:([\u1372-\u137a]?[\u1369-\u1371]?)\u137b)?([\u1372-\u137a]?[\u1369-\u1371]?)$")


def _positional_value(s: str) -> int | None:
    """ICU/CLDR's form: groups below 10000 between ``፼`` signs, each ``፼`` after a group raising it by 10^4
    (``"፼፳፫፻፵፭፼፷፯፻፹፱"`` -> 1 2345 6789); an empty first group is 1, an empty later one 0. None if malformed."""
    groups = s.split("\u137c")
    total = 0
    for i, group in enumerate(groups):
        if not group:
            value = 1 if i == 0 and len(groups) > 1 else 0
        else:
            match = _MYRIAD_GROUP.match(group)
            if not match:
                return None
            hundreds, rest = match.groups()
            value = _pair_value(rest)
            if hundreds is not None:
                value += 100 * (_pair_value(hundreds) or 1)
        total = total * 10_000 + value
    return total or None


def _pair_value(s: str) -> int:
    return sum(ETHIOPIC_NUMERAL_TENS.get(ch, 0) + ETHIOPIC_NUMERAL_DIGITS.get(ch, 0) for ch in s)


def _read_ethiopic_numerals(m: re.Match[str]) -> str:
    """A run of Ethiopic numerals as its value in digits; a malformed run symbol by symbol (``"፩፩"`` -> ``"1 1"``),
    never a guessed value."""
    try:
        return str(ethiopic_numeral_value(m.group()))
    except ValueError:
        values = {**ETHIOPIC_NUMERAL_DIGITS, **ETHIOPIC_NUMERAL_TENS, **ETHIOPIC_NUMERAL_MULTIPLIERS}
        return " ".join(str(values[ch]) for ch in m.group())


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


def _read_date(m: re.Match[str]) -> str:
    """Day, month and year (or year, month, day) as three cardinals in the order written."""
    if m.group("dt_y2"):
        parts = [cardinal(int(m.group("dt_y2"))), cardinal(int(m.group("dt_m2"))), cardinal(int(m.group("dt_d2")))]
    else:
        parts = [cardinal(int(m.group("dt_a"))), cardinal(int(m.group("dt_b"))), _read_integer(m.group("dt_y"))]
    return " ".join(parts)


def _read_time(m: re.Match[str]) -> str:
    """``h:mm[:ss]``: ``H ሰዓት``, ``ከM`` (``ከM ደቂቃ`` when seconds follow), ``ከS ሰከንድ``; zero parts are left out."""
    words = [f"{cardinal(int(m.group('tm_h')))} {HOUR}"]
    minutes, seconds = int(m.group("tm_m")), int(m.group("tm_s") or 0)
    if minutes:
        words.append(f"{TIME_LINK}{cardinal(minutes)}" + (f" {MINUTE}" if seconds else ""))
    if seconds:
        words.append(f"{TIME_LINK}{cardinal(seconds)} {SECOND}")
    return " ".join(words)


def _read_degree(m: re.Match[str]) -> str:
    unit = DEGREE_UNITS.get(m.group("dg_u") or m.group("dg_u2") or "")
    return f"{_negative(m, 'dg_s')}{_read_number(m, 'dg')} {DEGREE}" + (f" {unit}" if unit else "")


HALF, QUARTER = "ግማሽ", "ሩብ"
RANGE_LINK = "እስከ"  # ከ5 እስከ 10
SCORE_LINK = "ለ"  # 2-1: ሁለት ለአንድ (a proclitic, written onto the second number)
YEAR_LINK = "እና"  # 2015/16: the budget year 2015 "and" 16


def _read_phone(m: re.Match[str]) -> str:
    """A phone number digit by digit, a group at a time (the +country code without the plus)."""
    if m.group("ph_cc"):
        groups = [m.group("ph_cc"), *re.split("[ -]", m.group("ph_rest"))]
    else:
        groups = re.split("[ -]", m.group("ph_local"))
    return " ".join(digits(group) for group in groups if group)


def _read_slash(m: re.Match[str]) -> str:
    """``a/b``: a day and a 4-digit year; a year and the next year's last two digits (a budget year); a fraction
    with a denominator of 2 to 99 (``1/2`` ግማሽ, ``1/4`` ሩብ, ``2/3`` ሁለት ሶስተኛ, ``ኛ`` written after it or not); else
    the two numbers one after the other. Never a slash between the words."""
    a, b = int(m.group("sl_a")), int(m.group("sl_b"))
    written_b = m.group("sl_b")
    if len(written_b) == 4 and 1 <= a <= 31:
        return f"{cardinal(a)} {cardinal(b)}"
    if len(m.group("sl_a")) == 4 and len(written_b) == 2 and (a + 1) % 100 == b:
        return f"{cardinal(a)} {YEAR_LINK} {cardinal(b)}"
    if 2 <= b <= 99 and 1 <= a < 100 and not m.group("sl_a").startswith("0"):
        if a == 1 and b == 2:
            return HALF
        if a == 1 and b == 4:
            return QUARTER
        return f"{cardinal(a)} {ordinal(b)}"
    return f"{_read_integer(m.group('sl_a'))} {_read_integer(written_b)}" + (ORDINAL_SUFFIX if m.group("sl_o") else "")


def _verbalize_match(m: re.Match[str]) -> str:
    if m.group("date"):
        return _read_date(m)
    if m.group("time"):
        return _read_time(m)
    if m.group("phone"):
        return _read_phone(m)
    if m.group("range"):
        first, second = (m.group(g) for g in ("rg_a", "rg_b"))
        if int(first.replace(",", "")) >= int(second.replace(",", "")):  # not a range: a score (2-1, 0-0)
            return f"{_read_integer(first)} {SCORE_LINK}{_read_integer(second)}"
        return f"{_read_integer(first)} {RANGE_LINK} {_read_integer(second)}"
    if m.group("slash"):
        return _read_slash(m)
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
    if m.group("degree"):
        return _read_degree(m)
    if m.group("ordinal"):
        return _read_ordinal(m.group("od_i"))
    return _negative(m, "nm_s") + _read_number(m, "nm")


def verbalize_numbers(text: str) -> str:
    """Replace every number in ``text`` by Amharic words; everything else is left as it was.

    >>> verbalize_numbers("በ2015 ዓ.ም 25.50 ብር ከፈለ፤ 3ኛው ነው።")
    'በሁለት ሺህ አስራ አምስት ዓ.ም ሃያ አምስት ብር ከሃምሳ ሳንቲም ከፈለ፤ ሶስተኛው ነው።'
    """
    text = _ETHIOPIC_NUMERAL_RUN.sub(_read_ethiopic_numerals, text)
    text = _SPLIT_OFF_RE.sub(" ", text)
    return _NUMBER_RE.sub(_verbalize_match, text)
