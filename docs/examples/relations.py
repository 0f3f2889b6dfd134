"""Worked example of docs/relations.md: an LRE for 'country capital city' (run: python docs/examples/relations.py)."""

import steerlens
from steerlens.relations import load_relation, subject_activations, train_lre
from steerlens.relations.evaluate import is_prefix, split_known

model, tok = steerlens.load_model("gemma-3-270m")
spec = steerlens.resolve(model)
rel = load_relation("country capital city")
train, test, n_known = split_known(model, tok, rel, 8, 3, 0)  # 8 training prompts; the rest are held out
lre = train_lre(model, tok, train, 4, -1, relation=rel.name, aggregation="first_token", progress=False)
print(lre, f"from {lre.metadata['num_prompts']} prompts; the model answers {n_known} of {len(rel.samples)}")
logits = spec.logits(lre(subject_activations(model, tok, test, 4)))
hits = 0
for p, row in zip(test, logits.argmax(-1).tolist()):
    guess = tok.decode([row])
    hits += is_prefix(guess, p.answer)
    print(f"{p.subject:<14} model: {p.answer:<12} LRE: {guess!r}")
print(f"faithfulness on {len(test)} held-out subjects: {hits / len(test):.2f}")
