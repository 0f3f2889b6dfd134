"""Worked example of docs/steering.md: ActAdd Love - Hate (run: python docs/examples/steering.py)."""

import steerlens
from steerlens.steering import ActAdd, SamplingConfig, compare, sentiment, x_vector

model, tok = steerlens.load_model("gemma-3-270m")
# the paper's "layer 6" is the residual stream entering block 6: resid_pre.6
act = ActAdd.build(model, tok, x_vector("Love", "Hate", 5.0, "resid_pre.6", tokenizer=tok))
comp = compare(model, tok, "I hate you because", act, n=4, seed=0, config=SamplingConfig(max_new_tokens=20))
comp.score("sentiment", sentiment)
for a, b in zip(comp.unsteered, comp.steered):
    print(f"unsteered: {a!r}\n  steered: {b!r}")
s = comp.scores["sentiment"]
print(f"mean VADER sentiment: unsteered {sum(s['unsteered']) / 4:+.2f}, steered {sum(s['steered']) / 4:+.2f}")
