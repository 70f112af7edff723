"""Tokens mangled every which way: each is accepted or refused as Heketi does.

Heketi reads the header with go-jwt-middleware (``strings.Fields``) and parses the token with
golang-jwt/jwt v3.2.2, whose ``DecodeSegment`` pads a segment with ``=`` to a multiple of 4 and
decodes it with Go's ``base64.URLEncoding`` (padded, not strict). ``heketi_verdict`` below
restates those rules on their own (it does not use the code under test) and is the expected
answer for every token of the corpus. The corpus also checks that the fast decoding of the
usual segments never decides differently from the port of Go's decoder, and lists where PyJWT
(which Brickyard used before) disagrees with Heketi: Heketi wins there.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brickyard.api.auth import (
    AuthError,
    JwtKeys,
    _authenticate,
    _decode_segment,
    _go_decode_segment,
    authenticate,
    qsh,
)

KEY = "My Secret"
KEYS = JwtKeys(admin=KEY, user="user secret")
NOW = 1_700_000_000
PATH = "/clusters"
HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Go's unicode.IsSpace (strings.Fields)
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
GO_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
INSERTS = ["!!", "==", "=", " ", "+", "/", ".", "é", "\xa0", "\x1c", "~", "*", "%2F", '"', "AAAA"]

Outcome = tuple[int, str] | str  # (status, message) or the issuer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signature(head: str, body: str, alg: str = "HS256", key: str = KEY) -> str:
    return b64(hmac.digest(key.encode(), f"{head}.{body}".encode(), HASHES[alg]))


def claims(extra: int = 0, **changes: Any) -> dict[str, Any]:
    """Valid claims; ``extra`` pads them so that segments of every length modulo 4 occur."""
    value: dict[str, Any] = {
        "iss": "admin",
        "iat": NOW,
        "exp": NOW + 300,
        "qsh": qsh("GET", PATH),
        "x": "y" * extra,
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not None}


def encoded(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def token(header: Any = None, body: Any = None, alg: str = "HS256") -> str:
    head = encoded(header if header is not None else {"alg": alg, "typ": "JWT"})
    payload = encoded(body if body is not None else claims())
    return f"{head}.{payload}.{signature(head, payload, alg)}"


def outcome(header: str, decode: Any = _decode_segment) -> Outcome:
    try:
        return _authenticate(header, "GET", PATH, KEYS, NOW, decode)
    except AuthError as exc:
        return exc.status, exc.message


# --- Heketi's rules, restated independently ---------------------------------------------------


def go_segment(segment: str) -> bytes | None:
    """jwt-go v3 DecodeSegment: letters of the URL alphabet, then at most the padding that
    completes the last quantum ("ab=" is completed to "ab==", "abc=" is whole); the unused low
    bits of the last letter are ignored. None when Go refuses the segment."""
    letters = segment.rstrip("=")
    pads = len(segment) - len(letters)
    if re.fullmatch("[A-Za-z0-9_-]*", letters) is None:
        return None
    rest = len(letters) % 4
    if rest == 1 or pads > 2 or (pads and rest == 0) or (rest == 3 and pads > 1):
        return None
    return base64.urlsafe_b64decode(letters + "=" * (-len(letters) % 4))


def heketi_verdict(header: str) -> bool:
    """Accepted by Heketi, for tokens whose claims are the valid ones of this corpus."""
    fields = [f for f in re.split(f"[{GO_SPACE}]+", header) if f]
    if len(fields) != 2 or fields[0].lower() != "bearer":
        return False
    parts = fields[1].split(".")
    decoded = [go_segment(p) for p in parts]
    if len(parts) != 3 or None in decoded:
        return False
    head, body, sig = (d or b"" for d in decoded)
    try:
        alg = json.loads(head)["alg"]
        # Go's json.Decoder reads the first value of the claims and ignores what follows.
        json.JSONDecoder().raw_decode(body.decode().lstrip())
    except (ValueError, KeyError, TypeError):
        return False
    expected = hmac.digest(KEY.encode(), f"{parts[0]}.{parts[1]}".encode(), HASHES[alg])
    return hmac.compare_digest(expected, sig)


def pyjwt_accepts(raw: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            jwt.decode(
                raw,
                KEY,
                algorithms=list(HASHES),
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return False
    return True


def pyjwt_is_stricter(raw: str) -> bool:
    """The forms Heketi accepts and PyJWT refuses: padding that does not fill the segment to a
    multiple of 4, non-zero unused bits in the last letter, bytes after the claims' JSON."""
    parts = raw.split(".")
    for part in parts:
        letters = part.rstrip("=")
        if letters != part and len(part) % 4:
            return True
        decoded = go_segment(part)
        if decoded is not None and b64(decoded) != letters:
            return True
    body = go_segment(parts[1]) or b""
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


