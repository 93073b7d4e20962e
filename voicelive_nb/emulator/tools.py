"""How the emulated model decides to call tools, fills their arguments and uses their results.

Pure functions on plain dicts (the session as on the wire); the default responder
(:mod:`voicelive_nb.emulator.responder`) uses them, and a custom responder may too.

The rule, deterministic and documented:

* **Which tools.**  Candidates are the session's function tools (``tools`` entries of
  ``type: "function"``) and the tools the session's MCP servers listed.  With
  ``tool_choice: "none"`` there are none; ``{"type": "function", "name": N}`` keeps only N.
  A tool *matches* an utterance when one of its name's words (split at ``_``, ``-``,
  ``.`` and camelCase; 3+ letters, not a stop word such as ``get``/``set``/``the``) is a
  word of the utterance (case-insensitive, a plural ``s`` ignored).  The best tool has the
  most matching words; ties go to the earlier tool (session order, MCP tools after
  function tools).  With ``parallel_tool_calls`` (default true) every matching tool is
  called, in that order, in one response; else only the best.  ``tool_choice:
  "required"`` (or a named function) calls the first candidate when nothing matches.
* **When.**  Only a response to the user (no tool output since the last user item):
  once tool outputs came back the model answers with them, so it never loops.
* **Arguments**, per property of the tool's JSON schema, in order: an ``enum`` property
  takes the first of its values said in the utterance (else its first value); an
  ``integer``/``number`` the first number said (digits or one..twenty), a ``boolean``
  false when the utterance says "no"/"not"/"don't" (else true); a ``string`` takes the
  words after the property's own name when said ("city Paris"), else the words after
  the last of "in", "for", "at", "of", "about", "to", "from", "called", "named" (up to
  the end of the sentence), else the utterance's last word.  A property with no value
  found and a ``default`` is left out; required ones always get a value.
* **The answer** after tool outputs (:func:`answer_from_outputs`) says each output in
  words: a JSON object's ``error`` as "Sorry, NAME failed: ERROR", other objects as
  "key value, key value", strings as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ToolCall",
    "answer_from_outputs",
    "choose_calls",
    "fill_arguments",
    "function_tools",
]

STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "get",
        "set",
        "put",
        "make",
        "find",
        "tell",
        "give",
        "show",
        "list",
        "with",
        "from",
        "what",
        "who",
        "how",
        "when",
        "where",
        "current",
        "now",
        "today",
        "please",
        "can",
        "you",
        "your",
        "are",
        "was",
        "this",
        "that",
    ]
)
PREPOSITIONS = ("in", "for", "at", "of", "about", "to", "from", "called", "named")
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_WORD = re.compile(r"[A-Za-z0-9']+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class ToolCall:
    """A tool call the emulated model makes (a responder may return one, or a list).

    Args:
        name: The function's (or MCP tool's) name.
        arguments: The arguments, a dict (sent as JSON) or JSON text as is.
        server_label: For an MCP tool: the server's label (None: a function tool, or
            found by name among the listed MCP tools).
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    server_label: str | None = None
    approval_request_id: str | None = None
    """Set by the emulator for an MCP call the client approved."""

    @property
    def arguments_json(self) -> str:
        """The arguments as JSON text (what goes on the wire)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


def function_tools(session: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The session's ``function`` tool definitions, in order."""
    tools = session.get("tools") or []
    return [dict(t) for t in tools if isinstance(t, Mapping) and t.get("type") == "function" and t.get("name")]


def _words(text: str) -> list[str]:
    return [w.lower().strip("'") for w in _WORD.findall(text)]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def name_words(name: str) -> list[str]:
    """The matching words of a tool name: ``get_weather`` -> ``["weather"]``."""
    parts = re.split(r"[_\-.\s]+", _CAMEL.sub(" ", name))
    return [_stem(p.lower()) for p in parts if len(p) >= 3 and p.lower() not in STOP_WORDS]


