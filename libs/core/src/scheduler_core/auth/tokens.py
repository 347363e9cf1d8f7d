"""Minting Super Admin JWTs for local use, and the HS256 secret they are signed with."""

from __future__ import annotations

import getpass
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt

from scheduler_core.settings import Settings, SettingsError

SECRET_FILE_NAME = "jwt-secret"
# Bytes of randomness in a generated secret (256 bits, the HS256 key size).
GENERATED_SECRET_BYTES = 32
DEFAULT_TOKEN_TTL = timedelta(hours=12)
# Width of scheduled_job.created_by_id / updated_by_id, which store a token's `sub`.
SUBJECT_MAX_LENGTH: Final = 36


class NoSecretConfigured(SettingsError):
    """Standalone services need SCHEDULER_JWT_SECRET (or a JWKS); only embedded mode generates one."""


def jwt_secret(settings: Settings, *, generate: bool) -> str:
    """SCHEDULER_JWT_SECRET if set; else the secret stored under data_dir, created on first use when
    `generate` (embedded mode), so tokens survive restarts of the same installation."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.data_dir / SECRET_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    if not generate:
        raise NoSecretConfigured(
            f"SCHEDULER_JWT_SECRET is not set: the api needs it to verify tokens (or SCHEDULER_JWKS_URL, for a "
            f"gateway's tokens); only embedded mode generates a secret, as {path}"
        )
    return _create_secret(path)


def _create_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(GENERATED_SECRET_BYTES)
    # Written with owner-only permissions from the start; O_EXCL so two processes never disagree.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


class LifetimeTooLong(ValueError):
    """A token would outlive SCHEDULER_JWT_MAX_LIFETIME: the API would refuse it."""


def local_user() -> str:
    """The operating-system user running this process (a container's anonymous uid as `uid-N`)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry for the uid
        return f"uid-{os.getuid()}"


def _nested(claim: str, value: str) -> dict[str, Any]:
    """A claim named by a dotted path, as the verifier reads it ('profile.name' -> {"profile": {"name": …}})."""
    head, _, rest = claim.partition(".")
    return {head: _nested(rest, value) if rest else value}


def mint_super_admin_token(
    settings: Settings,
    secret: str,
    *,
    subject: str | None = None,
    name: str | None = None,
    ttl: timedelta | None = None,
) -> str:
    """An HS256 token carrying the configured Super Admin role (and iss/aud when configured). `subject` and
    `name` (in the SCHEDULER_AUDIT_NAME_CLAIM claim) say who the audit trail records: by default the local
    operating-system user (the name: the subject, when one is given), so that every token one person mints names
    the same actor. `ttl`: 12 hours, or
    SCHEDULER_JWT_MAX_LIFETIME if shorter; a longer one raises LifetimeTooLong."""
    longest = timedelta(seconds=settings.jwt_max_lifetime)
    if ttl is None:
        ttl = min(DEFAULT_TOKEN_TTL, longest)
    elif ttl > longest:
        raise LifetimeTooLong(
            f"a token lifetime of {ttl.total_seconds():g} s exceeds SCHEDULER_JWT_MAX_LIFETIME "
            f"({settings.jwt_max_lifetime:g} s): the API would refuse it"
        )
    now = datetime.now(UTC)
    user = local_user()
    claims: dict[str, object] = {
        **_nested(settings.audit_name_claim, name or subject or user),
        "sub": subject or user[:SUBJECT_MAX_LENGTH],
        "iat": now,
        "exp": now + ttl,
        settings.role_claim: [settings.super_admin_role],
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, secret, algorithm="HS256")
