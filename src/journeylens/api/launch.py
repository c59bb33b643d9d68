"""Running the server: in this process (``serve``, what ``journeylens serve`` does) or in a
child process that a script, a benchmark or a test drives over HTTP (``start_server``).

    server = start_server("jl-data")       # returns once /health answers
    ...                                    # post to f"{server.url}/v1/batch", read /api/...
    server.stop()                          # SIGTERM: the collector drains its journal first
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from journeylens.errors import JourneyLensError

__all__ = ["RunningServer", "free_port", "serve", "start_server"]

# The child runs ``serve`` with its arguments from the command line.
_CHILD = (
    "import sys; from journeylens.api.launch import serve; "
    "serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), warm=sys.argv[4] == 'warm', "
    "log_level='error')"
)


def serve(
    workspace: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    warm: bool = True,
    journeys: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the workspace folder with uvicorn until interrupted (SIGINT or SIGTERM); with
    ``warm``, the dashboard's pages are computed in the background from the start
    (``journeylens.web.warm``); with ``journeys``, the journey runner ticks in the background
    (``journeylens.api.journeys``)."""
    import uvicorn

    from journeylens.api.app import create_app

    app = create_app(workspace, warm=warm)
    app.state.run_journeys = journeys
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (the system picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    """A server in a child process: its ``process``, ``port`` and base ``url``."""

    process: subprocess.Popen[bytes]
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 600.0) -> int:
        """Stop it cleanly (SIGTERM: requests finish, the journal is drained) and wait.

        Returns:
            The exit code (uvicorn re-raises the signal once its shutdown is done, so a clean
            stop is 0 or ``-SIGTERM``).
        """
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> int:
        """Kill it at once (SIGKILL, as a crash would) and wait. Returns the exit code."""
        self.process.kill()
        return self.process.wait()


def start_server(
    workspace: str | Path,
    port: int | None = None,
    *,
    host: str = "127.0.0.1",
    warm: bool = False,
    timeout: float = 60.0,
) -> RunningServer:
    """Start ``journeylens serve`` on ``workspace`` in a child process and wait until its
    ``/health`` answers.

    ``port`` defaults to a free one; ``warm`` is off by default, so a benchmark or test
    measures only its own load.

    Returns:
        The :class:`RunningServer`. Raises ``JourneyLensError`` if the child exits or does
        not answer within ``timeout`` seconds (the child is then killed).
    """
    port = port or free_port(host)
    command = [sys.executable, "-c", _CHILD, str(workspace), host, str(port)]
    process = subprocess.Popen([*command, "warm" if warm else "cold"])
    server = RunningServer(process, host, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    code = process.poll()
    if code is None:
        server.kill()
    raise JourneyLensError(
        "The server did not start" + ("" if code is None else f" (it exited with {code})"),
        received=str(workspace),
        fix=f"Run journeylens serve -w {workspace} --port {port} to see why",
    )