def _candidates(session: Mapping[str, Any], mcp_tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    choice = session.get("tool_choice", "auto")
    if choice == "none":
        return []
    tools = [*function_tools(session), *mcp_tools]
    if isinstance(choice, Mapping) and choice.get("name"):
        tools = [t for t in tools if t.get("name") == choice.get("name")]
    return tools


def choose_calls(
    transcript: str | None, session: Mapping[str, Any], mcp_tools: list[dict[str, Any]] | None = None
) -> list[ToolCall]:
    """The tool calls the default rule makes for ``transcript`` (see the module docstring).

    ``mcp_tools``: tools listed by the session's MCP servers, each a dict with ``name``,
    ``description``, ``input_schema`` and ``server_label``.
    """
    tools = _candidates(session, mcp_tools or [])
    if not tools:
        return []
    said = {_stem(w) for w in _words(transcript or "")}
    scored = [(sum(w in said for w in name_words(str(t["name"]))), i, t) for i, t in enumerate(tools)]
    matching = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
    choice = session.get("tool_choice", "auto")
    if not matching:
        if choice == "required" or isinstance(choice, Mapping):
            matching = [scored[0]]
        else:
            return []
    if session.get("parallel_tool_calls") is False:
        matching = matching[:1]
    calls = []
    for _, _, tool in matching:
        schema = tool.get("parameters") if tool.get("type") == "function" else tool.get("input_schema")
        args = fill_arguments(schema if isinstance(schema, Mapping) else {}, transcript or "")
        calls.append(ToolCall(str(tool["name"]), args, tool.get("server_label")))
    return calls


def _number(words: list[str]) -> float | None:
    for w in words:
        if w in NUMBER_WORDS:
            return float(NUMBER_WORDS[w])
        try:
            return float(w)
        except ValueError:
            continue
    return None


def _sentence_words(transcript: str) -> list[str]:
    first = re.split(r"[.?!]", transcript.strip())[0] if transcript.strip() else ""
    return _WORD.findall(first) or _WORD.findall(transcript)


def _string_value(prop: str, transcript: str) -> str | None:
    words = _sentence_words(transcript)
    lower = [w.lower() for w in words]
    key = prop.lower().replace("_", " ").split()[-1] if prop else ""
    if key in lower:
        i = lower.index(key)
        if i + 1 < len(words):
            return " ".join(words[i + 1 :])
    for i in range(len(lower) - 1, -1, -1):
        if lower[i] in PREPOSITIONS and i + 1 < len(words):
            return " ".join(words[i + 1 :])
    return words[-1] if words else None


def fill_arguments(schema: Mapping[str, Any], transcript: str) -> dict[str, Any]:
    """Arguments for a tool's JSON ``schema`` from what was said (see the module docstring)."""
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    words = _words(transcript)
    out: dict[str, Any] = {}
    for name, spec in props.items() if isinstance(props, Mapping) else ():
        spec = spec if isinstance(spec, Mapping) else {}
        kind = spec.get("type")
        value: Any = None
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            said = [v for v in spec["enum"] if str(v).lower() in words]
            value = said[0] if said else (spec["enum"][0] if name in required else None)
        elif kind in ("integer", "number"):
            number = _number(words)
            if number is None and name in required:
                number = 1.0
            if number is not None:
                value = int(number) if kind == "integer" else number
        elif kind == "boolean":
            value = not any(w in ("no", "not", "don't", "dont") for w in words)
        else:
            value = _string_value(str(name), transcript)
            if value is None and name in required:
                value = ""
        if value is not None and (name in required or "default" not in spec or value != spec.get("default")):
            out[str(name)] = value
    return out


def _spoken(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {_spoken(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_spoken(v) for v in value)
    return str(value)


def answer_from_outputs(outputs: Sequence[Mapping[str, Any]]) -> str:
    """The spoken answer that uses tool outputs (``name`` and ``output`` of each), in order."""
    parts = []
    for out in outputs:
        name = str(out.get("name") or "the tool").replace("_", " ")
        text = out.get("output")
        try:
            value = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            value = text
        if isinstance(value, Mapping) and value.get("error"):
            parts.append(f"Sorry, {name} failed: {value['error']}.")
        elif out.get("error"):
            parts.append(f"Sorry, {name} failed: {out['error']}.")
        else:
            parts.append(f"{name[:1].upper()}{name[1:]} says: {_spoken(value)}.")
    return " ".join(parts) if parts else "I have no result to tell you."
