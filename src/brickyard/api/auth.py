"""JWT authentication exactly as Heketi checks it (contract §3).

Heketi takes the token out of the header with auth0's go-jwt-middleware (``strings.Fields``,
scheme ``bearer`` in any case) and parses it with github.com/golang-jwt/jwt v3.2.2
(``jwt.ParseWithClaims`` into its ``HeketiJwtClaims``). This module accepts and refuses exactly
the tokens that code does, in the same order of checks, so that the first problem found is the
one reported:

1. each of the three segments is decoded as jwt-go's ``DecodeSegment`` does: padded with ``=``
   to a multiple of 4, then Go's ``base64.URLEncoding``. That decoder is not strict: it ignores
   the unused low bits of the last character and accepts the padding a segment already carries
   (``abc=``, or ``ab=`` completed to ``ab==``), but refuses any other character, including
   ``+``, ``/``, ``!`` and a misplaced ``=``;
2. the header is JSON (Go's ``json.Unmarshal`` into a map) with a string ``alg``;
3. the claims are the first JSON value of their segment (Go's ``json.Decoder``, which ignores
   what follows), decoded into Heketi's struct: ``iss``, ``sub``, ``aud``, ``jti`` and ``qsh``
   must be strings, ``exp``, ``iat`` and ``nbf`` integers that fit 64 bits; key names match
   without regard to case, as Go's ``encoding/json`` matches them;
4. ``alg`` must be known to jwt-go and an HMAC one; ``iss`` picks the key;
5. ``exp`` (required), ``iat`` (with a leeway) and ``nbf``; the signature, whose errors win;
6. ``qsh`` over the method and the decoded request path.

A segment in the form every client sends (base64url letters only, no padding) is decoded with
the standard library; any other goes through a port of Go's decoder, which also gives Go's
error text. Both give the same bytes for the first kind, so the fast case never decides
differently (tests/unit/api/test_auth_corpus.py checks it on a corpus of mangled tokens).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
# Every alg golang-jwt v3.2.2 registers. A known one that is not HMAC is "Unexpected signing
# method"; one jwt-go does not know fails earlier, with its own message.
_KNOWN_ALGORITHMS = frozenset(
    {
        *HMAC_ALGORITHMS,
        *(f"{family}{bits}" for family in ("RS", "PS", "ES") for bits in (256, 384, 512)),
        "EdDSA",
        "none",
    }
)

# Go's unicode.IsSpace, which strings.Fields splits on (Python's str.split also splits on
# \x1c-\x1f, which Go does not).
_GO_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_RAW_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_BASE64URL = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Go's time.Duration saturates at this many nanoseconds (time.Time.Sub).
_MAX_DURATION_NS = 2**63 - 1


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


class _Claims(NamedTuple):
    """The part of Heketi's HeketiJwtClaims that is checked (Go zero values when absent)."""

    iss: str = ""
    exp: int = 0
    iat: int = 0
    nbf: int = 0
    qsh: str = ""


def qsh(method: str, path: str | bytes) -> str:
    """Heketi's generate_qsh: SHA-256 of ``METHOD&PATH``, PATH being the request path after
    percent-decoding (Go's ``r.URL.Path``); bytes are taken as they are."""
    raw = path if isinstance(path, bytes) else path.encode()
    return hashlib.sha256(method.upper().encode() + b"&" + raw).hexdigest()


def go_duration(seconds: int) -> str:
    """Go's time.Duration formatting for whole seconds: 5s, 1m5s, 2h0m5s (saturated as
    time.Time.Sub saturates)."""
    if seconds * 1_000_000_000 > _MAX_DURATION_NS:
        return "2562047h47m16.854775807s"
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
    header: str | None,
    method: str,
    path: str | bytes,
    keys: JwtKeys,
    now: float | None = None,
) -> str:
    """Check the Authorization header; returns the issuer ("admin" or "user").

    ``path`` is the decoded request path. A header read from the wire should be decoded as
    UTF-8 with ``surrogateescape``, so that every byte is seen as Go sees it."""
    return _authenticate(header, method, path, keys, now, _decode_segment)


def _authenticate(
    header: str | None,
    method: str,
    path: str | bytes,
    keys: JwtKeys,
    now: float | None,
    decode: Callable[[str], bytes],
) -> str:
    token = _bearer_token(header)
    claims = _parse(token, keys, int(time.time() if now is None else now), decode)
    claimed = claims.qsh.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(claimed, qsh(method, path).encode()):
        raise AuthError(401, "Invalid qsh claim in token")
    return claims.iss


def _bearer_token(header: str | None) -> str:
    if not header:
        raise AuthError(401, "Required authorization token not found")
    scheme, _, token = header.partition(" ")
    if _plain(scheme) and _plain(token):
        fields = [scheme, token]  # the usual "bearer <token>"
    else:
        fields = [field for field in _GO_SPACE.split(header) if field]
    if len(fields) != 2 or fields[0].lower() != "bearer":
        raise AuthError(400, "Authorization header format must be Bearer {token}")
    return fields[1]


