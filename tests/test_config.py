"""The configuration model: validation, SDK conversion, env/.env precedence, key masking."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from azure.ai.voicelive.models import (
    AzureSemanticVad,
    AzureStandardVoice,
    OpenAIVoice,
    RequestSession,
    ServerVad,
)

from voicelive_nb.config import EndOfUtterance, SessionConfig, VadSettings, Voice, voice_type_of
from voicelive_nb.connection import ConnectionSettings, Secret, session_config_from_env

KEY = "sk-test-0123456789abcdef0123456789abcdef"


def test_defaults_follow_the_reference_quickstart() -> None:
    d = SessionConfig().to_dict()
    assert d["modalities"] == ["text", "audio"]
    assert d["voice"] == {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"}
    assert d["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
        "auto_truncate": False,
    }
    assert d["input_audio_noise_reduction"] == {"type": "azure_deep_noise_suppression"}
    assert d["input_audio_echo_cancellation"] == {"type": "server_echo_cancellation"}
    assert d["input_audio_format"] == "pcm16" and d["input_audio_sampling_rate"] == 24000


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("alloy", "openai"),
        ("cedar", "openai"),
        ("ava", "azure-realtime-native"),
        ("en-US-Ava:DragonHDLatestNeural", "azure-standard"),
        ("en-US-JennyNeural", "azure-standard"),
        ("sr-Latn-RS-NicholasNeural", "azure-standard"),
        ("zh-CN-Xiaoxiao:DragonHDFlashLatestNeural", "azure-standard"),
    ],
)
def test_voice_kind_rule(name: str, kind: str) -> None:
    assert voice_type_of(name) == kind
    assert Voice(name).type == kind


@pytest.mark.parametrize("name", ["my-voice", "Alloy", "en_US_Ava", "gpt-4o", "en-US-"])
def test_unrecognised_voice_names_are_refused_with_the_fix(name: str) -> None:
    with pytest.raises(ValueError, match=r"voice=.*Voice\(.*type=") as err:
        Voice(name)
    assert repr(name) in str(err.value)


def test_explicit_voice_types() -> None:
    assert Voice("my-voice", type="openai").to_dict() == {"type": "openai", "name": "my-voice"}
    custom = Voice("MyBrandVoice", endpoint_id="abc-123", temperature=0.7)
    assert custom.type == "azure-custom"
    assert custom.to_dict() == {
        "type": "azure-custom",
        "name": "MyBrandVoice",
        "temperature": 0.7,
        "endpoint_id": "abc-123",
    }
    with pytest.raises(ValueError, match="endpoint_id"):
        Voice("MyBrandVoice", type="azure-custom")
    with pytest.raises(ValueError, match="voice.temperature"):
        Voice("alloy", temperature=0.5)
    with pytest.raises(ValueError, match="voice.rate"):
        Voice("en-US-JennyNeural", rate="3")


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"threshold": 0.0}, "turn_detection.threshold", "0.01 <="),
        ({"threshold": 1.0}, "turn_detection.threshold", "< 1.0"),
        ({"threshold": "high"}, "turn_detection.threshold", "a number"),
        ({"silence_duration_ms": 5}, "turn_detection.silence_duration_ms", "20 <="),
        ({"silence_duration_ms": 500.5}, "turn_detection.silence_duration_ms", "an integer"),
        ({"prefix_padding_ms": -1}, "turn_detection.prefix_padding_ms", "0 <="),
        ({"type": "semantic"}, "turn_detection.type", "server_vad"),
        ({"speech_duration_ms": 100}, "turn_detection.speech_duration_ms", "azure_semantic_vad"),
        ({"interrupt_response": "yes"}, "turn_detection.interrupt_response", "True or False"),
    ],
)
def test_bad_vad_values_name_field_value_and_range(changes: dict, field: str, hint: str) -> None:
    with pytest.raises(ValueError) as err:
        SessionConfig().with_vad(**changes)
    message = str(err.value)
    assert field in message and hint in message
    assert repr(next(iter(changes.values()))) in message


def test_unknown_vad_field_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown turn_detection field.*silence_ms.*Known:.*silence_duration_ms"):
        SessionConfig().with_vad(silence_ms=300)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"temperature": 2.0}, "temperature"),
        ({"modalities": ("audio", "video")}, "modalities"),
        ({"input_audio_sampling_rate": 44100}, "input_audio_sampling_rate"),
        ({"output_audio_format": "mp3"}, "output_audio_format"),
        ({"noise_reduction": "loud"}, "noise_reduction"),
        ({"max_response_output_tokens": 0}, "max_response_output_tokens"),
        ({"max_response_output_tokens": "lots"}, "max_response_output_tokens"),
        ({"model": ""}, "model"),
        ({"input_audio_format": "g711_ulaw"}, "input_audio_sampling_rate"),
        ({"transcription_language": "en"}, "transcription_language"),
    ],
)
def test_bad_session_values(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SessionConfig().replace(**changes)


def test_with_vad_returns_an_updated_copy() -> None:
    base = SessionConfig()
    tuned = base.with_vad(silence_duration_ms=800, threshold=0.7)
    assert base.turn_detection == VadSettings()
    assert tuned.turn_detection is not None
    assert (tuned.turn_detection.silence_duration_ms, tuned.turn_detection.threshold) == (800, 0.7)
    manual = base.without_vad()
    assert manual.to_dict()["turn_detection"] is None
    assert manual.with_vad(threshold=0.6).turn_detection == VadSettings(threshold=0.6)


def test_semantic_vad_and_back() -> None:
    eou = EndOfUtterance(model="semantic_detection_v1_en", threshold_level="low", timeout_ms=800)
    sem = SessionConfig().with_vad(
        type="azure_semantic_vad",
        speech_duration_ms=80,
        remove_filler_words=True,
        languages=["en"],
        end_of_utterance_detection=eou,
    )
    td = sem.to_dict()["turn_detection"]
    assert td["type"] == "azure_semantic_vad" and td["languages"] == ["en"]
    assert td["end_of_utterance_detection"] == {
        "model": "semantic_detection_v1_en",
        "threshold_level": "low",
        "timeout_ms": 800,
    }
    back = sem.with_vad(type="server_vad")
    assert back.turn_detection is not None and back.turn_detection.speech_duration_ms is None


def test_converts_to_the_sdk_request_session() -> None:
    cfg = SessionConfig(
        voice="alloy", transcription_model="azure-speech", transcription_language="en", temperature=0.7
    ).with_vad(type="azure_semantic_vad", speech_duration_ms=120)
    rs = cfg.to_request_session()
    assert isinstance(rs, RequestSession)
    wire = rs.as_dict()
    assert wire == cfg.to_dict()
    again = RequestSession._deserialize(wire, [])
    assert isinstance(again.turn_detection, AzureSemanticVad)
    assert again.turn_detection.speech_duration_ms == 120
    assert isinstance(RequestSession._deserialize(SessionConfig().to_dict(), []).turn_detection, ServerVad)
    voice_model = RequestSession._deserialize(wire, []).voice
    assert isinstance(voice_model, OpenAIVoice) or voice_model["type"] == "openai"
    azure = RequestSession._deserialize(SessionConfig().to_dict(), []).voice
    assert isinstance(azure, AzureStandardVoice) or azure["name"] == "en-US-Ava:DragonHDLatestNeural"


def test_dict_and_file_round_trip(tmp_path: Path) -> None:
    cfg = SessionConfig(
        voice=Voice("en-US-JennyNeural", rate="1.2"),
        modalities=("text",),
        noise_reduction=None,
        echo_cancellation=False,
        max_response_output_tokens="inf",
        output_audio_format="pcm16_16000hz",
    ).with_vad(prefix_padding_ms=200)
    assert SessionConfig.from_dict(cfg.to_dict()) == cfg
    path = tmp_path / "session.json"
    path.write_text(json.dumps({"type": "session.update", "session": cfg.to_dict()}))
    assert SessionConfig.from_file(path) == cfg
    assert cfg.output_rate == 16000


def test_from_dict_rejects_unknown_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown session field.*voices"):
        SessionConfig.from_dict({"voices": "alloy"})
    with pytest.raises(ValueError, match="unknown turn_detection field.*silence"):
        SessionConfig.from_dict({"turn_detection": {"type": "server_vad", "silence": 3}})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        SessionConfig.from_file(bad)
    with pytest.raises(ValueError, match="does not exist"):
        SessionConfig.from_file(tmp_path / "missing.json")


# -- connection settings ------------------------------------------------------------------


def test_precedence_arguments_over_env_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "AZURE_VOICELIVE_ENDPOINT=https://from-dotenv.services.ai.azure.com\n"
        "AZURE_VOICELIVE_API_KEY=dotenv-key\nAZURE_VOICELIVE_API_VERSION=2025-10-01\n"
        "AZURE_VOICELIVE_VOICE=alloy\n"
    )
    env = {"AZURE_VOICELIVE_ENDPOINT": "https://from-env.services.ai.azure.com/", "AZURE_VOICELIVE_API_KEY": KEY}
    s = ConnectionSettings.resolve(env=env, dotenv=dotenv)
    assert s.endpoint == "https://from-env.services.ai.azure.com"
    assert s.api_key == Secret(KEY) and s.auth == "key"
    assert s.api_version == "2025-10-01"  # only the .env sets it
    s2 = ConnectionSettings.resolve(endpoint="http://127.0.0.1:9999", api_key="arg-key", env=env, dotenv=dotenv)
    assert s2.endpoint == "http://127.0.0.1:9999" and s2.api_key == Secret("arg-key")
    only_dotenv = ConnectionSettings.resolve(env={}, dotenv=dotenv)
    assert only_dotenv.endpoint == "https://from-dotenv.services.ai.azure.com"
    assert session_config_from_env(env={}, dotenv=dotenv).voice.name == "alloy"
    assert session_config_from_env(env={"AZURE_VOICELIVE_VOICE": "echo"}, dotenv=dotenv).voice.name == "echo"


def test_no_endpoint_means_the_emulator(tmp_path: Path) -> None:
    s = ConnectionSettings.resolve(env={}, dotenv=tmp_path / "none")
    assert s.uses_emulator and s.auth == "key"
    assert ConnectionSettings(endpoint="emulator").uses_emulator
    local = s.for_endpoint("http://127.0.0.1:1234")
    assert local.endpoint == "http://127.0.0.1:1234" and not local.uses_emulator
    # `--endpoint emulator` with an Azure key configured: the key stays home
    keyed = ConnectionSettings.resolve(
        endpoint="emulator", env={"AZURE_VOICELIVE_API_KEY": "azure-secret"}, dotenv=None
    )
    assert keyed.uses_emulator
    assert keyed.for_endpoint("http://127.0.0.1:1234").api_key != Secret("azure-secret")


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("ftp://x.example", "must start with https://"),
        ("my-resource.services.ai.azure.com", "must start with https://"),
        ("https://", "no host"),
        ("http://127.0.0.1:99999", "port"),
        ("https://x.example/?api-version=1", "query string"),
    ],
)
def test_bad_endpoints(endpoint: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ConnectionSettings(endpoint=endpoint, api_key=KEY)


def test_azure_endpoint_without_key_explains_the_options() -> None:
    with pytest.raises(ValueError, match="AZURE_VOICELIVE_API_KEY.*azure-cli"):
        ConnectionSettings(endpoint="https://x.services.ai.azure.com", auth="key")
    assert ConnectionSettings(endpoint="https://x.services.ai.azure.com").auth == "default"
    with pytest.raises(ValueError, match="auth='magic'"):
        ConnectionSettings(auth="magic")


def test_the_key_is_never_shown() -> None:
    s = ConnectionSettings(endpoint="https://x.services.ai.azure.com", api_key=KEY)
    for text in (repr(s), str(s), f"{s}", repr(s.api_key), f"{s.api_key}", str(s.describe()), json.dumps(s.describe())):
        assert KEY not in text
    assert "****" in repr(s)
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert s.credential().key == KEY  # type: ignore[union-attr]


def test_cli_config_show_masks_the_key(tmp_path: Path) -> None:
    env = {
        "AZURE_VOICELIVE_ENDPOINT": "https://x.services.ai.azure.com",
        "AZURE_VOICELIVE_API_KEY": KEY,
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-m", "voicelive_nb.cli", "config", "--show"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert KEY not in out.stdout + out.stderr
    shown = json.loads(out.stdout)
    assert shown["connection"] == {
        "endpoint": "https://x.services.ai.azure.com",
        "auth": "key",
        "api_key": "****",
        "api_version": None,
    }
    assert shown["session"]["turn_detection"]["type"] == "server_vad"


def test_cli_reports_bad_config_plainly(tmp_path: Path) -> None:
    env = {"AZURE_VOICELIVE_ENDPOINT": "ftp://nope", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "voicelive_nb.cli", "config", "--show"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "endpoint='ftp://nope' is not valid" in out.stderr and "Traceback" not in out.stderr


def test_cli_help_lists_the_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "voicelive_nb.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for sub in ("config", "check", "emulator", "demo", "report", "devices"):
        assert sub in out.stdout


def test_cli_check_exits_non_zero_when_something_is_missing(tmp_path: Path) -> None:
    # with an empty PATH the programs (espeak-ng, pulseaudio, chromium) are not found
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "voicelive_nb.cli", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "item(s) missing" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 1


def test_cli_output_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """`voicelive-nb config --show | head`: the reader leaves early; no BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicelive_nb.cli", "config", "--show"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the child has printed anything (its imports take longer)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err
