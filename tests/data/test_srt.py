"""Subtitle reading: encodings, block quirks, timestamps, cleaning and problem codes, on committed fixtures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from amharic_tts.data.srt import Cue, SrtError, SrtFile, clean_cue_text, parse_srt_text, read_srt

FIXTURES = Path(__file__).parent / "srt"

S1 = "ሰላም ነው።"
S2 = "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።"
S3 = "ዛሬ የአየሩ ሁኔታ በጣም ጥሩ ነው።"
S4 = "እንኳን ደህና መጣችሁ፣ ውድ ተመልካቾች።"
S5 = "ትምህርቱ በ Python ቋንቋ ይሰጣል፤ ጥያቄ አለ?"

# (start, end, text, raw_text, problem) per cue; the index is the position in the list.
BASIC = [
    (1.0, 3.5, S1, S1, None),
    (4.0, 6.25, S2, S2, None),
    (7.125, 10.0, S3, S3, None),
]

EXPECTED: dict[str, tuple[str, list[tuple]]] = {
    "utf8.srt": ("utf-8", BASIC),
    "utf8_bom.srt": ("utf-8-sig", BASIC),
    "utf16le_bom.srt": ("utf-16", BASIC),
    "utf16be_bom.srt": ("utf-16", BASIC),
    "utf32_bom.srt": ("utf-32", BASIC),
    "crlf.srt": ("utf-8", BASIC),
    "cr.srt": ("utf-8", BASIC),
    "legacy_cp1252.srt": ("cp1252", [
        (1.0, 2.5, "Café à la crème, s'il vous plaît.", "Café à la crème, s'il vous plaît.", None),
        (3.0, 5.0, "Le garçon apporte le crème brûlée à côté de la fenêtre.",
         "Le garçon apporte le crème brûlée à côté de la fenêtre.", None),
        (5.5, 7.0, "Déjà vu: naïve señor, Müller über Straße.", "Déjà vu: naïve señor, Müller über Straße.", None),
    ]),
    "no_index.srt": ("utf-8", [
        (1.0, 2.0, S1, S1, None),
        (2.5, 4.0, S2, S2, None),
        (4.5, 6.0, S3, S3, None),
    ]),
    "dot_millis.srt": ("utf-8", [
        (1.5, 2.75, S1, S1, None),
        (3.0, 4.25, S2, S2, None),
    ]),
    "timestamp_variants.srt": ("utf-8", [
        (1.5, 2.25, S1, S1, None),  # ",5" and ",25" are fractions of a second
        (3.123, 4.001, S2, S2 + "  ", None),  # 4 digits rounded; trailing spaces kept in raw_text
        (5.0, 6.5, S3, S3, None),  # no fraction, ":" before the fraction, position coordinates
        (3723.004, 3724.999, S4, S4, None),  # tabs and "->"
    ]),
    "tags.srt": ("utf-8", [
        (1.0, 2.0, S1, f"<i>{S1}</i>", None),
        (2.0, 3.0, S2, '<font color="#ff0000">አዲስ አበባ</font> <b>የኢትዮጵያ</b> <u>ዋና ከተማ ናት።</u>', None),
        (3.0, 4.0, S3, "{\\an8}" + S3, None),
        (4.0, 5.0, S4, "{\\i1}እንኳን{\\i0} ደህና መጣችሁ፣{\\pos(10,20)} ውድ ተመልካቾች።", None),
    ]),
    "dashes.srt": ("utf-8", [
        (1.0, 3.0, f"{S1} እሺ፣ አመሰግናለሁ።", f"- {S1}\n- እሺ፣ አመሰግናለሁ።", None),
        (3.5, 5.0, S2, "– አዲስ አበባ የኢትዮጵያ\nዋና ከተማ ናት።", None),
        (5.5, 7.0, f"{S3} እውነት ነው።", f"— {S3}\n— እውነት ነው።", None),
        (7.5, 9.0, f"{S4} -5 ዲግሪ ነው።", f"NARRATOR: {S4}\n- DR. ABEBE: -5 ዲግሪ ነው።", None),
    ]),
    "sound_descriptions.srt": ("utf-8", [
        (1.0, 2.0, "", "[ሙዚቃ]", "sound_description_only"),
        (2.5, 4.0, S1, f"(ሳቅ) {S1}", None),
        (4.5, 6.0, S2, f"[MUSIC]\n{S2} (applause)", None),
        (6.5, 8.0, "", "♪ ላላ ላላ ♪", "sound_description_only"),
        (8.5, 10.0, S3, f"♫ {S3}", None),
        (10.5, 12.0, "", "(ጭብጨባ)\n[ሙዚቃ ይሰማል]", "sound_description_only"),
    ]),
    "overlapping.srt": ("utf-8", [  # overlaps and a start before the previous one are not problems here
        (1.0, 4.0, S1, S1, None),
        (2.0, 3.0, S2, S2, None),
        (0.5, 5.0, S3, S3, None),
    ]),
    "zero_length.srt": ("utf-8", [
        (1.0, 2.0, S1, S1, None),
        (3.0, 3.0, S2, S2, "zero_length"),
        (5.0, 4.0, S3, S3, "negative_length"),
    ]),
    "empty_cue.srt": ("utf-8", [
        (1.0, 2.0, S1, S1, None),
        (2.5, 3.0, "", "", "empty_text"),
        (3.5, 5.0, S3, S3, None),
    ]),
    "malformed_timestamp.srt": ("utf-8", [
        (1.0, 2.0, S1, S1, None),
        (None, None, S2, S2, "malformed_timestamp"),  # 00:00:aa,000
        (3.0, 4.0, S3, S3, None),
        (None, None, S4, S4, "malformed_timestamp"),  # no arrow
        (None, None, S5, S5, "malformed_timestamp"),  # 00:00:0a,000 (srt alone would read 0 s)
        (8.0, 9.0, S1, S1, None),
    ]),
    "mixed.srt": ("utf-8-sig", [
        (None, None, "SUBTITLES BY AMHARIC FILM CLUB", "SUBTITLES BY AMHARIC FILM CLUB", "malformed_timestamp"),
        (0.5, 2.0, "", "[ሙዚቃ]", "sound_description_only"),
        (2.1, 4.9, S4, f"<i>{S4}</i>   ", None),
        (5.0, 7.25, f"{S1} አዎ።", f"- {S1}\n- NARRATOR: (ሳቅ) አዎ።", None),
        (7.5, 7.5, S2, S2, "zero_length"),
        (8.0, 9.0, "", "", "empty_text"),
        (None, None, S3, "{\\an8}" + S3, "malformed_timestamp"),  # "09;000"
        (10.0, 12.0, S5, S5, None),
        (12.5, 14.0, "", "♪ ዘፈን ♪", "sound_description_only"),  # no blank line before it
    ]),
}


def _load_fixture_script():
    spec = importlib.util.spec_from_file_location("make_srt_fixtures", FIXTURES / "make_srt_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_cues(cues: list[Cue], expected: list[tuple]) -> None:
    assert len(cues) == len(expected)
    for position, (cue, (start, end, text, raw_text, problem)) in enumerate(zip(cues, expected)):
        assert cue.index == position
        assert cue.start == (None if start is None else pytest.approx(start, abs=1e-9)), position
        assert cue.end == (None if end is None else pytest.approx(end, abs=1e-9)), position
        assert cue.text == text, position
        assert cue.raw_text == raw_text, position
        assert cue.problem == problem, position


# ---------------------------------------------------------------------------------------------- fixtures


def test_fixture_files_are_what_the_script_writes():
    fixtures = _load_fixture_script().FIXTURES
    assert set(fixtures) == {p.name for p in FIXTURES.glob("*.srt")}
    for name, data in fixtures.items():
        assert (FIXTURES / name).read_bytes() == data, f"{name} is stale: run make_srt_fixtures.py"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name):
    encoding, expected = EXPECTED[name]
    result = read_srt(FIXTURES / name)
    assert isinstance(result, SrtFile)
    assert result.path == str(FIXTURES / name)
    assert result.encoding == encoding
    _assert_cues(result.cues, expected)


def test_every_fixture_but_the_unreadable_ones_is_checked():
    assert {p.name for p in FIXTURES.glob("*.srt")} - set(EXPECTED) == {"not_subtitles.srt", "empty.srt"}


def test_read_srt_accepts_str_paths():
    result = read_srt(str(FIXTURES / "utf8.srt"))
    assert result.path == str(FIXTURES / "utf8.srt")
    assert [c.text for c in result.cues] == [S1, S2, S3]


@pytest.mark.parametrize("name", ["utf8.srt", "utf16le_bom.srt", "crlf.srt", "mixed.srt"])
def test_no_bom_or_carriage_return_leaks_into_text(name):
    for cue in read_srt(FIXTURES / name).cues:
        assert "\ufeff" not in cue.raw_text and "\r" not in cue.raw_text


# ---------------------------------------------------------------------------------------------- errors


def test_random_bytes_raise():
    with pytest.raises(SrtError, match=r"not_subtitles\.srt: binary or undecodable"):
        read_srt(FIXTURES / "not_subtitles.srt")


def test_empty_file_raises():
    with pytest.raises(SrtError, match=r"empty\.srt: empty file"):
        read_srt(FIXTURES / "empty.srt")


def test_srt_error_is_a_value_error():
    assert issubclass(SrtError, ValueError)


@pytest.mark.parametrize("data, message", [
    (b" \r\n\t\n", "empty file"),
    (b"\xff\xfe", "no subtitle block"),  # a UTF-16 BOM and nothing else
    ("Just a text file.\n\nNo timestamps in it.\n".encode(), "no subtitle block with a readable timestamp"),
    (b"\x01\x02\x03\x04" * 50 + b"\n00:00:01,000 --> 00:00:02,000\nx\n", "looks like binary data"),
    (b"\xef\xbb\xbf\xff\xfe", "byte order mark"),  # UTF-8 BOM, then bytes that are not UTF-8
])
def test_unreadable_files_raise_with_a_reason(tmp_path, data, message):
    path = tmp_path / "bad.srt"
    path.write_bytes(data)
    with pytest.raises(SrtError, match=message) as info:
        read_srt(path)
    assert str(path) in str(info.value)


def test_parse_srt_text_names_the_path_in_its_error():
    with pytest.raises(SrtError, match=r"^lecture\.srt: no subtitle block"):
        parse_srt_text("", "lecture.srt")
    with pytest.raises(SrtError, match=r"^<string>: no subtitle block with a readable timestamp line in 2"):
        parse_srt_text("hello\n\nworld\n")


def test_a_file_with_only_empty_cues_is_still_subtitles():
    cues = parse_srt_text("1\n00:00:01,000 --> 00:00:02,000\n")
    assert [(c.start, c.end, c.problem) for c in cues] == [(1.0, 2.0, "empty_text")]


def test_trailing_dos_eof_and_nul_padding_are_ignored(tmp_path):
    path = tmp_path / "dos.srt"
    path.write_bytes(f"1\r\n00:00:01,000 --> 00:00:02,000\r\n{S1}\r\n".encode() + b"\x1a\x00\x00")
    cues = read_srt(path).cues
    assert [(c.text, c.raw_text, c.problem) for c in cues] == [(S1, S1, None)]


# ---------------------------------------------------------------------------------------------- blocks


def _one(text: str) -> Cue:
    cues = parse_srt_text(text)
    assert len(cues) == 1
    return cues[0]


@pytest.mark.parametrize("line, start, end", [
    ("00:00:01,000 --> 00:00:02,000", 1.0, 2.0),
    ("00:00:01.500 --> 00:00:02.250", 1.5, 2.25),
    ("00:00:01:500 --> 00:00:02:250", 1.5, 2.25),
    ("00:00:01,5 --> 00:00:02,05", 1.5, 2.05),
    ("00:00:01,1234 --> 00:00:01,9996", 1.123, 2.0),  # rounded to the millisecond, carrying into the second
    ("00:00:01 --> 00:00:02", 1.0, 2.0),
    ("00:00:01, --> 00:00:02,", 1.0, 2.0),
    ("0:0:1,000 --> 0:0:2,000", 1.0, 2.0),
    ("100:00:00,000 --> 100:00:01,000", 360000.0, 360001.0),
    ("01:02:03,004 --> 01:02:04,005", 3723.004, 3724.005),
    ("00:00:01,000-->00:00:02,000", 1.0, 2.0),
    ("00:00:01,000    -->    00:00:02,000", 1.0, 2.0),
    ("00:00:01,000\t-->\t00:00:02,000", 1.0, 2.0),
    ("00:00:01,000 -- > 00:00:02,000", 1.0, 2.0),
    ("00:00:01,000 -> 00:00:02,000", 1.0, 2.0),
    ("00:00:01,000 ---> 00:00:02,000", 1.0, 2.0),
    ("  00:00:01,000 --> 00:00:02,000   ", 1.0, 2.0),
    ("00:00:01,000 --> 00:00:02,000 X1:100 X2:600 Y1:50 Y2:80", 1.0, 2.0),
    ("00:00:01,000 --> 00:00:02,000 position:10% align:start", 1.0, 2.0),
    ("00：00：01，500 --> 00：00：02，000", 1.5, 2.0),  # full-width delimiters
])
def test_timestamp_lines(line, start, end):
    for text in (f"1\n{line}\n{S1}\n", f"{line}\n{S1}\n"):  # with and without the index line
        cue = _one(text)
        assert (cue.start, cue.end) == (pytest.approx(start, abs=1e-9), pytest.approx(end, abs=1e-9))
        assert (cue.text, cue.raw_text, cue.problem) == (S1, S1, None)


@pytest.mark.parametrize("line", [
    "00:00:aa,000 --> 00:00:02,000",
    "00:00:01,000 --> 00:00:0a,000",
    "00:00:01,000 00:00:02,000",
    "00:00:01,000 --> ",
    "--> 00:00:02,000",
    "00:01,000 --> 00:02,000",
    "00:00:01;000 --> 00:00:02,000",
    "00:00:01,000 --> 00:00:02,000x",
    "-00:00:01,000 --> 00:00:02,000",
])
def test_malformed_timestamp_lines(line):
    cues = parse_srt_text(f"1\n{line}\n{S1}\nሁለተኛ መስመር\n\n2\n00:00:03,000 --> 00:00:04,000\n{S2}\n")
    assert len(cues) == 2
    bad, good = cues
    assert (bad.index, bad.start, bad.end, bad.problem) == (0, None, None, "malformed_timestamp")
    assert bad.raw_text == f"{S1}\nሁለተኛ መስመር"
    assert bad.text == f"{S1} ሁለተኛ መስመር"
    assert (good.index, good.start, good.end, good.text, good.problem) == (1, 3.0, 4.0, S2, None)


def test_index_with_no_timestamp_line_keeps_the_text():
    cues = parse_srt_text(f"7\n{S1}\n\n8\n00:00:03,000 --> 00:00:04,000\n{S2}\n\n9\n")
    assert [(c.index, c.start, c.raw_text, c.problem) for c in cues] == [
        (0, None, S1, "malformed_timestamp"),
        (1, 3.0, S2, None),
        (2, None, "", "malformed_timestamp"),
    ]


def test_text_block_without_header_is_its_own_malformed_cue():
    # A blank line inside a cue splits it: the second half is a block of its own with no timestamp.
    cues = parse_srt_text(f"1\n00:00:01,000 --> 00:00:02,000\n{S1}\n\n{S2}\n\n2\n00:00:03,000 --> 00:00:04,000\n{S3}\n")
    assert [(c.index, c.start, c.end, c.text, c.problem) for c in cues] == [
        (0, 1.0, 2.0, S1, None),
        (1, None, None, S2, "malformed_timestamp"),
        (2, 3.0, 4.0, S3, None),
    ]


def test_missing_blank_line_between_cues_gives_two_cues():
    cues = parse_srt_text(f"1\n00:00:01,000 --> 00:00:02,000\n{S1}\n2\n00:00:03,000 --> 00:00:04,000\n{S2}\n\n"
                          f"3\n00:00:05,000 --> 00:00:06,000\n{S3}\n")
    assert [(c.index, c.start, c.end, c.raw_text) for c in cues] == [
        (0, 1.0, 2.0, S1), (1, 3.0, 4.0, S2), (2, 5.0, 6.0, S3)]


def test_whitespace_only_and_repeated_blank_lines_separate_blocks():
    text = f"1\n00:00:01,000 --> 00:00:02,000\n{S1}\n \t \n\n\n2\n00:00:03,000 --> 00:00:04,000\n{S2}\n\u200b\n"
    assert [(c.index, c.raw_text) for c in parse_srt_text(text)] == [(0, S1), (1, S2)]


def test_multiline_raw_text_keeps_lines_and_spaces():
    cue = _one(f"1  \n00:00:01,000 --> 00:00:02,000  \n  {S1}  \n<i>{S2}</i>\n")
    assert cue.raw_text == f"  {S1}  \n<i>{S2}</i>"
    assert cue.text == f"{S1} {S2}"
    assert (cue.start, cue.end, cue.problem) == (1.0, 2.0, None)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(newline):
    text = f"1\n00:00:01,000 --> 00:00:02,000\n{S1}\n{S2}\n\n2\n00:00:03,000 --> 00:00:04,000\n{S3}\n"
    cues = parse_srt_text(text.replace("\n", newline))
    assert [(c.start, c.end, c.raw_text) for c in cues] == [(1.0, 2.0, f"{S1}\n{S2}"), (3.0, 4.0, S3)]


def test_order_is_kept_and_overlaps_are_not_problems():
    text = f"1\n00:00:05,000 --> 00:00:06,000\n{S1}\n\n2\n00:00:01,000 --> 00:00:05,500\n{S2}\n"
    assert [(c.index, c.start, c.problem) for c in parse_srt_text(text)] == [(0, 5.0, None), (1, 1.0, None)]


@pytest.mark.parametrize("times, raw, problem", [
    ("00:00:01,000 --> 00:00:01,000", "", "empty_text"),  # text problems come before timing problems
    ("00:00:01,000 --> 00:00:01,000", "[ሙዚቃ]", "sound_description_only"),
    ("00:00:01,000 --> 00:00:01,000", S1, "zero_length"),
    ("00:00:01,001 --> 00:00:01,000", S1, "negative_length"),
    ("00:00:01,000 --> 00:00:01,001", S1, None),
    ("00:00:01,000 --> 00:00:02,000", "- ...", "no_speakable_text"),  # nothing speakable left
    ("00:00:01,000 --> 00:00:02,000", "<i></i>", "no_speakable_text"),
    ("00:00:01,000 --> 00:00:02,000", "😂", "emoji_only"),
    ("00:00:01,000 --> 00:00:02,000", "[ሳቅ] 😂", "sound_description_only"),  # a description says more
])
def test_problem_codes(times, raw, problem):
    cues = parse_srt_text(f"1\n{times}\n{raw}\n\n2\n00:00:09,000 --> 00:00:10,000\n{S1}\n")
    assert cues[0].problem == problem
    assert cues[0].raw_text == raw
    assert cues[1].problem is None


# ---------------------------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize("raw, clean", [
    # HTML-like tags
    (f"<i>{S1}</i>", S1),
    (f"<b>አዲስ</b> <u>አበባ</u>", "አዲስ አበባ"),
    (f'<font color="#ff0000">{S1}</font>', S1),
    (f"<I>{S1}</I>", S1),
    ("3 < 5 ነው", "3 < 5 ነው"),  # not a tag
    # ASS/SSA override blocks and line breaks
    (f"{{\\an8}}{S1}", S1),
    (f"{{\\i1}}ሰላም{{\\i0}} ነው።", S1),
    (f"{{\\pos(10,20)}}{S1}", S1),
    ("ሰላም\\Nነው።", S1),
    # sound and music descriptions
    ("[ሙዚቃ]", ""),
    (f"(ሳቅ) {S1}", S1),
    (f"{S1} [MUSIC]", S1),
    (f"{S1} (applause)", S1),
    ("ሰላም (ሳቅ) ነው።", S1),
    ("ሰላም ነው(ሳቅ)።", S1),
    ("[ሙዚቃ\nይሰማል]", ""),
    ("♪ ላላ ላላ ♪", ""),
    ("♪ ላላ ላላ\nላላ ላላ ♪", ""),
    (f"♪ {S1}", S1),
    (f"{S1} ♫", S1),
    # speaker labels
    (f"NARRATOR: {S1}", S1),
    (f"MAN 2: {S1}", S1),
    (f"DR. ABEBE: {S1}", S1),
    (f"- JOHN: {S1}\n- MARY: {S2}", f"{S1} {S2}"),
    (f"Note: {S1}", f"Note: {S1}"),  # not in capitals
    (f"ሰዓቱ 10:30 ነው።", "ሰዓቱ 10:30 ነው።"),
    (f"{S1} NARRATOR: ነው", f"{S1} NARRATOR: ነው"),  # not at the start of a line
    # dialogue dashes
    (f"- {S1}\n- {S2}", f"{S1} {S2}"),
    (f"– {S1}", S1),
    (f"— {S1}", S1),
    (f"-{S1}", S1),
    ("-5 ዲግሪ ነው።", "-5 ዲግሪ ነው።"),  # a minus, not a dash
    ("ሰላም - ነው።", "ሰላም - ነው።"),  # inside the line
    (f"<i>- {S1}</i>", S1),  # tags go first
    (f"[ሳቅ] - {S1}", S1),  # descriptions go before dashes
    # joining, white space, kept text
    (f"{S1}\n{S2}", f"{S1} {S2}"),
    (f"  {S1}  \n\n   {S2}\t", f"{S1} {S2}"),
    (S5, S5),
    ("፩ ፪ ፫፣ ሰላም፤ ነው፥ አዎ፦ ነው።", "፩ ፪ ፫፣ ሰላም፤ ነው፥ አዎ፦ ነው።"),
    ("ሐሳብ ሠላም 50% Google!", "ሐሳብ ሠላም 50% Google!"),  # no other normalisation
    ("", ""),
    ("   \n ", ""),
    ("...", ""),
])
def test_clean_cue_text(raw, clean):
    assert clean_cue_text(raw) == clean


def test_emoji_only_cues_say_so_and_emoji_next_to_words_are_left_out_of_the_text():
    from amharic_tts.data.sources import _cue
    from amharic_tts.text.normalize import normalize

    emoji = ["😂😂😂", "👍🏽", "❤️", "🇪🇹 🇪🇹", "👨‍👩‍👧", "- 🙏", "<i>🔥</i>", "😀!!!", "#️⃣ ‼️"]
    blocks = [f"{i + 1}\n00:00:{i:02d},000 --> 00:00:{i:02d},900\n{raw}\n" for i, raw in
              enumerate([*emoji, f"{S1} 😂", f"👋{S2}👋", "..."])]
    cues = parse_srt_text("\n".join(blocks))
    assert [c.problem for c in cues] == ["emoji_only"] * len(emoji) + [None, None, "no_speakable_text"]
    assert all(c.text == "" for c in cues[:len(emoji)]) and cues[3].raw_text == "🇪🇹 🇪🇹"
    # kept with their words; the text that is trained on (normalised, as the sources do it) has no emoji
    inputs = [_cue(c.index, c.start, c.end, c.text, c.raw_text, c.problem, normalize) for c in cues]
    assert [(c.text, c.problem) for c in inputs[len(emoji):len(emoji) + 2]] == [(normalize(S1), None),
                                                                                (normalize(S2), None)]
    assert "😂" not in inputs[len(emoji)].text and "👋" not in inputs[len(emoji) + 1].text
    assert [c.problem for c in inputs[:len(emoji)]] == ["emoji_only"] * len(emoji)


def test_cue_and_srtfile_fields():
    cue = Cue(index=3, start=1.0, end=2.0, text=S1, raw_text=S1, problem=None)
    assert (cue.index, cue.start, cue.end, cue.text, cue.raw_text, cue.problem) == (3, 1.0, 2.0, S1, S1, None)
    assert SrtFile(path="a.srt", encoding="utf-8", cues=[cue]).cues == [cue]