def _plain(text: str) -> bool:
    """Non-empty printable ASCII without a space: no character is a separator to Go or to
    Python."""
    return text.isascii() and text.isprintable() and " " not in text and text != ""


def _parse(token: str, keys: JwtKeys, now: int, decode: Callable[[str], bytes]) -> _Claims:
    """jwt-go's ParseWithClaims with Heketi's key function and HeketiJwtClaims.Valid."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid("token contains an invalid number of segments")
    head, body, signature = parts
    header = _header(_segment(head, decode))
    claims = _claims(_segment(body, decode))
    digest = _signing_method(header)
    key = _issuer_key(claims, keys)
    # Go checks the times first but reports a bad signature instead when there is one.
    late = _time_problem(claims, now, keys.iat_leeway)
    _check_signature(digest, key, f"{head}.{body}", _segment(signature, decode))
    if late is not None:
        raise _invalid(late)
    return claims


def _segment(segment: str, decode: Callable[[str], bytes]) -> bytes:
    try:
        return decode(segment)
    except _CorruptInput as exc:
        raise _invalid(str(exc)) from None


# --- segments: jwt-go v3 DecodeSegment over Go's base64.URLEncoding ---------------------------


class _CorruptInput(ValueError):
    """Go's base64.CorruptInputError (the offset counts bytes, as Go's does)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")


def _decode_segment(segment: str) -> bytes:
    """What every client sends (base64url letters, no padding) decodes with the standard
    library exactly as Go decodes it; anything else goes through the port of Go's decoder."""
    if len(segment) % 4 != 1 and _RAW_SEGMENT.fullmatch(segment):
        standard = segment.encode().translate(_TO_STANDARD_ALPHABET)
        return binascii.a2b_base64(standard + b"=" * (-len(segment) % 4))
    return _go_decode_segment(segment)


def _go_decode_segment(segment: str) -> bytes:
    """jwt-go v3.2.2 DecodeSegment: pad with "=" to a multiple of 4 bytes, then decode with
    Go's base64.URLEncoding (padded, not strict)."""
    src = segment + "=" * (-_utf8_length(segment) % 4)
    out = bytearray()
    si = 0
    while si < len(src):
        si = _decode_quantum(src, si, out)
    return bytes(out)


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a lone surrogate that no byte stands for
        return len(text.encode("utf-8", "surrogatepass"))


def _decode_quantum(src: str, si: int, out: bytearray) -> int:
    """Go's Encoding.decodeQuantum: up to 4 characters, returns where the next quantum starts.
    Every character before an error offset is ASCII, so character and byte offsets agree."""
    digits: list[int] = []
    while len(digits) < 4:
        if si == len(src):
            if digits:  # a padded encoding needs whole quanta
                raise _CorruptInput(si - len(digits))
            return si
        char = src[si]
        si += 1
        value = _BASE64URL.get(char)
        if value is not None:
            digits.append(value)
        elif char not in "\r\n":  # Go skips newlines anywhere
            if char != "=":
                raise _CorruptInput(si - 1)
            si = _after_padding(src, si, len(digits))
            break
    _emit(digits, out)
    return si


def _after_padding(src: str, si: int, digits: int) -> int:
    """The rest of decodeQuantum once it met "=" after ``digits`` digits: "xx==" or "xxx=",
    then nothing but newlines."""
    if digits < 2:
        raise _CorruptInput(si - 1)
    if digits == 2:
        si = _skip_newlines(src, si)
        if si == len(src):
            raise _CorruptInput(len(src))
        if src[si] != "=":
            raise _CorruptInput(si - 1)
        si += 1
    si = _skip_newlines(src, si)
    if si < len(src):
        raise _CorruptInput(si)
    return si


def _skip_newlines(src: str, si: int) -> int:
    while si < len(src) and src[si] in "\r\n":
        si += 1
    return si


def _emit(digits: list[int], out: bytearray) -> None:
    """2, 3 or 4 digits make 1, 2 or 3 bytes; the unused low bits are ignored (not strict)."""
    value = 0
    for digit in digits:
        value = value << 6 | digit
    value <<= 6 * (4 - len(digits))
    out += value.to_bytes(3, "big")[: len(digits) - 1]


# --- header and claims: Go's encoding/json ---------------------------------------------------


