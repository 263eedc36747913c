import copy

import pytest
import torch

from amharic_tts.model.base import build_t3, load_t3_config
from amharic_tts.model.loss import t3_logits, t3_loss
from amharic_tts.model.vocab import (
    ExtendedEmbedding,
    ExtendedLinear,
    LoraOptions,
    TrainableOptions,
    apply_lora,
    configure_trainable,
    extend_text_vocab,
    merge_lora,
    trainable_summary,
)
from amharic_tts.testing.batches import random_batch

NEW_SIZE = 2454 + 300


def test_logits_for_old_ids_are_bit_identical_after_extension(t3):
    # frozen like the extended model's base rows: torch's matmul picks its kernel by whether a weight requires
    # grad (even under no_grad), and another kernel may round differently
    base = copy.deepcopy(t3).eval().requires_grad_(False)
    extended = extend_text_vocab(t3, NEW_SIZE).eval()
    batch = random_batch(base, [9, 5, 12], [30, 18, 24], seed=1)
    with torch.no_grad():
        base_text, base_speech = t3_logits(base, batch)
        text, speech = t3_logits(extended, batch)
    assert text.shape[-1] == NEW_SIZE and base_text.shape[-1] == 2454
    assert torch.equal(speech, base_speech)
    assert torch.equal(text[..., :2454], base_text)
    assert extended.hp.text_tokens_dict_size == NEW_SIZE and not extended.hp.is_multilingual


def test_new_rows_start_at_the_mean_of_pretrained_rows(t3):
    emb, head = t3.text_emb.weight.detach().clone(), t3.text_head.weight.detach().clone()
    extend_text_vocab(t3, NEW_SIZE, noise_std=0.0)
    assert torch.allclose(t3.text_emb.new_weight, emb.mean(0).expand(300, -1))
    assert torch.allclose(t3.text_head.new_weight, head.mean(0).expand(300, -1))


def test_new_rows_from_a_mapping_and_noise(t3):
    pristine = copy.deepcopy(t3)
    emb = t3.text_emb.weight.detach().clone()
    extend_text_vocab(t3, NEW_SIZE, init_from={2454: [10, 20], 2455: [7]}, noise_std=0.0)
    assert torch.allclose(t3.text_emb.new_weight[0], emb[[10, 20]].mean(0))
    assert torch.allclose(t3.text_emb.new_weight[1], emb[7])
    assert torch.allclose(t3.text_emb.new_weight[2], emb.mean(0))

    rows = extend_text_vocab(copy.deepcopy(pristine), NEW_SIZE, noise_std=0.1, seed=3).text_emb.new_weight
    assert not torch.equal(rows[0], rows[1])  # noise breaks the symmetry between new tokens
    relative_spread = ((rows - emb.mean(0)).std(0) / emb.std(0)).mean().item()
    assert 0.07 < relative_spread < 0.13
    again = extend_text_vocab(copy.deepcopy(pristine), NEW_SIZE, noise_std=0.1, seed=3).text_emb.new_weight
    assert torch.equal(again, rows)  # seeded


def test_extension_rejects_bad_requests(t3):
    with pytest.raises(ValueError, match="smaller"):
        extend_text_vocab(copy.deepcopy(t3), 2000)
    with pytest.raises(ValueError, match="not a new id"):
        extend_text_vocab(copy.deepcopy(t3), NEW_SIZE, init_from={5: [1]})
    with pytest.raises(ValueError, match="outside the pretrained vocabulary"):
        extend_text_vocab(copy.deepcopy(t3), NEW_SIZE, init_from={2454: [99999]})
    extend_text_vocab(t3, NEW_SIZE)
    with pytest.raises(ValueError, match="already extended"):
        extend_text_vocab(t3, NEW_SIZE + 1)


