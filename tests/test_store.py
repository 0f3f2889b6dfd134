"""Activation stores: streaming capture to shards, resume, ranks (2 gloo processes under torchrun), reading back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import ConfigError, DataFormatError, IncompatibleArtifactError
from steerlens.model import Site, capture
from steerlens.store import ActivationStore, capture_to_store, read_texts
from tests_helpers import tiny_tokenizer

TOK = tiny_tokenizer()
SITES = [Site(0), Site(2, "resid_pre"), Site(1, "mlp_out")]


def _texts(n: int = 23, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(f"w{rng.randrange(4, 90)}" for _ in range(rng.randrange(1, 12))) for _ in range(n)]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def test_store_matches_capture_and_reads_back(tmp_path):
    model = make_tiny("llama")
    texts = _texts()
    store = capture_to_store(model, TOK, texts, SITES, tmp_path / "s", batch_size=4, shard_tokens=20, progress=False)
    assert store is not None and len(store.manifest["shards"]) > 2  # small shards: several files
    data = store.load()
    ref = capture(model, texts, SITES, tokenizer=TOK, positions="all")
    assert store.n_items == len(texts) and store.n_tokens == int(ref.mask.sum()) == data["item"].numel()
    for s in SITES:
        assert torch.allclose(data[str(s)], ref[s][ref.mask], atol=1e-5)
    ids = [TOK(t)["input_ids"] for t in texts]
    assert data["token"].tolist() == [t for row in ids for t in row]
    assert data["position"].tolist() == [p for row in ids for p in range(len(row))]
    assert data["item"].tolist() == [i for i, row in enumerate(ids) for _ in row]
    # reopened from disk: same content, model check
    again = ActivationStore(tmp_path / "s")
    _same(again.load([Site(0)]), {k: data[k] for k in ("item", "position", "token", "resid_post.0")})
    again.check_model(model)
    with pytest.raises(IncompatibleArtifactError, match="another model"):
        again.check_model(make_tiny("gpt2"))
    with pytest.raises(ConfigError, match="no site resid_post.3"):
        again.load([Site(3)])
    # streaming: each shard holds at least shard_tokens tokens (but the last one of each rank)
    sizes = [sh["tokens"] for sh in store.manifest["shards"]]
    assert all(x >= 20 for x in sizes[:-1]) and sum(sizes) == store.n_tokens


def test_last_positions_and_dtype(tmp_path):
    model = make_tiny("llama")
    texts = _texts(9)
    store = capture_to_store(model, TOK, texts, [Site(1)], tmp_path / "s", positions="last", dtype="bfloat16", progress=False)
    data = store.load()
    ref = capture(model, texts, [Site(1)], tokenizer=TOK, positions="last")
    assert data["resid_post.1"].dtype == torch.bfloat16
    assert torch.allclose(data["resid_post.1"].float(), ref[Site(1)], atol=0.05, rtol=0.02)
    assert data["item"].tolist() == list(range(9))


def test_resume_after_a_crash_gives_the_same_store(tmp_path):
    model = make_tiny("llama")
    texts = _texts(30)
    kw = dict(batch_size=3, shard_tokens=15, progress=False)
    whole = capture_to_store(model, TOK, texts, SITES, tmp_path / "whole", **kw)

    class Crash(Exception):
        pass

    def crash(path):
        raise Crash(path)

    with pytest.raises(Crash):
        capture_to_store(model, TOK, texts, SITES, tmp_path / "part", on_shard=crash, **kw)
    with pytest.raises(DataFormatError, match="not finished"):
        ActivationStore(tmp_path / "part")
    st = json.loads((tmp_path / "part" / "rank-000.json").read_text())
    assert len(st["shards"]) == 1 and not st["done"]
    # a stray temporary file, as a kill during a write leaves, is ignored and overwritten
    (tmp_path / "part" / "shard-r000-00001.safetensors.tmp").write_bytes(b"partial")
    resumed = capture_to_store(model, TOK, texts, SITES, tmp_path / "part", **kw)
    _same(resumed.load(), whole.load())
    assert [s["file"] for s in resumed.manifest["shards"]] == [s["file"] for s in whole.manifest["shards"]]
    for a, b in zip(resumed.manifest["shards"], whole.manifest["shards"]):
        assert (tmp_path / "part" / a["file"]).read_bytes() == (tmp_path / "whole" / b["file"]).read_bytes()
    # other settings on resume: refused, with what differs
    with pytest.raises(ConfigError, match="batch_size: stored 3, now 4"):
        capture_to_store(model, TOK, texts, SITES, tmp_path / "part", batch_size=4, shard_tokens=15, progress=False)


def test_ranks_without_a_process_group_union_equals_one_process(tmp_path):
    model = make_tiny("llama")
    texts = _texts(17)
    one = capture_to_store(model, TOK, texts, SITES, tmp_path / "one", batch_size=2, shard_tokens=10, progress=False)
    assert (
        capture_to_store(model, TOK, texts, SITES, tmp_path / "two", batch_size=2, shard_tokens=10, rank=1, world_size=2) is None
    )
    two = capture_to_store(model, TOK, texts, SITES, tmp_path / "two", batch_size=2, shard_tokens=10, rank=0, world_size=2)
    assert two is not None and {s["rank"] for s in two.manifest["shards"]} == {0, 1}
    _same(two.load(), one.load())


def test_bad_input_is_refused(tmp_path):
    model = make_tiny("llama")
    with pytest.raises(DataFormatError, match="Text 1 has 13 tokens, more than max_length=8"):
        capture_to_store(model, TOK, ["w4", " ".join(["w5"] * 12)], [Site(0)], tmp_path / "a", max_length=8, progress=False)
    with pytest.raises(DataFormatError, match="Text 1 is empty"):
        capture_to_store(model, TOK, ["w4", ""], [Site(0)], tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="positions"):
        capture_to_store(model, TOK, ["w4"], [Site(0)], tmp_path / "c", positions="first", progress=False)
    with pytest.raises(ConfigError, match="Sites repeat"):
        capture_to_store(model, TOK, ["w4"], [Site(0), 0], tmp_path / "d", progress=False)
    with pytest.raises(DataFormatError, match="No activation store"):
        ActivationStore(tmp_path / "nothing")


def test_read_texts(tmp_path):
    (tmp_path / "a.txt").write_text("w4 w5\n\nw6\n")
    assert read_texts(tmp_path / "a.txt") == ["w4 w5", "w6"]
    (tmp_path / "b.jsonl").write_text('{"text": "w4"}\n{"body": "w5", "text": "w6 w7"}\n')
    assert read_texts(tmp_path / "b.jsonl") == ["w4", "w6 w7"]
    (tmp_path / "c.jsonl").write_text('{"body": "w5"}\n')
    with pytest.raises(DataFormatError, match="line 1: expected an object with a string field 'text'"):
        read_texts(tmp_path / "c.jsonl")
    (tmp_path / "d.jsonl").write_text("{oops\n")
    with pytest.raises(DataFormatError, match="line 1: invalid JSON"):
        read_texts(tmp_path / "d.jsonl")


def test_two_gloo_ranks_under_torchrun_equal_one_process(tmp_path):
    from tests_helpers import save_tiny_with_tokenizer

    folder = save_tiny_with_tokenizer(tmp_path / "m")
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(_texts(21, seed=3)) + "\n")
    common = [
        str(data),
        "--model",
        str(folder),
        "--sites",
        "0,resid_pre.2,mlp_out.1",
        "--batch-size",
        "2",
        "--shard-tokens",
        "12",
    ]
    _run([sys.executable, "-m", "steerlens", "capture", *common, "--out", str(tmp_path / "one")])
    two = _run(_torchrun("-m", "steerlens", "capture", *common, "--out", str(tmp_path / "two")))
    a, b = ActivationStore(tmp_path / "one"), ActivationStore(tmp_path / "two")
    assert {s["rank"] for s in b.manifest["shards"]} == {0, 1} and b.manifest["world_size"] == 2
    assert "ActivationStore(" in two.stdout
    _same(b.load(), a.load())


def _run(cmd: list[str], extra_path: str | None = None) -> subprocess.CompletedProcess:
    """Run a command (1 thread, this interpreter's import path) and check it succeeded."""
    path = [extra_path] if extra_path else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([*path, *sys.path])}
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def _torchrun(*args: str) -> list[str]:
    """``torchrun`` (installed with torch, beside this interpreter) with 2 processes on a free port."""
    exe = os.path.join(os.path.dirname(sys.executable), "torchrun")
    return [exe, "--nproc-per-node", "2", "--master-port", str(_free_port()), *args]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_lens_training_on_two_gloo_ranks_equals_one_process(tmp_path):
    from steerlens.lens import TunedLens
    from tests_helpers import save_tiny_with_tokenizer

    folder = save_tiny_with_tokenizer(tmp_path / "m")
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(_texts(60, seed=5)) + "\n")
    args = ["lens", "train", "--text", str(data), "--model", str(folder), "--seq-len", "8", "--steps", "4"]
    args += ["--tokens-per-step", "64", "--micro-batch", "2", "--validation-chunks", "6", "--eval-every", "2"]
    _run([sys.executable, "-m", "steerlens", *args, "--out", str(tmp_path / "one")])
    two = _run(_torchrun("-m", "steerlens", *args, "--out", str(tmp_path / "two")))
    assert two.stderr.count("trained 4 steps") == 1  # rank 0 alone reports
    from steerlens.loading import load_model

    model, _ = load_model(str(folder))
    a, b = TunedLens.load(tmp_path / "one", model), TunedLens.load(tmp_path / "two", model)
    assert a.weight.abs().max() > 1e-3  # it trained (translators start at zero: the logit lens)
    torch.testing.assert_close(b.weight, a.weight, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b.bias, a.bias, atol=1e-5, rtol=1e-5)
    ha, hb = (json.loads((tmp_path / x / "history.json").read_text()) for x in ("one", "two"))
    assert ha["best_step"] == hb["best_step"]
    torch.testing.assert_close(torch.tensor(hb["val_kl"]), torch.tensor(ha["val_kl"]), atol=1e-5, rtol=1e-5)


