"""Where to connect and how to authenticate.

Settings come from, in order of precedence: arguments, ``AZURE_VOICELIVE_*`` environment
variables, then a ``.env`` file (read without changing ``os.environ``).

=============================  ==========================================================
``AZURE_VOICELIVE_ENDPOINT``   ``https://<resource>.services.ai.azure.com`` (or ``http://`` /
                               ``ws://`` for a local server); unset or ``emulator`` = the
                               bundled local emulator
``AZURE_VOICELIVE_API_KEY``    API key (sent as the ``api-key`` header)
``AZURE_VOICELIVE_AUTH``       ``key`` (default with a key), ``azure-cli`` or ``default``
                               (``DefaultAzureCredential``)
``AZURE_VOICELIVE_API_VERSION``  API version query parameter (default: the SDK's)
``AZURE_VOICELIVE_MODEL``      model (default ``gpt-realtime``)
``AZURE_VOICELIVE_VOICE``      voice (default ``en-US-Ava:DragonHDLatestNeural``)
``AZURE_VOICELIVE_INSTRUCTIONS``  system prompt
=============================  ==========================================================

The API key is held in a :class:`Secret` whose ``repr``/``str`` never show it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from voicelive_nb.config import SessionConfig

if TYPE_CHECKING:  # pragma: no cover
    from azure.core.credentials import AzureKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential

ENV_PREFIX = "AZURE_VOICELIVE_"
AUTH_MODES = ("key", "azure-cli", "default")
EMULATOR_WORDS = frozenset({"", "emulator", "local", "local emulator"})
# The key the embedded emulator is reached with when it does not require one.
EMULATOR_KEY = "local-emulator"


class Secret:
    """A string that does not show itself: ``repr``/``str``/format print ``'****'``.

    Call :meth:`reveal` where the real value is needed (the credential), nowhere else.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("api_key must be a non-empty string (or None to use another auth mode)")
        self._value = value.strip()

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # pickling would write the key to disk: refuse
        raise TypeError("a Secret cannot be pickled")


