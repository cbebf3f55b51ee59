"""MkDocs hooks for the user guide (mkdocs.yml `hooks:`).

`make bench` draws `benchmarks.svg` at the repository's top, where the README shows it; the
guide's benchmarks page shows the same file, added to the site here rather than copied.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
# Files of the repository's top the guide shows as they are.
SHARED = ("benchmarks.svg",)


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """The site's files, plus the shared ones (at the site's root)."""
    for name in SHARED:
        files.append(File.generated(config, name, abs_src_path=str(ROOT / name)))
    return files
