import pytest

from amharic_tts.text.tokenizer import AmharicTokenizer
from amharic_tts.text.transliterate import series_table, transliterate, transliteration_init_map


@pytest.mark.parametrize("text, latin", [
    ("ሰላም", "selam"), ("ሱ ሲ ሳ ሴ ስ ሶ ሷ", "su si sa sie s so swa"), ("አማርኛ", "amarnya"),
    ("ጤና", "t'iena"), ("ቋንቋ", "qwanqwa"), ("ኢትዮጵያ", "ityop'ya"), ("ሰላም።", "selam."),
    ("Hello ሰላም", "Hello selam"),
])
def test_transliteration(text, latin):
    assert transliterate(text) == latin


@pytest.mark.parametrize("ejective, plain", [("ጠ", "ተ"), ("ጨ", "ቸ"), ("ቀ", "ከ"), ("ጰ", "ፐ"), ("ጸ", "ሰ")])
def test_ejectives_stay_apart_from_their_plain_partners(ejective, plain):
    for order in range(7):
        a, b = chr(ord(ejective) + order), chr(ord(plain) + order)
        assert transliterate(a) != transliterate(b), (a, b)
        assert transliterate(a).lower() == transliterate(a)  # survives the base tokenizer's lowercasing


def test_every_series_in_the_table_gives_latin_for_every_order():
    for start, consonant in series_table().items():
        for order in range(7):
            assert transliterate(chr(start + order)), hex(start + order)


def test_init_map_points_new_ids_at_base_latin_rows(built_tokenizer):
    tokenizer = AmharicTokenizer.from_dir(built_tokenizer[0])
    mapping = transliteration_init_map(tokenizer)
    vocab = tokenizer.tokenizer.get_vocab()
    assert set(mapping) <= set(range(2454, tokenizer.vocab_size))
    assert all(ids and all(0 <= i < 2454 and i != tokenizer.unk_id for i in ids) for ids in mapping.values())
    assert vocab["[am]"] not in mapping
    base = tokenizer.tokenizer
    assert mapping[vocab["ሰ"]] == base.encode("se").ids
    assert mapping[vocab["ጠ"]] == base.encode("t'e").ids != mapping[vocab["ተ"]]
    piece = max((t for t in vocab if vocab[t] >= 2455 and len(t) > 2), key=lambda t: (len(t), t))
    assert mapping[vocab[piece]] == base.encode(transliterate(piece)).ids
