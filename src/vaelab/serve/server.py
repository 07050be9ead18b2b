"""Running the explorer's web server: uvicorn on a socket bound here, until Ctrl-C or SIGTERM.

The socket is bound before the server starts, so that a busy port, or a host that is not this machine's, is a
one-line `UsageError`; port 0 takes any free port (the URL printed says which). uvicorn serves from a thread and
the main thread keeps the signals: the first SIGINT or SIGTERM lets open requests finish (at most
SHUTDOWN_SECONDS) and stops, a second one stops at once. The socket is closed either way.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from vaelab.errors import UsageError

SIGNALS = (signal.SIGINT, signal.SIGTERM)
SHUTDOWN_SECONDS = 3


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise UsageError(f"--host {host} is not an address this machine can listen on ({error.strerror}): "
                         "leave it out for 127.0.0.1") from None
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # no wait after a previous server's stop
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use (another vaelab explore?): give another with --port N, "
                             "or --port 0 for any free one") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host} is not an address of this machine: leave it out for 127.0.0.1") from None
        raise UsageError(f"cannot listen on {host}:{port} ({error.strerror}): try another --port") from None
    return listener


def is_local(listener: socket.socket) -> bool:
    """Whether only this machine can reach the socket (a loopback address)."""
    return ipaddress.ip_address(listener.getsockname()[0]).is_loopback


def url_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def serve(app, listener: socket.socket, on_ready: Callable[[], None]) -> int:
    """Serve `app` (an ASGI application) on `listener` until a signal; `on_ready` is called once it answers.
    Returns the number of the signal that stopped it."""
    logging.getLogger("uvicorn").setLevel(logging.WARNING)  # its start-up chatter; errors still show
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                            timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="vaelab-explore", daemon=True)
    stopped_by: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        server.force_exit = bool(stopped_by)  # a second signal: stop without waiting for open requests
        stopped_by.append(signum)
        server.should_exit = True

    previous = {signum: signal.signal(signum, stop) for signum in SIGNALS}
    try:
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.02)
        if server.started:
            on_ready()
        while thread.is_alive():
            thread.join(0.2)  # a timed join, so that the signal handler runs in between
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        listener.close()
    if not stopped_by:
        raise RuntimeError("the explorer's server stopped by itself (see the errors above)")
    return stopped_by[0]
