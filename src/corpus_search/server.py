"""What stands between the app and the network: the Host allow-list, the password and its throttle.

The app's server (Streamlit on uvicorn) answers any Host header by default, so a web page
on another site could point its own DNS name at 127.0.0.1 and read the corpus through the
visitor's browser (DNS rebinding). `HostCheck` refuses every request, page, static file,
health check or websocket, whose Host is not a name the app is served under.

An app bound to an address other machines can reach needs a password: `hash_password`
makes the stored form (scrypt), `verify_password` checks a try in constant time, and
`Throttle` slows down guessing.

`app_launch` is how `corpus-search app` starts the server: refused on such an address without one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from corpus_search import config
from corpus_search.errors import UsageError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
HOW_TO_SET_A_PASSWORD = ("set a password first: export CORPUS_SEARCH_APP_PASSWORD_HASH=\"$(corpus-search "
                         "app-password)\" (or put that hash in a file named by CORPUS_SEARCH_APP_PASSWORD_FILE)")


# -- which addresses and Host names ------------------------------------------------------------
def is_loopback(address: str) -> bool:
    """True when only this machine can reach `address` (localhost, 127.x, ::1)."""
    address = address.strip().strip("[]").lower()
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def host_name(header: str) -> str:
    """The name in a Host header, without its port, brackets or trailing dot, lower case."""
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8501
        return header[1:header.find("]")] if "]" in header else ""
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


def allowed_hosts(address: str, extra: str = "") -> frozenset[str]:
    """The Host names the app answers to: loopback names, the bind address, and the extra ones listed."""
    names = set(LOOPBACK_NAMES)
    names.update(host_name(n) for n in extra.split(",") if n.strip())
    if address.strip() not in WILDCARDS:
        names.add(host_name(address))
    return frozenset(names)


def host_allowed(header: str, allowed: frozenset[str], wildcard: bool = False) -> bool:
    """True for a Host header naming one of `allowed`.

    Bound to every interface (`wildcard`), an IP literal is allowed too: DNS rebinding needs a
    DNS name the attacker controls, and a browser that asked for an address by number sends that number.
    """
    name = host_name(header)
    if not name:
        return False
    if name in allowed:
        return True
    if wildcard:
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False
    return False


class HostCheck:
    """ASGI middleware: 403 for any HTTP request or websocket whose Host is not one the app is served under."""

    def __init__(self, app) -> None:
        self.app = app
        self._allowed: tuple[frozenset[str], bool] | None = None

    def _rules(self) -> tuple[frozenset[str], bool]:
        if self._allowed is None:
            # Read on the first request: Streamlit's own config (--server.address) is loaded by then.
            address = config.get("app_address")
            try:
                from streamlit import config as st_config

                # Unset, Streamlit listens on every interface.
                address = st_config.get_option("server.address") or "0.0.0.0"
            except ImportError:  # not running under Streamlit: our setting alone
                pass
            self._allowed = (allowed_hosts(address, config.get("app_hosts")), address.strip() in WILDCARDS)
        return self._allowed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
        allowed, wildcard = self._rules()
        if host_allowed(header, allowed, wildcard):
            await self.app(scope, receive, send)
            return
        body = b"403 Forbidden: this server does not answer to that Host name\n"
        if scope["type"] == "websocket":
            # Closing before accepting makes the server refuse the upgrade with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# -- the password -------------------------------------------------------------------------------
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # about 50 ms and 16 MiB per try


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """The stored form of a password: `scrypt:N:r:p:salt:key` (no `$`, so it survives a shell's quotes)."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt:{_SCRYPT['n']}:{_SCRYPT['r']}:{_SCRYPT['p']}:{_b64(salt)}:{_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.strip().split(":")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
        if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16 and salt and len(key) >= 16):
            raise ValueError
    except ValueError:
        raise UsageError("the app password hash is not one `corpus-search app-password` made "
                         "(expected scrypt:N:r:p:salt:key); make a new one") from None
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when `password` is the one `stored` was made from (constant-time comparison)."""
    n, r, p, salt, key = _parse(stored)
    tried = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(key),
                           maxmem=256 * n * r + 2**20)
    return hmac.compare_digest(tried, key)


def password_hash() -> str:
    """The configured password hash ("" when none), checked for form; from the setting, else from its file."""
    stored = config.get("app_password_hash").strip()
    path = config.get("app_password_file").strip()
    if not stored and path:
        try:
            stored = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read the app password file {path}: {exc.strerror or exc}") from None
        if not stored:
            raise UsageError(f"the app password file {path} is empty; put the output of "
                             "`corpus-search app-password` in it")
    if stored:
        _parse(stored)
    return stored


def oidc_configured(script_dir: Path | None = None) -> bool:
    """True when a secrets.toml Streamlit reads has an [auth] section (its built-in OpenID Connect login)."""
    places = [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]
    if script_dir is not None:
        places.append(script_dir / ".streamlit" / "secrets.toml")
    for place in places:
        try:
            with open(place, "rb") as f:
                if isinstance(tomllib.load(f).get("auth"), dict):
                    return True
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return False


def check_can_serve(address: str, script_dir: Path | None = None) -> None:
    """Refuse (UsageError) to serve on an address other machines can reach without a way to sign in."""
    stored = password_hash()  # a malformed hash is an error on any address
    if is_loopback(address) or stored or oidc_configured(script_dir):
        return
    raise UsageError(f"the app would listen on {address}, which other machines can reach: {HOW_TO_SET_A_PASSWORD}")


class Throttle:
    """Wrong passwords per client: past `free` failures, a pause before the next try, doubling each time (capped)."""

    def __init__(self, free: int = 5, pause: float = 30.0, cap: float = 300.0, forget_after: float = 900.0) -> None:
        self.free, self.pause, self.cap, self.forget_after = free, pause, cap, forget_after
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds `client` must wait before its next try (0 when it may try now)."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
            now = time.monotonic()
            if now - last > self.forget_after:
                self._failures.pop(client, None)
                return 0.0
            if count < self.free:
                return 0.0
            return max(0.0, last + min(self.cap, self.pause * 2.0 ** (count - self.free)) - now)

    def failed(self, client: str) -> None:
        with self._lock:
            count, _ = self._failures.get(client, (0, 0.0))
            self._failures[client] = (count + 1, time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


THROTTLE = Throttle()  # one per server process: every session's wrong tries count together


# -- starting the app ----------------------------------------------------------------------------
# The app ships inside the package, so an installed wheel serves it as a checkout does.
APP_DIR = Path(__file__).resolve().parent / "app"


@dataclass(frozen=True)
class Launch:
    """The Streamlit server `corpus-search app` becomes: its command line, environment and address."""

    command: list[str]
    env: dict[str, str]
    url: str


def app_launch(index: Path, corpus: Path, port: int, address: str | None = None) -> Launch:
    """How to serve the app for this index on `address` (the app_address setting unless given) and `port`.

    Refused (UsageError) where the app is missing or the address is open to other machines with no
    way to sign in.
    """
    script = APP_DIR / "serve.py"
    if not script.exists():
        raise UsageError(f"the app is not where it should be ({script}); reinstall corpus-search")
    address = (address or config.get("app_address")).strip()
    check_can_serve(address, script_dir=APP_DIR)
    env = dict(os.environ, CORPUS_SEARCH_INDEX=str(Path(index).resolve()),
               CORPUS_SEARCH_CORPUS=str(Path(corpus).resolve()), HF_HUB_OFFLINE="1",
               CORPUS_SEARCH_APP_ADDRESS=address)
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal"]
    shown = "localhost" if is_loopback(address) else address
    return Launch(command, env, f"http://{shown}:{port}")
