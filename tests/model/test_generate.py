"""Trained = spoken: every path that speaks feeds the model the layout it was trained on.

On the briefly trained smoke model, the speech logits each inference path computes step by step with its KV cache
under teacher forcing (the conditional row and CFG's unconditional row) equal the training forward's logits for
the same sample to 1e-4: ``AmharicTTS`` (what the synthesis CLI, evaluation and the studio call), the in-training
sample renderer (and so the CER scorer), and upstream's own ``T3.inference`` on the exported weights.
"""

import types

import pytest
import torch
from chatterbox.models.t3.modules.cond_enc import T3Cond
from chatterbox.mtl_tts import Conditionals

from amharic_tts.inference import GenerationConfig
from amharic_tts.model import generate as generate_module
from amharic_tts.model import loss as loss_module
from amharic_tts.model.generate import SamplingConfig, generate_speech_tokens
from amharic_tts.model.loss import T3Batch, t3_logits
from amharic_tts.formats import load_trained_t3

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def validation(smoke_run, demo_run_inputs):
    """The validation split and training split as the smoke run preprocessed them, and its evaluation collator."""
    from amharic_tts.data.prepare import load_prepared
    from amharic_tts.text.tokenizer import AmharicTokenizer
    from amharic_tts.training.args import DataArguments
    from amharic_tts.training.collator import T3Collator
    from amharic_tts.training.run import preprocess

    t3 = load_trained_t3(smoke_run / "checkpoint-12")
    tokenizer = AmharicTokenizer.from_dir(smoke_run / "tokenizer")
    data = load_prepared(str(demo_run_inputs["data"]))
    args = DataArguments(dataset=str(demo_run_inputs["data"]))
    train_set, _ = preprocess(data["train"], tokenizer, t3.hp, args)
    eval_set, _ = preprocess(data["validation"], tokenizer, t3.hp, args, split="validation", keep_audio=True)
    collator = T3Collator(eval_set, prompt_pool=train_set, start_speech=t3.hp.start_speech_token,
                          stop_speech=t3.hp.stop_speech_token, prompt_tokens=t3.hp.speech_cond_prompt_len,
                          voice_neighbours=16)
    return types.SimpleNamespace(t3=t3, eval_set=eval_set, train_set=train_set, collator=collator, tokenizer=tokenizer)


def first_sample(validation):
    """The first validation row, its evaluation batch and the upstream T3Cond of that batch's conditioning."""
    row = validation.eval_set[0]
    with validation.collator.evaluating():
        inputs = validation.collator([row])
    cond = T3Cond(speaker_emb=inputs["speaker_emb"], cond_prompt_speech_tokens=inputs["cond_prompt_speech_tokens"],
                  emotion_adv=0.5 * torch.ones(1, 1, 1))
    return row, inputs, cond


def training_logits(t3, inputs: dict, rows: int = 2) -> torch.Tensor:
    """(n+1, rows, V): the training forward's speech logits at start_speech, s1 ... sn of one collated sample, for
    the conditional row and (rows=2) the text-dropped row CFG uses as its unconditional branch."""
    batch = T3Batch(**{k: inputs[k] for k in ("text_tokens", "text_token_lens", "speech_tokens",
                                             "speech_token_lens", "speaker_emb", "cond_prompt_speech_tokens",
                                             "emotion_adv")})
    n = int(batch.speech_token_lens[0]) - 1
    out = []
    with torch.no_grad():
        for keep in (1.0, 0.0)[:rows]:
            _, speech = t3_logits(t3.eval(), T3Batch(**{**vars(batch), "text_keep": torch.tensor([keep])}))
            out.append(speech[0, :n])
    return torch.stack(out, dim=1)


class TeacherForcing:
    """Wraps the decoder so a shipped path feeds the sample's real tokens and keeps the logits it computes."""

    def __init__(self, teacher: torch.Tensor, monkeypatch):
        self.teacher, self.calls = teacher, []
        self.decode = generate_module.decode
        for module in ("amharic_tts.model.generate", "amharic_tts.inference"):
            monkeypatch.setattr(f"{module}.decode", self)

    def __call__(self, t3, requests, **kwargs):
        requests = list(requests)
        for request in requests:
            request.teacher_tokens, request.max_new_tokens = self.teacher, 10**6
        for index, result in self.decode(t3, requests, **dict(kwargs, keep_logits=True)):
            self.calls.append((requests[index], result))
            yield index, result


