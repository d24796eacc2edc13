"""``govguard serve``: the controller's HTTPS listeners under uvicorn.

One listener for agents (``listen.agents``) and, when ``listen.admin`` is set, a second one for
the admin UI/API; both run in one event loop and share one database engine. With
``GOVGUARD_WORKERS=N`` several worker processes share the listening sockets, each with its own
loop, engine and report writer. TLS uses the data
directory's ``tls/server.crt`` and ``tls/server.key``. Responses carry no ``Server`` header (it
would tell a scanner which software and version to try) and no ``Date`` header (bytes on slow
links; agents use ``GG-Clock`` for skew instead).

SIGTERM or SIGINT stops accepting connections, closes idle kept-alive connections at once, lets
requests in flight finish (up to :data:`GRACEFUL_S`), stores the reports already queued and
exits; a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn
from sqlalchemy import Engine

from controller.app import Surface, create_app
from controller.metrics import Metrics, share_counters
from controller.metrics.token import MetricsTokenError, read_token
from controller.settings import Endpoint, Settings
from controller.store.db import is_unavailable, make_engine, session_factory, upgrade

if sys.platform == "linux":
    import fcntl
    import termios

log = logging.getLogger(__name__)

#: Seconds open requests get to finish after a stop signal.
GRACEFUL_S: Final = 20
#: How often a stopping server looks for connections it has finished with.
_REAP_EVERY_S: Final = 0.05
#: uvicorn's keep-alive, for the admin UI and for agents whose interval is too long to bridge.
DEFAULT_KEEP_ALIVE_S: Final = 5
#: The longest an idle agent connection is kept; longer intervals reconnect (and resume TLS).
MAX_AGENT_KEEP_ALIVE_S: Final = 900
#: Margin over the longest interval between two reports of an agent (its collection time).
_KEEP_ALIVE_MARGIN_S: Final = 60


class ServeError(Exception):
    """The controller cannot start; the message is one line for the operator."""


@dataclass(frozen=True)
class _Listener:
    name: str
    endpoint: Endpoint
    surface: Surface


def _unsent_bytes(transport: asyncio.Transport) -> int:
    """Bytes of ``transport`` the peer has not acknowledged yet, as far as can be seen.

    The TLS layer's backlog plus, on Linux, the kernel's send queue (``SIOCOUTQ``: sent but
    not yet acknowledged). The event loop's own socket buffer only holds what the kernel would
    not take, and is refilled from as soon as the kernel has room, so it is empty soon after
    the kernel queue is. Elsewhere only the TLS backlog is counted.
    """
    # Not isinstance(WriteTransport): uvloop's TLS transport does not derive from it.
    unsent = transport.get_write_buffer_size()
    if sys.platform == "linux":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
            except (OSError, ValueError):  # already closed: nothing more will be sent
                return unsent
            unsent += struct.unpack("i", queued)[0]
    return unsent


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve` and stops without idle waits.

    Signals are handled by :func:`_run` because two servers share one loop.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, with finished TLS connections dropped at once."""
        reaper = asyncio.create_task(self._drop_finished_connections())
        try:
            await super().shutdown(sockets=sockets)
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper

    async def _drop_finished_connections(self) -> None:
        """Abort connections whose last response is delivered, until cancelled.

        uvicorn's shutdown closes idle connections (and busy ones once their response is
        sent) and then waits until every connection is gone. Over TLS, closing sends
        close_notify and waits for the peer's; an HTTP client idle in its keep-alive pool
        does not read its socket, so that answer only comes when it next uses or closes the
        connection. The event loop gives up after its TLS shutdown timeout (30 s), longer
        than :data:`GRACEFUL_S`: one idle agent connection held every stop for 20 s.

        A connection the server is closing receives no more application data, so once
        everything sent on it is acknowledged (:func:`_unsent_bytes`) aborting it loses
        nothing: the peer sees the close it would have seen anyway. Connections still
        sending (a slow reader of a large response) are left to the grace period. A connection
        is dropped when it was seen finished on two checks in a row, so that the event loop has
        had its turn to pass on anything it still held between them.
        """
        finished_before: set[asyncio.Transport] = set()
        while True:
            finished_now: set[asyncio.Transport] = set()
            for connection in list(self.server_state.connections):
                transport = connection.transport
                if transport.is_closing() and _unsent_bytes(transport) == 0:
                    if transport in finished_before:
                        transport.abort()
                    else:
                        finished_now.add(transport)
            finished_before = finished_now
            await asyncio.sleep(_REAP_EVERY_S)


