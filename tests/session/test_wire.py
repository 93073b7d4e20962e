"""The fast audio wire text: the same results as the json module, every time."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_nb.session.wire import append_text, b64decode, parse_frame


def expected(raw: bytes | str) -> Any:
    """What parse_frame must return: json.loads, with a valid audio delta decoded."""
    event = json.loads(raw)
    if isinstance(event, dict) and event.get("type") == "response.audio.delta" and isinstance(event.get("delta"), str):
        with contextlib.suppress(binascii.Error, ValueError):
            event["delta"] = base64.b64decode(event["delta"], validate=True)
    return event


def audio_event(pcm: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "type": "response.audio.delta",
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode("ascii"),
        **extra,
    }


def test_append_text_is_the_append_event() -> None:
    block = (np.arange(480, dtype=np.int16) * 37) - 8000
    text = append_text(block)
    assert json.loads(text) == {
        "type": "input_audio_buffer.append",
        "audio": base64.b64encode(block.tobytes()).decode("ascii"),
    }
    assert append_text(block.tobytes()) == text
    strided = np.repeat(block, 2)[::2]  # not contiguous: copied first
    assert append_text(strided) == text


def test_audio_delta_comes_decoded() -> None:
    pcm = np.arange(-2400, 2400, dtype=np.int16).tobytes()
    for dumps in (json.dumps, lambda o: json.dumps(o, separators=(",", ":")), lambda o: json.dumps(o, indent=2)):
        raw = dumps(audio_event(pcm)).encode()
        event = parse_frame(raw)
        assert event["delta"] == pcm
        assert event == expected(raw)
        assert parse_frame(raw.decode()) == event  # str frames too


def test_escaped_base64_as_other_encoders_write_it() -> None:
    """.NET's encoder writes '+' as \\u002B, some write '/' as \\/: still decoded, via json.loads."""
    pcm = bytes(range(256)) * 8
    text = json.dumps(audio_event(pcm))
    for escaped in (text.replace("+", "\\u002B"), text.replace("/", "\\/")):
        assert escaped != text
        assert parse_frame(escaped.encode())["delta"] == pcm


def test_other_events_are_plain_json() -> None:
    frames = [
        {"type": "response.audio_transcript.delta", "delta": "A" * 200},  # text that looks like base64
        {"type": "session.updated", "session": {"delta": "x" * 100}},
        {"type": "response.audio.delta", "delta": "not base64 at all, but long enough to be cut out!!!!!!!!!"},
        {"type": "response.audio.delta", "item": {"delta": "QUJD" * 40}, "delta": "QUJD" * 40},
        {"type": ["odd"], "delta": "QUJD" * 40},
        [1, 2, 3],
        "text",
    ]
    for obj in frames:
        raw = json.dumps(obj).encode()
        assert parse_frame(raw) == expected(raw), obj


def test_duplicate_delta_keys_take_the_last_like_json() -> None:
    a, b = base64.b64encode(b"\x01\x00" * 100).decode(), base64.b64encode(b"\x02\x00" * 100).decode()
    raw = f'{{"type":"response.audio.delta","delta":"{a}","delta":"{b}"}}'.encode()
    assert parse_frame(raw)["delta"] == b"\x02\x00" * 100


def test_bad_frames_raise_what_json_raises() -> None:
    good = json.dumps(audio_event(b"\x00\x01" * 200)).encode()
    for raw in (b"", b"{", good[:-1], good + b"x", good.replace(b'"delta"', b'"delta" x'), b"\xff" + good):
        with pytest.raises(ValueError):
            json.loads(raw)
        with pytest.raises(ValueError):
            parse_frame(raw)


def test_b64decode_is_strict() -> None:
    assert b64decode("AAEC") == b"\x00\x01\x02"
    for bad in ("AAE", "AA!C", "AAEC\n"):
        with pytest.raises((binascii.Error, ValueError)):
            b64decode(bad)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    pcm=st.binary(min_size=0, max_size=600),
    extra=st.dictionaries(st.sampled_from(["a", "delta", "item", "type", "x"]), json_value, max_size=3),
    etype=st.sampled_from(["response.audio.delta", "response.text.delta", "error"]),
    style=st.sampled_from([(", ", ": "), (",", ":"), (" ,  ", " :\t")]),
    ascii_only=st.booleans(),
)
def test_any_event_parses_like_json(
    pcm: bytes, extra: dict[str, Any], etype: str, style: tuple[str, str], ascii_only: bool
) -> None:
    obj = {"type": etype, "delta": base64.b64encode(pcm).decode(), **extra}
    obj["type"] = obj["type"] if "type" not in extra else extra["type"]
    raw = json.dumps(obj, separators=style, ensure_ascii=ascii_only).encode()
    assert parse_frame(raw) == expected(raw)
    assert parse_frame(raw.decode()) == expected(raw)  # the socket hands over str
    assert parse_frame(b"\xef\xbb\xbf" + raw) == expected(b"\xef\xbb\xbf" + raw)  # json.loads takes a BOM in bytes


@settings(max_examples=300, deadline=None)
@given(pcm=st.binary(min_size=48, max_size=400), cut=st.integers(0, 10_000), junk=st.binary(max_size=3))
def test_damaged_frames_parse_or_fail_like_json(pcm: bytes, cut: int, junk: bytes) -> None:
    raw = json.dumps(audio_event(pcm)).encode()
    at = cut % (len(raw) + 1)
    damaged = raw[:at] + junk + raw[at + len(junk) :]
    check_like_json(damaged)
    with contextlib.suppress(UnicodeDecodeError):
        check_like_json(damaged.decode("utf-8"))  # the socket hands over str


def check_like_json(raw: bytes | str) -> None:
    try:
        want = expected(raw)
    except ValueError:
        with pytest.raises(ValueError):
            parse_frame(raw)
        return
    assert parse_frame(raw) == want
