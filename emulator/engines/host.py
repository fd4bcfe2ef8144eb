"""What every engine runs on: a context to reach the emulator as AWS, loops, logs and status.

An engine is a module of ``emulator.engines`` with ``install(host)``. It
registers polling loops (``host.every``) that read their configuration only
through the AWS API (describe calls) and act through it with the credentials
of the role the resource names (``host.ctx.client_as``), or it hooks moto
in-process where AWS would run something on a call (Lambda invoke, StartCrawler,
StartQueryExecution). Each engine logs to ``<run dir>/logs/engine-<name>.log``
and reports what it did last in ``<run dir>/engines/<name>.json``, which
``make status`` prints. An error inside a loop is logged, counted and shown
in the status; it never stops the loop or the emulator.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.utils import parse_timestamp

_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
_THREAD = threading.local()
# Assumed-role credentials are refreshed this long before they expire.
_REFRESH_MARGIN_S = 300


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def epoch_as_utc(value: Any) -> datetime:
    """botocore's timestamp parser, but an epoch number (what JSON services send) becomes a UTC datetime.

    botocore makes every epoch value a datetime in a new ``tzlocal()``, the most expensive step of reading
    a GetRecords page (10,000 ApproximateArrivalTimestamps); the instant is the same, only its zone differs.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return parse_timestamp(value)


@dataclass
class EngineContext:
    """How engines reach the emulator: its endpoint, CA bundle, regions and the base identity."""

    endpoint_url: str
    ca_bundle: str | None
    run_dir: Path
    regions: tuple[str, ...] = ("us-east-1",)
    access_key: str = "testing"
    secret_key: str = "testing"
    _assumed: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls, port: int | str | None = None) -> EngineContext:
        run_dir = Path(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))
        port = port or os.environ.get("SMARTSTREAM_MOTO_PORT", "5055")
        ca = run_dir / "tls" / "cert.pem"
        regions = tuple(r for r in os.environ.get("SMARTSTREAM_REGIONS", "us-east-1").split(",") if r)
        return cls(
            endpoint_url=os.environ.get("SMARTSTREAM_ENGINE_ENDPOINT", f"https://127.0.0.1:{port}"),
            ca_bundle=str(ca) if ca.exists() else None,
            run_dir=run_dir,
            regions=regions,
            access_key=os.environ.get("SMARTSTREAM_ENGINE_ACCESS_KEY", "testing"),
            secret_key=os.environ.get("SMARTSTREAM_ENGINE_SECRET_KEY", "testing"),
        )

    def client(self, service: str, region: str | None = None, credentials: dict[str, Any] | None = None) -> Any:
        """A boto3 client of the emulator, as the base identity or with ``credentials`` (an STS Credentials dict)."""
        creds = credentials or {"AccessKeyId": self.access_key, "SecretAccessKey": self.secret_key}
        # One session per thread: a new Session re-reads the service models (~0.5 s a client);
        # sessions are not thread-safe, so they are not shared across threads.
        session = getattr(_THREAD, "session", None)
        if session is None:
            session = _THREAD.session = boto3.session.Session()
            parsers = session._session.get_component("response_parser_factory")
            parsers.set_parser_defaults(timestamp_parser=epoch_as_utc)
        return session.client(
            service,
            region_name=region or self.regions[0],
            endpoint_url=self.endpoint_url,
            verify=self.ca_bundle if self.ca_bundle else False,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            config=_CLIENT_CONFIG,
        )

    def assume(
        self, role_arn: str, session_name: str, region: str | None = None, principal: str | None = None
    ) -> dict[str, Any]:
        """Credentials of ``role_arn`` (AssumeRole as the service would), cached until shortly before expiry.

        With ``principal`` (e.g. ``firehose.amazonaws.com``), the role's trust policy must let that service
        principal assume it, as AWS checks when the service assumes the role; else ``RoleNotAssumable``.
        """
        with self._lock:
            cached = self._assumed.get(role_arn)
            if cached and cached["Expiration"].timestamp() - time.time() > _REFRESH_MARGIN_S:
                return cached
        if principal:
            check_trust(self.client("iam", region), role_arn, principal)
        sts = self.client("sts", region)
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        with self._lock:
            self._assumed[role_arn] = creds
        return creds

    def client_as(
        self,
        role_arn: str,
        service: str,
        region: str | None = None,
        session: str = "engine",
        principal: str | None = None,
    ) -> Any:
        """A client acting as ``role_arn``: what the AWS service would do with the role it was given."""
        return self.client(service, region, self.assume(role_arn, session, region, principal))

    def forget_credentials(self) -> None:
        """Drop every cached assumed-role credential (the emulator was reset: they no longer exist)."""
        with self._lock:
            self._assumed.clear()

    def ready(self) -> bool:
        """Whether the emulator answers (engines start their loops only then)."""
        import ssl

        context = ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else None
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=2, context=context):
                return True
        except OSError:
            return False


