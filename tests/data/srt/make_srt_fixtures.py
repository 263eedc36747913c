"""Write the subtitle fixtures of ``tests/data/test_srt.py``: one small ``.srt`` per quirk, next to this script.

Run ``python tests/data/srt/make_srt_fixtures.py`` after changing a fixture here; the written files are
committed, so the tests do not depend on this script running. Everything is deterministic (the random bytes of
``not_subtitles.srt`` come from a fixed seed), so running it again rewrites identical files.
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

S1 = "ሰላም ነው።"
S2 = "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።"
S3 = "ዛሬ የአየሩ ሁኔታ በጣም ጥሩ ነው።"
S4 = "እንኳን ደህና መጣችሁ፣ ውድ ተመልካቾች።"
S5 = "ትምህርቱ በ Python ቋንቋ ይሰጣል፤ ጥያቄ አለ?"

# Three plain cues, used by every encoding fixture.
BASIC = f"""1
00:00:01,000 --> 00:00:03,500
{S1}

2
00:00:04,000 --> 00:00:06,250
{S2}

3
00:00:07,125 --> 00:00:10,000
{S3}
"""

LEGACY = """1
00:00:01,000 --> 00:00:02,500
Café à la crème, s'il vous plaît.

2
00:00:03,000 --> 00:00:05,000
Le garçon apporte le crème brûlée à côté de la fenêtre.

3
00:00:05,500 --> 00:00:07,000
Déjà vu: naïve señor, Müller über Straße.
"""

NO_INDEX = f"""00:00:01,000 --> 00:00:02,000
{S1}

2
00:00:02,500 --> 00:00:04,000
{S2}

00:00:04,500 --> 00:00:06,000
{S3}
"""

DOT_MILLIS = f"""1
00:00:01.500 --> 00:00:02.750
{S1}

2
00:00:03.000 --> 00:00:04,250
{S2}
"""

# Fraction digits, arrow spacing, tabs, position coordinates, trailing spaces, a white-space-only separator.
TIMESTAMP_VARIANTS = (
    "1\n"
    "00:00:01,5 --> 00:00:02,25\n"
    f"{S1}\n"
    "\n"
    "2  \n"
    "00:00:03,1234   -->   00:00:04,0006  \n"
    f"{S2}  \n"
    "   \n"
    "3\n"
    "0:00:05 --> 0:00:06:500 X1:100 X2:600 Y1:50 Y2:80\n"
    f"{S3}\n"
    "\n"
    "4\n"
    "01:02:03,004\t->\t01:02:04,999\n"
    f"{S4}\n"
)

TAGS = f"""1
00:00:01,000 --> 00:00:02,000
<i>{S1}</i>

2
00:00:02,000 --> 00:00:03,000
<font color="#ff0000">አዲስ አበባ</font> <b>የኢትዮጵያ</b> <u>ዋና ከተማ ናት።</u>

3
00:00:03,000 --> 00:00:04,000
{{\\an8}}{S3}

4
00:00:04,000 --> 00:00:05,000
{{\\i1}}እንኳን{{\\i0}} ደህና መጣችሁ፣{{\\pos(10,20)}} ውድ ተመልካቾች።
"""

DASHES = f"""1
00:00:01,000 --> 00:00:03,000
- {S1}
- እሺ፣ አመሰግናለሁ።

2
00:00:03,500 --> 00:00:05,000
– አዲስ አበባ የኢትዮጵያ
ዋና ከተማ ናት።

3
00:00:05,500 --> 00:00:07,000
— {S3}
— እውነት ነው።

4
00:00:07,500 --> 00:00:09,000
NARRATOR: {S4}
- DR. ABEBE: -5 ዲግሪ ነው።
"""

SOUND_DESCRIPTIONS = f"""1
00:00:01,000 --> 00:00:02,000
[ሙዚቃ]

2
00:00:02,500 --> 00:00:04,000
(ሳቅ) {S1}

3
00:00:04,500 --> 00:00:06,000
[MUSIC]
{S2} (applause)

4
00:00:06,500 --> 00:00:08,000
♪ ላላ ላላ ♪

5
00:00:08,500 --> 00:00:10,000
♫ {S3}

6
00:00:10,500 --> 00:00:12,000
(ጭብጨባ)
[ሙዚቃ ይሰማል]
"""

OVERLAPPING = f"""1
00:00:01,000 --> 00:00:04,000
{S1}

2
00:00:02,000 --> 00:00:03,000
{S2}

