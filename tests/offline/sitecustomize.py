"""A socket guard for tests: on PYTHONPATH, every Python process refuses network connections.

Connections and name lookups over IPv4/IPv6 raise OSError and are appended to the file named by
MULTIHOP_NETWORK_LOG, so a test can show that a run never tried one. Unix sockets stay allowed
(local process plumbing)."""

import os
import socket

_LOG = os.environ.get("MULTIHOP_NETWORK_LOG")


def _refuse(what):
    if _LOG:
        with open(_LOG, "a") as log:
            log.write(f"{os.getpid()} {what}\n")
    raise OSError(f"network access refused by the test's socket guard: {what}")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect {address!r}")
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect {address!r}")
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    _refuse(f"getaddrinfo {host!r}")


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
