"""The dashboard's login session: a browser cannot sign a Heketi JWT per request without
keeping the key, so the server checks the user and key once (the login form) and answers with
a session cookie that is signed, expires, and holds no key.

The cookie is ``<role>.<expiry>.<signature>``: the signature is HMAC-SHA256 over the role and
the expiry, keyed with a key derived from that role's JWT key (HMAC of the JWT key and a fixed
label, so a cookie's signature is never a usable JWT signature). So a cookie stays valid on
every server sharing the configuration, and changing a key ends every session made with it.
It is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and
Secure when the server speaks TLS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .auth import JwtKeys

COOKIE = "brickyard_session"
LIFETIME = 8 * 3600  # seconds a login lasts
_LABEL = b"brickyard dashboard session v1"
ROLES = ("admin", "user")


def _role_key(keys: JwtKeys, role: str) -> str:
    return keys.admin if role == "admin" else keys.user


def _signature(keys: JwtKeys, role: str, expires: int) -> str:
    derived = hmac.digest(_role_key(keys, role).encode(), _LABEL, hashlib.sha256)
    mac = hmac.digest(derived, f"{role}.{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def check_login(keys: JwtKeys, user: str, key: str) -> bool:
    """Whether `key` is the JWT key of `user` ("admin" or "user"; an empty key never is)."""
    if user not in ROLES or not key:
        return False
    expected = _role_key(keys, user)
    return bool(expected) and hmac.compare_digest(key.encode(), expected.encode())


def new_session(keys: JwtKeys, role: str, now: float | None = None) -> str:
    expires = int(time.time() if now is None else now) + LIFETIME
    return f"{role}.{expires}.{_signature(keys, role, expires)}"


def session_role(keys: JwtKeys, cookie: str | None, now: float | None = None) -> str | None:
    """The role of a valid, unexpired session cookie; None otherwise."""
    if not cookie:
        return None
    parts = cookie.split(".")
    if len(parts) != 3 or parts[0] not in ROLES or not parts[1].isdigit():
        return None
    role, expiry, signature = parts
    expires = int(expiry)
    current = time.time() if now is None else now
    if not current < expires <= current + LIFETIME + 60:
        return None
    expected = _signature(keys, role, expires)
    return role if hmac.compare_digest(signature.encode(), expected.encode()) else None


def cookie_header(value: str, secure: bool, max_age: int = LIFETIME) -> str:
    """The Set-Cookie value: the session is scoped to the dashboard's paths."""
    parts = [
        f"{COOKIE}={value}",
        "Path=/dashboard",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