def test_amharic_tts_feeds_the_trained_layout(tts, validation, monkeypatch):
    """What generate, stream and stream_many (and so the CLI, evaluation and the studio) speak through."""
    row, inputs, cond = first_sample(validation)
    # the text AmharicTTS speaks is tokenised as training tokenised it
    assert tts.text_tokens(row["text"]).tolist() == row["text_ids"]
    voice = Conditionals(cond, tts.default_voice.gen)  # what AmharicTTS.voice makes of a reference clip
    teacher = TeacherForcing(inputs["speech_tokens"][0, 1:int(inputs["speech_token_lens"][0])], monkeypatch)
    (index, wav), = tts.speak([(row["text"], voice, 0, 0)], GenerationConfig())
    (request, result), = teacher.calls
    assert torch.equal(request.text_tokens, inputs["text_tokens"][0])
    expected = training_logits(tts.t3, inputs)
    assert result.logits.shape == expected.shape and result.logits.shape[1] == 2  # conditional + CFG's row
    assert (result.logits - expected).abs().max() < TOLERANCE
    assert expected.std() > 0.5  # real logits, not a degenerate model
    assert result.stopped and torch.equal(result.tokens, torch.tensor(row["speech_tokens"]))
    assert index == 0 and len(wav) == (len(row["speech_tokens"]) - 1) * 960  # vocoded, the last token left out


def test_the_in_training_sample_renderer_feeds_the_trained_layout(validation, monkeypatch):
    from amharic_tts.training.samples import SpeechRenderer

    t3 = validation.t3
    trainer = types.SimpleNamespace(
        model=types.SimpleNamespace(t3=t3), accelerator=types.SimpleNamespace(unwrap_model=lambda model: model),
        eval_collator=validation.collator, collator=None,
        args=types.SimpleNamespace(device="cpu", seed=0, sample_max_seconds=2))
    renderer = SpeechRenderer(trainer, model_args=None)
    renderer._s3gen_missing = True  # tokens only: the vocoder is not what this checks
    row, inputs, _ = first_sample(validation)
    teacher = TeacherForcing(inputs["speech_tokens"][0, 1:int(inputs["speech_token_lens"][0])], monkeypatch)
    (tokens, wav), = renderer.render([row])
    (_, result), = teacher.calls
    expected = training_logits(t3, inputs)
    assert (result.logits - expected).abs().max() < TOLERANCE
    assert wav is None and torch.equal(tokens, torch.tensor(row["speech_tokens"]))


def upstream_teacher_forced_logits(t3, text: torch.Tensor, cond, teacher: torch.Tensor) -> torch.Tensor:
    """Upstream's ``T3.inference`` as upstream's ``generate`` calls it (two rows, its default initial
    start_speech), with torch.multinomial answering the teacher's tokens: the logits its speech head computed."""
    seen, step = [], iter(teacher.tolist())
    hook = t3.speech_head.register_forward_hook(lambda module, args, output: seen.append(output[:, -1].clone()))
    original = torch.multinomial
    try:
        torch.multinomial = lambda probs, num_samples: torch.tensor([[next(step)]])
        t3.inference(t3_cond=cond, text_tokens=torch.stack([text, text]), max_new_tokens=len(teacher),
                     cfg_weight=0.5)
    finally:
        torch.multinomial = original
        hook.remove()
        if "patched_model" in t3._modules:
            del t3.patched_model
    return torch.stack(seen)


def test_upstream_t3_inference_on_the_exported_weights_sees_the_trained_layout(tts, validation, monkeypatch):
    """A user who loads t3_am.safetensors into upstream T3 and calls upstream's inference gets what was trained;
    with the one-start_speech layout earlier versions trained on, the same check fails."""
    row, inputs, cond = first_sample(validation)
    text = inputs["text_tokens"][0]
    teacher = inputs["speech_tokens"][0, 1:int(inputs["speech_token_lens"][0])]
    upstream = upstream_teacher_forced_logits(tts.t3, text, cond, teacher)
    assert (upstream - training_logits(tts.t3, inputs)).abs().max() < TOLERANCE
    monkeypatch.setattr(loss_module, "SPEECH_BOS_COPIES", 1)  # what training fed before
    assert (upstream - training_logits(tts.t3, inputs)).abs().max() > 1e-2


