"""Locate a block's branch sites and the model's head by one verified forward pass.

For a model type without a row in the architecture table, names alone cannot say which module's
output is what a block adds to its residual stream: ``post_attention_layernorm`` is the MLP's
pre-norm on Llama and a real post-norm on OLMo-2 and Gemma; hybrids change their token mixer from
layer to layer. So :func:`probe_layouts` runs the model once on a few tokens, records the input and
output of every sub-module of every block, and keeps the set of modules whose outputs sum (with the
block input) to the block output:

    resid_post == resid_pre + sum_k scale_k * out_k

The modules found are classified (token mixer -- attention or recurrent -- or MLP) by their class
name and path. A block that is no such sum gets no branch sites, and says why, instead of wrong ones.
:func:`probe_head` likewise picks the final norm and any constant logit multiplier that reproduce
the model's own logits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .architectures import cache_kwargs

__all__ = ["BlockFinding", "ProbeRecord", "masks_padding", "record_forward", "probe_layouts", "probe_head", "classify"]

_MAX_DEPTH = 3
# in this order: MLP words, unambiguous recurrent words, a class named *Attention, other recurrent words,
# attention words, weak MLP words
_ORDER = (
    ("mlp", re.compile(r"mlp|ffn|feed_?forward|expert|channel_?mix")),
    ("recurrent", re.compile(r"mamba|ssm|rwkv|rglru|lstm|deltanet|delta_net")),
    ("attention", re.compile(r"(attention|attn)$")),
    ("recurrent", re.compile(r"mixer|recurren|shortconv|conv|retention|hyena")),
    ("attention", re.compile(r"attn|attention|moa\b")),
    ("mlp", re.compile(r"moe|dense|\bfc")),
)


def classify(module: nn.Module, path: str) -> str | None:
    """``"attention"``, ``"recurrent"`` or ``"mlp"`` for a branch's compute module, or ``None``."""
    for text in (type(module).__name__.lower(), path.lower().replace(".", " ")):
        for kind, pattern in _ORDER:
            if pattern.search(text):
                return kind
    return None


def _first_tensor(x: Any) -> torch.Tensor | None:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        return x[0]
    return None


def _is_norm(module: nn.Module) -> bool:
    name = type(module).__name__.lower()
    return "norm" in name or isinstance(module, (nn.LayerNorm, nn.GroupNorm))


@dataclass
class BlockFinding:
    """What the probe found for one block (see :class:`~steerlens.model.architectures.LayerLayout`)."""

    parts: dict[str, tuple[str, str, float, tuple[str, ...]]]  # point -> (path, "input" | "output", scale, plus)
    mixer: str | None = None
    note: str = ""
    resid_scale: Any = 1.0  # a float, or a [d] tensor for a per-dimension fit
    flat: set[str] = field(default_factory=set)  # paths whose output is [batch * tokens, d]
    complete: bool = False  # the *_out parts (and extras) account for the whole update
    extras: list[tuple[str, Any]] = field(default_factory=list)  # other summed branches: (path, scale)
    bias: torch.Tensor | None = None  # a constant the block adds (per-dimension fits only)
    # a block that is no sum: its update composed step by step through norms (post-norm blocks, MiniMax)
    steps: list[tuple[str | None, float, str, float]] = field(default_factory=list)  # (base norm, a, point, s)
    out_norm: str | None = None


@dataclass
class ProbeRecord:
    """What one forward pass saw: per block, its input/output and every sub-module called once."""

    block_in: list[torch.Tensor | None]
    block_out: list[torch.Tensor | None]
    # per block: path -> (module, depth, call order, input, output)
    subs: list[dict[str, tuple[nn.Module, int, int, torch.Tensor | None, torch.Tensor | None]]]
    logits: torch.Tensor | None


