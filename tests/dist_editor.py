"""Run by ``torchrun`` in test_store.py: train a REMEDI editor on a tiny model across the ranks; rank 0 saves it."""

import sys

from safetensors.torch import save_file

from conftest import make_tiny
from steerlens.distributed import init_from_env, is_main
from steerlens.editors import counterfact_from_relations, train_editor
from steerlens.relations import Relation
from steerlens.relations.data import Sample
from tests_helpers import tiny_tokenizer


def toy_samples():
    rel = Relation(
        "toy",
        tuple(Sample(f"w{10 + i}", f"w{60 + i % 4}") for i in range(24)),
        ("w3 {} w4", "w5 w6 {} w7"),
        ("{} w8 w9",),
        "factual",
    )
    return counterfact_from_relations([rel], tokenizer=tiny_tokenizer(), seed=0)


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
