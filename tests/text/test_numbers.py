"""Amharic number reading: cardinals, ordinals, Ethiopic numerals and numbers in running text."""

import random
import re
import unicodedata

import pytest

from amharic_tts.text import numbers
from amharic_tts.text.numbers import cardinal, digits, ethiopic_numeral_value, ordinal, verbalize_numbers

# The standard modern spelling, written out here independently of the module's tables.
SPELLING = {
    0: "ዜሮ",
    1: "አንድ",
    2: "ሁለት",
    3: "ሶስት",
    4: "አራት",
    5: "አምስት",
    6: "ስድስት",
    7: "ሰባት",
    8: "ስምንት",
    9: "ዘጠኝ",
    10: "አስር",
    20: "ሃያ",
    30: "ሰላሳ",
    40: "አርባ",
    50: "ሃምሳ",
    60: "ስልሳ",
    70: "ሰባ",
    80: "ሰማንያ",
    90: "ዘጠና",
}
SCALE_SPELLING = {100: "መቶ", 1000: "ሺህ", 10**6: "ሚሊዮን", 10**9: "ቢሊዮን", 10**12: "ትሪሊዮን"}

ETHIOPIC_NUMERAL = re.compile("[\u1369-\u137c]")


def _is_ethiopic_letter(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("ETHIOPIC SYLLABLE")


def _assert_words(text: str) -> None:
    """Only Ethiopic letters, single spaces between words."""
    assert text == text.strip() and "  " not in text, repr(text)
    assert all(ch == " " or _is_ethiopic_letter(ch) for ch in text), repr(text)


# --- cardinal ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "words"), sorted(SPELLING.items()))
def test_cardinal_basic_words(n, words):
    assert cardinal(n) == words


@pytest.mark.parametrize(("n", "scale"), sorted(SCALE_SPELLING.items()))
def test_cardinal_multipliers_carry_their_count(n, scale):
    assert cardinal(n) == f"አንድ {scale}"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (11, "አስራ አንድ"),
        (15, "አስራ አምስት"),
        (19, "አስራ ዘጠኝ"),
        (21, "ሃያ አንድ"),
        (99, "ዘጠና ዘጠኝ"),
        (250, "ሁለት መቶ ሃምሳ"),
        (2015, "ሁለት ሺህ አስራ አምስት"),
        (1999, "አንድ ሺህ ዘጠኝ መቶ ዘጠና ዘጠኝ"),
        (1234567, "አንድ ሚሊዮን ሁለት መቶ ሰላሳ አራት ሺህ አምስት መቶ ስልሳ ሰባት"),
        # The brief listed 100005 -> "አንድ መቶ አምስት ሺህ አምስት", but those words are 105005 (100 + 5 thousand, 5).
        (100005, "አንድ መቶ ሺህ አምስት"),
        (105005, "አንድ መቶ አምስት ሺህ አምስት"),
        (1000005, "አንድ ሚሊዮን አምስት"),
        (10**12, "አንድ ትሪሊዮን"),
        (2_000_000_010, "ሁለት ቢሊዮን አስር"),
    ],
)
def test_cardinal_examples(n, words):
    assert cardinal(n) == words


def test_cardinal_largest():
    assert cardinal(10**15 - 1) == (
        "ዘጠኝ መቶ ዘጠና ዘጠኝ ትሪሊዮን ዘጠኝ መቶ ዘጠና ዘጠኝ ቢሊዮን ዘጠኝ መቶ ዘጠና ዘጠኝ ሚሊዮን "
        "ዘጠኝ መቶ ዘጠና ዘጠኝ ሺህ ዘጠኝ መቶ ዘጠና ዘጠኝ"
    )


@pytest.mark.parametrize("n", [-1, 10**15, 10**20])
def test_cardinal_out_of_range(n):
    with pytest.raises(ValueError):
        cardinal(n)


def test_cardinal_only_ethiopic_letters_and_single_spaces():
    rng = random.Random(1234)
    sample = list(range(3000)) + [rng.randrange(3000, 10**15) for _ in range(2000)]
    sample += [10**k for k in range(15)] + [10**k - 1 for k in range(1, 16)]
    for n in sample:
        _assert_words(cardinal(n))


