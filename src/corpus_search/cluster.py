"""The one way into a Ray cluster: a local one on this machine's cores, or a running one at an address.

Distributed builds and sharded search both come through `connect`, so there is one place that knows how
to find, start and leave a cluster. Ray is imported only here and only when called: it costs about 2 s
and nothing but cluster work needs it.

Ray runs whatever code a connected client sends it, so a cluster must be reachable only by those trusted
to run code on its machines. Ray 2.60 enables token authentication by default; docs/scaling.md says how
to share the token with workers on other hosts.
"""

from __future__ import annotations

import os
import sys

from corpus_search import config
from corpus_search.errors import UsageError

LOCAL = "local"
# A cut cable (a lost host, a partition) closes no connection: a call in flight to a worker there fails only
# when gRPC's keepalive gives up, minutes later with Ray's defaults (and a build or a query waits that long).
# These make this process notice within ~15 s; the nodes' own health checks are set where they start
# (`ray start`, docs/scaling.md). Read by Ray when this process joins; set them in the environment to change.
KEEPALIVE = {
    "RAY_grpc_client_keepalive_time_ms": "10000",
    "RAY_grpc_client_keepalive_timeout_ms": "5000",
}


def address() -> str:
    """The configured cluster: "local", or a running head's host:port."""
    return config.get("cluster_address").strip() or LOCAL


def connect(where: str | None = None) -> None:
    """Join the cluster at `where` (default: the cluster_address setting); start a local one for "local".

    Calling it again in the same process is a no-op, so the build and the searcher can both ask for it.
    """
    import ray  # heavy: only cluster work pays for it

    where = (where or address()).strip()
    if ray.is_initialized():
        return
    for name, value in KEEPALIVE.items():
        os.environ.setdefault(name, value)  # a value the user set stays
    # Workers inherit this; they must never reach a model hub either.
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("PYTHONPATH",):
        if os.environ.get(name):
            env[name] = os.environ[name]
    # Settings too (as they are when the cluster is joined): a shard server reads candidates, timeouts...
    env.update({k: v for k, v in os.environ.items() if k.startswith("CORPUS_SEARCH_")})
    common = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={"env_vars": env},
    )
    try:
        if where == LOCAL:
            cpus = config.get_int("cluster_cpus") or os.cpu_count() or 1
            # "local" forces a new instance: a bare ray.init() would join any `ray start` cluster on this host.
            ray.init(address="local", num_cpus=cpus, **common)
        else:
            ray.init(address=_ray_address(where), **common)
    except ray.exceptions.AuthenticationError:
        raise UsageError(f"cannot join the Ray cluster at {where}: this machine has no Ray token, or not the "
                         "head's (set RAY_AUTH_TOKEN, or ~/.ray/auth_token, to the head's; see docs/scaling.md)") from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # A wrong token looks like an unreachable head here: Ray retries, then reports no connection.
        hint = "" if where == LOCAL else " (is a head running there, its port open to this machine, and RAY_AUTH_TOKEN the head's token?)"
        raise UsageError(f"cannot join the Ray cluster at {where}: {first_line}{hint}") from None
    _ray_messages_to_stderr()


def _ray_messages_to_stderr() -> None:
    """Send the messages Ray's driver prints of its own to stderr, never stdout.

    Whatever log_to_driver says, a joined driver prints the cluster's error messages ("(raylet) A worker
    died or was killed ...") to sys.stdout from a thread of its own, as they arrive. On the CLI's stdout
    they would break `--json` output just when a host or worker is lost, and could land inside a line.
    The printing function is private to Ray: if a Ray release renames it, the messages stay where Ray
    puts them (tests/test_cluster_search.py says so at once).
    """
    from ray._private import worker as ray_worker

    printer = getattr(ray_worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "corpus_search_to_stderr", False):
        return

    def to_stderr(data, *args, **kwargs):
        return printer({**data, "is_err": True}, *args, **kwargs)

    to_stderr.corpus_search_to_stderr = True
    ray_worker.print_to_stdstream = to_stderr
    if not sys.stderr.isatty():  # a log file or a pipe: no colour codes around "(raylet)" (Ray reads this per line)
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")


def _ray_address(where: str) -> str:
    if where.startswith(("ray://", "auto")):
        return where
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"cluster address {where!r} is not host:port (or 'local')")
    _check_reachable(host.strip("[]"), int(port), where)
    return where


def _check_reachable(host: str, port: int, where: str) -> None:
    """Fail at once on an address nothing listens at: ray.init would retry it for minutes, logging as it goes."""
    import socket

    try:
        socket.create_connection((host, port), timeout=config.get_float("cluster_connect_timeout")).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot join the Ray cluster at {where}: {reason} "
                         "(is `ray start --head` running there, and the port open?)") from None


def disconnect() -> None:
    """Leave the cluster (a local one stops with it)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
