"""Server errors and connection failures in plain words, and which failures a retry cannot fix.

:func:`explain_error` turns a server ``error`` payload into a sentence; :func:`explain_exception`
does the same for a failure to connect or a dropped connection.  :func:`is_unreachable` and
:func:`is_fatal_exception` tell the engine when reconnecting is pointless.  Exceptions are
matched by class name along their cause/context chain, so no optional package is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["explain_error", "explain_exception", "is_fatal_exception", "is_unreachable"]

_PLAIN: dict[str, str] = {
    "conversation_already_has_active_response": (
        "The assistant is still answering; wait for response.done or cancel the response first."
    ),
    "response_cancel_not_active": "There was no response to cancel (it had already finished).",
    "input_audio_buffer_commit_empty": (
        "Nothing to commit: less than 100 ms of audio was buffered. Speak longer or append more audio."
    ),
    "unknown_parameter": "The service does not know the setting {param}. Remove it or check its spelling.",
    "invalid_type": "The setting {param} has the wrong type. Check the value you gave it.",
    "invalid_value": "The setting {param} has an invalid value. Check its allowed range.",
    "missing_required_parameter": "The setting {param} is required but missing.",
    "invalid_api_key": "The API key was rejected. Check AZURE_VOICELIVE_API_KEY.",
    "rate_limit_exceeded": "The service is rate limiting this resource. Wait a moment and try again.",
    "server_error": "The service had an internal error. Try again; if it persists, check the service status.",
    "item_truncate_invalid_audio_end_ms": "Truncation point was past the end of the assistant's audio.",
}


def explain_error(error: Mapping[str, Any] | Any) -> str:
    """Turn a server ``error`` payload (the event's ``error`` dict) into a plain sentence.

    Unknown codes fall back to the server's own message; nothing here raises.
    """
    if not isinstance(error, Mapping):
        return f"The service reported an error: {error!r}"
    code = error.get("code")
    param = error.get("param") or "named in the error"
    message = str(error.get("message") or "").strip()
    template = _PLAIN.get(str(code)) if code else None
    if template:
        text = template.format(param=param)
        return f"{text} (server said: {message})" if message and message not in text else text
    if message:
        return f"The service reported an error: {message}"
    return f"The service reported an error ({code or error.get('type') or 'unknown'})."


def explain_exception(exc: BaseException) -> str:
    """Plain words for a failure to connect or a dropped connection: one line, the cause first."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    credential_error = _chain_find(exc, _CREDENTIAL_ERRORS)
    if credential_error is not None:
        text = str(credential_error) or type(credential_error).__name__
        # azure-identity's message lists every credential it tried, one per line: keep the first
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return (
            f"Could not get a sign-in token ({first}) Set AZURE_VOICELIVE_API_KEY for key auth, or run "
            "`az login` and use auth='azure-cli'."
        )
    if "401" in low or "unauthorized" in low or "403" in low or "forbidden" in low:
        return (
            "The service refused the credentials (HTTP 401/403). Check the API key or run `az login`, "
            f"and that the endpoint belongs to your resource. ({text})"
        )
    if "404" in low:
        return f"Nothing answers at that endpoint path (HTTP 404). Check AZURE_VOICELIVE_ENDPOINT. ({text})"
    cause = _chain_find(exc, _UNREACHABLE)
    if cause is not None:
        host, port = _address(exc)
        if type(cause).__name__ == "gaierror":
            return f"Cannot resolve the host name {host or '?'} (DNS: {cause.args[-1]}). Check the endpoint's spelling."
        where = f" at {host}:{port}" if host else ""
        if type(cause).__name__ == "ConnectionRefusedError":
            return f"Nothing accepts connections{where} (connection refused). Check the endpoint's host and port."
        return f"The server's certificate is not trusted{where} ({cause}). Check the endpoint URL."
    if "cannot connect" in low or "connection refused" in low or "name or service not known" in low:
        return f"Cannot reach the endpoint. Check the URL and the network. ({text})"
    if "timeout" in low or "timed out" in low:
        return f"The connection timed out. ({text})"
    return f"Connection problem: {text}"


_CREDENTIAL_ERRORS = ("CredentialUnavailableError", "ClientAuthenticationError")


def _is_credential_error(exc: BaseException) -> bool:
    """True for azure-identity's "no token" errors (matched by class name: no import needed)."""
    return any(cls.__name__ in _CREDENTIAL_ERRORS for cls in type(exc).__mro__)


# Causes a retry cannot fix when the very first connect fails (matched by class name, no imports)
_UNREACHABLE = ("gaierror", "ConnectionRefusedError", "SSLCertVerificationError")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first (cycles cut)."""
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and all(e is not o for o in out):
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def _chain_find(exc: BaseException, names: tuple[str, ...]) -> BaseException | None:
    return next((e for e in _chain(exc) if any(c.__name__ in names for c in type(e).__mro__)), None)


def _address(exc: BaseException) -> tuple[str, Any]:
    """``(host, port)`` from aiohttp's connector error in the chain, else ``("", None)``."""
    for e in _chain(exc):
        host = getattr(e, "host", None)
        if isinstance(host, str) and host:
            return host, getattr(e, "port", None)
    return "", None


def is_unreachable(exc: BaseException) -> bool:
    """True when the address itself is wrong: unknown host (DNS), connection refused, untrusted certificate.

    Retrying helps a connection that worked before (a restart, a blip); for a first connect
    it only delays the message, so the session gives up at once.
    """
    return _chain_find(exc, _UNREACHABLE) is not None or any(getattr(e, "status", None) == 404 for e in _chain(exc))


def is_fatal_exception(exc: BaseException) -> bool:
    """True when retrying the connection cannot help: refused or unavailable credentials."""
    return any(getattr(e, "status", None) in (401, 403) or _is_credential_error(e) for e in _chain(exc))