# --- the corpus ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    header: str


def _mutations(segment: str) -> Iterator[tuple[str, str]]:
    middle = len(segment) // 2
    for text in INSERTS:
        for where, at in (("start", 0), ("middle", middle), ("end", len(segment))):
            yield f"{text!r} at {where}", segment[:at] + text + segment[at:]
    for cut in (1, 2, 3):
        yield f"last {cut} cut", segment[:-cut]
    yield "first cut", segment[1:]
    yield "empty", ""
    for pad in ("=", "==", "==="):
        yield f"{pad} appended", segment + pad
    for letter in ALPHABET:
        yield f"last letter {letter}", segment[:-1] + letter


def corpus() -> Iterator[Case]:
    bases = [("HS256", 0, 0), ("HS384", 1, 1), ("HS512", 2, 2), ("HS256", 3, 3)]
    for alg, pad_header, pad_claims in bases:
        good = token({"alg": alg, "typ": "J" * pad_header}, claims(pad_claims), alg)
        yield Case(f"{alg} good", f"bearer {good}")
        head, body, sig = good.split(".")
        for name, mangled in _mutations(sig):
            yield Case(f"{alg} signature {name}", f"bearer {head}.{body}.{mangled}")
        for index, part in ((0, head), (1, body)):
            for name, mangled in _mutations(part):
                parts = [head, body]
                parts[index] = mangled
                stale = f"{parts[0]}.{parts[1]}.{sig}"
                resigned = f"{parts[0]}.{parts[1]}.{signature(*parts, alg)}"
                label = f"{alg} {('header', 'claims')[index]} {name}"
                yield Case(f"{label}, old signature", f"bearer {stale}")
                yield Case(f"{label}, signed again", f"bearer {resigned}")


CORPUS = list(corpus())


def test_the_corpus_is_large_and_mixed() -> None:
    verdicts = [heketi_verdict(case.header) for case in CORPUS]
    assert len(CORPUS) > 2000
    assert 100 < sum(verdicts) < len(CORPUS) - 1000


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_accepted_or_refused_as_heketi(case: Case) -> None:
    fast = outcome(case.header)
    assert (fast == "admin") is heketi_verdict(case.header), fast
    # the fast decoding of the usual segments decides exactly as the port of Go's decoder
    assert outcome(case.header, _go_decode_segment) == fast


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_pyjwt_agrees_except_where_it_is_stricter(case: Case) -> None:
    fields = [f for f in re.split(f"[{GO_SPACE}]+", case.header) if f]
    if len(fields) != 2 or fields[1].count(".") != 2:
        return  # refused before any token parsing, by both
    heketi = heketi_verdict(case.header)
    if heketi and pyjwt_is_stricter(fields[1]):
        assert not pyjwt_accepts(fields[1])
    else:
        assert pyjwt_accepts(fields[1]) is heketi


def test_the_corpus_holds_every_kind_of_disagreement() -> None:
    stricter = [c for c in CORPUS if heketi_verdict(c.header) and pyjwt_is_stricter(c.header)]
    names = " ".join(case.name for case in stricter)
    assert "= appended" in names  # partial padding
    assert "last letter" in names  # unused bits not zero
    assert "'AAAA' at end, signed again" in names  # bytes after the claims


# --- what the old fast path let through ------------------------------------------------------


@pytest.mark.parametrize("junk", ["!!", "==", "+", "/", "é", "\x1c"])
def test_junk_in_the_signature_is_refused_with_gos_message(junk: str) -> None:
    head, body, sig = token().split(".")
    if junk == "==":  # 43 letters: "=" completes the quantum, the second is trailing junk
        mangled, offset = sig + junk, len(sig) + 1
    else:
        mangled, offset = sig[:5] + junk + sig[5:], 5
    assert outcome(f"bearer {head}.{body}.{mangled}") == (
        401,
        f"Invalid JWT token: illegal base64 data at input byte {offset}",
    )


def test_url_alphabet_only() -> None:
    # "+" and "/" stand for "-" and "_" in the standard alphabet; the old fast path decoded
    # them alike (urlsafe_b64decode), Go refuses them.
    head, body, sig = next(
        parts
        for extra in range(100)
        if set("-_") & set((parts := token(body=claims(extra)).split("."))[2])
    )
    standard = sig.replace("-", "+").replace("_", "/")
    status, message = outcome(f"bearer {head}.{body}.{standard}")  # type: ignore[misc]
    assert (status, message.startswith("Invalid JWT token: illegal base64 data")) == (401, True)


