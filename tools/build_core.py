"""Build the detection core (app/core, app/events.py) into C extensions with mypyc.

Run by ``make compile``; ``make clean-compiled`` removes the extensions again. Each module
becomes its own extension beside its source, so Python imports it in place of the source;
the package behaves the same without them, only slower. Third-party imports are not
followed (their types are Any to the compiler), which keeps the build to about a minute.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mypyc.build import mypycify
from setuptools import setup

ROOT = Path(__file__).resolve().parent.parent


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))  # this tree's app, not an installed one
    from app.core import compiled_sources

    modules = [str(p.relative_to(ROOT)) for p in compiled_sources()]
    sys.argv[1:] = ["build_ext", "--inplace", "--parallel", str(os.cpu_count() or 1)]
    setup(
        name="abuse-detector-core",
        ext_modules=mypycify(["--follow-imports=skip", *modules], opt_level="3", separate=True),
    )
