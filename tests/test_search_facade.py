"""kb talks to its search engine through the facade kb.search only (issue 15).

Read from the source with ``ast``: outside kb/search/, no module imports ``whoosh`` or a
module below kb.search (``kb.search.whoosh...``, ``kb.search.types``...), and every name
taken from kb.search (``from kb.search import X``, ``search.X``) is one of
``kb.search.__all__``. Tests follow the same rule, except the ones that test the engine's
own internals (ENGINE_TESTS): they compare kb's arrays with Whoosh's own scores, write
raw Whoosh indexes, or hold the engine's write lock.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kb.search

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = frozenset(kb.search.__all__)

# Tests of the engine itself, allowed below the facade.
ENGINE_TESTS = frozenset({
    "test_analysis.py",  # the analyzers against Whoosh's parser and index
    "test_flat_postings.py",  # kb's flat postings against Whoosh's
    "test_import_pipeline.py",  # holds the index's write lock
    "test_logging.py",  # holds the index's write lock
    "test_search_arrays.py",  # numpy scores against Whoosh's BM25F
    "test_search_bounds.py",  # the bounds' query rewriting
    "test_search_caches.py",  # the engine's caches shared by threads
    "test_search_facade.py",  # this file
    "test_whoosh_pinned.py",  # the private Whoosh names kb relies on
    "test_worker.py",  # holds the index's write lock
})

# Modules below the facade that must not import any engine.
NEUTRAL = ("limits.py", "text.py", "textdata.py", "types.py")


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    rel = path.relative_to(ROOT) if ROOT in path.parents else path.name
    found: list[str] = []
    aliases: set[str] = set()  # names bound to the kb.search module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "whoosh" or a.name.startswith("whoosh."):
                    found.append(f"{rel}:{node.lineno}: import {a.name}")
                elif a.name.startswith("kb.search."):
                    found.append(f"{rel}:{node.lineno}: import {a.name} (below the facade)")
                elif a.name == "kb.search" and a.asname:
                    aliases.add(a.asname)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mod = node.module
            if mod == "whoosh" or mod.startswith("whoosh."):
                found.append(f"{rel}:{node.lineno}: from {mod} import ...")
            elif mod.startswith("kb.search."):
                found.append(f"{rel}:{node.lineno}: from {mod} import ... (below the facade)")
            elif mod == "kb.search":
                found += [f"{rel}:{node.lineno}: kb.search.{a.name} is not in __all__"
                          for a in node.names if a.name not in PUBLIC]
            elif mod == "kb":
                aliases |= {a.asname or a.name for a in node.names if a.name == "search"}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr not in PUBLIC):
            found.append(f"{rel}:{node.lineno}: {node.value.id}.{node.attr} is not in "
                         "kb.search.__all__")
    return found


def _callers() -> list[Path]:
    kb_files = [p for p in (ROOT / "kb").rglob("*.py")
                if (ROOT / "kb" / "search") not in p.parents]
    tests = [p for p in (ROOT / "tests").glob("*.py") if p.name not in ENGINE_TESTS]
    return sorted([*kb_files, *tests, ROOT / "wsgi.py"])


def test_only_the_facade_is_imported_outside_kb_search():
    files = _callers()
    assert any(p.name == "searching.py" for p in files)  # the walk sees the services
    problems = [v for p in files for v in _violations(p)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_what_it_forbids(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("from whoosh import query\nimport kb.search.whoosh.index\n"
                   "from kb.search.whoosh import arrays\nfrom kb.search import searchers\n"
                   "from kb import search\nsearch.search\nsearch.open_index\n",
                   encoding="utf-8")
    problems = _violations(bad)
    assert len(problems) == 5, problems
    assert any("search.open_index" in p for p in problems)
    assert not any("search.search " in p for p in problems)


def test_every_public_name_exists():
    for name in kb.search.__all__:
        assert hasattr(kb.search, name), name


def test_neutral_modules_import_no_engine():
    """The data types, limits and text rules work without Whoosh: a second engine (or the
    thesaurus) can use them."""
    allowed = {f"kb.search.{n.removesuffix('.py')}" for n in NEUTRAL}
    for name in NEUTRAL:
        path = ROOT / "kb" / "search" / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for mod in mods:
                assert not mod.startswith("whoosh"), f"{name} imports {mod}"
                if mod.startswith("kb.search"):
                    assert mod in allowed, f"{name} imports {mod}"