def test_cardinal_is_built_from_the_known_words():
    known = set(SPELLING.values()) | set(SCALE_SPELLING.values()) | {"አስራ"}
    for n in [*range(1000), 1001, 123456789, 987654321012345 % 10**15]:
        assert set(cardinal(n).split(" ")) <= known, n


def test_word_tables_match_the_spelling():
    assert numbers.ZERO == SPELLING[0]
    assert numbers.UNITS[1:] == tuple(SPELLING[n] for n in range(1, 10))
    assert numbers.TEN == SPELLING[10]
    assert numbers.TENS[2:] == tuple(SPELLING[n] for n in range(20, 100, 10))
    assert numbers.HUNDRED == "መቶ"
    assert numbers.SCALES[1:] == ("ሺህ", "ሚሊዮን", "ቢሊዮን", "ትሪሊዮን")
    words = [*numbers.UNITS[1:], *numbers.TENS[2:], *numbers.SCALES[1:], numbers.ZERO, numbers.TEN]
    for word in words:
        _assert_words(word)


# --- ordinal ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "አንደኛ"),
        (2, "ሁለተኛ"),
        (3, "ሶስተኛ"),
        (4, "አራተኛ"),
        (5, "አምስተኛ"),
        (6, "ስድስተኛ"),
        (7, "ሰባተኛ"),
        (8, "ስምንተኛ"),
        (9, "ዘጠነኛ"),
        (10, "አስረኛ"),
        (11, "አስራ አንደኛ"),
        (20, "ሃያኛ"),
        (23, "ሃያ ሶስተኛ"),
        (30, "ሰላሳኛ"),
        (100, "አንድ መቶኛ"),
        (1000, "አንድ ሺኛ"),
        (10**6, "አንድ ሚሊዮነኛ"),
        (10**9, "አንድ ቢሊዮነኛ"),
        (10**12, "አንድ ትሪሊዮነኛ"),
        (2015, "ሁለት ሺህ አስራ አምስተኛ"),
    ],
)
def test_ordinal(n, words):
    assert ordinal(n) == words


@pytest.mark.parametrize("n", [0, -3, 10**15])
def test_ordinal_out_of_range(n):
    with pytest.raises(ValueError):
        ordinal(n)


def test_ordinal_changes_only_the_last_word():
    for n in range(1, 3000):
        head, _, last = cardinal(n).rpartition(" ")
        o_head, _, o_last = ordinal(n).rpartition(" ")
        assert o_head == head and o_last.endswith("ኛ") and o_last != last
        _assert_words(ordinal(n))


# --- digits -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "words"),
    [("0911", "ዜሮ ዘጠኝ አንድ አንድ"), ("0", "ዜሮ"), ("1234567890", "አንድ ሁለት ሶስት አራት አምስት ስድስት ሰባት ስምንት ዘጠኝ ዜሮ")],
)
def test_digits(s, words):
    assert digits(s) == words


@pytest.mark.parametrize("s", ["", "12a", "1.5", "፩", " 1"])
def test_digits_rejects(s):
    with pytest.raises(ValueError):
        digits(s)


# --- Ethiopic numerals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "value"),
    [
        ("፩", 1),
        ("፲፪", 12),
        ("፺፱", 99),
        ("፻", 100),
        ("፼", 10000),
        ("፳፻፲፭", 2015),
        ("፲፱፻፹፯", 1987),
        ("፻፼", 1_000_000),
        ("፼፻", 1_000_000),
        ("፼፼", 100_000_000),
        ("፲፪፻፼፴፬፼", 12_340_000),
        ("፲፪፻፴፬፼", 12_340_000),  # ፼ also scales the ፻ group before it (pairs of digits)
        ("፲፪፻፴፬፼፶፮፻፸፰", 12_345_678),
        ("፻፩፼", 1_010_000),
        ("፼፳፫፻፵፭", 12_345),
    ],
)
def test_ethiopic_numeral_value(s, value):
    assert ethiopic_numeral_value(s) == value


def test_ethiopic_numerals_are_not_digits():
    assert not re.fullmatch(r"\d+", "፲፪")
    assert all(unicodedata.category(chr(c)) == "No" for c in range(0x1369, 0x137D))


@pytest.mark.parametrize("s", ["", "12", "፲a", "ሰ", "፲ ፪"])
def test_ethiopic_numeral_value_rejects(s):
    with pytest.raises(ValueError):
        ethiopic_numeral_value(s)


