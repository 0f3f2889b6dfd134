"""Helpers shared by tests (kept out of conftest so they can be imported by name)."""

from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from conftest import VOCAB, make_tiny


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer over a fixed vocabulary that fits the tiny models (ids < VOCAB)."""
    words = ["<pad>", "<bos>", "<eos>", "<unk>"] + [f"w{i}" for i in range(VOCAB - 4)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def char_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer of real text (letters, digits, common punctuation; ids < VOCAB).

    Unlike :func:`tiny_tokenizer` it encodes any English sentence, so code that places words or
    first tokens of real data (relations, CounterFact-style facts) runs on the tiny models.
    """
    from tokenizers import decoders
    from tokenizers.processors import TemplateProcessing

    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!'-:()"
    vocab = {w: i for i, w in enumerate(["<pad>", "<bos>", "<eos>", "<unk>", "\u2581", *chars])}
    assert len(vocab) <= VOCAB
    tok = Tokenizer(models.BPE(vocab, [], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="never")
    tok.post_processor = TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def save_tiny_with_tokenizer(folder: Path, arch: str = "llama") -> Path:
    """Save the tiny ``arch`` model and the tiny tokenizer as a local Hugging Face folder."""
    out = Path(folder) / f"tiny-{arch}"
    make_tiny(arch).save_pretrained(out)
    tiny_tokenizer().save_pretrained(out)
    return out
