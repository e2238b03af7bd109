"""The `vaultcrm` program: the command runs in a running watch's warm worker if it can, else here."""

from __future__ import annotations

import os
import sys


def run() -> None:
    argv = sys.argv[1:]
    if len(argv) == 5 and argv[0] == "merge-driver" and not any(a.startswith("-") for a in argv[1:]):
        # git runs this once for every note both sides changed: without the command line's libraries
        from pathlib import Path

        from .chain.driver import drive

        os._exit(drive(Path.cwd(), *argv[1:]))
    from .warm.client import forward, vault_of

    code = forward(argv)
    if code is not None:
        os._exit(code)  # nothing was loaded or buffered here: the worker's child wrote the output
    root = vault_of(argv)
    if root is not None and os.path.isdir(root):  # its scan runs on another core while the rest is imported
        from pathlib import Path

        from .vault.scan import scan_ahead

        scan_ahead(Path(root))
    from .cli import run as run_here

    run_here()
