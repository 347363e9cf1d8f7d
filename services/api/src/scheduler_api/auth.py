"""Super Admin authentication: bearer JWTs verified with PyJWT.

HS* tokens are verified with the deployment's shared secret (SCHEDULER_JWT_SECRET, or the secret embedded mode
generates); RS*/ES*/PS*/EdDSA tokens with the API gateway's key set (SCHEDULER_JWKS_URL). The token's algorithm
must be one of SCHEDULER_JWT_ALGORITHMS, and it picks the key source, so a token can never get an HS signature
checked against a public key. `exp` is required, and may be at most SCHEDULER_JWT_MAX_LIFETIME after `iat` (or
after now, for a token without `iat`); `iss` and `aud` are checked when configured. The role claim
(SCHEDULER_ROLE_CLAIM) may be a string or a list and must contain SCHEDULER_SUPER_ADMIN_ROLE. The caller's display
name, for the audit trail, is the claim SCHEDULER_AUDIT_NAME_CLAIM names, else `preferred_username`, else `email`.

A 401 says in our own words which rule the token broke; what PyJWT or the key set said goes to the log (at
info level), never to the caller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import jwt
import structlog
from jwt import PyJWKClient

from scheduler_api.errors import Forbidden, ServiceUnavailable, Unauthorized
from scheduler_core.auth.tokens import NoSecretConfigured, jwt_secret
from scheduler_core.settings import Settings, SettingsError

# Seconds of clock difference tolerated on exp/nbf/iat between the token's issuer and this host.
CLOCK_SKEW_LEEWAY_S: Final = 30
# Seconds the gateway's key set is cached, and the timeout of fetching it.
JWKS_CACHE_S: Final = 300
JWKS_FETCH_TIMEOUT_S: Final = 5
# Claims a display name is taken from when the configured one (SCHEDULER_AUDIT_NAME_CLAIM) is absent, in order.
NAME_FALLBACK_CLAIMS: Final = ("preferred_username", "email")
# Characters of a refused token's `alg` repeated in the 401 (the header is the caller's to fill).
ALGORITHM_ECHO_CHARS: Final = 16

log = structlog.get_logger(__name__)


class AuthConfigError(SettingsError):
    """The auth settings cannot verify any token (e.g. a JWKS URL but only HS algorithms allowed)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller."""

    subject: str | None  # the `sub` claim
    roles: frozenset[str]
    claims: Mapping[str, Any] = field(repr=False)
    name: str | None = None  # the display name the audit trail shows (see the module docstring)


def _refused(message: str, cause: Exception) -> Unauthorized:
    """A 401 in our words; the library's own (which may quote the token) is logged for the operator."""
    log.info("token_refused", reason=message, detail=str(cause)[:200], error_type=type(cause).__name__)
    return Unauthorized(message)


def _is_symmetric(algorithm: str) -> bool:
    return algorithm.upper().startswith("HS")