def read_sources(env: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env") -> dict[str, str]:
    """The ``AZURE_VOICELIVE_*`` settings from the environment over a ``.env`` file.

    Returns a dict keyed without the prefix, lower case (``endpoint``, ``api_key``, ...).
    """
    merged: dict[str, str] = {}
    if dotenv is not None and Path(dotenv).is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            if key.startswith(ENV_PREFIX) and value is not None:
                merged[key[len(ENV_PREFIX) :].lower()] = value
    source = os.environ if env is None else env
    for key, value in source.items():
        if key.startswith(ENV_PREFIX):
            merged[key[len(ENV_PREFIX) :].lower()] = value
    return merged


def check_endpoint(endpoint: str) -> str:
    """Validate an endpoint URL and return it normalised (no trailing slash).

    Raises ValueError naming the problem and the fix.
    """
    if not isinstance(endpoint, str):
        raise ValueError(f"endpoint={endpoint!r} is not valid: expected a URL string")
    url = endpoint.strip()
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError as exc:
        raise ValueError(
            f"endpoint={url!r} is not valid: {exc}; expected e.g. https://<resource>.services.ai.azure.com"
        ) from None
    if any(ch.isspace() for ch in url):
        raise ValueError(f"endpoint={url!r} is not valid: it contains white space")
    if parsed.scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(
            f"endpoint={url!r} is not valid: it must start with https:// (Azure, e.g. "
            "https://<resource>.services.ai.azure.com) or http:// (a local server)"
        )
    if not host:
        raise ValueError(
            f"endpoint={url!r} is not valid: it has no host name; expected e.g. https://<resource>.services.ai.azure.com"
        )
    try:
        _ = parsed.port
    except ValueError:
        raise ValueError(f"endpoint={url!r} is not valid: the port is not a number from 1 to 65535") from None
    if parsed.query or parsed.fragment:
        raise ValueError(f"endpoint={url!r} is not valid: leave out the query string; the SDK adds its own")
    return url.rstrip("/")


@dataclass(frozen=True)
class ConnectionSettings:
    """Endpoint and credential of a Voice Live service.

    Args:
        endpoint: Service URL; None means the bundled local emulator.
        api_key: API key, as a string or :class:`Secret` (never shown in repr).
        auth: ``"key"``, ``"azure-cli"`` or ``"default"``; None = ``"key"`` when there is
            a key or no endpoint, else ``"default"``.
        api_version: The ``api-version`` query parameter; None = the SDK's default.
    """

    endpoint: str | None = None
    api_key: Secret | str | None = None
    auth: str | None = None
    api_version: str | None = None

    def __post_init__(self) -> None:
        ep = self.endpoint
        if ep is not None and ep.strip().lower() in EMULATOR_WORDS:
            ep = None
        if ep is not None:
            ep = check_endpoint(ep)
        object.__setattr__(self, "endpoint", ep)
        if isinstance(self.api_key, str):
            object.__setattr__(self, "api_key", Secret(self.api_key) if self.api_key.strip() else None)
        elif self.api_key is not None and not isinstance(self.api_key, Secret):
            raise ValueError("api_key must be a string or a Secret")
        auth = self.auth or ("key" if (self.api_key is not None or ep is None) else "default")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth={auth!r} is not valid: expected one of {', '.join(AUTH_MODES)}")
        if auth == "key" and ep is not None and self.api_key is None:
            raise ValueError(
                f"no API key for {ep}: set AZURE_VOICELIVE_API_KEY (environment or .env), pass api_key=..., "
                "or use auth='azure-cli' / auth='default' for Entra ID sign-in"
            )
        object.__setattr__(self, "auth", auth)

    @classmethod
    def resolve(
        cls,
        endpoint: str | None = None,
        api_key: str | Secret | None = None,
        auth: str | None = None,
        api_version: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        dotenv: str | Path | None = ".env",
    ) -> ConnectionSettings:
        """Settings from arguments, then ``AZURE_VOICELIVE_*`` variables, then ``.env``."""
        src = read_sources(env, dotenv)
        endpoint = endpoint if endpoint is not None else src.get("endpoint")
        api_key = api_key if api_key is not None else src.get("api_key")
        auth = auth if auth is not None else (src.get("auth") or None)
        return cls(
            endpoint=endpoint or None,
            api_key=api_key or None,
            auth=auth,
            api_version=api_version or src.get("api_version") or None,
        )

    @property
    def uses_emulator(self) -> bool:
        """True when no endpoint is set: the session starts the bundled emulator."""
        return self.endpoint is None

    def for_endpoint(self, endpoint: str, api_key: str | Secret | None = None) -> ConnectionSettings:
        """A copy pointing at ``endpoint`` (e.g. a running emulator), with its own key.

        The configured key is never carried over to another endpoint: without ``api_key``
        the copy uses the emulator's placeholder key.
        """
        key = api_key if api_key is not None else EMULATOR_KEY
        return ConnectionSettings(endpoint=endpoint, api_key=key, auth="key", api_version=self.api_version)

    def credential(self) -> AzureKeyCredential | AsyncTokenCredential:
        """The credential object the SDK's ``connect`` takes."""
        if self.auth == "key":
            from azure.core.credentials import AzureKeyCredential

            key = self.api_key.reveal() if isinstance(self.api_key, Secret) else EMULATOR_KEY
            return AzureKeyCredential(key)
        if self.auth == "azure-cli":
            from azure.identity.aio import AzureCliCredential

            return AzureCliCredential()
        from azure.identity.aio import DefaultAzureCredential

        return DefaultAzureCredential()

    def describe(self) -> dict[str, Any]:
        """A dict safe to print or save: the key appears only as ``"****"``."""
        return {
            "endpoint": self.endpoint or "local emulator",
            "auth": self.auth,
            "api_key": "****" if self.api_key else None,
            "api_version": self.api_version,
        }

    def __repr__(self) -> str:
        d = self.describe()
        return "ConnectionSettings(" + ", ".join(f"{k}={v!r}" for k, v in d.items()) + ")"


def session_config_from_env(
    base: SessionConfig | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | Path | None = ".env",
) -> SessionConfig:
    """``base`` (or the defaults) with model, voice and instructions from the environment."""
    src = read_sources(env, dotenv)
    changes = {name: src[name] for name in ("model", "voice", "instructions") if src.get(name)}
    config = base or SessionConfig()
    return config.replace(**changes) if changes else config