@torch.no_grad()
def record_forward(model: nn.Module, blocks: nn.ModuleList, vocab_size: int, n_tokens: int = 6) -> ProbeRecord:
    """Run ``model`` once on ``n_tokens`` fixed tokens and record the blocks' sub-module activations."""
    device = next(model.parameters()).device
    ids = torch.tensor([[(7 * i + 3) % vocab_size for i in range(n_tokens)]], device=device)
    owners: dict[int, int] = {}
    for i, block in enumerate(blocks):
        for m in block.modules():
            owners[id(m)] = -1 if owners.get(id(m), i) != i else i  # -1: shared between blocks
    n = len(blocks)
    rec = ProbeRecord([None] * n, [None] * n, [{} for _ in range(n)], None)
    calls: dict[tuple[int, str], int] = {}
    counter = itertools.count()
    handles = []

    def block_hooks(i: int):
        def pre(mod, args, kwargs):
            rec.block_in[i] = _clone(_first_tensor(args) if args else kwargs.get("hidden_states"))

        def post(mod, args, out):
            rec.block_out[i] = _clone(_first_tensor(out))

        return pre, post

    def sub_hooks(i: int, path: str, module: nn.Module, depth: int):
        def pre(mod, args, kwargs):
            key = (i, path)
            calls[key] = calls.get(key, 0) + 1
            x = _first_tensor(args) if args else kwargs.get("hidden_states")
            rec.subs[i][path] = (module, depth, next(counter), _clone(x), None)

        def post(mod, args, out):
            entry = rec.subs[i].get(path)
            if entry is not None:
                rec.subs[i][path] = (*entry[:4], _clone(_first_tensor(out)))

        return pre, post

    try:
        for i, block in enumerate(blocks):
            pre, post = block_hooks(i)
            handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
            handles.append(block.register_forward_hook(post))
            for path, m in block.named_modules():
                depth = path.count(".") + 1
                if not path or depth > _MAX_DEPTH or owners.get(id(m)) != i:
                    continue
                if isinstance(m, (nn.ModuleList, nn.ModuleDict, nn.Identity, nn.Dropout)):
                    continue
                pre, post = sub_hooks(i, path, m, depth)
                handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
                handles.append(m.register_forward_hook(post))
        with _eval_mode(model):
            out = model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                position_ids=torch.arange(n_tokens, device=device)[None],
                use_cache=False,
            )
        rec.logits = _clone(getattr(out, "logits", None))
    finally:
        for h in handles:
            h.remove()
    for (i, path), count in calls.items():
        if count > 1:  # called twice in one block: a hook there would fire twice
            rec.subs[i].pop(path, None)
    return rec