class TokenVerifier:
    def __init__(
        self,
        *,
        algorithms: Iterable[str],
        secret: str | None,
        jwks_client: PyJWKClient | None,
        issuer: str | None,
        audience: str | None,
        role_claim: str,
        required_role: str,
        max_lifetime: float,
        name_claim: str = "name",
    ) -> None:
        self._algorithms = frozenset(algorithms)
        self._max_lifetime = max_lifetime  # seconds from iat (or now) to exp
        self._secret = secret
        self._jwks = jwks_client
        self._issuer = issuer
        self._audience = audience
        self._role_claim = role_claim
        self._name_claims = (name_claim, *(claim for claim in NAME_FALLBACK_CLAIMS if claim != name_claim))
        self.required_role = required_role

    @classmethod
    def from_settings(cls, settings: Settings, *, generate_secret: bool) -> TokenVerifier:
        """Build from settings; `generate_secret` (embedded mode) creates the shared secret on first use.
        Raises AuthConfigError / NoSecretConfigured when no token could ever verify."""
        algorithms = frozenset(settings.jwt_algorithms)
        if not algorithms:
            raise AuthConfigError("SCHEDULER_JWT_ALGORITHMS is empty: no token could be verified")
        asymmetric = {algorithm for algorithm in algorithms if not _is_symmetric(algorithm)}
        jwks_client = None
        if settings.jwks_url:
            if not asymmetric:
                raise AuthConfigError(
                    "SCHEDULER_JWKS_URL is set but SCHEDULER_JWT_ALGORITHMS allows no public-key algorithm; "
                    'set it to e.g. ["RS256", "ES256"]'
                )
            jwks_client = PyJWKClient(
                settings.jwks_url, cache_keys=True, lifespan=JWKS_CACHE_S, timeout=JWKS_FETCH_TIMEOUT_S
            )
        elif asymmetric == algorithms:
            raise AuthConfigError(f"SCHEDULER_JWT_ALGORITHMS {sorted(algorithms)} need SCHEDULER_JWKS_URL")
        secret = None
        if len(asymmetric) < len(algorithms):
            try:
                secret = jwt_secret(settings, generate=generate_secret)
            except NoSecretConfigured:
                if jwks_client is None:
                    raise
        return cls(
            algorithms=algorithms,
            secret=secret,
            jwks_client=jwks_client,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            role_claim=settings.role_claim,
            required_role=settings.super_admin_role,
            max_lifetime=settings.jwt_max_lifetime,
            name_claim=settings.audit_name_claim,
        )

    async def verify(self, token: str) -> Principal:
        """The caller of a Super Admin endpoint. Raises Unauthorized (the token does not verify), Forbidden
        (it verifies but lacks the role) or ServiceUnavailable (the key set cannot be fetched)."""
        claims = await self._decode(token)
        roles = self._roles(claims)
        if self.required_role not in roles:
            raise Forbidden(f"this endpoint requires the {self.required_role!r} role")
        subject = claims.get("sub")
        return Principal(subject if isinstance(subject, str) else None, roles, claims, self._name(claims))

    async def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _refused("malformed token: not a JWS compact serialization", exc) from exc
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            named = repr(algorithm[:ALGORITHM_ECHO_CHARS]) if isinstance(algorithm, str) else "(none)"
            raise Unauthorized(f"token algorithm {named} is not accepted")
        key = await self._key_for(token, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=CLOCK_SKEW_LEEWAY_S,
                options={"require": ["exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("token signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token has no {exc.claim!r} claim") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("token issuer is not accepted") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("token audience is not accepted") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("invalid token: not valid yet (nbf or iat in the future)") from exc
        except jwt.PyJWTError as exc:
            raise _refused("invalid token: its claims or encoding do not verify", exc) from exc
        except (TypeError, ValueError) as exc:  # PyJWT's word for a key of another type than the algorithm's
            raise _refused(f"the key the token names cannot verify {algorithm} signatures", exc) from exc
        self._check_lifetime(claims)
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """exp at most max_lifetime after iat (a token without iat: after now), with the clock skew leeway."""
        expires, issued = claims.get("exp"), claims.get("iat")
        start = issued if isinstance(issued, int | float) and not isinstance(issued, bool) else time.time()
        if isinstance(expires, int | float) and expires - start > self._max_lifetime + CLOCK_SKEW_LEEWAY_S:
            raise Unauthorized(
                f"token lifetime exceeds the {self._max_lifetime:g} s this API accepts (SCHEDULER_JWT_MAX_LIFETIME)"
            )

    async def _key_for(self, token: str, algorithm: str) -> Any:
        if _is_symmetric(algorithm):
            if self._secret is None:
                raise Unauthorized(f"{algorithm} tokens are not accepted: no shared secret is configured")
            return self._secret
        if self._jwks is None:
            raise Unauthorized(f"{algorithm} tokens are not accepted: no key set (JWKS) is configured")
        try:
            # PyJWKClient fetches with blocking urllib (at most every JWKS_CACHE_S): keep it off the event loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailable("the token issuer's key set (JWKS) cannot be fetched") from exc
        except jwt.PyJWTError as exc:
            raise _refused("no key of the token issuer's key set verifies this token", exc) from exc
        return signing_key.key

    def _name(self, claims: Mapping[str, Any]) -> str | None:
        """The first of the name claims that holds non-blank text, stripped."""
        for claim in self._name_claims:
            value = _claim(claims, claim)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def _roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """The role claim as a set."""
        value = _claim(claims, self._role_claim)
        if isinstance(value, str):
            return frozenset({value, *value.split()})
        if isinstance(value, list):
            return frozenset(item for item in value if isinstance(item, str))
        return frozenset()


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim looked up as is (namespaced claims such as 'https://example.com/roles' contain dots), then as a
    dotted path ('realm_access.roles')."""
    value: Any = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    return value
