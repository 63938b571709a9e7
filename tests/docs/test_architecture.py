"""docs/architecture.md against the tree: the map names every file of luna/ and sql/, and
everything it names exists, so a new module, a rename or a removal fails here until the map
follows.

The map's code block is read as an indented tree (two spaces a level): a line names files
("a.py, b.py") or one folder ("name/") whose own entries are indented under it, then, after two
spaces, what they hold. A line indented deeper than an entry could be continues a description.
A name without an extension stands for every file "name.*" (sql/0001_init: .up.sql, .down.sql).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "architecture.md"
# Trees whose every file and folder must be on the map; elsewhere a folder may stand alone.
MAPPED_IN_FULL = ("luna", "sql")
# Never on the map: package markers and what tools leave behind.
UNMAPPED = re.compile(r"^(__init__\.py|__pycache__|.*\.pyc|.*\.egg-info)$")


@dataclass
class Map:
    names: set[str] = field(default_factory=set)  # paths from the repo root, folders with "/"


def read_map(text: str) -> Map:
    block = text.split("## Rooms", 1)[1].split("```", 2)[1]
    found = Map()
    parents: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent % 2 or indent > 2 * len(parents):
            continue  # a description's continuation
        level = indent // 2
        names = [name.strip() for name in re.split(r"\s{2,}", line.strip())[0].split(",")]
        prefix = "".join(parents[:level])
        found.names.update(prefix + name for name in names)
        folder = len(names) == 1 and names[0].endswith("/")
        parents = parents[:level] + ([names[0]] if folder else [])
    return found


def covers(names: set[str], path: str) -> bool:
    """A file by its name or stem; a folder by its name or by a name inside it ("a/b/")."""
    if path.endswith("/"):
        return any(name.startswith(path) for name in names)
    return path in names or any(path.startswith(name + ".") for name in names)


def test_every_file_of_the_mapped_trees_is_on_the_map():
    names = read_map(MAP.read_text()).names
    absent: list[str] = []
    for tree in MAPPED_IN_FULL:
        for path in sorted((ROOT / tree).rglob("*")):
            relative = path.relative_to(ROOT)
            if any(UNMAPPED.match(part) for part in relative.parts):
                continue
            shown = relative.as_posix() + ("/" if path.is_dir() else "")
            if not covers(names, shown):
                absent.append(shown)
    assert not absent, f"in the tree but not on docs/architecture.md's map: {absent}"


def test_everything_on_the_map_exists():
    gone = []
    for name in sorted(read_map(MAP.read_text()).names):
        path = ROOT / name.rstrip("/")
        exists = path.is_dir() if name.endswith("/") else path.is_file()
        if not exists and not (Path(name).suffix == "" and any(path.parent.glob(path.name + ".*"))):
            gone.append(name)
    assert not gone, f"on docs/architecture.md's map but not in the tree: {gone}"


def test_the_code_the_prose_names_exists():
    """`http/models.py`, `validation.judge_dataset`, `ObjectStore`: each is where it says."""
    source = "\n".join(path.read_text() for path in (ROOT / "luna").rglob("*.py"))
    wrong = []
    for token in sorted(set(re.findall(r"`([^`\s]+)`", MAP.read_text()))):
        if re.fullmatch(r"\w[\w/]*(\.py|/)", token):
            if not ((ROOT / "luna" / token).exists() or (ROOT / token).exists()):
                wrong.append(token)
        elif re.fullmatch(r"[a-z_]+(\.[a-z_]+)*\.\w+", token):
            module, _, attribute = token.rpartition(".")
            try:
                found = hasattr(importlib.import_module(f"luna.{module}"), attribute)
            except ImportError:
                found = False
            if not found:
                wrong.append(token)
        elif re.fullmatch(r"[A-Z]\w+", token):
            if not re.search(rf"^\s*(class {token}\b|{token}\b[^=\n]*=)", source, re.M):
                wrong.append(token)
    assert not wrong, f"docs/architecture.md names code that is not there: {wrong}"


def test_the_map_reader_sees_nesting_continuations_and_stems():
    text = """## Rooms
```
luna/
  a.py, b.py     two files whose description
                 goes on here
  db/            a folder
    pool.py        its file
  c.py           back at the first level
sql/             migrations
  0001_init      a stem
k8s/, Dockerfile   several names, one a folder without entries
```
"""
    names = read_map(text).names
    assert names == {
        "luna/",
        "luna/a.py",
        "luna/b.py",
        "luna/db/",
        "luna/db/pool.py",
        "luna/c.py",
        "sql/",
        "sql/0001_init",
        "k8s/",
        "Dockerfile",
    }
    assert covers(names, "sql/0001_init.up.sql") and not covers(names, "sql/0002_x.up.sql")
    assert covers(names, "luna/db/") and not covers(names, "luna/jobs/")
