"""JWT authentication exactly as Heketi checks it (contract §3): HMAC tokens whose `iss`
picks the key, required `exp` and `qsh`, `iat` with a leeway, and the rule that `user` may
only touch /volumes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

# Heketi accepts keys of any length and its users' keys are often short ("My Secret"); the
# admin chose the key, so a warning on every request would only flood the log.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class JwtKeys:
    admin: str
    user: str
    iat_leeway: int = 120


def qsh(method: str, path: str) -> str:
    return hashlib.sha256(f"{method.upper()}&{path}".encode()).hexdigest()


def go_duration(seconds: int) -> str:
    """Go's time.Duration formatting for whole seconds: 5s, 1m5s, 2h0m5s."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _invalid(detail: str) -> AuthError:
    return AuthError(401, f"Invalid JWT token: {detail}")


def authenticate(
    header: str | None, method: str, path: str, keys: JwtKeys, now: float | None = None
) -> str:
    """Check the Authorization header; returns the issuer ("admin" or "user")."""
    if not header:
        raise AuthError(401, "Required authorization token not found")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise AuthError(400, "Authorization header format must be Bearer {token}")
    token = parts[1]
    if token.count(".") != 2:
        raise _invalid("token contains an invalid number of segments")
    verified = _verify_fast(token, keys) or _verify(token, keys)
    issuer, claims = verified
    return _check_claims(issuer, claims, method, path, keys, now)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _verify_fast(token: str, keys: JwtKeys) -> tuple[str, dict[str, Any]] | None:
    """The common case, a well-formed token with a good signature, checked with one HMAC.
    Anything unusual returns None and goes through PyJWT for Heketi's exact error text."""
    try:
        head, payload, signature = token.split(".")
        header = json.loads(_b64decode(head))
        digest = _HASHES.get(header.get("alg", ""))
        claims = json.loads(_b64decode(payload))
        issuer = claims.get("iss")
        key = (
            {"admin": keys.admin, "user": keys.user}.get(issuer)
            if isinstance(issuer, str)
            else None
        )
        if digest is None or not isinstance(claims, dict) or key is None:
            return None
        expected = hmac.new(key.encode(), f"{head}.{payload}".encode(), digest).digest()
        if not hmac.compare_digest(expected, _b64decode(signature)):
            return None
        return issuer, claims
    except (ValueError, TypeError, AttributeError):
        return None


def _verify(token: str, keys: JwtKeys) -> tuple[str, dict[str, Any]]:
    try:
        algorithm = jwt.get_unverified_header(token).get("alg", "")
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid(str(exc)) from exc
    if algorithm not in HMAC_ALGORITHMS:
        raise _invalid(f"Unexpected signing method: {algorithm}")
    issuer = unverified.get("iss")
    if not issuer:
        raise _invalid("Token missing iss claim")
    if issuer == "admin":
        key = keys.admin
    elif issuer == "user":
        key = keys.user
    else:
        raise _invalid("Unknown user")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(HMAC_ALGORITHMS),
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise _invalid("signature is invalid (client and server secrets may not match)") from exc
    except jwt.PyJWTError as exc:
        raise _invalid(str(exc)) from exc
    return str(issuer), claims


def _check_claims(
    issuer: str, claims: dict[str, Any], method: str, path: str, keys: JwtKeys, now: float | None
) -> str:
    current = int(now if now is not None else time.time())
    exp = _int_claim(claims, "exp")
    if exp is None or current > exp:
        raise _invalid(f"Token is expired by {go_duration(current - (exp or 0))}")
    iat = _int_claim(claims, "iat")
    if iat is not None and current < iat - keys.iat_leeway:
        raise _invalid("Token used before issued (client and server clocks may differ)")
    nbf = _int_claim(claims, "nbf")
    if nbf is not None and current < nbf:
        raise _invalid("token is not valid yet")
    claimed = claims.get("qsh")
    if not isinstance(claimed, str) or not hmac.compare_digest(
        claimed.encode(), qsh(method, path).encode()
    ):
        raise AuthError(401, "Invalid qsh claim in token")
    return str(issuer)


def _int_claim(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def authorize(issuer: str, path: str) -> None:
    if issuer == "user" and path != "/volumes":
        raise AuthError(401, "Administrator access required")
