"""The package's layout: no import cycles between its parts, and no import against the rules.

The rules are the table under "Import directions" in docs/ARCHITECTURE.md (the one place
they are written down; this test reads it).  Every import in the package counts: at the top
of a module, inside a function (lazy), under ``TYPE_CHECKING``, and a module named in a
string (the faces' lazy maps, the CLI's subcommand table).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "voicelive_nb"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
MAX_LINES = 500
"""STYLE.md: "modules well under ~500 lines" -- past this a module is split along its seams."""

Edge = tuple[str, str, str]  # (from part, to part, "file:line")


def rules(text: str | None = None) -> dict[str, set[str]]:
    """The table: part -> the parts it may import (``*`` = any; the ``*`` row applies to all)."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    found = re.search(r"<!-- import-rules -->\s*```text\n(.*?)```", text, re.S)
    assert found, f"{DOC.name} lost its import-rules block (<!-- import-rules --> then a ```text table)"
    table: dict[str, set[str]] = {}
    for line in found.group(1).splitlines()[1:]:  # (the first line is the header)
        if line.strip():
            part, *allowed = line.split()
            table[part] = {a for a in allowed if a != "-"}
    return table


def module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    """``voicelive_nb.session.pump`` -> ``session``; ``voicelive_nb.config`` -> ``config``; the face -> ``__init__``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def modules() -> set[str]:
    return {module_of(p) for p in PACKAGE.rglob("*.py")}


def imports(path: Path, source: str | None = None) -> Iterable[tuple[int, str]]:
    """(line, module) for every module of ours that ``path`` imports, lazily or not."""
    here = module_of(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    known = modules()
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # ``from voicelive_nb.report import plots`` imports a module
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in known else base
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known - {"voicelive_nb"}:
            yield node.lineno, node.value  # a module named for a lazy import (a face's map, the CLI's table)


def edges() -> list[Edge]:
    """Every import from one part of the package to another."""
    out: list[Edge] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = part_of(module_of(path))
        for line, module in imports(path):
            if module == "voicelive_nb" or module.startswith("voicelive_nb."):
                dst = part_of(module)
                if dst != src:
                    out.append((src, dst, f"{path.relative_to(ROOT)}:{line}"))
    return out


def violations(found: Iterable[Edge], table: Mapping[str, set[str]]) -> list[str]:
    """The edges the table does not allow."""
    anyone = table.get("*", set())
    bad = []
    for src, dst, where in found:
        allowed = table.get(src)
        if allowed is None:
            bad.append(f"{where}: part {src!r} is not in the import rules table; add its row")
        elif not ("*" in allowed or dst in allowed or dst in anyone):
            bad.append(f"{where}: {src} imports {dst}, which the rules do not allow")
    return bad


def cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start)
        if found:
            return found
    return None


def graph_of(found: Iterable[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for src, dst, _ in found:
        graph.setdefault(src, set()).add(dst)
    return graph


def test_every_import_follows_the_rules() -> None:
    bad = violations(edges(), rules())
    assert not bad, "imports against docs/ARCHITECTURE.md's rules:\n" + "\n".join(bad)


def test_no_import_cycle_between_the_parts() -> None:
    loop = cycle(graph_of(edges()))
    assert loop is None, "import cycle between parts: " + " -> ".join(loop or [])


def test_the_rules_themselves_have_no_cycle_and_name_real_parts() -> None:
    table = rules()
    parts = {part_of(module_of(p)) for p in PACKAGE.rglob("*.py")}
    named = {p for allowed in table.values() for p in allowed} | set(table)
    assert named - {"*"} <= parts, f"the rules name parts that do not exist: {sorted(named - parts - {'*'})}"
    assert parts <= set(table), f"parts without a row in the rules: {sorted(parts - set(table))}"
    strict = {
        src: {d for d in allowed if d != "*"} for src, allowed in table.items() if src != "*" and "*" not in allowed
    }
    assert cycle(strict) is None, f"the rules allow a cycle: {cycle(strict)}"


def test_the_checker_finds_a_forbidden_import_a_lazy_one_and_a_cycle() -> None:
    table = rules("<!-- import-rules -->\n```text\npart may-import\naudio -\nsession audio\n* _lazy\n```\n")
    assert violations([("session", "audio", "a:1"), ("audio", "_lazy", "b:2")], table) == []
    assert violations([("audio", "session", "c:3")], table) == [
        "c:3: audio imports session, which the rules do not allow"
    ]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}}) is None
    # a lazy import inside a function, a relative one, and a module named in a string are all seen
    source = (
        "def f():\n    from voicelive_nb.session import pump\n"
        "NAMES = {'x': 'voicelive_nb.panel.state'}\n"
        "from ..recording import files\n"
    )
    found = list(imports(PACKAGE / "audio" / "meters.py", source))
    assert (2, "voicelive_nb.session.pump") in found and (3, "voicelive_nb.panel.state") in found
    assert (4, "voicelive_nb.recording.files") in found


def test_no_module_is_longer_than_500_lines() -> None:
    lengths = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    too_long = sorted((n, name) for name, n in lengths.items() if n > MAX_LINES)
    assert not too_long, f"modules over {MAX_LINES} lines (split each along its seams): " + ", ".join(
        f"{name} ({n} lines)" for n, name in reversed(too_long)
    )
