"""The Voice Live protocol's vocabulary: the names and values a session can be configured with.

Shared by the client's :mod:`voicelive_nb.config` (which validates a session against it) and
the local emulator (which accepts and refuses ``session.update`` fields by it), so the two
cannot drift apart.  Plain constants, nothing of ours imported.  Facts: ``shared/PROTOCOL.md``.
"""

from __future__ import annotations

__all__ = [
    "AZURE_NATIVE_VOICES",
    "EOU_LEVELS",
    "EOU_MODELS",
    "INPUT_FORMATS",
    "INPUT_RATES",
    "MODALITIES",
    "NOISE_REDUCTION_TYPES",
    "OPENAI_VOICES",
    "OUTPUT_FORMATS",
    "OUTPUT_RATES",
    "TURN_DETECTION_TYPES",
    "VOICE_TYPES",
]

TURN_DETECTION_TYPES = (
    "server_vad",
    "azure_semantic_vad",
    "azure_semantic_vad_en",
    "azure_semantic_vad_multilingual",
)
EOU_MODELS = ("semantic_detection_v1", "semantic_detection_v1_en", "semantic_detection_v1_multilingual")
EOU_LEVELS = ("low", "medium", "high", "default")
VOICE_TYPES = ("azure-standard", "azure-custom", "azure-personal", "azure-realtime-native", "openai")
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"})
AZURE_NATIVE_VOICES = frozenset(
    {"aarti", "andrew", "ava", "denise", "diya", "elsa", "florian", "francisca", "meera", "xiaoxiao", "yunxi", "ximena"}
)
MODALITIES = ("text", "audio")
INPUT_RATES = (8000, 16000, 24000)
INPUT_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
OUTPUT_FORMATS = ("pcm16", "pcm16_8000hz", "pcm16_16000hz", "g711_ulaw", "g711_alaw")
OUTPUT_RATES = {"pcm16": 24000, "pcm16_16000hz": 16000, "pcm16_8000hz": 8000, "g711_ulaw": 8000, "g711_alaw": 8000}
NOISE_REDUCTION_TYPES = ("azure_deep_noise_suppression", "near_field", "far_field")
