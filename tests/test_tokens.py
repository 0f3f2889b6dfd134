"""Token spans of substrings and answers, on a byte-level BPE, SentencePiece (Gemma) and LLaMA-BPE tokenizers."""

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from steerlens.errors import PaddingError, SpanNotFoundError
from steerlens.model import answer_span, token_span
from steerlens.model.tokens import as_batch, pad

CORPUS = [
    "The Eiffel Tower is in Paris.",
    "Zürich and Genève are Swiss cities.",
    "東京 is the capital of Japan.",
    "Miles Davis played the trumpet.",
    "The capital of France is Paris, and Paris is big.",
] * 20


@pytest.fixture(scope="module")
def bpe():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=300, special_tokens=["<pad>", "<bos>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


def _check_span(tokenizer, text, sub, occurrence="last"):
    start, end = token_span(tokenizer, text, sub, occurrence)
    ids = tokenizer(text)["input_ids"]
    decoded = tokenizer.decode(ids[start:end])
    assert sub.strip() in decoded, (decoded, sub)
    # minimal: dropping either end token loses part of the substring
    if end - start > 1:
        assert sub.strip() not in tokenizer.decode(ids[start + 1 : end])
        assert sub.strip() not in tokenizer.decode(ids[start : end - 1])
    return start, end


CASES = [
    ("The Eiffel Tower is in Paris.", "Eiffel Tower"),
    ("The Eiffel Tower is in Paris.", " Paris"),
    ("Zürich and Genève are Swiss cities.", "Genève"),
    ("東京 is the capital of Japan.", "東京"),
    ("Miles Davis played the trumpet.", "Miles"),
]


@pytest.mark.parametrize("text,sub", CASES)
def test_token_span_bpe(bpe, text, sub):
    _check_span(bpe, text, sub)


def test_last_occurrence_by_default(bpe):
    text = "The capital of France is Paris, and Paris is big."
    first = token_span(bpe, text, "Paris", "first")
    last = token_span(bpe, text, "Paris")
    assert last[0] > first[0]
    assert token_span(bpe, text, "Paris", 0) == first and token_span(bpe, text, "Paris", -1) == last
    with pytest.raises(SpanNotFoundError, match="occurs 2 time"):
        token_span(bpe, text, "Paris", 2)


def test_span_not_found_quotes_both(bpe):
    with pytest.raises(SpanNotFoundError, match=r"'Lyon' does not occur in 'The Eiffel Tower is in Paris\.'"):
        token_span(bpe, "The Eiffel Tower is in Paris.", "Lyon")
    with pytest.raises(SpanNotFoundError, match="other capitalisation"):
        token_span(bpe, "The Eiffel Tower is in Paris.", "paris")


def test_answer_span(bpe):
    ids, (s, e) = answer_span(bpe, "The Eiffel Tower is in", "Paris")
    assert ids == bpe("The Eiffel Tower is in Paris")["input_ids"]
    assert "Paris" in bpe.decode(ids[s:e]) and "in" not in bpe.decode(ids[s:e])
    assert s >= 1


def test_pad_and_as_batch():
    b = pad([[1, 2, 3], [4]], side="left")
    assert b.input_ids.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert b.position_ids().tolist() == [[0, 1, 2], [0, 0, 0]]
    with pytest.raises(PaddingError, match="empty"):
        pad([[1], []])
    with pytest.raises(PaddingError, match="no attention mask"):
        as_batch({"input_ids": torch.tensor([[1, 2], [3, 0]])}, pad_token_id=0)
    assert as_batch({"input_ids": torch.tensor([[1, 2], [3, 4]])}, pad_token_id=0).attention_mask.all()
    with pytest.raises(PaddingError, match="no real tokens"):
        as_batch({"input_ids": torch.tensor([[1, 2]]), "attention_mask": torch.tensor([[0, 0]])})


@pytest.mark.real
@pytest.mark.parametrize("text,sub", CASES + [("Ich wohne in München, nicht in Köln.", "München")])
def test_token_span_real_tokenizers(real, text, sub):
    _, _, tokenizer = real
    start, _ = _check_span(tokenizer, text, sub)
    if tokenizer.bos_token_id is not None and tokenizer("x")["input_ids"][0] == tokenizer.bos_token_id:
        assert start >= 1  # BOS is counted


def test_subject_span_capture(bpe):
    """token_span + spans_to_mask read exactly the subject's tokens of each text."""
    from conftest import make_tiny
    from steerlens.model import Site, capture
    from steerlens.model.tokens import spans_to_mask

    texts = ["The Eiffel Tower is in Paris.", "Miles Davis played the trumpet."]
    subjects = ["Eiffel Tower", "Miles Davis"]
    spans = [token_span(bpe, t, s) for t, s in zip(texts, subjects)]
    lengths = [len(bpe(t)["input_ids"]) for t in texts]
    model = make_tiny("llama")
    ids = [[i % 96 for i in bpe(t)["input_ids"]] for t in texts]
    full = capture(model, pad(ids).__dict__, [Site(1)])
    packed = capture(model, pad(ids, "left").__dict__, [Site(1)], positions=spans_to_mask(spans, lengths))
    expect = torch.cat([full[Site(1)][i, s:e] for i, (s, e) in enumerate(spans)])
    torch.testing.assert_close(packed[Site(1)], expect, atol=1e-4, rtol=1e-4)
    with pytest.raises(SpanNotFoundError, match="outside its"):
        spans_to_mask([(0, 99)], [5])
