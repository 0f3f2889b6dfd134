"""Worked example of docs/lenses.md: the logit lens on the embedded model (run: python docs/examples/lenses.py)."""

import steerlens
from steerlens.lens import prediction_trajectory

model, tok = steerlens.load_model("gemma-3-270m")
traj = prediction_trajectory(model, tok, "The Eiffel Tower is in the city of", top_k=3)
print("row              top-3 at the last position")
for label, toks, probs in zip(traj.rows, traj.top_tokens, traj.top_probs):
    print(f"{label:<16} " + "  ".join(f"{t!r} {p:.2f}" for t, p in zip(toks[-1], probs[-1])))