# --- verbalize_numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # 1. Ethiopic numerals
        ("በ፳፻፲፭ ዓ.ም", "በሁለት ሺህ አስራ አምስት ዓ.ም"),
        ("፫ኛ", "ሶስተኛ"),
        ("፲፪ ሰዎች", "አስራ ሁለት ሰዎች"),
        # 2. money
        ("25 ብር", "ሃያ አምስት ብር"),
        ("25.50 ብር", "ሃያ አምስት ብር ከሃምሳ ሳንቲም"),
        ("25.5 ብር", "ሃያ አምስት ብር ከሃምሳ ሳንቲም"),
        ("25.05 ብር", "ሃያ አምስት ብር ከአምስት ሳንቲም"),
        ("0.75 ብር", "ሰባ አምስት ሳንቲም"),
        ("100 ብር", "አንድ መቶ ብር"),
        ("5.00 ብር", "አምስት ብር"),
        ("ብር 25.50", "ሃያ አምስት ብር ከሃምሳ ሳንቲም"),
        ("1,000.50 ብር", "አንድ ሺህ ብር ከሃምሳ ሳንቲም"),
        ("ዋጋው 25.50 ብር ነው።", "ዋጋው ሃያ አምስት ብር ከሃምሳ ሳንቲም ነው።"),
        ("$5", "አምስት ዶላር"),
        ("5 $", "አምስት ዶላር"),
        ("5 ብርቱካን", "አምስት ብርቱካን"),  # ብርቱካን (orange) is not ብር
        ("25.505 ብር", "ሃያ አምስት ነጥብ አምስት ዜሮ አምስት ብር"),  # three decimals are not cents
        # 3. percentages
        ("50%", "ሃምሳ በመቶ"),
        ("50 %", "ሃምሳ በመቶ"),
        ("12.5%", "አስራ ሁለት ነጥብ አምስት በመቶ"),
        ("50 በመቶ", "ሃምሳ በመቶ"),
        # 4. ordinals
        ("1ኛ", "አንደኛ"),
        ("3ኛው", "ሶስተኛው"),
        ("10ኛ ክፍል", "አስረኛ ክፍል"),
        ("1,000ኛ", "አንድ ሺኛ"),
        # 5. decimals
        ("3.5", "ሶስት ነጥብ አምስት"),
        ("0.05", "ዜሮ ነጥብ ዜሮ አምስት"),
        ("1.2.3", "አንድ.ሁለት.ሶስት"),
        ("3.5.", "ሶስት ነጥብ አምስት."),
        # 6. thousands separators
        ("1,000,000", "አንድ ሚሊዮን"),
        ("12,500", "አስራ ሁለት ሺህ አምስት መቶ"),
        ("1,2", "አንድ,ሁለት"),
        # 7. minus sign and hyphen
        ("-5", "አሉታዊ አምስት"),
        ("ሙቀቱ -5 ነው", "ሙቀቱ አሉታዊ አምስት ነው"),
        ("(-3)", "(አሉታዊ ሶስት)"),
        ("1990-2000", "አንድ ሺህ ዘጠኝ መቶ ዘጠና እስከ ሁለት ሺህ"),  # a range (news-grade text)
        ("x-3", "x-ሶስት"),
        # 8. plain integers, leading zeros, huge numbers
        ("1999", "አንድ ሺህ ዘጠኝ መቶ ዘጠና ዘጠኝ"),
        ("0", "ዜሮ"),
        ("0911234567", "ዜሮ ዘጠኝ አንድ አንድ ሁለት ሶስት አራት አምስት ስድስት ሰባት"),
        ("007", "ዜሮ ዜሮ ሰባት"),
        ("1000000000000000", "አንድ" + " ዜሮ" * 15),
        ("999999999999999", cardinal(10**15 - 1)),
        # glued to letters
        ("በ2015", "በሁለት ሺህ አስራ አምስት"),
        ("2015ን", "ሁለት ሺህ አስራ አምስትን"),
        ("COVID19", "COVIDአስራ ዘጠኝ"),
        ("mp3", "mpሶስት"),
        # everything else untouched
        ("ሰላም Google!", "ሰላም Google!"),
        ("Chatterbox  v 2 ነው።", "Chatterbox  v ሁለት ነው።"),
        ("", ""),
    ],
)
def test_verbalize_numbers(text, spoken):
    assert verbalize_numbers(text) == spoken


