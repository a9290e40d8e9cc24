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
    """A key, base64 text or ciphertext that cannot be used. Message in Spanish, no secrets."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def key_bytes(key_hex: str) -> bytes:
    """The 16-byte AES key from MIT's 32-hex-character string."""
    text = (key_hex or "").strip()
    if not _HEX_KEY.match(text):
        raise CryptoError("La llave de cifrado debe tener 32 caracteres hexadecimales.")
    return bytes.fromhex(text)


def base64_candidates(text: str) -> list[str]:
    """What the sender's base64 may have been, most likely first, undoing what transports do
    to it: URL-encoding (%2B, %0D%0A), '+' read as a space, line breaks inserted.

    After unquoting, a space is a '+' that form-decoding turned into one (base64 has no
    blanks of its own, and a '+' may be its first or last character), unless a transport
    added it around the text. The two can't be told apart by looking, so each reading that
    is well-formed base64 (a length that is a multiple of 4, '=' only at the end) is offered
    and `decrypt` keeps the one that decrypts."""
    value = text or ""
    if "%" in value:
        value = unquote(value)
    value = value.replace("\r", "").replace("\n", "").replace("\t", "")
    core = value.strip(" ")
    lead = len(value) - len(value.lstrip(" "))
    trail = len(value) - len(value.rstrip(" "))
    out: list[str] = []
    # Every split of the blanks at either end into '+'s and a transport's blanks, the
    # fewest blanks first (a transport adds a few at most).
    for dropped in range(lead + trail + 1):
        for drop_lead in range(max(0, dropped - trail), min(lead, dropped) + 1):
            keep_lead, keep_trail = lead - drop_lead, trail - (dropped - drop_lead)
            candidate = "+" * keep_lead + core.replace(" ", "+") + "+" * keep_trail
            cleaned = _WHITESPACE.sub("", candidate)
            if (cleaned and len(cleaned) % 4 == 0 and "=" not in cleaned.rstrip("=")
                    and cleaned not in out):
                out.append(cleaned)
    return out or [_WHITESPACE.sub("", core.replace(" ", "+"))]


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
        raise CryptoError("El mensaje cifrado está vacío.")
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
        raise CryptoError("El mensaje cifrado no es base64 válido.") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise CryptoError("El mensaje cifrado tiene una longitud inválida (¿truncado?).")
    iv, body = raw[:BLOCK], raw[BLOCK:]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        data = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise CryptoError(
            "El mensaje no se pudo descifrar (llave incorrecta o mensaje alterado)."
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError(
            "El mensaje descifrado no es texto válido (llave incorrecta o mensaje alterado)."
        ) from None