def test_lre_fitted_on_two_gloo_ranks_equals_one_process(tmp_path):
    from pathlib import Path

    from safetensors.torch import load_file

    from dist_lre import PROMPTS
    from steerlens.relations import train_lre

    here = Path(__file__).resolve().parent
    out = tmp_path / "lre.safetensors"
    _run(_torchrun(str(here / "dist_lre.py"), str(out)), extra_path=str(here))
    got = load_file(str(out))
    ref = train_lre(make_tiny("llama"), TOK, PROMPTS, 0, 2, progress=False)  # 7 prompts: ranks get 4 and 3
    assert ref.weight.abs().max() > 0
    torch.testing.assert_close(got["weight"], ref.weight, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["bias"], ref.bias, atol=1e-5, rtol=1e-5)


def test_per_item_features_feed_a_probe(tmp_path):
    from steerlens.concepts.probes import DiMProbe

    model = make_tiny("llama")
    texts = _texts(14, seed=9)
    store = capture_to_store(model, TOK, texts, SITES, tmp_path / "s", batch_size=3, shard_tokens=9, progress=False)
    ref = capture(model, texts, SITES, tokenizer=TOK, positions="all")
    m = ref.mask[:, :, None].float()
    mean_ref = torch.stack([(ref[s] * m).sum(1) / m.sum(1) for s in SITES], dim=1)
    last_ref = capture(model, texts, SITES, tokenizer=TOK, positions="last").stack(SITES).transpose(0, 1)  # [n, sites, d]
    mean = store.per_item(SITES, "mean")
    last = store.per_item(SITES, "last")
    assert mean.shape == (14, 3, 32)
    torch.testing.assert_close(mean, mean_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(last, last_ref, atol=1e-5, rtol=1e-5)
    labels = torch.tensor([i % 2 for i in range(14)])
    a, b = DiMProbe().fit(mean, labels), DiMProbe().fit(mean_ref, labels)
    torch.testing.assert_close(a.W, b.W, atol=1e-5, rtol=1e-4)
    with pytest.raises(ConfigError, match="reduce"):
        store.per_item(SITES, "max")


def test_editor_trained_on_two_gloo_ranks_equals_one_process(tmp_path):
    import ast
    from pathlib import Path

    from safetensors.torch import load_file

    from dist_editor import train

    here = Path(__file__).resolve().parent
    out = tmp_path / "editor.safetensors"
    _run(_torchrun(str(here / "dist_editor.py"), str(out)), extra_path=str(here))
    got = load_file(str(out))
    ref = train()  # batches of 5 rows: ranks get 3 and 2
    assert not ref.untrained and ref.best_epoch > 0  # it trained (the null start was beaten)
    state = ref.editor.state_dict()
    assert got.keys() == state.keys()
    for k, v in state.items():
        torch.testing.assert_close(got[k], v, atol=1e-5, rtol=1e-4)
    losses = ast.literal_eval(Path(str(out) + ".loss").read_text())
    assert losses == pytest.approx([h["val_loss"] for h in ref.history], rel=1e-5)


def test_fsdp_sharded_model_on_two_gloo_ranks_reads_steers_and_trains_like_one_process(tmp_path):
    """shard_model (FSDP2 fully_shard of every block): captures and steered generation equal the unsharded model
    on each rank (checked inside the script), and a tuned lens trained on 2 ranks equals 1-process training."""
    from pathlib import Path

    from safetensors.torch import load_file

    from steerlens.lens import Chunks, LensTrainConfig, train_tuned_lens

    here = str(Path(__file__).parent)
    _run(_torchrun(os.path.join(here, "dist_fsdp.py"), str(tmp_path / "lens.safetensors")), extra_path=here)
    two = load_file(tmp_path / "lens.safetensors")
    ids = torch.randint(3, 96, (24, 8), generator=torch.Generator().manual_seed(2))
    cfg = LensTrainConfig(steps=3, tokens_per_step=32, micro_batch=1)
    one, _ = train_tuned_lens(make_tiny("llama"), Chunks(ids, n_bytes=ids.numel() * 3, n_tokens=ids.numel()), cfg, progress=False)
    assert one.weight.abs().max() > 1e-4  # it trained
    for k, v in one.state_dict().items():
        torch.testing.assert_close(two[k], v.detach(), atol=1e-5, rtol=1e-5)


def test_shutdown_destroys_the_process_group_and_is_a_no_op_without_one(tmp_path):
    import torch.distributed as dist

    from steerlens import distributed

    distributed.shutdown()  # no group: nothing to do, no error
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        assert distributed.group_world() == (0, 1) and dist.is_initialized()
        distributed.shutdown()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_a_sharded_model_refuses_work_that_does_not_split_evenly(monkeypatch):
    from steerlens import distributed

    model = make_tiny("llama")
    monkeypatch.setattr(distributed, "group_world", lambda: (0, 2))
    assert distributed.share(range(5)) == [0, 2, 4]  # an unsharded model: uneven shares are fine
    model.__dict__["_steerlens_sharded"] = True
    try:
        with pytest.raises(ConfigError, match="multiple of 2"):
            distributed.share(range(5), model, "prompts")
        assert distributed.share(range(6), model) == [0, 2, 4]
    finally:
        del model.__dict__["_steerlens_sharded"]
    with pytest.raises(ConfigError, match="process group"):
        distributed.shard_model(model)
    model.__dict__["_steerlens_sharded"] = True
    try:
        with pytest.raises(ConfigError, match="device_map"):
            capture_to_store(model, TOK, ["w5 w6"], [Site(0)], "unused-store-folder")
    finally:
        del model.__dict__["_steerlens_sharded"]


def test_lens_train_shard_outside_torchrun_is_a_clear_error(tmp_path, capsys):
    from steerlens.cli import main
    from tests_helpers import save_tiny_with_tokenizer

    folder = save_tiny_with_tokenizer(tmp_path / "m")
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(_texts(10)) + "\n")
    args = ["lens", "train", "--text", str(data), "--model", str(folder), "--out", str(tmp_path / "lens"), "--shard"]
    assert main(args) == 1
    assert "torchrun" in capsys.readouterr().err
