"""JWT tokens exactly as the Heketi Go client mints them (contract §3)."""

from __future__ import annotations

import hashlib
import time
import warnings

__all__ = ["TOKEN_LIFETIME", "authorization_header", "make_token", "qsh"]

#: Seconds a token stays valid (the Go client uses five minutes).
TOKEN_LIFETIME = 5 * 60


def qsh(method: str, path: str | bytes) -> str:
    """Lower-case hex SHA-256 of ``METHOD&PATH``: the path only (no scheme, host or query),
    percent-decoded as the server sees it (Go's ``r.URL.Path``, on both sides in Heketi)."""
    raw = path if isinstance(path, bytes) else path.encode()
    return hashlib.sha256(method.upper().encode() + b"&" + raw).hexdigest()


def make_token(
    user: str, key: str, method: str, path: str | bytes, *, now: float | None = None
) -> str:
    """An HS256 token with ``iss``, ``iat``, ``exp`` (= iat + 5 min) and ``qsh`` claims."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": user,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME,
        "qsh": qsh(method, path),
    }
    # PyJWT, with the `cryptography` it loads (about 9 MiB), is imported when the first token is
    # made: `brickyard serve` builds the client's command tree but never makes one.
    import jwt

    with warnings.catch_warnings():
        # Heketi secrets are often short ("My Secret"); PyJWT's key-length advice is noise here.
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm="HS256")


def authorization_header(
    user: str, key: str, method: str, path: str | bytes, *, now: float | None = None
) -> str:
    """The value of the ``Authorization`` header: ``bearer <token>``."""
    return "bearer " + make_token(user, key, method, path, now=now)