class _Object(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in document order (Go assigns them in order)."""


@dataclass(frozen=True)
class _Float:
    """A JSON number written with a fraction or an exponent, kept as written."""

    text: str


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _float64(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


# The header goes into a map[string]interface{}: numbers become float64, which must not
# overflow. NaN and Infinity are not JSON.
_HEADER_JSON = json.JSONDecoder(
    parse_float=_float64, parse_int=_float64, parse_constant=_no_constant
)
_CLAIMS_JSON = json.JSONDecoder(
    object_pairs_hook=_Object, parse_float=_Float, parse_constant=_no_constant
)
_CHECKED = frozenset(_Claims._fields)
_CLAIM_TYPES = {
    "aud": "string",
    "exp": "int64",
    "jti": "string",
    "iat": "int64",
    "iss": "string",
    "nbf": "int64",
    "sub": "string",
    "qsh": "string",
}


def _header(data: bytes) -> dict[str, Any]:
    if not data.strip(b" \t\r\n"):
        raise _invalid("unexpected end of JSON input")  # Go's json.Unmarshal on nothing
    try:
        value = _HEADER_JSON.decode(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"token header: {exc}") from None
    if value is None:  # Go leaves the map nil, and then no alg is found
        return {}
    if not isinstance(value, dict):
        kind = _json_kind(value)
        raise _invalid(
            f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
        )
    return value


def _claims(data: bytes) -> _Claims:
    """HeketiJwtClaims as Go's json.Decoder fills it from the first value of ``data``."""
    text = data.decode("utf-8", "replace").lstrip(" \t\r\n")
    if not text:
        raise _invalid("EOF")
    try:
        value, _ = _CLAIMS_JSON.raw_decode(text)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"token claims: {exc}") from None
    if value is None:
        return _Claims()
    if not isinstance(value, _Object):
        kind = _json_kind(value)
        raise _invalid(
            f"json: cannot unmarshal {kind} into Go value of type middleware.HeketiJwtClaims"
        )
    return _Claims(**_claim_fields(value))


def _claim_fields(pairs: _Object) -> dict[str, Any]:
    """Assign the pairs in order as Go does: a later key wins, null changes nothing, the first
    type mismatch is reported (after the whole object was read)."""
    fields: dict[str, Any] = {}
    mismatch: str | None = None
    for key, value in pairs:
        name = key.lower().replace("ſ", "s")  # Go's case folding of field names
        kind = _CLAIM_TYPES.get(name)
        if kind is None or value is None:
            continue
        problem = _type_problem(value, kind)
        if problem is None:
            if name in _CHECKED:
                fields[name] = value
        elif mismatch is None:
            mismatch = (
                f"json: cannot unmarshal {problem} into Go struct field "
                f"HeketiJwtClaims.{name} of type {kind}"
            )
    if mismatch is not None:
        raise _invalid(mismatch)
    return fields


def _type_problem(value: Any, kind: str) -> str | None:
    """None when Go can store ``value`` in a field of ``kind``, else what Go calls the value."""
    if kind == "string":
        return None if type(value) is str else _json_kind(value)
    if type(value) is int:  # not bool
        return None if _INT64_MIN <= value <= _INT64_MAX else f"number {value}"
    if isinstance(value, _Float):
        return f"number {value.text}"
    return _json_kind(value)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | _Float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _Object | dict):
        return "object"
    return "array"


# --- algorithm, key, times, signature --------------------------------------------------------


def _signing_method(header: dict[str, Any]) -> str:
    """The hash of the token's HMAC algorithm."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise _invalid("signing method (alg) is unspecified.")
    if alg not in _KNOWN_ALGORITHMS:
        raise _invalid("signing method (alg) is unavailable.")
    digest = _HASHES.get(alg)
    if digest is None:
        raise _invalid(f"Unexpected signing method: {alg}")
    return digest


def _issuer_key(claims: _Claims, keys: JwtKeys) -> str:
    if not claims.iss:
        raise _invalid("Token missing iss claim")
    if claims.iss == "admin":
        return keys.admin
    if claims.iss == "user":
        return keys.user
    raise _invalid("Unknown user")


def _time_problem(claims: _Claims, now: int, leeway: int) -> str | None:
    """HeketiJwtClaims.Valid: every check runs and the last failing one is reported."""
    problem = None
    if claims.exp == 0 or now > claims.exp:
        problem = f"Token is expired by {go_duration(now - claims.exp)}"
    if now < _wrap_int64(claims.iat - leeway):
        problem = "Token used before issued (client and server clocks may differ)"
    if claims.nbf != 0 and now < claims.nbf:
        problem = "token is not valid yet"
    return problem


def _wrap_int64(value: int) -> int:
    """Go's int64 arithmetic wraps around."""
    return (value - _INT64_MIN) % 2**64 + _INT64_MIN


def _check_signature(digest: str, key: str, signing_input: str, signature: bytes) -> None:
    expected = hmac.digest(key.encode(), signing_input.encode(), digest)
    if not hmac.compare_digest(expected, signature):
        raise _invalid("signature is invalid (client and server secrets may not match)")


def authorize(issuer: str, path: str) -> None:
    if issuer == "user" and path != "/volumes":
        raise AuthError(401, "Administrator access required")