class RoleNotAssumable(Exception):
    """The role's trust policy does not let the service principal assume it."""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trusts(policy: dict[str, Any], principal: str) -> bool:
    """Whether a trust policy allows ``principal`` (a service principal) sts:AssumeRole (no explicit deny)."""
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        actions = _as_list(statement.get("Action", []))
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = _as_list((statement.get("Principal") or {}).get("Service", []))
        if principal not in services and statement.get("Principal") != "*":
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def check_trust(iam: Any, role_arn: str, principal: str) -> None:
    """Raise RoleNotAssumable unless ``role_arn`` trusts ``principal``."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        document = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        raise RoleNotAssumable(f"role {role_arn} does not exist") from None
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    if not trusts(document, principal):
        raise RoleNotAssumable(f"{principal} is not allowed to assume {role_arn} (trust policy)")


_RESET_LISTENERS: list[Callable[[], None]] = []
_RESET_HOOKED = False


def _hook_reset() -> None:
    """Call the registered listeners whenever /moto-api/reset wipes the emulator's state."""
    global _RESET_HOOKED
    if _RESET_HOOKED:
        return
    from moto.moto_api._internal.models import MotoAPIBackend

    original = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        original(self)
        for listener in list(_RESET_LISTENERS):
            listener()

    MotoAPIBackend.reset = reset
    _RESET_HOOKED = True


@dataclass
class EngineStatus:
    """What an engine did last: written to ``<run dir>/engines/<name>.json`` after every loop pass."""

    name: str
    started_at: str = field(default_factory=_now)
    last_pass_at: str | None = None
    last_action: str | None = None
    last_action_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    errors: int = 0
    counters: dict[str, int] = field(default_factory=dict)

    def action(self, text: str) -> None:
        self.last_action, self.last_action_at = text, _now()

    def count(self, counter: str, n: int = 1) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + n

    def error(self, text: str) -> None:
        self.errors += 1
        self.last_error, self.last_error_at = text, _now()


class EngineHost:
    """Runs the engines' loops in daemon threads of the emulator process."""

    def __init__(self, ctx: EngineContext):
        self.ctx = ctx
        self._status: dict[str, EngineStatus] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reset_listeners: list[Callable[[], None]] = []
        (ctx.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        (ctx.run_dir / "engines").mkdir(parents=True, exist_ok=True)
        _hook_reset()
        self.on_reset(ctx.forget_credentials)

    def on_reset(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after /moto-api/reset (engines forget the resources it wiped)."""
        self._reset_listeners.append(listener)
        _RESET_LISTENERS.append(listener)

    def logger(self, engine: str) -> logging.Logger:
        log = logging.getLogger(f"smartstream.engine.{engine}")
        if not log.handlers:
            handler = logging.FileHandler(self.ctx.run_dir / "logs" / f"engine-{engine}.log")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False
        return log

    def status(self, engine: str) -> EngineStatus:
        if engine not in self._status:
            self._status[engine] = EngineStatus(engine)
        return self._status[engine]

    def write_status(self, engine: str) -> None:
        path = self.ctx.run_dir / "engines" / f"{engine}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(engine).__dict__, indent=1, default=str))
        tmp.replace(path)

    def every(self, engine: str, seconds: float, tick: Callable[[], None]) -> None:
        """Call ``tick`` every ``seconds`` once the emulator answers; errors are logged and shown, never fatal."""
        log, status = self.logger(engine), self.status(engine)

        def loop() -> None:
            while not self._stop.is_set() and not self.ctx.ready():
                self._stop.wait(0.2)
            log.info("engine %s started (every %.1f s)", engine, seconds)
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    tick()
                except Exception as exc:  # an engine error is visible, never fatal to the emulator
                    log.exception("engine %s: %s", engine, exc)
                    status.error(f"{type(exc).__name__}: {exc}")
                status.last_pass_at = _now()
                self.write_status(engine)
                self._stop.wait(max(0.0, seconds - (time.monotonic() - started)))

        thread = threading.Thread(target=loop, name=f"engine-{engine}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        for listener in self._reset_listeners:
            if listener in _RESET_LISTENERS:
                _RESET_LISTENERS.remove(listener)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
