"""MIT's public sandbox credentials (published on MIT's sandbox pages and SDKs; not secret)."""

from __future__ import annotations

SANDBOX_DATA0 = "SNDBX123"
SANDBOX_ID_COMPANY = "SNBX"
SANDBOX_ID_BRANCH = "01SNBXBRNCH"
SANDBOX_USER = "SNBXUSR0123"
SANDBOX_USERS = ("SNBXUSR0123", "SNBXUSR01")  # older pages use the short one
SANDBOX_PASSWORD = "SECRETO"  # noqa: S105 - public sandbox value
SANDBOX_KEY = "5DCC67393750523CD165F17E1EFADD21"
SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
SANDBOX_GEN_URL = f"http://{SANDBOX_HOST}:{SANDBOX_PORT}/gen"
