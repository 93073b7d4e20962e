"""The ``tools`` entries of a session config: a Python function's definition, wire dicts, checks.

A ``tools`` entry is a Python function, a ``@tool`` object (anything with a
``definition`` dict) or a dict as on the wire: ``{"type": "function", "name",
"description", "parameters"}`` or an MCP server ``{"type": "mcp", "server_label",
"server_url", "require_approval", ...}``.  :func:`function_definition` describes a
function (JSON schema from the signature and type hints through pydantic, descriptions
from the docstring through docstring-parser); :func:`check_tools` validates a config's
``tools``, ``tool_choice`` and ``parallel_tool_calls`` the way
:class:`~voicelive_nb.config.SessionConfig` needs (a ValueError naming the field, the
value and what is allowed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["check_tools", "function_definition", "tool_definition", "tool_name"]

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _fail(field_name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{field_name}={value!r} is not valid: {allowed}")


def function_definition(fn: Any, name: str | None = None, description: str | None = None) -> dict[str, Any]:
    """The ``{"type": "function", ...}`` definition of a Python function.

    The parameters' JSON schema comes from the signature and type hints (pydantic), the
    descriptions from the docstring (docstring-parser: Google, NumPy or reST style).
    Raises ValueError naming a parameter pydantic cannot describe.
    """
    import docstring_parser
    from pydantic import TypeAdapter
    from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

    tool = name or getattr(fn, "__name__", "")
    try:
        schema = TypeAdapter(fn).json_schema()
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise ValueError(f"tool {tool!r}: cannot describe its parameters as JSON schema ({exc})") from None
    doc = docstring_parser.parse(getattr(fn, "__doc__", None) or "")
    props = schema.get("properties") or {}
    for param in doc.params:
        if param.arg_name in props and param.description and "description" not in props[param.arg_name]:
            props[param.arg_name]["description"] = param.description
    for prop in props.values():
        prop.pop("title", None)
    schema.pop("title", None)
    summary = " ".join(x for x in (doc.short_description, doc.long_description) if x)
    return {"type": "function", "name": tool, "description": description or summary, "parameters": schema}


def tool_definition(tool: Any) -> dict[str, Any]:
    """The wire dict of one ``tools`` entry (a dict, a ``@tool`` object or a function)."""
    if isinstance(tool, Mapping):
        return dict(tool)
    definition = getattr(tool, "definition", None)
    if isinstance(definition, Mapping):
        return dict(definition)
    if callable(tool):
        return function_definition(tool)
    raise _fail("tools", tool, "expected a function, a @tool object or a tool dict")


def tool_name(definition: Mapping[str, Any]) -> str:
    """A function tool's name, or an MCP server's label."""
    return str(definition.get("name") if definition.get("type") == "function" else definition.get("server_label"))


def check_tools(tools: Any, tool_choice: Any, parallel_tool_calls: Any) -> tuple[Any, ...]:
    """Validate a config's tool settings; returns ``tools`` as a tuple.

    Raises:
        ValueError: A bad entry, a duplicate name, a ``tool_choice`` naming no function
            of ``tools``, a ``parallel_tool_calls`` that is not a bool (or None).
    """
    if not isinstance(tools, (list, tuple)):
        raise _fail("tools", tools, "expected a list of functions, @tool objects or tool dicts")
    names = [tool_name(_checked(t)) for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail("tools", dupes, "each tool name (MCP server label) must be unique")
    if isinstance(tool_choice, Mapping):
        if tool_choice.get("type") != "function" or tool_choice.get("name") not in names:
            raise _fail("tool_choice", dict(tool_choice), f"expected {{'type': 'function', 'name': one of {names}}}")
    elif tool_choice not in ("auto", "none", "required"):
        raise _fail("tool_choice", tool_choice, "expected one of 'auto', 'none', 'required'")
    if parallel_tool_calls is not None and not isinstance(parallel_tool_calls, bool):
        raise _fail("parallel_tool_calls", parallel_tool_calls, "expected True or False")
    return tuple(tools)


def _checked(tool: Any) -> dict[str, Any]:
    """One entry's wire dict, checked."""
    d = tool_definition(tool)
    kind = d.get("type")
    if kind == "function":
        if not isinstance(d.get("name"), str) or not _TOOL_NAME.match(d["name"]):
            raise _fail("tools", d.get("name"), "a function tool needs a name of 1-64 letters, digits, _ or -")
        if "parameters" in d and not isinstance(d["parameters"], Mapping):
            raise _fail(f"tools[{d['name']}].parameters", d["parameters"], "expected a JSON schema object")
    elif kind == "mcp":
        url = d.get("server_url")
        if not isinstance(d.get("server_label"), str) or not d["server_label"]:
            raise _fail("tools", d, "an MCP server needs a server_label")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _fail(f"tools[{d['server_label']}].server_url", url, "expected an http(s) URL")
        approval = d.get("require_approval", "always")
        if not (approval in ("always", "never") or isinstance(approval, Mapping)):
            raise _fail(f"tools[{d['server_label']}].require_approval", approval, "'always', 'never' or a dict")
    else:
        raise _fail("tools", d, "expected type 'function' or 'mcp'")
    return d
