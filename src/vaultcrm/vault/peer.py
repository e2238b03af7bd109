"""Who is at the other end of a local socket: vaultcrm's sockets serve only processes of the same user."""

from __future__ import annotations

import os
import socket
import struct


def peer_is_me(conn: socket.socket) -> bool:
    """The other end runs as this user (Linux, SO_PEERCRED); elsewhere True: the socket file's owner
    is checked before connecting instead."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    try:
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                               struct.calcsize("3i")))
    except OSError:
        return False
    return uid == os.getuid()
