"""Run by ``torchrun`` in test_store.py: a tiny model with its blocks sharded by FSDP across the ranks.

Each rank compares capture, steered generation and a capture with an early stop on the sharded model with an
unsharded copy; then the ranks train a tuned lens together on the sharded model and rank 0 saves it.
"""

import copy
import sys

import torch
from safetensors.torch import save_file

from conftest import make_tiny
from steerlens.distributed import init_from_env, is_main, is_sharded, shard_model, shutdown
from steerlens.lens import Chunks, LensTrainConfig, train_tuned_lens
from steerlens.model import Add, Site, capture, generate, intervene

if __name__ == "__main__":
    assert init_from_env()
    torch.manual_seed(0)
    whole = make_tiny("llama")
    model = shard_model(copy.deepcopy(whole))
    assert is_sharded(model) and not is_sharded(whole)
    prompts = {"input_ids": torch.tensor([[1, 5, 6, 7, 8], [1, 9, 10, 11, 12]])}
    sites = [Site(0), Site(1, "mlp_out"), Site(2, "resid_pre")]
    for _ in range(2):  # twice: the sharded model is left in a state where it runs again
        a, b = capture(model, prompts, sites), capture(whole, prompts, sites)
        for s in sites:
            assert torch.allclose(a[s], b[s], atol=1e-5), s
    early = capture(model, prompts, [Site(0)])[Site(0)]  # one site: no early stop on a sharded model
    assert torch.allclose(early, capture(whole, prompts, [Site(0)])[Site(0)], atol=1e-5)
    edit = Add(Site(1, "resid_pre"), torch.randn(32, generator=torch.Generator().manual_seed(1)), strength=6.0)
    with intervene(model, edit):
        steered = generate(model, None, prompts, max_new_tokens=6).new_ids
    with intervene(whole, edit):
        assert steered == generate(whole, None, prompts, max_new_tokens=6).new_ids
    ids = torch.randint(3, 96, (24, 8), generator=torch.Generator().manual_seed(2))
    chunks = Chunks(ids, n_bytes=ids.numel() * 3, n_tokens=ids.numel())
    cfg = LensTrainConfig(steps=3, tokens_per_step=32, micro_batch=1)
    lens, _ = train_tuned_lens(model, chunks, cfg, progress=False)
    if is_main():
        save_file({k: v.detach().contiguous() for k, v in lens.state_dict().items()}, sys.argv[1])
    shutdown()
