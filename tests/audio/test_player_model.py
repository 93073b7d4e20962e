"""Property test: the Player against a plain-Python model of its intended semantics."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from voicelive_nb.audio.player import Player

RATE = 24000

ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 5), st.integers(0, 700) | st.sampled_from([120, 480, 960])),
        st.tuples(st.just("fill"), st.integers(1, 600), st.just(0)),
        st.tuples(st.just("fill"), st.sampled_from([120, 480]), st.integers(2, 12)),  # a device's steady blocks
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


@settings(max_examples=300, deadline=None)
@given(ops)
@example([("push", 0, 960), ("fill", 480, 1), ("done", 0, 0), ("fill", 480, 2)])  # ends on a steady block
@example([("push", 0, 960), ("fill", 480, 1), ("push", 1, 480), ("fill", 480, 3), ("flush", 0, 0)])
def test_player_matches_model(sequence: list[tuple[str, int, int]]) -> None:
    player = Player(RATE, capacity_s=0.5, max_marks=100_000)  # small ring: wraps often
    model = Model()
    counter = 1
    t = 0.0
    chunks: dict[str, list[bytes]] = {}
    offsets: dict[str, int] = {}  # next chunk offset expected per item
    started: set[str] = set()
    stopped: dict[str, int] = {}
    done: set[int] = set()
    for op, a, b in sequence:
        if op == "push":
            if model_len(model) + b > player.capacity or a in done:
                continue  # a full ring raises (covered elsewhere); no audio follows response.audio.done
            values = (np.arange(counter, counter + b) % 30000 + 1).astype(np.int16)
            counter += b
            player.push(values.tobytes() if b % 2 else values, f"r{a}", f"i{a}")  # (bytes: the session's deltas)
            model.push(a, values)
        elif op == "fill":
            for _ in range(max(b, 1)):
                out = np.full((a, 1), -7, dtype=np.int16)
                player.fill(out, t)
                t += a / RATE
                assert np.array_equal(out[:, 0], model.fill(a))
                for item, n in model.played.items():  # what a truncate would send, at any moment
                    assert round(player.played_ms(f"i{item}") * RATE / 1000) == n
        elif op == "flush":
            info = player.flush(t=t)
            if info is not None:
                item = int(info.item_id[1:])
                assert round(info.played_ms * RATE / 1000) == model.played.get(item, 0)
            model.flush()
        else:
            player.done(f"r{a}", f"i{a}")
            done.add(a)
        for m in player.drain_marks():
            if m.kind == "started":
                assert m.item_id not in started and m.item_id not in offsets
                started.add(m.item_id)
            elif m.kind == "chunk":
                assert m.pcm is not None and m.item_id in started
                assert m.offset == offsets.get(m.item_id, 0), "chunks of an item are contiguous"
                offsets[m.item_id] = m.offset + m.samples
                chunks.setdefault(m.item_id, []).append(m.pcm)
            else:
                assert m.item_id not in stopped
                stopped[m.item_id] = m.offset
    assert player.queued_ms * RATE / 1000 == len(model.queue)
    for item, n in model.played.items():
        assert round(player.played_ms(f"i{item}") * RATE / 1000) == n
        assert len(b"".join(chunks[f"i{item}"])) == 2 * n
    for item in done - model.dead:  # finished, never cut: stopped once all of it has played
        queued = any(i == item for i, _ in model.queue)
        if model.played.get(item, 0) > 0 and not queued:
            assert stopped.get(f"i{item}") == model.played[item]
        else:
            assert f"i{item}" not in stopped


def model_len(model: Model) -> int:
    return len(model.queue)