# --- header and claims as Go's encoding/json reads them ---------------------------------------


def signed(header: Any, body: str | Any, alg: str = "HS256") -> str:
    """A token over exactly these header and claims (raw JSON text when a str is given)."""
    head = header if isinstance(header, str) else encoded(header)
    payload = b64(body.encode()) if isinstance(body, str) else encoded(body)
    return f"bearer {head}.{payload}.{signature(head, payload, alg)}"


HS256 = {"alg": "HS256", "typ": "JWT"}
GOOD = json.dumps(claims())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"alg": "none"}, "Unexpected signing method: none"),
        ({"alg": "RS256"}, "Unexpected signing method: RS256"),
        ({"alg": "EdDSA"}, "Unexpected signing method: EdDSA"),
        ({"alg": "HS1024"}, "signing method (alg) is unavailable."),
        ({"alg": 256}, "signing method (alg) is unspecified."),
        ({"typ": "JWT"}, "signing method (alg) is unspecified."),
        (None, "signing method (alg) is unspecified."),  # JSON null: Go leaves the map nil
        (["HS256"], "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ],
)
def test_header_refusals(header: Any, expected: str) -> None:
    head = encoded(header)
    payload = encoded(claims())
    assert outcome(f"bearer {head}.{payload}.") == (401, f"Invalid JWT token: {expected}")


def test_header_fields_jwt_go_ignores_are_ignored() -> None:
    # PyJWT refuses all three (kid must be a string, crit must list what it supports, b64=false
    # needs a detached payload); jwt-go looks at nothing but alg.
    for extra in ({"kid": 5}, {"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}):
        header = signed({**HS256, **extra}, claims())
        assert outcome(header) == "admin", extra
        assert not pyjwt_accepts(header.split()[1])


def test_header_must_be_json_go_accepts() -> None:
    for text in ('{"alg":"HS256","n":1e400}', '{"alg":"HS256","n":NaN}', '{"alg":"HS256"} x'):
        status, message = outcome(signed(b64(text.encode()), claims()))  # type: ignore[misc]
        assert status == 401 and message.startswith("Invalid JWT token: "), text
    assert outcome(signed(b64(b'  {"alg":"HS256","n":1e300}\n'), claims())) == "admin"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            claims(exp=NOW + 300.5),
            "json: cannot unmarshal number 1700000300.5 into Go struct field "
            "HeketiJwtClaims.exp of type int64",
        ),
        (
            claims(exp=2**63),
            "json: cannot unmarshal number 9223372036854775808 into Go struct field "
            "HeketiJwtClaims.exp of type int64",
        ),
        (
            claims(iat="now"),
            "json: cannot unmarshal string into Go struct field HeketiJwtClaims.iat of type int64",
        ),
        (
            claims(aud=["heketi"]),
            "json: cannot unmarshal array into Go struct field HeketiJwtClaims.aud of type string",
        ),
        (
            claims(sub=7),
            "json: cannot unmarshal number into Go struct field HeketiJwtClaims.sub of type string",
        ),
        (
            claims(iss=True),
            "json: cannot unmarshal bool into Go struct field HeketiJwtClaims.iss of type string",
        ),
        (
            [claims()],
            "json: cannot unmarshal array into Go value of type middleware.HeketiJwtClaims",
        ),
    ],
)
def test_claims_of_the_wrong_type(body: Any, expected: str) -> None:
    assert outcome(signed(HS256, body)) == (401, f"Invalid JWT token: {expected}")


def test_claims_as_go_fills_the_struct() -> None:
    good = claims()
    upper = {k.upper(): v for k, v in good.items()}
    assert outcome(signed(HS256, upper)) == "admin"  # Go matches keys without regard to case
    long_s = {k.replace("s", "ſ"): v for k, v in good.items()}  # Go folds ſ to s
    assert outcome(signed(HS256, long_s)) == "admin"
    later_wins = GOOD[:-1] + ',"iss":"user","ISS":"admin"}'
    assert outcome(signed(HS256, later_wins)) == "admin"
    null_changes_nothing = GOOD[:-1] + ',"iss":null}'
    assert outcome(signed(HS256, null_changes_nothing)) == "admin"
    first_mismatch_counts = '{"exp":"soon",' + GOOD[1:]
    status, _ = outcome(signed(HS256, first_mismatch_counts))  # type: ignore[misc]
    assert status == 401
    assert outcome(signed(HS256, GOOD + " and then anything")) == "admin"
    assert outcome(signed(HS256, claims(aud="heketi", sub="me", jti="1"))) == "admin"


