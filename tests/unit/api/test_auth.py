import hashlib
import time

import jwt
import pytest

from brickyard.api.auth import AuthError, JwtKeys, authenticate, authorize, go_duration, qsh

KEYS = JwtKeys(admin="admin-secret-key-0123456789abcdef", user="user-secret-key-0123456789abcdef")


def token(claims: dict[str, object], key: str = KEYS.admin, alg: str = "HS256") -> str:
    return "bearer " + jwt.encode(claims, key, algorithm=alg)


def good(method: str = "GET", path: str = "/clusters", **extra: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "admin",
        "iat": now,
        "exp": now + 60,
        "qsh": qsh(method, path),
    }
    claims.update(extra)
    return claims


def test_qsh_is_sha256_of_method_and_path() -> None:
    assert qsh("get", "/clusters") == hashlib.sha256(b"GET&/clusters").hexdigest()


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_admin_token_accepted(alg: str) -> None:
    assert authenticate(token(good(), alg=alg), "GET", "/clusters", KEYS) == "admin"


def expect(header: str | None, status: int, message: str, path: str = "/clusters") -> None:
    with pytest.raises(AuthError) as err:
        authenticate(header, "GET", path, KEYS)
    assert (err.value.status, err.value.message) == (status, message)


def test_error_matrix() -> None:
    expect(None, 401, "Required authorization token not found")
    expect("Basic abc", 400, "Authorization header format must be Bearer {token}")
    expect("bearer abc", 401, "Invalid JWT token: token contains an invalid number of segments")
    expect(
        token(good(), key="wrong-key-0123456789abcdef0123456789"),
        401,
        "Invalid JWT token: signature is invalid (client and server secrets may not match)",
    )
    expect(token(good(qsh="0" * 64)), 401, "Invalid qsh claim in token")
    expect(token(good(iss="bob")), 401, "Invalid JWT token: Unknown user")
    claims = good()
    del claims["iss"]
    expect(token(claims), 401, "Invalid JWT token: Token missing iss claim")
    expect(
        token(good(iat=int(time.time()) + 3600)),
        401,
        "Invalid JWT token: Token used before issued (client and server clocks may differ)",
    )


def test_expired_token_names_the_delay() -> None:
    with pytest.raises(AuthError, match=r"^Invalid JWT token: Token is expired by \d+m\d+s$"):
        authenticate(token(good(exp=int(time.time()) - 90)), "GET", "/clusters", KEYS)


def test_user_may_only_use_volumes() -> None:
    user = good(iss="user", path="/volumes")
    user["qsh"] = qsh("GET", "/volumes")
    assert authenticate(token(user, key=KEYS.user), "GET", "/volumes", KEYS) == "user"
    authorize("user", "/volumes")
    with pytest.raises(AuthError, match="Administrator access required"):
        authorize("user", "/volumes/" + "a" * 32)


def test_go_duration_format() -> None:
    assert [go_duration(s) for s in (5, 65, 3605)] == ["5s", "1m5s", "1h0m5s"]
