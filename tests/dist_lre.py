"""Run by ``torchrun`` in test_store.py: fit an LRE on a tiny model across the ranks; rank 0 saves W and b."""

import sys

from safetensors.torch import save_file

from conftest import make_tiny
from steerlens.distributed import init_from_env, is_main, shutdown
from steerlens.relations import Prompt, train_lre
from tests_helpers import tiny_tokenizer

PROMPTS = [Prompt(f"w{3 + i} w{20 + i} w{40 + i}", "w7" if i % 2 else "w8", f"w{20 + i}") for i in range(7)]

if __name__ == "__main__":
    assert init_from_env()
    lre = train_lre(make_tiny("llama"), tiny_tokenizer(), PROMPTS, 0, 2, progress=False)
    if is_main():
        save_file({"weight": lre.weight.contiguous(), "bias": lre.bias.contiguous()}, sys.argv[1])
    shutdown()
