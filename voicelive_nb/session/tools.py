"""Python functions the assistant can call: :func:`tool`, :class:`Tool` and :class:`ToolRunner`.

Give a session functions (``VoiceSession(config, tools=[get_weather])``, or
``SessionConfig(tools=[...])``) and the model may call them.  Each function's JSON schema
comes from its signature, type hints and docstring (pydantic + docstring-parser, see
:func:`~voicelive_nb.tool_config.function_definition`); ``@tool`` sets a name, description or
timeout of its own::

    @tool(timeout_s=5)
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
        \"\"\"The weather now.

        Args:
            city: The city, e.g. Paris.
        \"\"\"
        return {"sky": "sunny", "temperature": 21}

How a call runs (:class:`ToolRunner`): the arguments (JSON text from the model) are
parsed and validated against the signature (pydantic; ``"3"`` becomes ``3`` for an int),
then the function runs in a worker thread -- never on the session's loop; an ``async``
function gets its own loop in that thread -- and is waited for at most ``timeout_s``.
The result becomes the output text: a ``str`` as it is, anything else as JSON (pydantic
models too).  Bad arguments, an exception, a timeout or an unknown/switched-off tool
become an output ``{"error": "..."}`` that the model can read and answer with; nothing
raises into the session (a timed-out sync function keeps its worker thread until it
returns: threads cannot be killed).

A call to a tool that has no Python function here (a definition only, e.g. a replayed
recording's) goes to the runner's :class:`ToolAnswers`, if it has one: a replay answers
it from the recording (:class:`voicelive_nb.tuning.replay_tools.RecordedAnswers`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, overload

from voicelive_nb.tool_config import function_definition, tool_definition, tool_name

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.config import SessionConfig

__all__ = ["Tool", "ToolAnswers", "ToolOutcome", "ToolRunner", "ToolSet", "as_tool", "tool"]

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True, eq=False)
class Tool:
    """A function the model can call, with its wire definition.

    Attributes:
        name: The name the model calls it by.
        definition: The ``{"type": "function", "name", "description", "parameters"}`` dict.
        fn: The Python function (None: a definition only, e.g. loaded from a recording).
        timeout_s: Longest run before the call is answered with a timeout error (None:
            the session's ``tool_timeout_s``).
    """

    name: str
    definition: Mapping[str, Any]
    fn: Callable[..., Any] | None = None
    timeout_s: float | None = None
    _validated: Callable[..., Any] | None = field(default=None, repr=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_s: float | None = None,
    ) -> Tool:
        """Describe ``fn`` (see :func:`~voicelive_nb.tool_config.function_definition`)."""
        if not callable(fn):
            raise ValueError(f"a tool must be a function, got {type(fn).__name__}")
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
        definition = function_definition(fn, name, description)
        from pydantic import validate_call

        return cls(str(definition["name"]), definition, fn, timeout_s, validate_call(fn))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (a decorated function stays usable as a function)."""
        if self.fn is None:
            raise TypeError(f"tool {self.name!r} has no Python function (a definition only)")
        return self.fn(*args, **kwargs)


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout_s: float | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: make a function a :class:`Tool` (``@tool`` or ``@tool(timeout_s=5, ...)``)."""
    if fn is not None:
        return Tool.from_function(fn)

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool.from_function(f, name=name, description=description, timeout_s=timeout_s)

    return wrap


def as_tool(obj: Any) -> Tool:
    """A :class:`Tool` from a function, a Tool, or a function tool dict (definition only)."""
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, Mapping):
        d = tool_definition(obj)
        if d.get("type") != "function":
            raise ValueError(f"as_tool() takes function tools, got {d.get('type')!r}")
        return Tool(str(d["name"]), d)
    if callable(obj):
        return Tool.from_function(obj)
    raise ValueError(f"a tool must be a function, a @tool or a tool dict, got {type(obj).__name__}")


@dataclass(frozen=True)
class ToolOutcome:
    """How one call went.

    Attributes:
        output: The ``function_call_output`` text sent back (the result, or ``{"error": ...}``).
        status: ``"ok"``, ``"error"`` (the function raised), ``"invalid"`` (bad arguments),
            ``"timeout"``, ``"unknown"`` (no such tool) or ``"disabled"`` (switched off).
        error: The problem in words (None when ok).
        started_t, finished_t: Monotonic times the function started and returned, measured in
            the worker thread around the call itself (the hops into and out of the pool are
            the runner's cost, not the function's); for a timeout: the wait.
        source: ``"function"`` (run here) or ``"recording"`` (answered by :class:`ToolAnswers`:
            output, status and error are the recorded call's).
        origin: For a recorded answer: ``{"call_id": the recorded call, "matched":
            "arguments" | "order" | "repeat"}`` (how it was chosen); None otherwise.
    """

    output: str
    status: str
    error: str | None
    started_t: float
    finished_t: float
    source: str = "function"
    origin: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the function returned a result."""
        return self.status == "ok"

    @property
    def duration_ms(self) -> float:
        """The function's own run time (to the timeout, for a timeout)."""
        return (self.finished_t - self.started_t) * 1000.0


def _output_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump(mode="json")
    return json.dumps(value, default=str)


def _error(status: str, message: str, started: float, finished: float | None = None) -> ToolOutcome:
    end = time.monotonic() if finished is None else finished
    return ToolOutcome(json.dumps({"error": message}), status, message, started, end)


def _invoke(call: Callable[..., Any], kwargs: dict[str, Any], timeout_s: float) -> tuple[Any, float, float]:
    """In a worker thread: run the (validated) function (a coroutine gets a loop of its own);
    returns the result and when the call started and returned."""
    started = time.monotonic()
    result = call(**kwargs)
    if inspect.isawaitable(result):

        async def bounded() -> Any:
            return await asyncio.wait_for(result, timeout_s)

        result = asyncio.run(bounded())
    return result, started, time.monotonic()


class ToolAnswers(Protocol):
    """Answers calls to tools that have no Python function here (see :class:`ToolRunner`)."""

    def answer(self, name: str, arguments: str) -> ToolOutcome | None:
        """The outcome of calling ``name`` with JSON ``arguments``, or None (no answer: the
        call gets the "no tool named ..." error).  Called on the session loop: be quick."""
        ...


class ToolRunner:
    """Runs tool calls in a worker pool, each bounded by a timeout; never raises.

    Args:
        tools: The tools (functions, ``@tool`` objects, function tool dicts).
        timeout_s: Default longest run of a call.
        workers: Worker threads (calls beyond this wait for a free one).
        answers: Answers calls to tools without a function (a replay's recorded outputs).
    """

    def __init__(
        self,
        tools: Iterable[Any] = (),
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        workers: int = 4,
        answers: ToolAnswers | None = None,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"tool_timeout_s must be > 0 seconds, got {timeout_s!r}")
        if answers is not None and not callable(getattr(answers, "answer", None)):
            raise ValueError(f"tool_answers must have an answer(name, arguments) method, got {type(answers).__name__}")
        self.timeout_s = timeout_s
        self.answers = answers
        self.tools: dict[str, Tool] = {}
        for obj in tools:
            self.add(obj)
        self._workers = workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def add(self, obj: Any) -> Tool:
        """Register one tool (replacing one of the same name)."""
        t = as_tool(obj)
        self.tools[t.name] = t
        return t

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(self._workers, thread_name_prefix="voicelive-tool")
        return self._pool

    async def run(self, name: str, arguments: str, *, enabled: bool = True) -> ToolOutcome:
        """Run call ``name`` with JSON ``arguments``; the outcome, whatever happens."""
        started = time.monotonic()
        t = self.tools.get(name)
        if not enabled:
            return _error("disabled", f"the tool {name} is switched off; answer without it", started)
        if t is None or t.fn is None:
            if self.answers is not None:
                try:
                    answered = self.answers.answer(name, arguments)
                except Exception as exc:  # someone's answers object: its bug becomes the call's error
                    return _error("error", f"answering {name} failed: {_describe(exc)}", started)
                if answered is not None:
                    return answered
            return _error("unknown", f"no tool named {name} is available here", started)
        try:
            kwargs = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            return _error("invalid", f"the arguments of {name} are not valid JSON: {exc}", started)
        if not isinstance(kwargs, dict):
            return _error("invalid", f"the arguments of {name} must be a JSON object, got {arguments[:80]}", started)
        timeout = t.timeout_s or self.timeout_s
        loop = asyncio.get_running_loop()
        call = t._validated or t.fn
        started = time.monotonic()
        future = loop.run_in_executor(self._executor(), _invoke, call, kwargs, timeout)
        try:
            value, started, finished = await asyncio.wait_for(future, timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return _error("timeout", f"{name} did not answer within {timeout:g} s", started)
        except Exception as exc:
            finished = time.monotonic()
            status = "invalid" if type(exc).__name__ == "ValidationError" else "error"
            text = _describe(exc) if status == "error" else f"invalid arguments for {name}: {_validation(exc)}"
            return _error(status, text, started, finished)
        try:
            output = _output_text(value)
        except (TypeError, ValueError) as exc:
            return _error("error", f"{name} returned something that is not JSON: {exc}", started, finished)
        return ToolOutcome(output, "ok", None, started, finished)

    def close(self) -> None:
        """Release the worker threads (running calls finish on their own)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _validation(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts)


class ToolSet:
    """Every tool a session was given, by name, in order, whether switched on or off, and
    the :class:`ToolRunner` of its functions (what :class:`~voicelive_nb.session.VoiceSession`
    keeps; its config's ``tools`` are the ones switched on).

    Args:
        given: The config's tools, then the extra ones (functions, ``@tool`` objects, dicts).
        timeout_s, answers: As for :class:`ToolRunner`.
    """

    def __init__(
        self, given: Iterable[Any], *, timeout_s: float = DEFAULT_TIMEOUT_S, answers: ToolAnswers | None = None
    ) -> None:
        self.runner = ToolRunner(timeout_s=timeout_s, answers=answers)
        self.given: dict[str, Any] = {}
        """Every tool by name (a function tool as its :class:`Tool`, an MCP server as its dict)."""
        for obj in given:
            definition = tool_definition(obj)
            if definition.get("type") == "function":
                obj = self.runner.add(obj)
            self.given[tool_name(definition)] = obj

    def completed(self, config: SessionConfig) -> SessionConfig:
        """``config`` with the given tools it lacks added (switched on) after its own."""
        known = set(config.tool_names)
        extra = [obj for name, obj in self.given.items() if name not in known]
        return config.replace(tools=(*config.tools, *extra)) if extra else config

    def states(self, config: SessionConfig) -> dict[str, bool]:
        """Every tool given and whether ``config`` has it switched on."""
        on = set(config.tool_names)
        return {name: name in on for name in self.given}

    def switched(self, config: SessionConfig, name: str, enabled: bool) -> SessionConfig:
        """``config`` with tool ``name`` switched on or off (a ``tool_choice`` forcing a tool
        that is now off goes back to ``"auto"``).  Raises ValueError for an unknown name."""
        if name not in self.given:
            raise ValueError(f"no tool named {name!r}; the session knows {sorted(self.given)}")
        on = set(config.tool_names)
        if enabled:
            on.add(name)
        else:
            on.discard(name)
        choice = config.tool_choice
        if isinstance(choice, Mapping) and choice.get("name") not in on:
            config = config.replace(tool_choice="auto")  # a forced tool that is off cannot stay forced
        return config.replace(tools=tuple(obj for tname, obj in self.given.items() if tname in on))