def listeners(settings: Settings) -> list[_Listener]:
    """What to listen on: one port for everything, or agents and admin apart."""
    admin = settings.listen.admin
    if admin is None:
        return [_Listener("agents and admin", settings.listen.agents, "all")]
    return [
        _Listener("agents", settings.listen.agents, "agents"),
        _Listener("admin", admin, "admin"),
    ]


def check_tls(settings: Settings) -> None:
    """Refuse to start without a usable certificate and key (one clear line, not a traceback)."""
    for path in (settings.tls_cert, settings.tls_key):
        if not path.is_file():
            raise ServeError(f"{path}: not found (create the data directory with `govguard init`)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(
            f"{settings.tls_cert}: cannot use the certificate and key: {exc.strerror or exc}"
        ) from exc


def check_metrics(settings: Settings) -> None:
    """Refuse to start when ``metrics.token_file`` is set but unusable (one line, no bind)."""
    if not settings.metrics.enabled:
        return
    try:
        read_token(settings)
    except MetricsTokenError as exc:
        raise ServeError(str(exc)) from exc


def bind(endpoint: Endpoint) -> socket.socket:
    """A listening socket on ``endpoint``; :class:`ServeError` when the port is taken."""
    try:
        infos = socket.getaddrinfo(
            endpoint.host, endpoint.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, address = infos[0]
        sock = socket.create_server(address, family=family, backlog=2048)
    except OSError as exc:
        raise ServeError(
            f"cannot listen on {endpoint.host}:{endpoint.port}: {exc.strerror or exc}"
        ) from exc
    return sock


def keep_alive_s(settings: Settings, surface: Surface) -> int:
    """How long a listener keeps an idle connection open, in seconds.

    Agents' connections outlive their heartbeat interval (plus jitter and a margin), so an
    agent sends each heartbeat on the connection it already has: a new TLS handshake costs a
    commune link about four unchanged heartbeats (bench/README.md). Past
    :data:`MAX_AGENT_KEEP_ALIVE_S` holding connections buys little (NAT boxes forget them) and
    the agents reconnect with a resumed TLS session instead.
    """
    if surface == "admin":
        return DEFAULT_KEEP_ALIVE_S
    agents = settings.agents
    longest = int(agents.interval_s * (1 + agents.jitter)) + _KEEP_ALIVE_MARGIN_S
    return longest if longest <= MAX_AGENT_KEEP_ALIVE_S else DEFAULT_KEEP_ALIVE_S


class _Config(uvicorn.Config):
    """uvicorn's configuration with one TLS session ticket per handshake instead of two.

    Agents resume with the last ticket they received; OpenSSL's second ticket (meant for
    browsers that open parallel connections) would be ~200 bytes sent to every agent for
    nothing.
    """

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            self.ssl.num_tickets = 1


def _config(
    settings: Settings, surface: Surface, engine: Engine, metrics: Metrics | None = None
) -> uvicorn.Config:
    return _Config(
        create_app(settings, engine=engine, surface=surface, metrics=metrics),
        timeout_keep_alive=keep_alive_s(settings, surface),
        ssl_certfile=str(settings.tls_cert),
        ssl_keyfile=str(settings.tls_key),
        server_header=False,
        date_header=False,
        # Agents connect directly (or through a TCP proxy); never trust forwarded addresses.
        proxy_headers=False,
        # One line per heartbeat from thousands of PCs would drown the log.
        access_log=False,
        # Logging is configured by the command line, not by uvicorn.
        log_config=None,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=GRACEFUL_S,
    )


async def _run(
    settings: Settings,
    engine: Engine,
    sockets: list[socket.socket],
    shared_metrics: Path | None = None,
) -> None:
    plan = listeners(settings)
    # One registry per process: the agents' listener counts reports, the admin one serves them.
    metrics = Metrics(session_factory(engine), shared_dir=shared_metrics)
    servers = [_Server(_config(settings, item.surface, engine, metrics)) for item in plan]
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True  # second signal: do not wait for connections
            server.should_exit = True

    installed: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, request_stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows loop
                signal.signal(sig, lambda _s, _f: loop.call_soon_threadsafe(request_stop))
    try:
        await asyncio.gather(
            *(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True))
        )
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _loop_factory() -> type[asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard] on Linux
        return None
    return uvloop.Loop