3
00:00:00,500 --> 00:00:05,000
{S3}
"""

ZERO_LENGTH = f"""1
00:00:01,000 --> 00:00:02,000
{S1}

2
00:00:03,000 --> 00:00:03,000
{S2}

3
00:00:05,000 --> 00:00:04,000
{S3}
"""

EMPTY_CUE = f"""1
00:00:01,000 --> 00:00:02,000
{S1}

2
00:00:02,500 --> 00:00:03,000

3
00:00:03,500 --> 00:00:05,000
{S3}
"""

MALFORMED_TIMESTAMP = f"""1
00:00:01,000 --> 00:00:02,000
{S1}

2
00:00:aa,000 --> 00:00:02,000
{S2}

3
00:00:03,000 --> 00:00:04,000
{S3}

4
00:00:05,000 00:00:06,000
{S4}

5
00:00:07,000 --> 00:00:0a,000
{S5}

6
00:00:08,000 --> 00:00:09,000
{S1}
"""

# A realistic file: UTF-8 BOM, CRLF, a title block, tags, a missing index, "." millis, position coordinates,
# trailing spaces, a white-space-only separator, two blank lines, a sound-only cue, a speaker label, an empty
# cue, a malformed block, two cues with no blank line between them, and no newline at the end.
MIXED = (
    "SUBTITLES BY AMHARIC FILM CLUB\n"
    "\n"
    "1\n"
    "00:00:00,500 --> 00:00:02,000\n"
    "[ሙዚቃ]\n"
    "\n"
    "\n"
    "2\n"
    "00:00:02.100 --> 00:00:04.900   X1:120 X2:560 Y1:400 Y2:450\n"
    f"<i>{S4}</i>   \n"
    "   \n"
    "00:00:05,000 --> 00:00:07,250\n"
    f"- {S1}\n"
    "- NARRATOR: (ሳቅ) አዎ።\n"
    "\n"
    "4\n"
    "00:00:07,500 --> 00:00:07,500\n"
    f"{S2}\n"
    "\n"
    "5\n"
    "00:00:08,000 --> 00:00:09,000\n"
    "\n"
    "6\n"
    "00:00:09;000 --> 00:00:10,000\n"
    f"{{\\an8}}{S3}\n"
    "\n"
    "7\n"
    "00:00:10,000 --> 00:00:12,000\n"
    f"{S5}\n"
    "8\n"
    "00:00:12,500 --> 00:00:14,000\n"
    "♪ ዘፈን ♪"
)


def _utf(text: str, bom: bytes, codec: str) -> bytes:
    return bom + text.encode(codec)


FIXTURES: dict[str, bytes] = {
    "utf8.srt": BASIC.encode("utf-8"),
    "utf8_bom.srt": _utf(BASIC, codecs.BOM_UTF8, "utf-8"),
    "utf16le_bom.srt": _utf(BASIC, codecs.BOM_UTF16_LE, "utf-16-le"),
    "utf16be_bom.srt": _utf(BASIC, codecs.BOM_UTF16_BE, "utf-16-be"),
    "utf32_bom.srt": _utf(BASIC, codecs.BOM_UTF32_LE, "utf-32-le"),
    "legacy_cp1252.srt": LEGACY.encode("cp1252"),
    "crlf.srt": BASIC.replace("\n", "\r\n").encode("utf-8"),
    "cr.srt": BASIC.replace("\n", "\r").encode("utf-8"),
    "no_index.srt": NO_INDEX.encode("utf-8"),
    "dot_millis.srt": DOT_MILLIS.encode("utf-8"),
    "timestamp_variants.srt": TIMESTAMP_VARIANTS.encode("utf-8"),
    "tags.srt": TAGS.encode("utf-8"),
    "dashes.srt": DASHES.encode("utf-8"),
    "sound_descriptions.srt": SOUND_DESCRIPTIONS.encode("utf-8"),
    "overlapping.srt": OVERLAPPING.encode("utf-8"),
    "zero_length.srt": ZERO_LENGTH.encode("utf-8"),
    "empty_cue.srt": EMPTY_CUE.encode("utf-8"),
    "malformed_timestamp.srt": MALFORMED_TIMESTAMP.encode("utf-8"),
    "not_subtitles.srt": random.Random(20240601).randbytes(1024),
    "empty.srt": b"",
    "mixed.srt": _utf(MIXED.replace("\n", "\r\n"), codecs.BOM_UTF8, "utf-8"),
}


def main() -> None:
    for name, data in FIXTURES.items():
        (HERE / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
