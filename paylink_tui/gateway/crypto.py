"""MIT's message encryption: AES-128-CBC, PKCS#7, random IV prepended, base64.

The key is the 32-hex-character string MIT issues. Nothing here ever puts the key or the
plaintext into an exception message.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from urllib.parse import unquote

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{32}$")
_WHITESPACE = re.compile(r"\s+")


class CryptoError(ValueError):
    """A key, base64 text or ciphertext that cannot be used. Message in Spanish, no secrets.

    `cause` names what failed in a few English words, for logs: callers that answer an
    untrusted sender must not tell it apart (a different answer for bad padding is a padding
    oracle), so they log `cause` and answer the same whatever it is."""

    def __init__(self, message: str, cause: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


def key_bytes(key_hex: str) -> bytes:
    """The 16-byte AES key from MIT's 32-hex-character string."""
    text = (key_hex or "").strip()
    if not _HEX_KEY.match(text):
        raise CryptoError("La llave de cifrado debe tener 32 caracteres hexadecimales.", "bad key")
    return bytes.fromhex(text)


# Blanks at either end of a value that may stand for a '+' turned into a space. A real
# ciphertext begins or ends with a run of '+' rarely and briefly; a transport adds a blank or
# two. Only this many per side are weighed both ways (any more are a transport's), so the
# readings stay a handful: every split of hundreds of blanks took seconds (issue 11 §2).
MAX_EDGE_BLANKS = 4


def base64_candidates(text: str) -> list[str]:
    """What the sender's base64 may have been, most likely first, undoing what transports do
    to it: URL-encoding (%2B, %0D%0A), '+' read as a space, line breaks inserted.

    After unquoting, a space is a '+' that form-decoding turned into one (base64 has no
    blanks of its own, and a '+' may be its first or last character), unless a transport
    added it around the text. The two can't be told apart by looking, so each reading that
    is well-formed base64 (a length that is a multiple of 4, '=' only at the end) is offered
    and `decrypt` keeps the one that decrypts. At most `MAX_EDGE_BLANKS` blanks per side are
    read as '+': at most 25 splits, whatever the input."""
    value = text or ""
    if "%" in value:
        value = unquote(value)
    value = value.replace("\r", "").replace("\n", "").replace("\t", "")
    core = value.strip(" ")
    lead = min(MAX_EDGE_BLANKS, len(value) - len(value.lstrip(" ")))
    trail = min(MAX_EDGE_BLANKS, len(value) - len(value.rstrip(" ")))
    inner = _WHITESPACE.sub("", core.replace(" ", "+"))
    out: list[str] = []
    # Every split of the blanks at either end into '+'s and a transport's blanks, the
    # fewest blanks first (a transport adds a few at most).
    for dropped in range(lead + trail + 1):
        for drop_lead in range(max(0, dropped - trail), min(lead, dropped) + 1):
            keep_lead, keep_trail = lead - drop_lead, trail - (dropped - drop_lead)
            cleaned = "+" * keep_lead + inner + "+" * keep_trail
            if (cleaned and len(cleaned) % 4 == 0 and "=" not in cleaned.rstrip("=")
                    and cleaned not in out):
                out.append(cleaned)
    return out or [inner]


def normalise_base64(text: str) -> str:
    """The most likely reading of `text` as base64 (see `base64_candidates`)."""
    return base64_candidates(text)[0]


def encrypt(plaintext: str, key_hex: str) -> str:
    key = key_bytes(key_hex)
    iv = os.urandom(BLOCK)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt(b64: str, key_hex: str) -> str:
    key = key_bytes(key_hex)
    candidates = base64_candidates(b64)
    if not candidates[0]:
        raise CryptoError("El mensaje cifrado está vacío.", "empty")
    first_error: CryptoError | None = None
    for cleaned in candidates:
        try:
            return _decrypt_one(cleaned, key)
        except CryptoError as exc:
            first_error = first_error or exc
    assert first_error is not None  # noqa: S101 - there was at least one candidate
    raise first_error


def _decrypt_one(cleaned: str, key: bytes) -> str:
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("El mensaje cifrado no es base64 válido.", "not base64") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise CryptoError("El mensaje cifrado tiene una longitud inválida (¿truncado?).",
                          "length not whole blocks")
    iv, body = raw[:BLOCK], raw[BLOCK:]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        data = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise CryptoError(
            "El mensaje no se pudo descifrar (llave incorrecta o mensaje alterado).", "bad padding"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError(
            "El mensaje descifrado no es texto válido (llave incorrecta o mensaje alterado).",
            "not UTF-8",
        ) from None
