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


def normalise_base64(text: str) -> str:
    """Undo what transports do to base64: URL-encoding (%2B, %0D%0A), '+' read as space,
    and line breaks or blanks inserted inside the text."""
    value = text or ""
    if "%" in value:
        value = unquote(value)
    # After unquoting, a space is a '+' that form-decoding turned into one: base64 has no
    # blanks of its own, and a '+' may be its first or last character. Blanks a transport
    # added around the text are told apart by base64's length, a multiple of 4. Line breaks
    # are plain noise.
    value = value.replace("\r", "").replace("\n", "").replace("\t", "")
    for candidate in (value, value.rstrip(" "), value.lstrip(" "), value.strip(" ")):
        cleaned = _WHITESPACE.sub("", candidate.replace(" ", "+"))
        if len(cleaned) % 4 == 0:
            return cleaned
    return _WHITESPACE.sub("", value.strip().replace(" ", "+"))


def encrypt(plaintext: str, key_hex: str) -> str:
    key = key_bytes(key_hex)
    iv = os.urandom(BLOCK)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt(b64: str, key_hex: str) -> str:
    key = key_bytes(key_hex)
    cleaned = normalise_base64(b64)
    if not cleaned:
        raise CryptoError("El mensaje cifrado está vacío.")
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
