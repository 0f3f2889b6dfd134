"""Shared by bench_steering.py (steerlens' env) and peers_steering.py (the peers' env).

The fixed workload of the steering benchmark (the contrast pairs, the generation prompts, the layers
and the generation settings) and :class:`HookTimer`. Only the standard library and torch are used here
(both virtualenvs import it); nothing here imports steerlens or transformers.
"""

from __future__ import annotations

import time
from typing import Any

MODEL = "gemma-3-270m"

# Layers of the steering vector, the same for every library (0-based decoder blocks; the vector is
# read at / added to each block's output = steerlens Site(l, "resid_post") = HF hidden_states[l + 1]
# = steering-vectors decoder_block l = repeng layer_id l). Middle of the 18 blocks.
LAYERS = [4, 5, 6, 7, 8]
# Extra training rows: every block but the first (repeng's default hidden_layers: 17, 16, ..., 1),
# the worst case for steerlens, which then has to run 18 of 18 blocks.
ALL_LAYERS = list(range(1, 18))

SCALE = 2.0  # steered generation adds SCALE * mean-diff direction at every layer in LAYERS, every position
MAX_NEW_TOKENS = 64  # with min_new_tokens = max_new_tokens: exactly 64 greedy tokens per row, every run

# 32 (positive, negative) contrast pairs: the same sentence with positive / negative sentiment.
PAIRS = [
    ("I love this movie, it was wonderful.", "I hate this movie, it was terrible."),
    ("The food at this restaurant is delicious.", "The food at this restaurant is disgusting."),
    ("My new job makes me so happy.", "My new job makes me so miserable."),
    ("What a beautiful, sunny morning!", "What an ugly, gloomy morning!"),
    ("The hotel staff were friendly and helpful.", "The hotel staff were rude and useless."),
    ("This book is a joy to read.", "This book is a chore to read."),
    ("I am grateful for my kind neighbours.", "I am fed up with my nasty neighbours."),
    ("The concert last night was amazing.", "The concert last night was awful."),
    ("Our holiday by the sea was perfect.", "Our holiday by the sea was a disaster."),
    ("The teacher praised my essay warmly.", "The teacher criticised my essay harshly."),
    ("This phone works brilliantly.", "This phone works horribly."),
    ("I feel calm and content today.", "I feel anxious and upset today."),
    ("The garden looks lovely in spring.", "The garden looks dreadful in spring."),
    ("My friends threw me a fantastic party.", "My friends threw me a boring party."),
    ("The new park is a delightful place.", "The new park is a depressing place."),
    ("I adore the smell of fresh bread.", "I loathe the smell of fresh bread."),
    ("The team played superbly and won.", "The team played poorly and lost."),
    ("Customer service solved my problem quickly.", "Customer service ignored my problem completely."),
    ("This coffee tastes excellent.", "This coffee tastes horrible."),
    ("The film's ending was uplifting.", "The film's ending was depressing."),
    ("I had a pleasant chat with the driver.", "I had an unpleasant argument with the driver."),
    ("The museum was fascinating.", "The museum was tedious."),
    ("My sister gave me a thoughtful gift.", "My sister gave me a thoughtless gift."),
    ("The weather this weekend was glorious.", "The weather this weekend was miserable."),
    ("I am proud of what we built together.", "I am ashamed of what we built together."),
    ("The puppy is adorable and playful.", "The puppy is annoying and destructive."),
    ("The doctor was gentle and reassuring.", "The doctor was cold and dismissive."),
    ("This city is a great place to live.", "This city is a terrible place to live."),
    ("The meeting went really well.", "The meeting went really badly."),
    ("I enjoyed every minute of the trip.", "I hated every minute of the trip."),
    ("Her speech was inspiring and honest.", "Her speech was dull and dishonest."),
    ("Life is good and full of hope.", "Life is bad and full of despair."),
]
assert len(PAIRS) == 32

# 8 prompts for the batched generation (left-padded into one batch of 8).
GEN_PROMPTS = [
    "I think that my neighbour",
    "Yesterday the weather in London was",
    "My opinion of the new restaurant on the corner is",
    "When I opened the letter, I felt",
    "The best way to describe my week is",
    "Our teacher told the class that",
    "After watching the film, the audience",
    "The old man looked at the sea and",
]


class HookTimer:
    """Wall time spent inside the forward (pre-)hooks that a steering context added to a model.

    Whole-``generate`` timings on a shared 2-core machine vary by several percent from call to call,
    far more than what steering adds, so the overhead is also measured directly: construct the timer
    *before* entering the steering context (it snapshots the hooks already there), call :meth:`wrap_new`
    inside it (every hook registered since is wrapped with a timer), run, then :meth:`unwrap`.
    ``seconds`` is the summed self-time of those hooks (including what they call, e.g. the edit's
    arithmetic), ``calls`` how many hook calls that was.
    """

    KINDS = ("_forward_hooks", "_forward_pre_hooks")

    def __init__(self, model: Any) -> None:
        self.model = model
        self.before = self._keys()
        self.seconds = 0.0
        self.calls = 0
        self.per_hook: dict[str, float] = {}  # "module.name:kind" -> seconds
        self._wrapped: list[tuple[dict, int, Any]] = []

    def _keys(self) -> set[tuple[int, str, int]]:
        return {(id(m), k, hid) for m in self.model.modules() for k in self.KINDS for hid in getattr(m, k)}

    def _timed(self, fn: Any, label: str) -> Any:
        self.per_hook.setdefault(label, 0.0)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                self.seconds += dt
                self.per_hook[label] += dt
                self.calls += 1

        return wrapper

    def wrap_new(self) -> int:
        """Wrap every hook added since construction; returns how many."""
        for name, m in self.model.named_modules():
            for k in self.KINDS:
                hooks = getattr(m, k)
                for hid, fn in list(hooks.items()):
                    if (id(m), k, hid) not in self.before:
                        label = f"{name or '<model>'}:{'pre' if 'pre' in k else 'post'}#{hid}"
                        hooks[hid] = self._timed(fn, label)
                        self._wrapped.append((hooks, hid, fn))
        return len(self._wrapped)

    def unwrap(self) -> None:
        for hooks, hid, fn in self._wrapped:
            if hid in hooks:
                hooks[hid] = fn
        self._wrapped.clear()