@torch.no_grad()
def masks_padding(model: nn.Module, vocab_size: int, n_tokens: int = 6) -> bool:
    """Whether masked left padding leaves the model's outputs unchanged, in a prompt pass and in a cached decode
    step (as ``generate`` runs it). RWKV ignores its mask; GIT's cached decoding drifts with padding."""
    import inspect

    device = next(model.parameters()).device
    toks = [(7 * i + 3) % vocab_size for i in range(n_tokens)]
    # Hugging Face's generate derives position ids from the mask only for a forward that names ``position_ids``
    # (Whisper's decoder-only head takes them through **kwargs, so generate counts padding as positions)
    try:
        named = "position_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        named = True

    def positions(p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"position_ids": p} if named else {}

    nxt = torch.tensor([[(5 * n_tokens + 1) % vocab_size]], device=device)

    def last_two(ids: list[int], pads: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.tensor([[0] * pads + ids], device=device)
        mask = torch.tensor([[0] * pads + [1] * len(ids)], device=device)
        out = model(input_ids=x, attention_mask=mask, **positions((mask.cumsum(1) - 1).clamp(min=0)), use_cache=True)
        cache = getattr(out, "past_key_values", None) or getattr(out, "cache", None)
        mask2 = torch.cat([mask, torch.ones_like(nxt)], 1)
        step = model(
            input_ids=nxt,
            attention_mask=mask2,
            **positions(torch.tensor([[len(ids)]], device=device)),
            use_cache=True,
            **({} if cache is None else cache_kwargs(model, cache)),
        )
        return out.logits[0, -1].float(), step.logits[0, -1].float()

    try:
        with _eval_mode(model):
            plain, padded = last_two(toks, 0), last_two(toks, 2)
    except Exception:  # noqa: BLE001 -- a model that cannot take a padded, cached batch does not mask padding
        return False
    tol = _tolerance(next(model.parameters()).dtype) * 10
    return all(_rel(b, a) <= tol for a, b in zip(plain, padded))


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode (no dropout: the probes compare exact sums), its training flag restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _clone(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else x.detach().float().clone()


def _tolerance(dtype: torch.dtype) -> float:
    return 1e-4 if dtype in (torch.float32, torch.float64) else 2e-2


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / (b.abs().max() + 1e-6))


def probe_layouts(record: ProbeRecord, dtype: torch.dtype) -> list[BlockFinding]:
    """What the probe found for each block of a record."""
    tol = _tolerance(dtype)
    out = []
    for i in range(len(record.block_in)):
        out.append(_one_block(record, i, tol))
    return out


def _one_block(record: ProbeRecord, i: int, tol: float) -> BlockFinding:
    x, y = record.block_in[i], record.block_out[i]
    if x is None or y is None:
        return BlockFinding({}, note="the probe's forward pass never reached this block")
    if x.shape != y.shape or x.dim() != 3:
        return BlockFinding(
            {}, note=f"its residual stream is {tuple(x.shape)} -> {tuple(y.shape)}, not one [batch, tokens, d_model] stream"
        )
    delta = y - x
    subs = record.subs[i]
    cands: list[tuple[str, torch.Tensor]] = []
    flat: set[str] = set()
    for path, (_m, _depth, _order, _inp, o) in sorted(subs.items(), key=lambda kv: (kv[1][1], kv[1][2])):
        if o is None or o.shape[-1] != y.shape[-1] or o.numel() != y.numel() or o.dim() not in (2, 3):
            continue
        if o.shape != y.shape:  # [batch * tokens, d] (Llama-4's MoE): read as [batch, tokens, d]
            o = o.reshape(y.shape)
            flat.add(path)
        if any(torch.equal(o, c) for _, c in cands):  # the same activation deeper down: keep the outer module
            continue
        cands.append((path, o))
    cands.sort(key=lambda pc: subs[pc[0]][2])  # execution order
    found = _fit(cands, x, delta, tol)
    base: list[tuple[str, float]] = []
    if found is None and cands:  # a block that first normalises its input (RWKV's first block): that norm,
        path, o = cands[0]  # the first module the block runs, is the residual base
        first_in = subs[path][3]
        if _is_norm(subs[path][0]) and first_in is not None and torch.equal(first_in, x):
            again = _fit(cands[1:], torch.zeros_like(x), y - o, tol)
            if again is not None and not isinstance(again[1], tuple):
                found, base = (again[0], 0.0), [(path, 1.0)]
    if found is None or (not base and any(_is_norm(subs[_compute_module(subs, p)][0]) for p, _ in found[0])):
        seq = _fit_sequential(subs, cands, x, y, tol)
        if seq is not None:
            return seq
    if found is None:
        return BlockFinding(
            {},
            note="it is not resid_pre + a sum of sub-module outputs (the probe found no set of "
            "sub-modules whose outputs add up to the block's update), so it has no branch sites",
        )
    fit, resid_scale = found
    bias = None
    if isinstance(resid_scale, tuple):  # a per-dimension fit: (resid_pre scale, constant) vectors
        resid_scale, bias = resid_scale
    branches = []
    for path, scale in fit:  # in execution order
        compute = _compute_module(subs, path)
        module = subs[compute][0]
        if _is_norm(module) and not base:
            # a norm of something no sub-module computes alone (the running residual): a post-norm block
            return BlockFinding(
                {},
                note=f"its update runs through {compute} ({type(module).__name__}), a norm of the "
                "running residual (a post-norm block), so it has no branch sites",
            )
        branches.append(_Branch(path, compute, scale, classify(module, compute), type(module).__name__))
    if len(branches) == 2 and (None in [b.kind for b in branches] or branches[0].kind == branches[1].kind):
        # not told apart by name: in execution order a block mixes tokens, then runs its MLP
        first = branches[0].kind
        branches[0].kind = first if first in ("attention", "recurrent") else "attention"
        branches[1].kind = "mlp"
    groups: dict[str, list[_Branch]] = {"mixer": [], "attn": [], "mlp": []}
    extras: list[tuple[str, float]] = list(base)
    notes = [f"its residual stream continues from {base[0][0]}, which normalises resid_pre"] if base else []
    for br in branches:
        if br.kind is None:  # e.g. Gemma-4's per-layer input: part of the sum, but no site
            extras.append((br.path, br.scale))
            notes.append(f"it also adds {br.path} ({br.cls}) to the residual stream, which has no site")
        elif br.kind == "mlp":
            groups["mlp"].append(br)
        else:
            groups["mixer"].append(br)
            if br.kind == "attention":
                groups["attn"].append(br)
    parts: dict[str, tuple[str, str, float, tuple[str, ...]]] = {}
    complete = True
    for name, members in groups.items():
        if not members:
            continue
        s0 = members[0].scale
        if any(not _same_scale(m.scale, s0) for m in members):
            notes.append(
                f"its {name} branch sums modules scaled differently ({', '.join(m.path for m in members)}), "
                f"so it has no {name}_out site"
            )
            complete = complete and name == "attn"
            continue
        # several modules of one kind (an MoE beside a shared MLP, Falcon-H1's attention beside its Mamba):
        # the site is their sum, read and edited at the last of them
        parts[f"{name}_out"] = (members[-1].path, "output", s0, tuple(m.path for m in members[:-1]))
        inputs = [subs[m.compute][3] for m in members]
        x_in = inputs[0]
        if x_in is not None and x_in.shape == x.shape and all(v is not None and torch.equal(v, x_in) for v in inputs):
            parts[f"{name}_in"] = (members[0].compute, "input", 1.0, ())
    mixer = " + ".join(m.cls for m in groups["mixer"]) or None
    if not groups["mlp"]:
        notes.append("it has no MLP branch")
    if not groups["mixer"]:
        notes.append("it has no token-mixing branch")
    elif not groups["attn"]:
        notes.append(f"its token mixer is {mixer}, not attention: use mixer_in / mixer_out")
    if bias is not None:
        notes.append("its residual is scaled per dimension and shifted (the layout records the vectors)")
    return BlockFinding(parts, mixer, "; ".join(notes), resid_scale, flat, complete, extras, bias)


def _lsq2(b: torch.Tensor, o: torch.Tensor, t: torch.Tensor, tol: float) -> tuple[float, float] | None:
    """``(a, s)`` with ``a * b + s * o == t`` within ``tol`` (both clearly non-zero), else ``None``."""
    cols = torch.stack([b.flatten(), o.flatten()], 1).double()
    target = t.flatten().double()
    coef = torch.linalg.lstsq(cols, target[:, None]).solution[:, 0]
    a, s = float(coef[0]), float(coef[1])
    if abs(a) < 0.1 or abs(s) < 1e-6:
        return None
    if float((cols @ coef - target).abs().max()) / (float(target.abs().max()) + 1e-6) > tol:
        return None
    # snap unit scales (the usual ``x + branch``) so the layout records them exactly
    a = 1.0 if abs(a - 1.0) <= tol else a
    s = 1.0 if abs(s - 1.0) <= tol else s
    return a, s


def _fit_sequential(
    subs: dict, cands: list[tuple[str, torch.Tensor]], x: torch.Tensor, y: torch.Tensor, tol: float
) -> BlockFinding | None:
    """A block whose update is composed through norms rather than summed, step by step::

        r_0 = resid_pre;   r_k = a_k * base_k(r_{k-1}) + s_k * out_k;   resid_post = out_norm(r_K)

    where ``base_k`` is the identity or a norm of the running residual and ``out_norm`` the identity or a final
    norm: post-norm blocks (GPT-1, GIT: ``ln_2(ln_1(x + attn) + mlp)``) and MiniMax (``b * N(x) + c * attn``).
    Each step's branch output ``out_k`` is a site; the check recomputes the composition from the sites.
    """
    norms = [
        (path, order, inp, out)
        for path, (m, _depth, order, inp, out) in subs.items()
        if _is_norm(m) and inp is not None and out is not None and inp.shape == x.shape and out.shape == x.shape
    ]
    norm_outs = [out for _, _, _, out in norms]
    # branch outputs: module outputs that are not a norm's output (a wrapper whose output *is* its norm's)
    comps = [(p, o) for p, o in cands if not _is_norm(subs[p][0]) and not any(torch.equal(o, n) for n in norm_outs)]

    def close(a: torch.Tensor, b: torch.Tensor) -> bool:
        return a.shape == b.shape and _rel(a, b) <= tol

    def next_step(r: torch.Tensor, used: set[str]) -> tuple[str | None, float, str, float, torch.Tensor] | None:
        # the next running residual is a norm's input (in execution order) or the block output
        targets = sorted([(order, inp) for _p, order, inp, _o in norms] + [(1 << 60, y)], key=lambda ot: ot[0])
        bases = [(None, r)] + [(p, o) for p, _order, inp, o in norms if close(inp, r)]
        for _order, t in targets:
            if close(t, r):
                continue
            for bpath, b in bases:
                for opath, o in comps:
                    fit = None if opath in used else _lsq2(b, o, t, tol)
                    if fit is not None:
                        return bpath, fit[0], opath, fit[1], t
        return None

    r, steps, used = x, [], set[str]()
    for _ in range(3):
        hit = next_step(r, used)
        if hit is None:
            return None
        bpath, a, opath, s, r = hit
        used.add(opath)
        steps.append((bpath, a, opath, s))
        if close(r, y):
            return _sequential_finding(subs, steps, None, x)
        last = next((p for p, _order, inp, o in norms if close(inp, r) and close(o, y)), None)
        if last is not None:
            return _sequential_finding(subs, steps, last, x)
    return None


def _sequential_finding(
    subs: dict, steps: list[tuple[str | None, float, str, float]], out_norm: str | None, x: torch.Tensor
) -> BlockFinding | None:
    if len(steps) != 2:  # one token mixer, then one MLP: the layouts steerlens names
        return None
    norm_out = {p: subs[p][4] for p in subs}
    ins = []
    for bpath, _a, opath, _s in steps:
        b = x if bpath is None else norm_out[bpath]
        order = subs[opath][2]
        # the branch's input module: the outermost module fed the step's base, run before its output
        feeders = [
            (depth, o_order, p)
            for p, (m, depth, o_order, inp, _o) in subs.items()
            if inp is not None
            and not _is_norm(m)
            and o_order <= order
            and inp.shape == b.shape
            and torch.equal(inp, b)
            and (p == opath or opath.startswith(p + ".") or depth == 1)
        ]
        ins.append(min(feeders)[2] if feeders else None)
    # the first step mixes tokens: a recurrent mixer if its name says so, else attention
    recurrent = ins[0] is not None and classify(subs[ins[0]][0], ins[0]) == "recurrent"
    mixer_cls = type(subs[ins[0]][0]).__name__ if ins[0] else type(subs[steps[0][2]][0]).__name__
    parts: dict[str, tuple[str, str, float, tuple[str, ...]]] = {}
    parts["mixer_out"] = (steps[0][2], "output", steps[0][3], ())
    parts["mlp_out"] = (steps[1][2], "output", steps[1][3], ())
    if ins[0]:
        parts["mixer_in"] = (ins[0], "input", 1.0, ())
    if ins[1]:
        parts["mlp_in"] = (ins[1], "input", 1.0, ())
    if not recurrent:
        parts["attn_out"] = parts["mixer_out"]
        if ins[0]:
            parts["attn_in"] = parts["mixer_in"]
    seq = [("mixer_out" if k == 0 else "mlp_out", bpath, a, s) for k, (bpath, a, _o, s) in enumerate(steps)]
    formula = "resid_pre"
    for point, bpath, a, s in seq:
        base = f"{bpath}({formula})" if bpath else formula
        base = base if a == 1.0 else f"{a:.3g} * {base}"
        term = point if s == 1.0 else f"{s:.3g} * {point}"
        formula = f"{base} + {term}"
    if out_norm:
        formula = f"{out_norm}({formula})"
    note = (
        f"its block is no plain sum: resid_post = {formula} (a post-norm or normed-residual block), so an edit at a "
        "branch site reaches resid_post through these norms"
    )
    steps_ = [(bpath, a, point, s) for point, bpath, a, s in seq]
    return BlockFinding(parts, mixer_cls, note, 1.0, set(), True, steps=steps_, out_norm=out_norm)


def _same_scale(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(
            torch.allclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), rtol=1e-4, atol=1e-6)
        )
    return abs(a - b) <= 1e-4 * abs(b)


