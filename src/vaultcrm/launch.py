"""The `vaultcrm` program: the command runs in a running watch's warm worker if it can, else here."""

from __future__ import annotations

import os
import sys


def run() -> None:
    from .warm.client import forward

    code = forward(sys.argv[1:])
    if code is not None:
        os._exit(code)  # nothing was loaded or buffered here: the worker's child wrote the output
    from .cli import run as run_here

    run_here()
