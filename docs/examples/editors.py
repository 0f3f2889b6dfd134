"""Worked example of docs/editors.md: the shipped REMEDI editor (run: python docs/examples/editors.py)."""

import steerlens
from steerlens.editors import Editor, edit_generate, sample_for, shipped_editor

model, tok = steerlens.load_model("gemma-3-270m")
editor = Editor.load(shipped_editor("gemma-3-270m"), model)
print(editor.kind, "editor at layer", editor.layer)
s = sample_for("Michael Jordan plays the sport of", "Michael Jordan", "is a famous tennis player")
out = edit_generate(model, tok, editor, [s], max_new_tokens=12)
print("unedited:", repr(out.unedited[0]))
print("  edited:", repr(out.edited[0]))