def test_sampling_gives_upstream_t3_inference_s_tokens_for_the_same_seed(tts, validation):
    """The decoder samples as upstream's T3.inference does (CFG, repetition penalty over the conditional row's
    history, temperature, min-p, top-p, torch's global random state), only faster."""
    row, inputs, cond = first_sample(validation)
    text = inputs["text_tokens"][0]
    for seed, sampling in ((0, SamplingConfig()), (1, SamplingConfig(temperature=1.3, repetition_penalty=2.0,
                                                                     min_p=0.1, top_p=0.9, cfg_weight=0.3))):
        torch.manual_seed(seed)
        ours = generate_speech_tokens(tts.t3, text, cond, sampling=sampling, max_new_tokens=40)
        torch.manual_seed(seed)
        upstream = tts.t3.inference(t3_cond=cond, text_tokens=torch.stack([text, text]), max_new_tokens=40,
                                    temperature=sampling.temperature, cfg_weight=sampling.cfg_weight,
                                    repetition_penalty=sampling.repetition_penalty, min_p=sampling.min_p,
                                    top_p=sampling.top_p)[0]
        del tts.t3.patched_model
        if ours.stopped:
            ours_tokens = torch.cat([ours.tokens, torch.tensor([tts.t3.hp.stop_speech_token])])
        else:
            ours_tokens = ours.tokens
        assert torch.equal(ours_tokens, upstream), seed
        assert len(set(ours.tokens.tolist())) > 3  # really sampled


def test_the_decoder_stops_at_stop_or_at_its_length_limit(tts, validation):
    row, inputs, cond = first_sample(validation)
    text = inputs["text_tokens"][0]
    stop = tts.t3.hp.stop_speech_token
    at_once = generate_speech_tokens(tts.t3, text, cond, teacher_tokens=torch.tensor([stop, 5, 6]))
    assert at_once.stopped and at_once.tokens.numel() == 0
    limited = generate_speech_tokens(tts.t3, text, cond, teacher_tokens=torch.tensor([7, 8, 9, stop]),
                                     max_new_tokens=2)
    assert not limited.stopped and limited.tokens.tolist() == [7, 8]
    greedy = generate_speech_tokens(tts.t3, text, cond, sampling=SamplingConfig(greedy=True), max_new_tokens=5)
    again = generate_speech_tokens(tts.t3, text, cond, sampling=SamplingConfig(greedy=True), max_new_tokens=5)
    assert torch.equal(greedy.tokens, again.tokens)  # greedy: no randomness
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate_speech_tokens(tts.t3, text, cond, sampling=SamplingConfig(temperature=0))


def test_the_speech_vocabulary_filter():
    from chatterbox.models.t3.modules.t3_config import T3Config

    hp = T3Config.multilingual()  # start_speech 6561, stop_speech 6562: the 3^8 S3 codes lie below
    assert generate_module.speech_only(torch.tensor([5, 6561, 6560, 6562, 8000]), hp).tolist() == [5, 6560]
    hp.start_speech_token, hp.stop_speech_token = 100, 101  # read from the config, never a constant
    assert generate_module.speech_only(torch.tensor([5, 99, 100, 6560]), hp).tolist() == [5, 99]


# ------------------------------------------------------------------------------------------- batched decoding


def validation_requests(validation, count: int, **kwargs):
    """Requests for the first ``count`` training rows (the validation split has one), each conditioned as
    evaluation conditions it (its own prompt and speaker embedding), with the collated batches the training forward
    scores."""
    requests, batches = [], []
    for i in range(count):
        row = validation.train_set[i]
        with validation.collator.evaluating():
            inputs = validation.collator([row])
        cond = T3Cond(speaker_emb=inputs["speaker_emb"],
                      cond_prompt_speech_tokens=inputs["cond_prompt_speech_tokens"],
                      emotion_adv=0.5 * torch.ones(1, 1, 1))
        requests.append(generate_module.SpeechRequest(inputs["text_tokens"][0], cond, **kwargs))
        batches.append(inputs)
    return requests, batches


