"""Run by ``torchrun`` in test_store.py: train a REMEDI editor on a tiny model across the ranks; rank 0 saves it."""

import sys

from safetensors.torch import save_file

from conftest import make_tiny
from steerlens.distributed import init_from_env, is_main, shutdown
from steerlens.editors import counterfact_from_relations, train_editor
from test_editors import toy_relation
from tests_helpers import tiny_tokenizer


def toy_samples():
    return counterfact_from_relations([toy_relation()], tokenizer=tiny_tokenizer(), seed=0)


def train():
    s = toy_samples()
    return train_editor(
        make_tiny("llama"),
        tiny_tokenizer(),
        s[:20],
        0,
        validation=s[:8],
        max_epochs=3,
        batch_size=5,
        lr=1e-2,
        lam_kl=1.0,
        progress=False,
    )


if __name__ == "__main__":
    assert init_from_env()
    res = train()
    if is_main():
        save_file({k: v.contiguous() for k, v in res.editor.state_dict().items()}, sys.argv[1])
        (open(sys.argv[1] + ".loss", "w")).write(repr([h["val_loss"] for h in res.history]))
    shutdown()
