"""The warm worker: while `vaultcrm watch` runs, commands run in a process that has the vault loaded.

`server.py` is the worker `watch` starts; `client.py` is what the `vaultcrm` program tries first.
"""