def test_frozen_rows_stay_bit_identical_under_adamw_decay_clipping_amp_accumulation(t3):
    base_emb, base_head = t3.text_emb.weight.detach().clone(), t3.text_head.weight.detach().clone()
    extend_text_vocab(t3, NEW_SIZE)
    configure_trainable(t3, TrainableOptions(freeze_base_text_rows=True))
    t3.train()
    params = [p for p in t3.parameters() if p.requires_grad]
    assert all(p is not t3.text_emb.base_weight and p is not t3.text_head.base_weight for p in params)
    optimizer = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1)
    new_before = t3.text_emb.new_weight.detach().clone()
    accumulation = 2
    for step in range(3):
        for micro in range(accumulation):
            # text ids from the whole extended vocabulary: old and new rows receive gradient
            batch = random_batch(t3, [10, 7], [16, 12], seed=10 * step + micro, text_vocab=NEW_SIZE)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = t3_loss(t3, batch, text_loss_weight=1.0)
            (out.loss / accumulation).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
    assert torch.equal(t3.text_emb.base_weight, base_emb)
    assert torch.equal(t3.text_head.base_weight, base_head)
    assert t3.text_emb.base_weight.grad is None
    assert not torch.equal(t3.text_emb.new_weight, new_before)


def test_unfrozen_base_rows_do_train(t3):
    extend_text_vocab(t3, NEW_SIZE, freeze_base_rows=False)
    configure_trainable(t3, TrainableOptions(freeze_base_text_rows=False))
    before = t3.text_emb.base_weight.detach().clone()
    optimizer = torch.optim.AdamW([p for p in t3.parameters() if p.requires_grad], lr=1e-2)
    t3_loss(t3.train(), random_batch(t3, [10], [12], text_vocab=2454), text_loss_weight=1.0).loss.backward()
    optimizer.step()
    assert not torch.equal(t3.text_emb.base_weight, before)


def test_saved_model_loads_into_upstream_t3_strictly(t3, tiny_base_dir):
    extend_text_vocab(t3, NEW_SIZE)
    with torch.no_grad():
        t3.text_emb.new_weight.add_(1.0)  # make sure trained rows are what gets saved
    state = t3.state_dict()
    assert state["text_emb.weight"].shape == (NEW_SIZE, 1024)
    assert state["text_head.weight"].shape == (NEW_SIZE, 1024)
    assert not any("base_weight" in k or "new_weight" in k for k in state)

    config = load_t3_config(tiny_base_dir)
    config.text_tokens_dict_size = NEW_SIZE
    upstream = build_t3(config)  # upstream chatterbox T3 with plain nn.Embedding / nn.Linear
    assert type(upstream.text_emb) is torch.nn.Embedding
    upstream.load_state_dict(state, strict=True)
    batch = random_batch(t3, [6, 9], [11, 8], text_vocab=NEW_SIZE, seed=2)
    with torch.no_grad():
        ours, upstream_out = t3_logits(t3.eval(), batch), t3_logits(upstream.eval(), batch)
    assert torch.allclose(ours[0], upstream_out[0], atol=1e-5)
    assert torch.equal(ours[1], upstream_out[1])

    # and back: a plain checkpoint of size N loads into an extended model (resume)
    again = extend_text_vocab(build_t3(load_t3_config(tiny_base_dir)), NEW_SIZE)
    again.load_state_dict(state, strict=True)
    assert torch.equal(again.text_emb.new_weight, t3.text_emb.new_weight)
    with pytest.raises(RuntimeError, match="size mismatch for text_emb.weight"):
        extend_text_vocab(build_t3(load_t3_config(tiny_base_dir)), NEW_SIZE + 1).load_state_dict(state)


def test_extended_modules_behave_like_the_modules_they_replace():
    torch.manual_seed(0)
    base, new = torch.randn(5, 4), torch.randn(3, 4)
    emb, lin = ExtendedEmbedding(base, new), ExtendedLinear(base, new)
    full = torch.cat([base, new])
    ids = torch.tensor([[0, 4, 5, 7]])
    assert torch.equal(emb(ids), torch.nn.functional.embedding(ids, full))
    x = torch.randn(2, 4)
    assert torch.allclose(lin(x), x @ full.T)
    assert (emb.num_embeddings, emb.embedding_dim, lin.in_features, lin.out_features) == (8, 4, 4, 8)


