"""The Jacobian lens: the exact fit equals brute-force Jacobians; the sampled fit is unbiased; fits merge; files."""

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import ConfigError, IncompatibleArtifactError
from steerlens.lens import JacobianLens, LogitLens
from steerlens.lens.data import chunk_texts
from steerlens.lens.evaluate import evaluate_lenses
from steerlens.model import Site
from steerlens.model.capture import run_partial

ROWS = [[1, 17, 23, 5, 9], [1, 40, 41, 7], [1, 60, 3, 8, 12, 30]]


def _run(model, ids, layer, x=None, t=None):
    """resid_pre(layer) and the last block's output; with ``x``, token ``t`` of resid_pre(layer) replaced by it."""
    last = Site(model.config.num_hidden_layers - 1, "resid_post")
    got = {}

    def at_layer(h):
        if x is not None:
            h = h.clone()
            h[0, t] = x
        got["pre"] = h
        return h

    def at_last(h):
        got["last"] = h

    run_partial(model, ids, hooks=[(Site(layer, "resid_pre"), at_layer), (last, at_last)], stop_after=last)
    return got["pre"], got["last"]


def _brute_force(model, rows, layer):
    """Mean over tokens of d resid_post(last)[t] / d resid_pre(layer)[t], one token at a time."""
    total, count = 0, 0
    for row in rows:
        ids = torch.tensor([row])
        pre, _ = _run(model, ids, layer)
        for t in range(len(row)):
            jac = torch.autograd.functional.jacobian(
                lambda x, ids=ids, t=t: _run(model, ids, layer, x, t)[1][0, t], pre[0, t].detach()
            )
            total, count = total + jac, count + 1
    return total / count


def test_exact_fit_equals_brute_force_jacobians():
    model = make_tiny("llama")
    lens = JacobianLens.fit(model, None, ROWS, exact=True, progress=False)
    assert lens.tokens.tolist() == [15.0, 15.0, 15.0]
    for layer in (0, 2):
        torch.testing.assert_close(lens.jacobians[layer], _brute_force(model, ROWS, layer).float(), atol=1e-4, rtol=1e-4)


def _brute_force_future(model, rows, layer, skip):
    """Mean over source tokens t >= skip of sum_{s >= max(t, skip)} d resid_post(last)[s] / d resid_pre(layer)[t]."""
    total, count = 0, 0
    for row in rows:
        ids = torch.tensor([row])
        pre, _ = _run(model, ids, layer)
        for t in range(skip, len(row)):
            jac = torch.autograd.functional.jacobian(
                lambda x, ids=ids, t=t: _run(model, ids, layer, x, t)[1][0, skip:].sum(0), pre[0, t].detach()
            )
            total, count = total + jac, count + 1
    return total / count


def test_future_reduction_equals_the_reference_quantity(tmp_path):
    """reduction="future", skip_first=1: the exact fit is the brute-force sum over later targets, averaged over
    sources; the sampled fit converges to it; the options round-trip and refuse to merge with other fits."""
    model = make_tiny("llama")
    exact = JacobianLens.fit(model, None, ROWS, exact=True, reduction="future", skip_first=1, progress=False)
    assert exact.tokens.tolist() == [12.0, 12.0, 12.0]
    for layer in (0, 2):
        want = _brute_force_future(model, ROWS, layer, 1).float()
        torch.testing.assert_close(exact.jacobians[layer], want, atol=1e-4, rtol=1e-4)
    small, big = (
        float(
            (
                JacobianLens.fit(model, None, ROWS, samples=n, seed=2, reduction="future", skip_first=1, progress=False).jacobians
                - exact.jacobians
            ).norm()
            / exact.jacobians.norm()
        )
        for n in (20, 320)
    )
    assert big < 0.5 * small, (small, big)
    back = JacobianLens.load(exact.save(tmp_path / "jl"), model)
    assert (back.reduction, back.skip_first) == ("future", 1) and torch.equal(back.jacobian_sum, exact.jacobian_sum)
    plain = JacobianLens.fit(model, None, ROWS, exact=True, progress=False)
    with pytest.raises(ConfigError, match="only like fits merge"):
        exact.merge(plain)
    with pytest.raises(ConfigError, match="reduction"):
        JacobianLens.fit(model, None, ROWS, reduction="mean")


def test_sampled_fit_is_unbiased_and_merges_exactly():
    model = make_tiny("llama")
    exact = JacobianLens.fit(model, None, ROWS, exact=True, progress=False).jacobians

    def error(samples):
        est = JacobianLens.fit(model, None, ROWS, samples=samples, seed=1, progress=False).jacobians
        return float((est - exact).norm() / exact.norm())

    small, big = error(20), error(320)
    # unbiased: the error is noise that falls as 1/sqrt(samples) (expected ratio 1/4), not a floor
    assert big < 0.5 * small and big < 0.4, (small, big)
    a = JacobianLens.fit(model, None, ROWS[:1], samples=3, seed=5, progress=False)
    b = JacobianLens.fit(model, None, ROWS[1:], samples=3, seed=5, progress=False)
    both = JacobianLens.fit(model, None, ROWS, samples=3, seed=5, progress=False)
    merged = a.merge(b)
    torch.testing.assert_close(merged.jacobian_sum, both.jacobian_sum, atol=1e-10, rtol=1e-10)
    assert torch.equal(merged.tokens, both.tokens)
    with pytest.raises(ConfigError, match="exact and a sampled"):
        a.merge(JacobianLens.fit(model, None, ROWS[:1], exact=True, progress=False))