def test_the_batched_decoder_feeds_every_row_the_trained_layout(validation):
    """Teacher-forced logits of several sentences of different lengths decoded together (left-padded prefixes,
    rows leaving as they stop) equal each one's training forward to 1e-4."""
    t3 = validation.t3
    requests, batches = validation_requests(validation, 4)
    lengths = [int(b["text_token_lens"][0]) for b in batches]
    assert len(set(lengths)) >= 3  # prefixes of different lengths: the padded path
    for request, inputs in zip(requests, batches):
        request.teacher_tokens = inputs["speech_tokens"][0, 1:int(inputs["speech_token_lens"][0])]
    assert len({len(r.teacher_tokens) for r in requests}) > 1  # rows stop at different steps
    done = list(generate_module.decode(t3, requests, keep_logits=True))
    assert sorted(i for i, _ in done) == [0, 1, 2, 3]
    for i, result in done:
        expected = training_logits(t3, batches[i])
        assert result.logits.shape == expected.shape
        assert (result.logits - expected).abs().max() < TOLERANCE, i
        assert result.stopped and torch.equal(result.tokens, requests[i].teacher_tokens[:-1])


def test_batching_changes_speed_never_output(validation):
    """Greedy, and sampling with a generator per sentence: every sentence gets exactly the tokens it gets alone,
    whatever the batch (one that stops at once, one that hits its length guard first, different lengths)."""
    t3 = validation.t3
    stop = t3.hp.stop_speech_token
    for sampling, seeded in ((SamplingConfig(greedy=True), False), (SamplingConfig(), True)):
        def requests():
            made, _ = validation_requests(validation, 5, max_new_tokens=30)
            made[1].max_new_tokens = 3  # its length guard comes first: the others go on
            made[3].teacher_tokens = torch.tensor([stop])  # stops at once
            for i, request in enumerate(made):
                request.generator = torch.Generator().manual_seed(100 + i) if seeded else None
            return made

        alone = [generate_module.generate_many(t3, [r], sampling=sampling)[0] for r in requests()]
        assert [len(a.tokens) for a in alone][1] == 3 and not alone[1].stopped
        assert alone[3].stopped and alone[3].tokens.numel() == 0
        assert max(len(a.tokens) for a in alone) == 30  # another row runs to its guard after row 1 left
        for options in (dict(batch_sentences=8), dict(batch_sentences=2), dict(token_budget=200)):
            together = generate_module.generate_many(t3, requests(), sampling=sampling, **options)
            for i, (a, b) in enumerate(zip(alone, together)):
                assert torch.equal(a.tokens, b.tokens) and a.stopped == b.stopped, (sampling, options, i)


def test_batches_are_bounded_by_sentences_and_token_budget(validation, monkeypatch):
    t3 = validation.t3
    seen = []
    original = generate_module._decode_batch

    def spy(t3, requests, prefixes, indices, *args):
        seen.append((list(indices), [p.shape[1] for p in prefixes], [r.max_new_tokens for r in requests]))
        return original(t3, requests, prefixes, indices, *args)

    monkeypatch.setattr(generate_module, "_decode_batch", spy)
    requests, _ = validation_requests(validation, 6, max_new_tokens=4)
    generate_module.generate_many(t3, requests, sampling=SamplingConfig(greedy=True), batch_sentences=4)
    assert [indices for indices, _, _ in seen] == [[0, 1, 2, 3], [4, 5]]
    seen.clear()
    budget = 2 * 2 * (60 + 4)  # two sentences (CFG: 4 rows) of prefixes up to 60 positions
    generate_module.generate_many(t3, requests, sampling=SamplingConfig(greedy=True), token_budget=budget)
    for indices, lengths, guards in seen:
        assert len(indices) == 1 or len(indices) * 2 * (max(lengths) + max(guards)) <= budget
    assert [i for indices, _, _ in seen for i in indices] == list(range(6))
    with pytest.raises(ValueError, match="token_budget must be >= 1"):
        generate_module.generate_many(t3, requests, token_budget=0)


def test_results_are_put_in_order_as_soon_as_they_can_be():
    done = [(2, "c"), (0, "a"), (3, "d"), (1, "b")]
    seen = []

    def finished():
        for item in done:
            seen.append(item[0])
            yield item

    ordered = []
    for index, value in generate_module.in_order(finished()):
        ordered.append((index, value, list(seen)))
    assert ordered == [(0, "a", [2, 0]), (1, "b", [2, 0, 3, 1]), (2, "c", [2, 0, 3, 1]), (3, "d", [2, 0, 3, 1])]
