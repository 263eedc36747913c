import torch

from amharic_tts.model.base import load_s3_tokenizer, load_s3gen
from amharic_tts.testing import tiny_base


def test_cli_writes_a_directory_laid_out_like_the_real_repo(tmp_path, capsys):
    assert tiny_base.main([str(tmp_path / "b"), "--without", "s3gen", "ve"]) == 0
    names = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert names == ["grapheme_mtl_merged_expanded_v1.json", "t3_config.json", "t3_mtl23ls_v2.safetensors",
                     "t3_mtl23ls_v3.safetensors"]
    assert "t3_mtl23ls_v3.safetensors" in capsys.readouterr().out


def test_tiny_base_is_deterministic_given_the_seed(tmp_path):
    a = tiny_base.build_tiny_base(tmp_path / "a", components=["tokenizer"])
    b = tiny_base.build_tiny_base(tmp_path / "b", components=["tokenizer"])
    name = "grapheme_mtl_merged_expanded_v1.json"
    assert (a / name).read_bytes() == (b / name).read_bytes()
    assert torch.equal(tiny_base.tiny_t3(seed=1).speech_head.weight, tiny_base.tiny_t3(seed=1).speech_head.weight)
    assert not torch.equal(tiny_base.tiny_t3(seed=1).speech_head.weight, tiny_base.tiny_t3(seed=2).speech_head.weight)


def test_s3gen_stand_in_loads_with_upstreams_class(tiny_base_dir):
    saved = torch.load(tiny_base_dir / "s3gen.pt", weights_only=True)
    s3gen = load_s3gen(tiny_base_dir)
    key = next(k for k, v in saved.items() if v.is_floating_point() and v.numel() > 1000)
    assert torch.equal(s3gen.state_dict()[key], saved[key].float())
    assert sum(p.numel() for p in s3gen.parameters()) > 200_000_000  # real size: the real code path
    # feature extraction reads only the S3 tokenizer's tensors, and gets the same weights
    tokenizer = load_s3_tokenizer(tiny_base_dir)
    assert len(tokenizer.state_dict()) > 100
    for name, value in tokenizer.state_dict().items():
        assert torch.equal(value, s3gen.tokenizer.state_dict()[name]), name