def test_verbalize_mixed_sentence_leaves_no_numerals():
    text = (
        "በ፳፻፲፭ ዓ.ም 1,250 ሰዎች 3ኛው ቀን 25.50 ብር ከፈሉ፤ 12.5% -7 $3 0911234567 COVID19 "
        "12345678901234567 1990-2000 ፲፪፻፴፬፼ 0.05 mp3 (version 2.1) ።"
    )
    spoken = verbalize_numbers(text)
    assert not re.search("[0-9]", spoken), spoken
    assert not ETHIOPIC_NUMERAL.search(spoken), spoken
    for latin in ("COVID", "mp", "version"):
        assert latin in spoken


def test_verbalize_keeps_text_without_numbers():
    text = "ሰላም፣ እንዴት ነህ? Hello, world - (ok) ብር ብቻ።"
    assert verbalize_numbers(text) == text


# --- review fixes: dates, times, degrees, words written onto numbers, ordinals in -ተኛ ---------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # dates: three cardinals in the order written, no dots or slashes left
        ("12.05.2015", "አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"),
        ("12/05/2015", "አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"),
        ("12-05-2015", "አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"),
        ("5/12/15", "አምስት አስራ ሁለት አስራ አምስት"),
        ("31.12.99", "ሰላሳ አንድ አስራ ሁለት ዘጠና ዘጠኝ"),
        ("2015-05-12", "ሁለት ሺህ አስራ አምስት አምስት አስራ ሁለት"),
        ("በ12.05.2015 ዓ.ም", "በአስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት ዓ.ም"),
        ("12.5.2015.", "አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት."),
        # not dates
        ("99.12.31", "ዘጠና ዘጠኝ.አስራ ሁለት.ሰላሳ አንድ"),  # no day or month first
        ("20.20.2015", "ሃያ.ሃያ.ሁለት ሺህ አስራ አምስት"),  # no month
        ("12.05/2015", "አስራ ሁለት ነጥብ ዜሮ አምስት/ሁለት ሺህ አስራ አምስት"),  # two different separators
        ("1.5.2", "አንድ.አምስት.ሁለት"),
        # times
        ("12:30", "አስራ ሁለት ሰዓት ከሰላሳ"),
        ("8:00", "ስምንት ሰዓት"),
        ("0:05", "ዜሮ ሰዓት ከአምስት"),
        ("12:30:45", "አስራ ሁለት ሰዓት ከሰላሳ ደቂቃ ከአርባ አምስት ሰከንድ"),
        ("8:00:05", "ስምንት ሰዓት ከአምስት ሰከንድ"),
        ("2:30 ሰዓት ላይ", "ሁለት ሰዓት ከሰላሳ ላይ"),
        ("ከ9:15 እስከ 11:45", "ከዘጠኝ ሰዓት ከአስራ አምስት እስከ አስራ አንድ ሰዓት ከአርባ አምስት"),
        ("2:1", "ሁለት:አንድ"),  # one digit after the colon: not a time
        ("25:00", "ሃያ አምስት:ዜሮ ዜሮ"),
        # degrees
        ("25°C", "ሃያ አምስት ዲግሪ ሴልሲየስ"),
        ("-5 °F", "አሉታዊ አምስት ዲግሪ ፋራናይት"),
        ("37.5℃", "ሰላሳ ሰባት ነጥብ አምስት ዲግሪ ሴልሲየስ"),
        ("90°", "ዘጠና ዲግሪ"),
        # scale and unit words written onto the digits are split off; suffixes stay
        ("5ሺህ ብር", "አምስት ሺህ ብር"),
        ("100ሺ", "አንድ መቶ ሺ"),
        ("፭ሺ", "አምስት ሺ"),
        ("3ሚሊዮን", "ሶስት ሚሊዮን"),
        ("5ኪሎ ሜትር", "አምስት ኪሎ ሜትር"),
        ("10ሰዓት", "አስር ሰዓት"),
        ("2015ዓመተ ምሕረት", "ሁለት ሺህ አስራ አምስት ዓመተ ምሕረት"),
        ("2015ን", "ሁለት ሺህ አስራ አምስትን"),
        ("5ም", "አምስትም"),
        # ordinals with the ending spelled out
        ("2ተኛ", "ሁለተኛ"),
        ("3ተኛው", "ሶስተኛው"),
        ("1ደኛ", "አንደኛ"),
        ("9ነኛ", "ዘጠነኛ"),
        ("10ረኛ", "አስረኛ"),
    ],
)
def test_verbalize_dates_times_degrees_and_glued_words(text, spoken):
    assert verbalize_numbers(text) == spoken


