"""Property test: the Player against a plain-Python model of its intended semantics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_nb.audio.player import Player

RATE = 24000

ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 5), st.integers(0, 700)),
        st.tuples(st.just("fill"), st.integers(1, 600), st.just(0)),
        st.tuples(st.just("flush"), st.just(0), st.just(0)),
        st.tuples(st.just("done"), st.integers(0, 5), st.just(0)),
    ),
    max_size=60,
)


class Model:
    """What the Player should do: a FIFO of tagged samples; flush kills every item seen so far."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, int]] = []  # (item, value)
        self.dead: set[int] = set()
        self.seen: set[int] = set()
        self.played: dict[int, int] = {}

    def push(self, item: int, values: np.ndarray) -> None:
        if item in self.dead:
            return
        self.seen.add(item)
        self.queue.extend((item, int(v)) for v in values)

    def flush(self) -> None:
        self.queue.clear()
        self.dead |= self.seen

    def fill(self, n: int) -> np.ndarray:
        take, self.queue = self.queue[:n], self.queue[n:]
        for item, _ in take:
            self.played[item] = self.played.get(item, 0) + 1
        out = np.zeros(n, dtype=np.int16)
        out[: len(take)] = [v for _, v in take]
        return out


@settings(max_examples=150, deadline=None)
@given(ops)
def test_player_matches_model(sequence: list[tuple[str, int, int]]) -> None:
    player = Player(RATE, capacity_s=0.5, max_marks=100_000)  # small ring: wraps often
    model = Model()
    counter = 1
    t = 0.0
    chunks: dict[str, list[bytes]] = {}
    for op, a, b in sequence:
        if op == "push":
            if model_len(model) + b > player.capacity:
                continue  # a full ring raises; covered elsewhere
            values = (np.arange(counter, counter + b) % 30000 + 1).astype(np.int16)
            counter += b
            player.push(values, f"r{a}", f"i{a}")
            model.push(a, values)
        elif op == "fill":
            out = np.full(a, -7, dtype=np.int16)
            player.fill(out, t)
            t += a / RATE
            assert np.array_equal(out, model.fill(a))
        elif op == "flush":
            player.flush(t=t)
            model.flush()
        else:
            player.done(f"r{a}", f"i{a}")
        for m in player.drain_marks():
            if m.kind == "chunk":
                assert m.pcm is not None
                chunks.setdefault(m.item_id, []).append(m.pcm)
    assert player.queued_ms * RATE / 1000 == len(model.queue)
    for item, n in model.played.items():
        assert round(player.played_ms(f"i{item}") * RATE / 1000) == n
        assert len(b"".join(chunks[f"i{item}"])) == 2 * n


def model_len(model: Model) -> int:
    return len(model.queue)
