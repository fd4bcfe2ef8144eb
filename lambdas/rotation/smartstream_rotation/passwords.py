"""New passwords, and the SCRAM-SHA-256 verifier PostgreSQL stores instead of them.

The password is generated here (the ``secrets`` module) rather than with
Secrets Manager's GetRandomPassword, which IAM can only allow on every
resource: the function's role then needs no ``Resource: "*"``. PostgreSQL
receives only the verifier (RFC 5802 / RFC 7677, the format of
``pg_authid.rolpassword``), so the password appears in no statement, log or
``pg_stat_activity`` row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import string

# Letters, digits and -_.~ : safe for RDS (no / @ " or space), URLs and shells.
ALPHABET = string.ascii_letters + string.digits + "-_.~"
ITERATIONS = 4096  # PostgreSQL's default scram_iterations


def new_password(length: int = 32) -> str:
    """A random password with at least one lower-case letter, upper-case letter and digit."""
    if length < 8:
        raise ValueError(f"password length {length} is below 8")
    while True:
        password = "".join(secrets.choice(ALPHABET) for _position in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` of ``password`` (ASCII passwords: SASLprep
    leaves them unchanged)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