def test_freeze_options_choose_what_trains(t3):
    extend_text_vocab(t3, NEW_SIZE)
    summary = trainable_summary(configure_trainable(t3, TrainableOptions(freeze_backbone=True)))
    assert summary["backbone"][0] == 0 and summary["speech"][0] == summary["speech"][1] > 0
    assert summary["base_text_rows"][0] == 0 and summary["new_text_rows"][0] == 300 * 1024 * 2
    only_new = trainable_summary(configure_trainable(t3, TrainableOptions(only_new_text_rows=True)))
    assert {g: n for g, (n, _) in only_new.items() if n} == {"new_text_rows": 300 * 1024 * 2}
    total = sum(p.numel() for p in t3.parameters())
    assert sum(total for _, total in only_new.values()) == total  # every parameter is in one group


def test_lora_trains_adapters_only_and_merges_to_plain_weights(t3):
    extend_text_vocab(t3, NEW_SIZE)
    apply_lora(t3, LoraOptions(r=4, alpha=8, dropout=0.0))
    configure_trainable(t3, TrainableOptions(freeze_speech=True, freeze_conditioning=True,
                                             freeze_text_positions=True))
    trainable = {n for n, p in t3.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.endswith("new_weight") for n in trainable)
    assert any("lora_A" in n for n in trainable)
    frozen_backbone = {n: p.detach().clone() for n, p in t3.named_parameters() if "base_layer" in n}
    optimizer = torch.optim.AdamW([p for p in t3.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    t3.train()
    for step in range(3):
        t3_loss(t3, random_batch(t3, [8, 6], [14, 10], seed=step, text_vocab=NEW_SIZE)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    for name, param in t3.named_parameters():
        if name in frozen_backbone:
            assert torch.equal(param, frozen_backbone[name]), name
    batch = random_batch(t3, [7], [9], seed=9, text_vocab=NEW_SIZE)
    with torch.no_grad():
        before = t3_logits(t3.eval(), batch)[1]
    merge_lora(t3)
    with torch.no_grad():
        after = t3_logits(t3, batch)[1]
    assert torch.allclose(before, after, atol=1e-4)
    assert not torch.equal(t3.tfmr.layers[0].self_attn.q_proj.weight,
                           frozen_backbone["tfmr.base_model.model.layers.0.self_attn.q_proj.base_layer.weight"])
    assert set(t3.state_dict()) == set(build_t3(t3.hp).state_dict())


def test_extension_for_a_built_tokenizer_uses_transliteration_by_default(t3, built_tokenizer):
    from amharic_tts.model.vocab import extend_for_tokenizer
    from amharic_tts.text.tokenizer import AmharicTokenizer

    tokenizer = AmharicTokenizer.from_dir(built_tokenizer[0])
    pristine = t3.text_emb.weight.detach().clone()
    extend_for_tokenizer(t3, tokenizer, noise_std=0.0)
    assert t3.text_emb.num_embeddings == tokenizer.vocab_size == t3.hp.text_tokens_dict_size
    vocab = tokenizer.tokenizer.get_vocab()
    se = tokenizer.tokenizer.encode("se").ids
    row = t3.text_emb.weight[vocab["ሰ"]]
    assert torch.allclose(row, pristine[se].mean(0))
    assert not torch.allclose(t3.text_emb.weight[vocab["ጠ"]], t3.text_emb.weight[vocab["ተ"]])
    assert torch.allclose(t3.text_emb.weight[vocab["[am]"]], pristine.mean(0))  # no transliteration: mean

    mean_init = extend_for_tokenizer(_unextended(t3), tokenizer, init="mean", noise_std=0.0)
    assert torch.allclose(mean_init.text_emb.weight[vocab["ሰ"]], pristine.mean(0))
    with pytest.raises(ValueError, match="init must be"):
        extend_for_tokenizer(_unextended(t3), tokenizer, init="magic")


def _unextended(t3):
    model = copy.deepcopy(t3)
    model.text_emb = torch.nn.Embedding.from_pretrained(t3.text_emb.base_weight.detach().clone(), freeze=False)
    model.text_head = torch.nn.Linear(1024, 2454, bias=False)
    model.text_head.weight.data.copy_(t3.text_head.base_weight.detach())
    model.hp.text_tokens_dict_size = 2454
    return model