def test_round_trip_and_use_as_a_lens(tmp_path):
    model = make_tiny("llama")
    lens = JacobianLens.fit(model, None, ROWS, samples=4, layers=[0, 1], progress=False)
    assert lens.tokens.tolist()[2] == 0 and torch.equal(lens.jacobians[2], torch.eye(32))  # unfitted: the logit lens
    lens.save(tmp_path / "j")
    back = JacobianLens.load(tmp_path / "j", model)
    assert torch.equal(back.jacobian_sum, lens.jacobian_sum) and torch.equal(back.tokens, lens.tokens)
    import steerlens

    assert isinstance(steerlens.load(tmp_path / "j", model=model), JacobianLens)
    with pytest.raises(IncompatibleArtifactError):
        JacobianLens.load(tmp_path / "j", make_tiny("gpt2"))
    from tests_helpers import tiny_tokenizer

    chunks = chunk_texts(tiny_tokenizer(), [" ".join(f"w{(3 * i) % 90 + 3}" for i in range(80))], seq_len=16)
    res = evaluate_lenses(model, chunks, {"logit": LogitLens.from_model(model), "jacobian": back}, progress=False)
    kl = res["lenses"]["jacobian"]["kl"]
    assert len(kl) == 3 and kl[2] == pytest.approx(res["lenses"]["logit"]["kl"][2], rel=1e-5)  # identity at layer 2


def test_cli_fits_and_evaluates(tmp_path, capsys):
    import json

    from steerlens.cli import main
    from tests_helpers import save_tiny_with_tokenizer

    folder = save_tiny_with_tokenizer(tmp_path / "m")
    text = tmp_path / "t.txt"
    text.write_text("\n\n".join(" ".join(f"w{(5 * i + k) % 90 + 3}" for k in range(12)) for i in range(6)))
    out = tmp_path / "jl"
    assert main(["lens", "jacobian", "--model", str(folder), "--text", str(text), "--out", str(out), "--samples", "2"]) == 0
    assert "tokens, 2 samples per text" in capsys.readouterr().out
    argv = ["lens", "eval", "--model", str(folder), "--text", str(text), "--jacobian", str(out), "--seq-len", "8"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["lenses"]) == {"logit", "jacobian"} and len(res["lenses"]["jacobian"]["kl"]) == 3


def test_import_of_reference_jlens_files(tmp_path):
    """The reference package's layout (layer -> [d, d], anchored at block outputs) lands one lens index later;
    stacked tensors and resid_pre anchoring too; unknown contents, other widths and other targets are refused."""
    from steerlens.errors import DataFormatError

    model = make_tiny("llama")
    d = model.config.hidden_size
    g = torch.Generator().manual_seed(0)
    mats = {0: torch.randn(d, d, generator=g), 1: torch.randn(d, d, generator=g), 2: torch.randn(d, d, generator=g)}
    f = tmp_path / "tiny_jacobian_lens.pt"
    torch.save({"jacobians": {k: v.half() for k, v in mats.items()}, "target_layer": -1, "n_prompts": 100}, f)
    lens = JacobianLens.from_jlens(f, model)
    assert torch.equal(lens.jacobian(0), torch.eye(d))  # the embeddings: no published matrix
    torch.testing.assert_close(lens.jacobian(1), mats[0].half().float())
    torch.testing.assert_close(lens.jacobian(2), mats[1].half().float())  # block 2's output is final: dropped
    assert lens.meta["n_prompts"] == 100 and lens.source.startswith("jlens:")
    back = JacobianLens.load(lens.save(tmp_path / "imported"), model)
    assert back.source == lens.source and torch.equal(back.jacobians, lens.jacobians)
    with pytest.raises(ConfigError, match="imported"):
        back.merge(lens)
    torch.save({"J": torch.stack([mats[0], mats[1]])}, f)
    pre = JacobianLens.from_jlens(f, model, point="resid_pre")
    torch.testing.assert_close(pre.jacobian(0), mats[0])
    torch.testing.assert_close(pre.jacobian(1), mats[1])
    torch.save({"weights": torch.randn(3, 5)}, f)
    with pytest.raises(DataFormatError, match="found no per-layer"):
        JacobianLens.from_jlens(f, model)
    torch.save({"jacobians": {0: torch.randn(d + 1, d + 1)}}, f)
    with pytest.raises(DataFormatError, match="found no per-layer"):
        JacobianLens.from_jlens(f, model)
    torch.save({"jacobians": {0: mats[0]}, "target_layer": 1}, f)
    with pytest.raises(IncompatibleArtifactError, match="not the last one"):
        JacobianLens.from_jlens(f, model)
