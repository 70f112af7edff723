"""The dashboard's session cookie: signed, expiring, bound to the role's key, never the key."""

from __future__ import annotations

from brickyard.api.auth import JwtKeys
from brickyard.api.dashboard_session import (
    LIFETIME,
    check_login,
    cookie_header,
    new_session,
    session_role,
)

KEYS = JwtKeys(admin="admin secret", user="user secret")
NOW = 1_800_000_000.0


def test_login_checks_the_key_of_the_role() -> None:
    assert check_login(KEYS, "admin", "admin secret")
    assert check_login(KEYS, "user", "user secret")
    assert not check_login(KEYS, "admin", "user secret")
    assert not check_login(KEYS, "root", "admin secret")
    assert not check_login(KEYS, "admin", "")
    assert not check_login(JwtKeys(admin="a", user=""), "user", "")


def test_a_session_is_valid_until_it_expires() -> None:
    cookie = new_session(KEYS, "admin", now=NOW)
    assert "secret" not in cookie
    assert session_role(KEYS, cookie, now=NOW + 10) == "admin"
    assert session_role(KEYS, cookie, now=NOW + LIFETIME - 1) == "admin"
    assert session_role(KEYS, cookie, now=NOW + LIFETIME) is None


def test_tampered_forged_or_foreign_sessions_are_refused() -> None:
    cookie = new_session(KEYS, "user", now=NOW)
    role, expiry, signature = cookie.split(".")
    assert session_role(KEYS, f"admin.{expiry}.{signature}", now=NOW) is None  # role swapped
    later = int(expiry) + 3600
    assert session_role(KEYS, f"{role}.{later}.{signature}", now=NOW) is None  # extended
    assert session_role(KEYS, f"{role}.{expiry}.{signature[:-1]}x", now=NOW) is None
    assert session_role(KEYS, "", now=NOW) is None and session_role(KEYS, None) is None
    assert session_role(KEYS, "admin.notanumber.sig", now=NOW) is None
    # A key changed: every session made with the old one ends.
    assert session_role(JwtKeys("admin secret", "new user key"), cookie, now=NOW) is None
    # Too far in the future (not made by this server's LIFETIME): refused.
    far = new_session(KEYS, "admin", now=NOW + 10 * LIFETIME)
    assert session_role(KEYS, far, now=NOW) is None


def test_the_cookie_is_http_only_strict_and_secure_over_tls() -> None:
    plain = cookie_header("v", secure=False)
    assert (
        plain
        == f"brickyard_session=v; Path=/dashboard; Max-Age={LIFETIME}; HttpOnly; SameSite=Strict"
    )
    assert cookie_header("v", secure=True).endswith("; Secure")