def test_claims_that_are_not_json_go_reads() -> None:
    assert outcome(signed(HS256, "")) == (401, "Invalid JWT token: EOF")
    for text in (GOOD.replace(str(NOW + 300), "Infinity"), "{", '{"iss":"admin",}'):
        status, _ = outcome(signed(HS256, text))  # type: ignore[misc]
        assert status == 401, text


# --- time claims: HeketiJwtClaims.Valid -----------------------------------------------------


def test_the_last_failing_time_check_is_reported() -> None:
    both = claims(exp=NOW - 10, nbf=NOW + 10)
    assert outcome(signed(HS256, both)) == (401, "Invalid JWT token: token is not valid yet")
    late_and_early = claims(exp=NOW - 10, iat=NOW + 1000)
    assert outcome(signed(HS256, late_and_early)) == (
        401,
        "Invalid JWT token: Token used before issued (client and server clocks may differ)",
    )


def test_int64_arithmetic_as_go() -> None:
    # iat - leeway wraps around in Go: the smallest iat reads as a token from the far future.
    assert outcome(signed(HS256, claims(iat=-(2**63)))) == (
        401,
        "Invalid JWT token: Token used before issued (client and server clocks may differ)",
    )
    # time.Time.Sub saturates
    assert outcome(signed(HS256, claims(exp=-(2**63)))) == (
        401,
        "Invalid JWT token: Token is expired by 2562047h47m16.854775807s",
    )


def test_signature_errors_win_over_time_errors() -> None:
    head, body, _ = signed(HS256, claims(exp=NOW - 10)).split()[1].split(".")
    assert outcome(f"bearer {head}.{body}.{b64(b'x' * 32)}") == (
        401,
        "Invalid JWT token: signature is invalid (client and server secrets may not match)",
    )
    assert outcome(f"bearer {head}.{body}.!") == (
        401,
        "Invalid JWT token: illegal base64 data at input byte 0",
    )


# --- the Authorization header: strings.Fields --------------------------------------------------


@pytest.mark.parametrize(
    ("template", "accepted"),
    [
        ("bearer {t}", True),
        ("BEARER \t {t}", True),
        ("bearer\xa0{t}", True),  # NBSP is a space to Go
        ("bearer\u3000{t}", True),
        ("bearer\x1c{t}", False),  # a separator to Python's str.split, not to Go
        ("bearer {t} x", False),
        ("bearer", False),
    ],
)
def test_header_split_as_go(template: str, accepted: bool) -> None:
    result = outcome(template.format(t=token()))
    assert (result == "admin") is accepted, result
    if not accepted:
        assert result == (400, "Authorization header format must be Bearer {token}")


# --- segments: the fast decoding against the port of Go's decoder -----------------------------

SEGMENT_TEXT = st.text(alphabet=ALPHABET + "=!+/. é\r\n", max_size=24)


@given(SEGMENT_TEXT)
def test_fast_decoding_agrees_with_the_port(segment: str) -> None:
    try:
        expected: bytes | str = _go_decode_segment(segment)
    except ValueError as exc:
        expected = str(exc)
    try:
        fast: bytes | str = _decode_segment(segment)
    except ValueError as exc:
        fast = str(exc)
    assert fast == expected


@given(SEGMENT_TEXT.filter(lambda s: "\r" not in s and "\n" not in s))
def test_the_port_accepts_what_go_accepts(segment: str) -> None:
    try:
        decoded: bytes | None = _go_decode_segment(segment)
    except ValueError:
        decoded = None
    assert decoded == go_segment(segment)


def test_gos_error_offsets() -> None:
    # Offsets of Go's CorruptInputError on the padded segment (encoding/base64 decodeQuantum).
    cases = {"a": 1, "ab=c": 2, "abcd=": 4, "ab==ab": 4, "abc==": 4, "a!": 1, "é": 0}
    for segment, offset in cases.items():
        with pytest.raises(ValueError, match=f"illegal base64 data at input byte {offset}$"):
            _go_decode_segment(segment)
    # Go skips newlines, but DecodeSegment pads by length, newlines included
    assert _go_decode_segment("abcd\r\n\r\n") == _go_decode_segment("abcd")
    with pytest.raises(ValueError, match=r"at input byte 6$"):
        _go_decode_segment("ab\r\n==")


def test_authenticate_takes_a_decoded_path() -> None:
    special = "/volumes/a b"
    header = signed(HS256, claims(qsh=qsh("GET", special)))
    assert authenticate(header, "GET", special.encode(), KEYS, now=NOW) == "admin"
    assert authenticate(header, "GET", special, KEYS, now=NOW) == "admin"
    with pytest.raises(AuthError, match="Invalid qsh claim in token"):
        authenticate(header, "GET", "/volumes/a%20b", KEYS, now=NOW)