# --- news-grade text: ranges, slashes, phone numbers --------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("ከ2010-2015", "ከሁለት ሺህ አስር እስከ ሁለት ሺህ አስራ አምስት"),
    ("ከ5-10 ዓመት", "ከአምስት እስከ አስር ዓመት"),
    ("ከ5 - 10 ዓመት", "ከአምስት እስከ አስር ዓመት"),
    ("ከ3–4 ሰዓት", "ከሶስት እስከ አራት ሰዓት"),  # en dash
    ("ገጽ 12—15", "ገጽ አስራ ሁለት እስከ አስራ አምስት"),  # em dash
    ("5-3=2", "አምስት-ሶስት=ሁለት"),  # a sum, not a range
    ("12-05-2015", "አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"),  # still a date
])
def test_ranges_read_with_eske(text, expected):
    assert verbalize_numbers(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("ቡና 2-1 አሸነፈ", "ቡና ሁለት ለአንድ አሸነፈ"),  # a range rises: a first number as large or larger is a score
    ("0-0 ተለያዩ", "ዜሮ ለዜሮ ተለያዩ"),
    ("3 - 3", "ሶስት ለሶስት"),
    ("በ4–2 ውጤት", "በአራት ለሁለት ውጤት"),
    ("1-3 ተሸነፉ", "አንድ እስከ ሶስት ተሸነፉ"),  # written rising: read as a range (a score's order is not knowable)
])
def test_a_pair_that_does_not_rise_is_a_score(text, expected):
    assert verbalize_numbers(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2/3ኛ", "ሁለት ሶስተኛ"),
    ("2/3", "ሁለት ሶስተኛ"),
    ("1/2", "ግማሽ"),
    ("1/4 ኪሎ", "ሩብ ኪሎ"),
    ("3/4", "ሶስት አራተኛ"),
    ("1/10", "አንድ አስረኛ"),
    ("ሰኔ 30/2015", "ሰኔ ሰላሳ ሁለት ሺህ አስራ አምስት"),  # a day and a year
    ("መስከረም 1/2016", "መስከረም አንድ ሁለት ሺህ አስራ ስድስት"),
    ("2015/16 በጀት ዓመት", "ሁለት ሺህ አስራ አምስት እና አስራ ስድስት በጀት ዓመት"),  # a budget year
    ("2019/20", "ሁለት ሺህ አስራ ዘጠኝ እና ሃያ"),
    ("2015/18", "ሁለት ሺህ አስራ አምስት አስራ ስምንት"),  # neither: the two numbers, no slash
    ("12/05/2015", "አስራ ሁለት አምስት ሁለት ሺህ አስራ አምስት"),  # still a date
])
def test_numbers_around_a_slash(text, expected):
    out = verbalize_numbers(text)
    assert out == expected
    assert not re.search(r"[0-9]/|/[0-9]", out)


@pytest.mark.parametrize("text, expected", [
    ("+251911234567", "ሁለት አምስት አንድ ዘጠኝ አንድ አንድ ሁለት ሶስት አራት አምስት ስድስት ሰባት"),
    ("+251 911 23 45 67", "ሁለት አምስት አንድ ዘጠኝ አንድ አንድ ሁለት ሶስት አራት አምስት ስድስት ሰባት"),
    ("0911 23 45 67", "ዜሮ ዘጠኝ አንድ አንድ ሁለት ሶስት አራት አምስት ስድስት ሰባት"),
    ("ስልክ 011-551-2233 ይደውሉ", "ስልክ ዜሮ አንድ አንድ አምስት አምስት አንድ ሁለት ሁለት ሶስት ሶስት ይደውሉ"),
    ("0911-234567", "ዜሮ ዘጠኝ አንድ አንድ ሁለት ሶስት አራት አምስት ስድስት ሰባት"),
])
def test_phone_numbers_are_read_digit_by_digit_never_as_billions(text, expected):
    out = verbalize_numbers(text)
    assert out == expected
    assert "ቢሊዮን" not in out and "ሚሊዮን" not in out and "-" not in out
