"""Several hosts on one machine: network namespaces joined by a bridge, each running a Ray node.

Each "host" is a network namespace (`ip netns add`) with one veth link to a bridge in the root
namespace and an address in a private /24 that nothing on this machine routes yet (10.231.N.0/24,
N chosen free at start). Ray nodes are started in them with `ip netns exec NS ray start`, so the
GCS, raylets and workers of each node listen only on that host's address and talk over the bridge,
as they would between machines. Cutting a host off is `ip link set eth0 down` inside its namespace:
its processes keep running but nothing reaches them, like a pulled cable.

Ray token authentication stays on: every node and driver gets the same token through RAY_AUTH_TOKEN
(with RAY_AUTH_MODE=token) and a HOME of its own, so none of them can fall back on ~/.ray/auth_token.

A SIGTERM while hosts are up unwinds like Ctrl-C, so fixtures still clean up; what a SIGKILL leaves
is swept by the next run (names carry the owner's pid).

Cleanup never uses `ray stop`: it kills every Ray process on the machine by name, other people's
clusters included. Here the processes to stop are exactly those inside our namespaces
(`ip netns pids`), and the namespaces, links and bridge are ours by name.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

IP = shutil.which("ip") or "/usr/sbin/ip"
RAY = str(Path(sys.executable).with_name("ray"))  # the venv's own ray script, next to its python
SUBNET_PREFIX = "10.231"
HEAD_PORT = 6379
# Every port a node listens on, pinned as docs/scaling.md tells a user to (so a firewall can allow
# exactly these); the namespaces keep them apart here, as separate machines would.
PORTS = ["--node-manager-port", "6380", "--object-manager-port", "6381", "--runtime-env-agent-port", "6382",
         "--metrics-export-port", "6383", "--dashboard-agent-grpc-port", "6384", "--dashboard-agent-listen-port", "6385",
         "--min-worker-port", "10002", "--max-worker-port", "10999"]
CMD_TIMEOUT = 20  # seconds for any one `ip` command
START_TIMEOUT = 90  # seconds for one `ray start` (the head imports Ray and starts the GCS)
# Seconds, not the default ~30 s, for the head to declare a cut-off node dead, so a test that cuts a
# host off stays short. Production keeps Ray's defaults (docs/scaling.md).
FAST_FAILURE = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    # A pulled cable sends no reset: calls already in flight to the lost host only fail when gRPC's
    # keepalive gives up on the connection (Ray's default: minutes).
    "RAY_grpc_client_keepalive_time_ms": "1000",
    "RAY_grpc_client_keepalive_timeout_ms": "2000",
}


_SERIAL = itertools.count()


class NetnsUnavailable(Exception):
    """Namespaces cannot be made here (not root, no `ip`, or the kernel refuses)."""


def _run(cmd: list[str], timeout: float = CMD_TIMEOUT, check: bool = True, env: dict | None = None,
         ) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def why_unavailable() -> str | None:
    """One line saying why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if not Path(IP).exists():
        return "no `ip` command (apt-get install iproute2)"
    probe = f"csh-probe-{os.getpid()}"
    try:
        made = _run([IP, "netns", "add", probe], check=False)
        if made.returncode != 0:
            return f"`ip netns add` fails here: {made.stderr.strip()}"
    finally:
        _run([IP, "netns", "delete", probe], check=False)
    return None


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def sweep_stale() -> None:
    """Remove what a killed earlier run left (SIGKILL runs no cleanup): namespaces, links and folders
    named after an owner process that no longer exists, and the processes inside those namespaces."""
    for line in _run([IP, "netns", "list"], check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        found = re.fullmatch(r"csh-(\d+)x\d+-\w+", name)
        if found and not _alive(int(found.group(1))):
            pids = _run([IP, "netns", "pids", name], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _run([IP, "netns", "delete", name], check=False)
    for line in _run([IP, "-o", "link"], check=False).stdout.splitlines():
        found = re.match(r"\d+: (cs[bv](\d+)x\d+(?:n\d+)?)[@:]", line)
        if found and not _alive(int(found.group(2))):
            _run([IP, "link", "delete", found.group(1)], check=False)
    for folder in Path("/tmp").glob("csh-*x*-*"):
        found = re.match(r"csh-(\d+)x", folder.name)
        if found and not _alive(int(found.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _free_subnet() -> str:
    """A 10.231.N prefix that no address or route on this machine uses yet."""
    used = _run([IP, "-4", "addr"]).stdout + _run([IP, "-4", "route"]).stdout
    for n in range(1, 255):
        prefix = f"{SUBNET_PREFIX}.{n}."
        if prefix not in used:
            return prefix[:-1]
    raise NetnsUnavailable(f"no free {SUBNET_PREFIX}.N.0/24 subnet on this machine")


@dataclass
class Host:
    name: str  # logical name: head, n1, ...
    netns: str
    address: str
    veth: str  # the root-namespace end of its link
    home: Path
    temp: Path

    def exec(self, cmd: list[str]) -> list[str]:
        return [IP, "netns", "exec", self.netns, *cmd]


@dataclass
class Hosts:
    """A bridge and `names` namespaces; `start_ray()` puts a Ray head on the first and workers on the rest."""

    names: tuple[str, ...] = ("head", "n1", "n2")
    cpus: int = 1
    # Owner pid + serial: unique on this machine, and tells a later run whose leftovers these are.
    # Short, as link names are limited to 15 characters.
    tag: str = field(default_factory=lambda: f"{os.getpid()}x{next(_SERIAL)}")
    hosts: dict[str, Host] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    root: Path | None = None
    bridge: str = ""
    gateway: str = ""
    _sigterm: object = None

    @property
    def head(self) -> Host:
        return self.hosts[self.names[0]]

    @property
    def head_address(self) -> str:
        return f"{self.head.address}:{HEAD_PORT}"

    def env(self, home: Path, extra: dict | None = None) -> dict[str, str]:
        """The environment a node or a driver runs with: the shared token and nothing from ~/.ray."""
        from corpus_search import config

        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        # The installation's index key stays the test's own: the namespaces are one installation.
        env["CORPUS_SEARCH_SECRET_FILE"] = str(Path(config.get("secret_file")).expanduser())
        env.update(HOME=str(home), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token,
                   RAY_USAGE_STATS_ENABLED="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        env.update(extra or {})
        return env

    # -- network -------------------------------------------------------------------------------

    def up(self) -> Hosts:
        reason = why_unavailable()
        if reason:
            raise NetnsUnavailable(reason)
        if threading.current_thread() is threading.main_thread():
            # A SIGTERM (a CI timeout, `timeout`) then unwinds like Ctrl-C, so fixtures still clean up.
            self._sigterm = signal.signal(signal.SIGTERM, _interrupt)
        # Short paths: Ray puts Unix sockets under its temp dir and those are limited to 107 bytes.
        sweep_stale()
        self.root = Path(tempfile.mkdtemp(prefix=f"csh-{self.tag}-", dir="/tmp"))
        prefix = _free_subnet()
        self.bridge = f"csb{self.tag}"
        self.gateway = f"{prefix}.1"
        try:
            _run([IP, "link", "add", self.bridge, "type", "bridge"])
            _run([IP, "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
            _run([IP, "link", "set", self.bridge, "up"])
            for i, name in enumerate(self.names):
                host = Host(name=name, netns=f"csh-{self.tag}-{name}", address=f"{prefix}.{11 + i}",
                            veth=f"csv{self.tag}n{i}", home=self.root / name / "home", temp=self.root / name / "ray")
                self.hosts[name] = host
                host.home.mkdir(parents=True)
                host.temp.mkdir(parents=True)
                _run([IP, "netns", "add", host.netns])
                _run([IP, "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns])
                _run([IP, "link", "set", host.veth, "master", self.bridge, "up"])
                _run(host.exec([IP, "link", "set", "lo", "up"]))
                _run(host.exec([IP, "addr", "add", f"{host.address}/24", "dev", "eth0"]))
                _run(host.exec([IP, "link", "set", "eth0", "up"]))
        except BaseException:
            self.down()
            raise
        return self

    def cut(self, name: str) -> None:
        """Pull the host's cable: its link goes down, its processes keep running unreachable."""
        _run(self.hosts[name].exec([IP, "link", "set", "dev", "eth0", "down"]))

    # -- ray -----------------------------------------------------------------------------------

    def start_ray(self, on: tuple[str, ...] | None = None) -> None:
        """A Ray head on the first host, a worker node on each other one (of `on`), all with the shared token."""
        common = ["--num-cpus", str(self.cpus), "--disable-usage-stats", "--object-store-memory", str(80 * 2**20),
                  *PORTS]
        head = self.head
        self._ray_start(head, ["--head", "--port", str(HEAD_PORT), "--include-dashboard=false", *common])
        for host in list(self.hosts.values())[1:]:
            if on is not None and host.name not in on:
                continue
            self._ray_start(host, ["--address", self.head_address, *common])

    def _ray_start(self, host: Host, args: list[str]) -> None:
        cmd = host.exec([RAY, "start", "--node-ip-address", host.address, "--temp-dir", str(host.temp), *args])
        proc = _run(cmd, timeout=START_TIMEOUT, check=False, env=self.env(host.home, FAST_FAILURE))
        if proc.returncode != 0:
            raise RuntimeError(f"ray start on {host.name} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")

    def driver(self, args: list[str], host: str | None = None, env: dict | None = None, **popen) -> subprocess.Popen:
        """Start a driver process (python or the CLI) on a host (default: the head), with the shared token."""
        target = self.hosts[host or self.names[0]]
        home = self.root / f"driver-{target.name}"
        home.mkdir(exist_ok=True)
        return subprocess.Popen(target.exec(args), env=self.env(home, {**FAST_FAILURE, **(env or {})}), **popen)

    def run_driver(self, args: list[str], timeout: float, host: str | None = None, env: dict | None = None,
                   ) -> subprocess.CompletedProcess:
        proc = self.driver(args, host=host, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise RuntimeError(f"driver {' '.join(args)} did not finish in {timeout} s:\n{err[-3000:]}") from None
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    # -- cleanup -------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        found = []
        for host in self.hosts.values():
            proc = _run([IP, "netns", "pids", host.netns], check=False)
            found += [int(p) for p in proc.stdout.split() if p.strip().isdigit()]
        return found

    def down(self) -> None:
        """Stop every process in our namespaces, then delete namespaces, links and bridge. Never raises."""
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while pids and time.monotonic() < deadline:
                pids = self.pids()
                time.sleep(0.1)
            if not pids:
                break
        for host in self.hosts.values():
            _run([IP, "link", "delete", host.veth], check=False)
            _run([IP, "netns", "delete", host.netns], check=False)
        if self.bridge:
            _run([IP, "link", "delete", self.bridge], check=False)
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None

    def __enter__(self) -> Hosts:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