def _serve_here(
    settings: Settings, sockets: list[socket.socket], shared_metrics: Path | None = None
) -> None:
    """One controller process: its own engine, event loop, writer thread.

    ``shared_metrics``: the directory where the workers of this ``serve`` sum their counters.
    """
    if shared_metrics is not None:
        share_counters(shared_metrics)
    engine = make_engine(settings.database_url)
    # Everything loaded so far lives as long as the process: move it out of the collector's
    # reach, so the full collections that thousands of requests per second trigger do not
    # walk every module, class and SQLAlchemy construct again (latency spikes).
    gc.collect()
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_run(settings, engine, sockets, shared_metrics))
    finally:
        engine.dispose()


def default_workers() -> int:
    """``GOVGUARD_WORKERS`` when set, else 1.

    Python runs one thread at a time per process, so more cores only help with more processes
    (they share nothing but the database, see :mod:`controller.ingest`). One is the default.
    On the 2-core bench VM that also runs PostgreSQL and the load clients, two workers measured
    1.3-1.5x the full reports per second of one and a lower p99 on both databases
    (``bench/ingest.py --workers 2``, bench/README.md), although SQLite writers of several
    processes wait for each other's lock.
    """
    text = os.environ.get("GOVGUARD_WORKERS", "").strip()
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise ServeError(f"GOVGUARD_WORKERS must be a number from 1 to 64, got {text!r}")
    return int(text)


def _supervise(
    settings: Settings, sockets: list[socket.socket], workers: int, shared_metrics: Path
) -> None:
    """Fork ``workers`` processes on the shared listening sockets; restart any that dies.

    Their metrics counters are summed from files in ``shared_metrics``; a restarted worker's
    predecessor's files stay, so the sums never go back.
    """
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                _serve_here(settings, sockets, shared_metrics)
            except BaseException:
                log.exception("worker %d failed", slot)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = slot

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        force = stopping  # a second signal: workers stop without waiting for connections
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT if force else signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for slot in range(workers):
            spawn(slot)
        last_restart = 0.0
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries wait() itself
                continue
            slot = children.pop(pid, -1)
            if stopping or slot < 0:
                continue
            log.error("worker %d (pid %d) exited with status %d; restarting it", slot, pid, status)
            # A worker that dies at once (bad database, broken config) must not spin.
            time.sleep(max(0.0, 1.0 - (time.monotonic() - last_restart)))
            last_restart = time.monotonic()
            spawn(slot)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(settings: Settings, *, workers: int | None = None) -> None:
    """Migrate the database and serve until SIGTERM/SIGINT; raises :class:`ServeError`.

    ``workers`` processes (default :func:`default_workers`) share the listening sockets; on
    Windows, or with one worker, everything runs in this process.
    """
    check_tls(settings)
    check_metrics(settings)
    count = workers or default_workers()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    except Exception as exc:
        if is_unavailable(exc):
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
            raise ServeError(f"the database is unavailable: {first_line}") from exc
        raise
    finally:
        # Workers make their own connections; none may be inherited across fork().
        engine.dispose()
    plan = listeners(settings)
    sockets = [bind(item.endpoint) for item in plan]
    try:
        for item, sock in zip(plan, sockets, strict=True):
            host, port = sock.getsockname()[:2]
            log.info("govguard listening for %s on https://%s:%s", item.name, host, port)
        if count > 1 and hasattr(os, "fork"):
            log.info("govguard runs %d worker processes", count)
            # Fresh for each start: a counter restarts from 0 with its process, as Prometheus
            # expects.
            shared_metrics = Path(tempfile.mkdtemp(prefix="govguard-metrics-"))
            try:
                _supervise(settings, sockets, count, shared_metrics)
            finally:
                shutil.rmtree(shared_metrics, ignore_errors=True)
        else:
            _serve_here(settings, sockets)
    finally:
        for sock in sockets:
            sock.close()
    log.info("govguard stopped")