@dataclass
class _Branch:
    path: str  # the module whose output the block adds (a post-norm, or the compute module itself)
    compute: str  # the module that computes the branch
    scale: Any  # a float, or a [d] tensor from a per-dimension fit
    kind: str | None
    cls: str


def _compute_module(subs: dict, path: str) -> str:
    """For a post-norm branch output, the module whose output the norm normalises; else ``path`` itself."""
    module, _d, order, inp, _o = subs[path]
    if not _is_norm(module) or inp is None:
        return path
    best = None
    for other, (m, _depth, o_order, _i, o) in subs.items():
        if other == path or o is None or o_order >= order or _is_norm(m) or o.shape != inp.shape:
            continue
        if torch.equal(o, inp) and (best is None or subs[best][1] > _depth):
            best = other
    return best or path


def _fit(
    cands: list[tuple[str, torch.Tensor]], x: torch.Tensor, delta: torch.Tensor, tol: float
) -> tuple[list[tuple[str, float]], float] | None:
    """The smallest set of candidates whose outputs sum to ``delta = y - x``, and the scale of ``x``.

    Unit scales are tried first (``y = x + sum out_k``), then fitted scalars (``y = a x + sum s_k out_k``:
    Granite's residual multiplier), then, in float32/64 only, per-dimension ones (:func:`_fit_per_dimension`).
    """
    if not cands or not bool(delta.abs().max() > 0):
        return None
    flat = torch.stack([c.flatten() for _, c in cands]).double()
    target = delta.flatten().double()
    scale = float(target.abs().max()) + 1e-6
    # unit-scale sums of up to 5 modules (LongCat-Flash adds five), screened on a random sketch of the
    # activations (a sum stays a sum under a linear map), then verified on the activations themselves
    sketch = torch.randn(flat.shape[1], 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sk, tsk = flat @ sketch, target @ sketch
    sk_scale = float(tsk.abs().max()) + 1e-12
    for k in range(1, 6):
        if k > len(cands) or (k > 3 and len(cands) > 30):
            break
        combos = torch.tensor(list(itertools.combinations(range(len(cands)), k)), dtype=torch.long)
        for chunk in combos.split(65536):
            err = (sk[chunk].sum(1) - tsk).abs().amax(1) / sk_scale
            for row in chunk[err <= tol * 100].tolist():
                if float((flat[row].sum(0) - target).abs().max()) / scale <= tol:
                    return [(cands[j][0], 1.0) for j in row], 1.0
    y = (delta + x).flatten().double()
    xs = x.flatten().double()
    yscale = float(y.abs().max()) + 1e-6
    for k in (1, 2, 3):
        for combo in itertools.combinations(range(len(cands)), k):
            a = torch.cat([xs[:, None], flat[list(combo)].T], 1)
            coef = torch.linalg.lstsq(a, y[:, None]).solution[:, 0]
            # the residual must pass through (a block whose output is a norm's fits with a ~ 0 in half precision)
            if abs(float(coef[0])) < 0.1 or bool((coef.abs() < 1e-6).any()):
                continue
            if float((a @ coef - y).abs().max()) / yscale <= tol:
                return [(cands[j][0], float(c)) for j, c in zip(combo, coef[1:].tolist())], float(coef[0])
    # in half precision the tolerance is loose enough for a per-dimension fit to pass for a norm (a per-token
    # division is nearly per-dimension over a few similar tokens): only exact arithmetic gets this stage
    return _fit_per_dimension(cands, x, delta, tol) if tol <= _tolerance(torch.float32) else None


def _fit_per_dimension(
    cands: list[tuple[str, torch.Tensor]], x: torch.Tensor, delta: torch.Tensor, tol: float
) -> tuple[list[tuple[str, Any]], Any] | None:
    """Last resort: ``y = a * x + sum s_k * out_k + c`` with per-dimension ``a``, ``s_k`` and ``c`` (Doge's learned
    residual vectors, ZAYA's residual scaling modules). Returns ``[(path, s_k)], (a, c)`` with ``[d]`` tensors.

    Each dimension is an over-determined system over the tokens (at least two more tokens than unknowns), so
    a fit that holds on every dimension is the block's structure, not an accident.
    """
    d = x.shape[-1]
    xs = x.reshape(-1, d).double()
    ys = (delta + x).reshape(-1, d).double()
    n = xs.shape[0]
    outs = [c.reshape(-1, d).double() for _, c in cands]
    yscale = float(ys.abs().max()) + 1e-6
    for k in (1, 2):
        if n < k + 4:
            break
        for combo in itertools.combinations(range(len(cands)), k):
            cols = [xs, *(outs[j] for j in combo), torch.ones_like(xs)]
            a = torch.stack(cols, -1).permute(1, 0, 2)  # [d, n, k + 2]
            coef = torch.linalg.lstsq(a, ys.T[..., None]).solution[..., 0]  # [d, k + 2]
            if float(((a @ coef[..., None])[..., 0] - ys.T).abs().max()) / yscale > tol:
                continue
            # the residual must pass through (a module whose output *is* the block output fits with a = 0), and
            # every branch must contribute
            if float(coef[:, 0].abs().min()) < 1e-3 or bool((coef[:, 1 : k + 1].abs().amax(0) < 1e-6).any()):
                continue
            scales = [coef[:, 1 + i].float() for i in range(k)]
            return [(cands[j][0], s) for j, s in zip(combo, scales)], (coef[:, 0].float(), coef[:, k + 1].float())
    return None


def probe_head(
    record: ProbeRecord,
    last: torch.Tensor,
    norms: list[tuple[str, nn.Module]],
    unembed: nn.Module,
    softcap: float | None,
    dtype: torch.dtype,
) -> tuple[str, float] | None:
    """``(final-norm path, logit multiplier)`` reproducing the recorded logits from the last block output.

    ``norms`` are the candidates in order of preference (``("", nn.Identity())`` for "no final norm").
    """
    if record.logits is None:
        return None
    tol = _tolerance(dtype) * 10
    target = record.logits
    if softcap:
        target = torch.atanh((target / softcap).clamp(-1 + 1e-6, 1 - 1e-6)) * softcap
    with torch.no_grad():
        for path, norm in norms:
            try:
                dtype = next(unembed.parameters()).dtype
                z = unembed(norm(last.to(dtype)).to(dtype)).float()
            except Exception:  # noqa: BLE001 -- a candidate that cannot take the residual is not the final norm
                continue
            if z.shape != target.shape:
                continue
            if _rel(z, target) <= tol:
                return path, 1.0
            s = float((z * target).sum() / (z * z).sum().clamp_min(1e-12))
            if abs(s) > 1e-6 and _rel(z * s, target) <= tol:
                return path, s
    return None
