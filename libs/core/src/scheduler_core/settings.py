"""The one settings class of every service: read from `SCHEDULER_*` environment variables at start-up
and passed down explicitly (nothing reads the environment after that)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from scheduler_core.gateway_syntax import TRUST_EVERYONE, listed, origin, path_prefix, trusted_proxy
from scheduler_core.outbound.policy import parse_allow_entry

Mode = Literal["embedded", "standalone"]
# A list read from one environment variable as JSON or comma-separated (pydantic-settings would require JSON).
EnvList = Annotated[list[str], NoDecode, BeforeValidator(listed)]


class SettingsError(RuntimeError):
    """The settings cannot run this role, though each is valid: one it needs is missing (the api's JWT secret), or
    one names what is not there (a task module). The message names the setting and what to do; the CLI prints it
    on one line and exits 2, as for an invalid setting."""


class Settings(BaseSettings):
    """Every knob of the scheduler. Durations are in seconds unless the name says otherwise."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore", frozen=True)

    # --- storage -------------------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL (postgresql+asyncpg://… or sqlite+aiosqlite:///…). "
        "Unset: a SQLite file under data_dir (embedded default).",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Embedded mode's directory: SQLite file and the generated JWT secret.",
    )
    database_pool_size: int = Field(default=10, ge=1, description="Connections per process (PostgreSQL).")

    # --- broker --------------------------------------------------------------------------------------
    amqp_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL.")
    queue_name: str = Field(default="scheduler.runs", description="Durable queue the runs travel on.")
    queue_type: Literal["classic", "quorum"] = Field(
        default="classic",
        description="classic: broker honours priorities (x-max-priority); quorum: replicated, FIFO.",
    )
    max_priority: int = Field(default=10, ge=1, le=255, description="Job priorities are clamped to 0..this.")
    runs_per_message: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Runs of one priority due together that share one broker message; 1 spreads every run.",
    )
    publish_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for publisher confirms.")
    amqp_heartbeat: int = Field(
        default=10,
        ge=1,
        le=600,
        description="Seconds between AMQP heartbeats: a paused or cut-off process is dropped by RabbitMQ after about "
        "twice this (its unacked messages requeued, its presence mark gone).",
    )

    # --- auth ----------------------------------------------------------------------------------------
    jwt_secret: str | None = Field(
        default=None,
        description="HS256 secret. Unset in embedded mode: generated once under data_dir.",
    )
    jwt_algorithms: list[str] = Field(default=["HS256"], description="Accepted JWT algorithms.")
    jwks_url: str | None = Field(default=None, description="JWKS of the API gateway (RS256/ES256 tokens).")
    jwt_issuer: str | None = Field(default=None, description="Required `iss`, when set.")
    jwt_audience: str | None = Field(default=None, description="Required `aud`, when set.")
    role_claim: str = Field(default="roles", description="Claim holding the caller's role or roles.")
    super_admin_role: str = Field(default="super_admin", description="Role every endpoint requires.")
    # A stolen token is good until it expires: this bounds how long, whoever minted it.
    jwt_max_lifetime: float = Field(
        default=86_400.0,
        gt=0,
        description="Seconds a token may be valid for: exp further than this from iat (or now) is refused.",
    )

    audit_name_claim: str = Field(
        default="name",
        min_length=1,
        description="Claim holding the caller's display name in the audit trail (a dotted path works); when it is "
        "absent, preferred_username, then email.",
    )

    # --- audit trail ---------------------------------------------------------------------------------
    audit_retention_days: int = Field(
        default=365,
        ge=1,
        le=36_500,
        description="Days audit rows are kept; the history cleanup (its job and POST /cleanup) deletes older ones.",
    )

    # --- api hardening -------------------------------------------------------------------------------
    max_request_body_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        description="Largest request body the API reads, in bytes; a larger one is refused with 413.",
    )
    api_docs: bool = Field(default=True, description="Serve /docs (Swagger UI, with its own assets) and /openapi.json.")
    outbound_allow: list[str] = Field(
        default=[],
        description="Hosts or CIDRs that outbound calls (http_request, notifications) may reach although they are "
        "private, loopback, link-local or otherwise not public (JSON list).",
    )

    # --- identity and liveness ----------------------------------------------------------------------
    instance_name: str | None = Field(default=None, description="Readable instance name (default: role@host).")
    heartbeat_interval: float = Field(default=5.0, gt=0, description="Seconds between instance heartbeats.")
    instance_timeout: float = Field(
        default=20.0,
        gt=0,
        description="An instance silent this long is no longer live; an executor's runs are failed once its broker "
        "connection is gone too, or when their leases expire.",
    )
    # The lease must outlast the database outages the cluster rides out: an executor that cannot renew stops its
    # runs before their leases expire, so a full outage longer than lock_ttl - heartbeat_interval fails them. 90 s
    # covers a managed PostgreSQL failover (20-60 s) with room to spare.
    lock_ttl: float = Field(
        default=90.0, gt=0, description="Lease of a run's lock; renewed every heartbeat while it runs."
    )
    sweep_interval: float = Field(default=5.0, gt=0, description="Seconds between recovery sweeps.")
    watchdog_interval: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Seconds between an executor's checks that it may still run its tasks: how long a paused "
        "executor's task can overlap its job's next run after it resumes.",
    )
    startup_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a process retries an unreachable database at start-up before it exits (code 6).",
    )

    # --- timekeeper ----------------------------------------------------------------------------------
    timekeeper_batch_size: int = Field(default=500, ge=1, description="Due jobs claimed per transaction.")
    timekeeper_max_sleep: float = Field(
        default=5.0, gt=0, description="Longest idle sleep; wake-ups on job changes come sooner."
    )
    # The shortest time from the start of a pass that claimed jobs to the start of the next pass. A slot due
    # sooner waits for that next pass, which takes every slot due by then, instead of every distinct due instant
    # costing a cycle of its own (a transaction, a publish, and smaller claim batches for the executors).
    # Measured at 500 runs/s with slots spread evenly over the second, standalone (benchmarks.run, steady): 4 ms
    # gave p99 lateness 99.5 ms at 3.59 s CPU per 1,000 runs (the cycles' fixed cost filling the cores), 10 ms
    # 56 ms at 3.57 s, 20 ms 41-47 ms at 2.1-2.3 s, 30 ms 52 ms, 50 ms 77 ms. At 1,000 runs/s a pass takes longer
    # than this anyway. A slot waits at most this long for its pass (half on average).
    timekeeper_min_cycle: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Seconds from a pass that claimed due jobs to the next: slots due closer together share one pass.",
    )
    # A slot is written and published this long before it is due, so that the cycle's wait, the write, the
    # publish and the executor's claim happen before the slot instead of after it; the executor starts the run at
    # its slot. It must cover min_cycle (a slot can wait that long for its pass), with room for a pass's write
    # and publish on a loaded machine; the executor holds a task slot for a run from its claim, so
    # concurrency / lookahead bounds one executor's rate (64 / 0.05 s = 1,280 runs/s). The price: a pause, edit
    # or deletion of a job less than this long before a slot no longer stops that slot's run, and a run shows
    # as running up to this long before it starts.
    timekeeper_lookahead: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Seconds ahead of its slot a run is written and published, so that it starts on time.",
    )
    outbox_delay: float = Field(
        default=5.0,
        ge=0,
        description="An unconfirmed pending run older than this is re-published by the sweep.",
    )
    # Long enough that a manual run merely waiting in a backlog is rarely sent twice.
    lost_message_timeout: float = Field(
        default=300.0,
        gt=0,
        description="A manual run still pending this long after the broker confirmed its message is published again.",
    )

    # --- notifications (a timekeeper's relay) ----------------------------------------------------------
    notification_poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between a timekeeper's looks for notifications due."
    )
    notification_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds one delivery attempt (connect, send, answer) may take."
    )
    notification_retry_delay: float = Field(
        default=10.0, gt=0, description="Seconds from a failed delivery attempt to the next; doubled each time."
    )
    notification_retry_max_delay: float = Field(
        default=3600.0, gt=0, description="Seconds between delivery attempts at most."
    )
    # At least once "for up to a day": a receiver down longer than this loses those events (recorded failed).
    notification_give_up_after: float = Field(
        default=86_400.0, gt=0, description="Seconds after its event a delivery is still attempted; then failed."
    )

    # --- executor ------------------------------------------------------------------------------------
    executor_concurrency: int = Field(default=64, ge=1, description="Runs one executor process runs at once.")
    # Unacked messages an executor holds. A paused executor sits on up to this many messages' runs, unstarted,
    # until RabbitMQ drops its connection (about 2 x amqp_heartbeat): 8 x 16 runs per message = 128 runs.
    executor_prefetch: int = Field(
        default=8, ge=1, le=65535, description="Broker messages an executor holds unacknowledged at most."
    )
    task_timeout: float = Field(default=3600.0, gt=0, description="Default run timeout (jobs may override).")
    shutdown_grace: float = Field(
        default=30.0, ge=0, description="On SIGTERM, seconds running tasks get to finish before being failed."
    )
    task_modules: list[str] = Field(
        default=["scheduler_core.tasks.builtin"],
        description="Modules whose @task functions executors register.",
    )

    # --- http / observability -----------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Bind address of the HTTP server.")
    port: int = Field(default=8000, ge=0, le=65535, description="API port (embedded and api roles).")
    health_port: int = Field(
        default=9000, ge=0, le=65535, description="Health/metrics port of the timekeeper and executor."
    )
    log_level: str = Field(default="INFO", description="Python log level.")
    log_format: Literal["json", "console"] = Field(default="json", description="Structured log renderer.")
    dashboard_dir: Path | None = Field(
        default=None, description="Built dashboard to serve at / (default: services/dashboard/dist)."
    )

    # --- behind a gateway (README "Behind a gateway") -------------------------------------------------
    root_path: str | None = Field(
        default=None,
        description="Path prefix the gateway serves the API and dashboard under (e.g. /scheduler), whether it "
        "strips it before forwarding or not. Unset: the root, or X-Forwarded-Prefix from a trusted proxy.",
    )
    # Nobody by default: no gateway address is known in advance, and trusting loopback would let any local
    # process (a task function, a sidecar) put a forged client address into the logs and the audit trail.
    forwarded_allow_ips: EnvList = Field(
        default=[],
        description="Peers (IP addresses, CIDR networks, or *) whose X-Forwarded-For/-Proto/-Prefix or "
        "Forwarded headers are believed; JSON list or comma-separated.",
    )
    forwarded_headers: Literal["x-forwarded", "forwarded"] = Field(
        default="x-forwarded",
        description="Which headers a trusted proxy sets: x-forwarded (X-Forwarded-For/-Proto) or forwarded "
        "(RFC 7239 Forwarded); the other kind is ignored, so a client cannot slip it past the proxy.",
    )
    cors_origins: EnvList = Field(
        default=[],
        description="Browser origins (scheme://host[:port]) allowed to call the API cross-origin; none by default.",
    )

    # --- CLI client -----------------------------------------------------------------------------------
    api_url: str = Field(default="http://127.0.0.1:8000", description="API the CLI's job commands talk to.")
    api_token: str | None = Field(
        default=None, description="Bearer token of the CLI's job commands (default: minted from the local secret)."
    )

    @field_validator("outbound_allow")
    @classmethod
    def _allow_entries(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_allow_entry(entry)  # raises ValueError naming the entry
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper

    @field_validator("root_path")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return (path_prefix(value) or None) if value is not None else None

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _trust_list(cls, value: list[str]) -> list[str]:
        entries = [trusted_proxy(entry) for entry in value]
        if TRUST_EVERYONE in entries and len(entries) > 1:
            raise ValueError("'*' trusts every peer: give it alone, or list addresses and networks")
        return entries

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(origin(entry) for entry in value))

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Rules between settings, so that a deployment cannot be configured into a state that fails at run time."""
        problems = []
        if self.heartbeat_interval >= self.instance_timeout:
            problems.append(
                f"SCHEDULER_HEARTBEAT_INTERVAL ({self.heartbeat_interval:g} s) must be shorter than "
                f"SCHEDULER_INSTANCE_TIMEOUT ({self.instance_timeout:g} s): a live process would be declared dead"
            )
        if self.instance_timeout > self.lock_ttl:
            problems.append(
                f"SCHEDULER_INSTANCE_TIMEOUT ({self.instance_timeout:g} s) must not exceed SCHEDULER_LOCK_TTL "
                f"({self.lock_ttl:g} s): a run's lease must last as long as its executor counts as live"
            )
        if self.timekeeper_lookahead < self.timekeeper_min_cycle:
            problems.append(
                f"SCHEDULER_TIMEKEEPER_LOOKAHEAD ({self.timekeeper_lookahead:g} s) must be at least "
                f"SCHEDULER_TIMEKEEPER_MIN_CYCLE ({self.timekeeper_min_cycle:g} s): a slot can wait that long for "
                "its pass, and would then be written after it is due"
            )
        if self.notification_retry_max_delay < self.notification_retry_delay:
            problems.append(
                f"SCHEDULER_NOTIFICATION_RETRY_MAX_DELAY ({self.notification_retry_max_delay:g} s) must not be "
                f"shorter than SCHEDULER_NOTIFICATION_RETRY_DELAY ({self.notification_retry_delay:g} s)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def resolved_database_url(self) -> str:
        """The database to use: the configured URL, or the embedded SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'scheduler.db').resolve()}"
