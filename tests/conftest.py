"""Shared fixtures: tiny random-weight models of every architecture in the table, a tiny tokenizer,
and (for the real-model suite) the embedded models, each loaded once per session."""

from __future__ import annotations

import os

import pytest
import torch
import transformers as T

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

VOCAB = 96
_COMMON = dict(
    num_hidden_layers=3,
    hidden_size=32,
    num_attention_heads=4,
    intermediate_size=64,
    vocab_size=VOCAB,
    max_position_embeddings=128,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)


def _config(arch: str):
    kv = dict(num_key_value_heads=2, head_dim=8)
    if arch == "gpt2":
        return T.GPT2Config(
            n_layer=3, n_embd=32, n_head=4, vocab_size=VOCAB, n_positions=128, bos_token_id=1, eos_token_id=2, pad_token_id=0
        )
    if arch == "gpt_neox":
        return T.GPTNeoXConfig(**_COMMON)
    if arch == "gemma3_text":
        return T.Gemma3TextConfig(**_COMMON, **kv, sliding_window=64, final_logit_softcapping=None)
    if arch == "gemma2":
        return T.Gemma2Config(**_COMMON, **kv, sliding_window=64, final_logit_softcapping=30.0)
    classes = {
        "llama": T.LlamaConfig,
        "mistral": T.MistralConfig,
        "qwen2": T.Qwen2Config,
        "qwen3": T.Qwen3Config,
        "phi3": T.Phi3Config,
        "olmo2": T.Olmo2Config,
    }
    return classes[arch](**_COMMON, **kv)


ARCHS = ["gemma3_text", "gemma2", "llama", "mistral", "qwen2", "qwen3", "phi3", "olmo2", "gpt2", "gpt_neox"]
_cache: dict[str, torch.nn.Module] = {}


def make_tiny(arch: str) -> torch.nn.Module:
    """A tiny random-weight causal LM of ``arch`` (fixed seed), built once per session."""
    if arch not in _cache:
        torch.manual_seed(1234)
        model = T.AutoModelForCausalLM.from_config(_config(arch))
        # random init leaves some models nearly uniform; widen the weights so greedy decoding is decisive
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.3)
        model.eval()
        _cache[arch] = model
    return _cache[arch]


@pytest.fixture(params=ARCHS)
def tiny(request) -> torch.nn.Module:
    """Parametrised over every architecture in the table."""
    return make_tiny(request.param)


def random_prompts(lengths=(5, 9, 3), seed=0) -> list[list[int]]:
    """Token-id prompts starting with BOS (id 1), other ids in 3..VOCAB-1."""
    g = torch.Generator().manual_seed(seed)
    return [[1, *torch.randint(3, VOCAB, (n - 1,), generator=g).tolist()] for n in lengths]


_real: dict[str, tuple] = {}


def load_real(name: str):
    """The embedded model ``name`` (skips the test, loudly, when its weights are not installed)."""
    import steerlens
    from steerlens.errors import ModelNotProvisionedError

    if name not in _real:
        try:
            _real[name] = steerlens.load_model(name)
        except ModelNotProvisionedError as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"embedded model not installed: {exc}")
    return _real[name]


@pytest.fixture(scope="session")
def gemma():
    """(model, tokenizer) of the embedded gemma-3-270m."""
    return load_real("gemma-3-270m")


@pytest.fixture(scope="session")
def smollm():
    """(model, tokenizer) of the embedded smollm2-135m."""
    return load_real("smollm2-135m")


@pytest.fixture(scope="session", params=["gemma-3-270m", "smollm2-135m"])
def real(request):
    """Each embedded model in turn: (name, model, tokenizer)."""
    return (request.param, *load_real(request.param))
