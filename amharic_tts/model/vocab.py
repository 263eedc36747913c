"""Extend T3's text vocabulary for Amharic, keep the pretrained rows frozen, choose what trains (incl. LoRA).

Why not ``nn.Embedding.weight.requires_grad`` plus zeroed gradients for the old rows? AdamW's weight decay (and
momentum from earlier steps) still moves rows whose gradient is zero. Here the text embedding and the text head
are each split into two parameters, the pretrained ``base_weight`` (2454 rows, ``requires_grad=False``: the
optimizer never receives it) and the trainable ``new_weight``. ``state_dict()`` still holds one ordinary
``text_emb.weight`` / ``text_head.weight`` tensor of shape (N, 1024), so a saved model loads into upstream
``T3(T3Config(text_tokens_dict_size=N))`` with ``load_state_dict(strict=True)``.

Logits of the extended head are ``cat(x @ base_weight.T, x @ new_weight.T)``: for inputs that use only old ids,
embeddings, hidden states, speech logits and the first 2454 text logits are bit-identical to the base model's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class _SplitRows(nn.Module):
    """A (rows, dim) weight kept as a frozen-able ``base_weight`` and a trainable ``new_weight``.

    Saved and loaded as one ``weight`` tensor, exactly like the nn.Embedding / nn.Linear it replaces.
    """

    def __init__(self, base_weight: torch.Tensor, new_weight: torch.Tensor, *, freeze_base: bool = True):
        super().__init__()
        if base_weight.shape[1:] != new_weight.shape[1:]:
            raise ValueError(f"row shapes differ: {tuple(base_weight.shape)} vs {tuple(new_weight.shape)}")
        self.base_weight = nn.Parameter(base_weight.detach().clone(), requires_grad=not freeze_base)
        self.new_weight = nn.Parameter(new_weight.detach().clone())

    @property
    def num_base_rows(self) -> int:
        return self.base_weight.shape[0]

    @property
    def num_rows(self) -> int:
        return self.base_weight.shape[0] + self.new_weight.shape[0]

    @property
    def weight(self) -> torch.Tensor:
        """The full (rows, dim) matrix, differentiable with respect to the trainable part."""
        return torch.cat([self.base_weight, self.new_weight], dim=0)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        weight = self.weight
        destination[prefix + "weight"] = weight if keep_vars else weight.detach()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "weight"
        if key not in state_dict:
            missing_keys.append(key)
            return
        weight = state_dict[key]
        expected = (self.num_rows, *self.base_weight.shape[1:])
        if tuple(weight.shape) != expected:
            error_msgs.append(f"size mismatch for {key}: checkpoint {tuple(weight.shape)}, model {expected}")
            return
        with torch.no_grad():
            self.base_weight.copy_(weight[: self.num_base_rows])
            self.new_weight.copy_(weight[self.num_base_rows:])
        for name in state_dict:
            if name.startswith(prefix) and name != key and "." not in name[len(prefix):]:
                unexpected_keys.append(name)


class ExtendedEmbedding(_SplitRows):
    """Drop-in for ``nn.Embedding(N, dim)`` whose first rows come from a pretrained table."""

    @property
    def num_embeddings(self) -> int:
        return self.num_rows

    @property
    def embedding_dim(self) -> int:
        return self.base_weight.shape[1]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_base_rows}+{self.num_rows - self.num_base_rows}, {self.embedding_dim}"


class ExtendedLinear(_SplitRows):
    """Drop-in for ``nn.Linear(dim, N, bias=False)`` whose first output rows come from a pretrained head."""

    @property
    def in_features(self) -> int:
        return self.base_weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.num_rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Two products rather than one on the concatenated matrix: the base logits are then computed exactly as
        # the unextended head computes them (same shapes, same kernels), so they stay bit-identical.
        return torch.cat([F.linear(x, self.base_weight), F.linear(x, self.new_weight)], dim=-1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.num_base_rows}+{self.num_rows - self.num_base_rows}"


def _new_rows(base: torch.Tensor, count: int, *, init_from: Mapping[int, Sequence[int]], first_id: int,
              noise_std: float, generator: torch.Generator) -> torch.Tensor:
    """Rows for ids ``first_id .. first_id+count-1``: the mean of the pretrained rows (or of the rows named in
    ``init_from[new_id]``) plus Gaussian noise of ``noise_std`` times the per-dimension std of the base rows."""
    base = base.detach().float()
    rows = base.mean(dim=0, keepdim=True).repeat(count, 1)
    for new_id, old_ids in init_from.items():
        index = new_id - first_id
        if not 0 <= index < count:
            raise ValueError(f"init_from names id {new_id}, which is not a new id ({first_id}..{first_id + count - 1})")
        old = torch.as_tensor(list(old_ids), dtype=torch.long)
        if old.numel() == 0:
            continue
        if old.min() < 0 or old.max() >= base.shape[0]:
            raise ValueError(f"init_from[{new_id}] names ids outside the pretrained vocabulary (0..{base.shape[0] - 1})")
        rows[index] = base[old].mean(dim=0)
    if noise_std > 0 and count:
        std = base.std(dim=0, keepdim=True)
        rows += noise_std * std * torch.randn(rows.shape, generator=generator)
    return rows


def extend_text_vocab(
    t3,
    new_size: int,
    *,
    init_from: Mapping[int, Sequence[int]] | None = None,
    noise_std: float = 0.1,
    freeze_base_rows: bool = True,
    seed: int = 0,
):
    """Grow ``t3.text_emb`` / ``t3.text_head`` from the base size (2454) to ``new_size`` rows, in place.

    New rows start at the mean of the pretrained rows (or, for ids in ``init_from``, at the mean of the listed
    old ids' rows) plus small noise. With ``freeze_base_rows`` the pretrained rows never reach the optimizer.
    ``t3.hp.text_tokens_dict_size`` becomes ``new_size``. Returns ``t3``.
    """
    if isinstance(t3.text_emb, ExtendedEmbedding):
        raise ValueError("this T3's text vocabulary is already extended")
    old_size = t3.text_emb.num_embeddings
    if new_size < old_size:
        raise ValueError(f"new vocabulary size {new_size} is smaller than the pretrained one ({old_size})")
    if t3.text_head.bias is not None:
        raise ValueError("text_head with a bias is not supported (upstream's Llama T3 has none)")
    count = new_size - old_size
    generator = torch.Generator().manual_seed(seed)
    init_from = dict(init_from or {})
    emb, head = t3.text_emb.weight, t3.text_head.weight
    t3.text_emb = ExtendedEmbedding(
        emb, _new_rows(emb, count, init_from=init_from, first_id=old_size, noise_std=noise_std,
                       generator=generator).to(emb), freeze_base=freeze_base_rows)
    t3.text_head = ExtendedLinear(
        head, _new_rows(head, count, init_from=init_from, first_id=old_size, noise_std=noise_std,
                        generator=generator).to(head), freeze_base=freeze_base_rows)
    t3.hp.text_tokens_dict_size = new_size
    logger.info("Extended the text vocabulary %d -> %d (%s pretrained rows)", old_size, new_size,
                "frozen" if freeze_base_rows else "trainable")
    return t3


def extend_for_tokenizer(t3, tokenizer, *, init: str = "auto", noise_std: float = 0.1, freeze_base_rows: bool = True,
                         seed: int = 0):
    """Extend ``t3`` to ``tokenizer.vocab_size`` rows (an :class:`~amharic_tts.text.tokenizer.AmharicTokenizer`:
    the vocabulary size comes from the tokenizer directory, never from a hand-typed number).

    ``init``: ``"transliteration"`` starts each new row at the mean of the base rows of its Latin transliteration
    (``ጠ`` -> ``t'e``); ``"mean"`` at the mean of all pretrained rows; ``"auto"`` (default) picks transliteration
    when the base is the multilingual Chatterbox vocabulary (2454 ids, whose Latin rows are trained), else mean.
    """
    if init not in ("auto", "transliteration", "mean"):
        raise ValueError(f"init must be 'auto', 'transliteration' or 'mean', got {init!r}")
    base_size = t3.text_emb.num_embeddings
    if base_size != tokenizer.base_vocab_size:
        raise ValueError(f"the tokenizer was merged into a {tokenizer.base_vocab_size}-id base, but this T3 has "
                         f"{base_size} text rows: build the tokenizer from the same base model")
    if init == "auto":
        init = "transliteration" if base_size == 2454 else "mean"
    init_from = None
    if init == "transliteration":
        from amharic_tts.text.transliterate import transliteration_init_map

        init_from = transliteration_init_map(tokenizer)
    return extend_text_vocab(t3, tokenizer.vocab_size, init_from=init_from, noise_std=noise_std,
                             freeze_base_rows=freeze_base_rows, seed=seed)


# --------------------------------------------------------------------------------------------- what trains


@dataclass
class TrainableOptions:
    """Which parts of the extended T3 train. Every ``freeze_*`` is a group of parameters; the new text rows always
    train. ``only_new_text_rows`` overrides everything else (a cheap first stage that teaches only the letters)."""

    freeze_base_text_rows: bool = field(default=True, metadata={"help": "keep the 2454 pretrained text rows fixed"})
    freeze_backbone: bool = field(default=False, metadata={"help": "freeze the Llama backbone (implied by LoRA)"})
    freeze_conditioning: bool = field(default=False, metadata={"help": "freeze speaker/prompt/emotion encoders"})
    freeze_speech: bool = field(default=False, metadata={"help": "freeze speech embedding, head, positions"})
    freeze_text_positions: bool = field(default=False, metadata={"help": "freeze the text position embedding"})
    only_new_text_rows: bool = field(default=False, metadata={"help": "train the new text rows and nothing else"})


@dataclass
class LoraOptions:
    """LoRA adapters on the Llama backbone (through ``peft``); the backbone's own weights are then frozen."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LORA_TARGET_MODULES


def parameter_groups(t3) -> dict[str, list[nn.Parameter]]:
    """T3's parameters by role. Every parameter lands in exactly one group."""
    groups: dict[str, list[nn.Parameter]] = {
        "new_text_rows": [], "base_text_rows": [], "text_positions": [], "speech": [], "conditioning": [],
        "backbone": [],
    }
    for name, param in t3.named_parameters():
        if name.endswith("new_weight"):
            groups["new_text_rows"].append(param)
        elif name.startswith(("text_emb.", "text_head.")):
            groups["base_text_rows"].append(param)
        elif name.startswith("text_pos_emb."):
            groups["text_positions"].append(param)
        elif name.startswith(("speech_emb.", "speech_head.", "speech_pos_emb.")):
            groups["speech"].append(param)
        elif name.startswith("cond_enc."):
            groups["conditioning"].append(param)
        elif name.startswith("tfmr."):
            groups["backbone"].append(param)
        else:
            raise ValueError(f"parameter {name} belongs to no known T3 part")
    return groups


def configure_trainable(t3, options: TrainableOptions | None = None):
    """Set ``requires_grad`` on every T3 parameter according to ``options``. LoRA adapters (added by
    :func:`apply_lora`) stay trainable and the backbone under them stays frozen. Returns ``t3``."""
    options = options or TrainableOptions()
    if not isinstance(t3.text_emb, ExtendedEmbedding):
        raise ValueError("extend the text vocabulary (extend_text_vocab) before choosing what trains")
    frozen = {
        "new_text_rows": False,
        "base_text_rows": options.freeze_base_text_rows,
        "text_positions": options.freeze_text_positions,
        "speech": options.freeze_speech,
        "conditioning": options.freeze_conditioning,
        "backbone": options.freeze_backbone,
    }
    if options.only_new_text_rows:
        frozen = {group: group != "new_text_rows" for group in frozen}
    lora = has_lora(t3)
    for group, params in parameter_groups(t3).items():
        for param in params:
            if group == "backbone" and lora:
                continue  # peft decides: adapters train, wrapped weights stay frozen
            param.requires_grad_(not frozen[group])
    if lora and options.only_new_text_rows:
        for param in parameter_groups(t3)["backbone"]:
            param.requires_grad_(False)
    return t3


def trainable_summary(t3) -> dict[str, tuple[int, int]]:
    """``{group: (trainable, total)}`` parameter counts, for logs and model cards."""
    return {
        group: (sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))
        for group, params in parameter_groups(t3).items()
    }


def trainable_table(t3) -> str:
    """What a configuration trains, as a table for the start of a run: parameters by group (LoRA adapters apart
    from the backbone weights they adapt), trainable and frozen."""
    rows: dict[str, list[int]] = {}  # group -> [trainable, total]
    lora_names = {id(p) for name, p in t3.named_parameters() if "lora_" in name}
    for group, params in parameter_groups(t3).items():
        for param in params:
            name = "lora_adapters" if id(param) in lora_names else group
            counts = rows.setdefault(name, [0, 0])
            counts[0] += param.numel() if param.requires_grad else 0
            counts[1] += param.numel()
    trainable = sum(t for t, _ in rows.values())
    total = sum(n for _, n in rows.values())
    lines = [f"{'parameters':<16}{'trainable':>14}{'frozen':>14}"]
    for name, (t, n) in rows.items():
        lines.append(f"{name:<16}{t:>14,}{n - t:>14,}")
    lines.append(f"{'total':<16}{trainable:>14,}{total - trainable:>14,}  ({100 * trainable / max(1, total):.1f}% "
                 "trains)")
    return "\n".join(lines)


def has_lora(t3) -> bool:
    from peft import PeftModel

    return isinstance(t3.tfmr, PeftModel)


def apply_lora(t3, options: LoraOptions | None = None):
    """Wrap ``t3.tfmr`` with LoRA adapters (``peft.get_peft_model``): only the adapters of the backbone train.
    Call :func:`merge_lora` before exporting to get plain Llama weights back. Returns ``t3``."""
    from peft import LoraConfig, get_peft_model

    options = options or LoraOptions()
    if has_lora(t3):
        raise ValueError("this T3 already has LoRA adapters")
    config = LoraConfig(r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
                        target_modules=list(options.target_modules), bias="none")
    t3.tfmr = get_peft_model(t3.tfmr, config)
    return t3


def merge_lora(t3):
    """Fold LoRA adapters into the backbone weights (``merge_and_unload``); a no-op without LoRA. Returns ``t3``."""
    if has_lora(t3):
        t3.tfmr = t3.tfmr.merge_and_unload()
    return t3
