"""Worked example of docs/concepts.md: a tone probe and guided generation (run: python docs/examples/concepts.py)."""

import steerlens
from steerlens.concepts import guidance_edits, load_dataset, train_concept
from steerlens.concepts.data import prompt_ids
from steerlens.steering import SamplingConfig, sample

model, tok = steerlens.load_model("gemma-3-270m")
data = load_dataset("tone")[:200]  # formal (0) vs jokey (1) answers; split by prompt inside train_concept
concept = train_concept(model, tok, data, probe="dim", progress=False)
best = max(range(len(concept.sites)), key=lambda i: concept.val_accuracy[i])
print(f"best held-out accuracy {concept.val_accuracy[best]:.2f} at {concept.sites[best]}")
ids = prompt_ids(tok, "How do I boil an egg?")
cfg = SamplingConfig(max_new_tokens=30, temperature=0, freq_penalty=0)
for strength in (0.0, 8.0):
    out = sample(model, tok, [ids], edits=guidance_edits(model, concept, strength, top_k=6), config=cfg)[0]
    print(f"strength {strength:g}: {out.strip()!r}")
