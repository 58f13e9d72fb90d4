"""`secure:` stack configuration values, decrypted as the Pulumi CLI's passphrase provider does.

A stack file of the passphrase secrets provider carries
`encryptionsalt: v1:<salt, base64>:v1:<nonce, base64>:<ciphertext, base64>`; the key is
PBKDF2-HMAC-SHA256 of the passphrase over the salt (1,000,000 iterations, 32 bytes) and each
`secure:` value is `v1:<nonce>:<ciphertext>` under AES-256-GCM (the tag ends the ciphertext).
The salt's own ciphertext is "pulumi": it tells a wrong passphrase from a corrupt value. The
passphrase comes from `PULUMI_CONFIG_PASSPHRASE` or the file `PULUMI_CONFIG_PASSPHRASE_FILE`
names, as for the CLI. Other providers (awskms://, gcpkms://, azurekeyvault://,
hashivault://, the Pulumi Cloud's default) need the cloud: their values cannot be decrypted here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"
_ITERATIONS = 1_000_000
_VERIFIER = "pulumi"


class SecretsError(ValueError):
    """The passphrase is wrong, or a value is not what the provider wrote."""


@functools.lru_cache(maxsize=8)
def _key(passphrase: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, _ITERATIONS, 32)


def _decrypt(key: bytes, value: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    parts = value.split(":")
    if len(parts) != 3 or parts[0] != "v1":
        raise SecretsError(f"not a v1 secure value: {value[:20]}...")
    try:
        nonce, ciphertext = base64.b64decode(parts[1]), base64.b64decode(parts[2])
        return AESGCM(key).decrypt(nonce, ciphertext, None).decode()
    except (InvalidTag, ValueError) as exc:
        raise SecretsError(f"the value does not decrypt with this passphrase ({type(exc).__name__})") from None


def encrypt(key: bytes, value: str, nonce: bytes) -> str:
    """`value` as the passphrase provider writes it (used to make test fixtures)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = AESGCM(key).encrypt(nonce, value.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def passphrase_key(passphrase: str, salt: bytes) -> bytes:
    """The AES key the passphrase provider derives from `passphrase` and the stack's salt."""
    return _key(passphrase, salt)


def _passphrase(env: Mapping[str, str]) -> str | None:
    if PASSPHRASE_ENV in env:
        return env[PASSPHRASE_ENV]
    path = env.get(PASSPHRASE_FILE_ENV)
    if path:
        try:
            return Path(path).read_text().rstrip("\r\n")
        except OSError as exc:
            raise SecretsError(f"{PASSPHRASE_FILE_ENV}={path} cannot be read: {exc.strerror}") from None
    return None


def stack_decrypter(stack_file: Mapping[str, Any], env: Mapping[str, str] | None = None
                    ) -> tuple[Callable[[str], str] | None, str]:
    """A function decrypting the stack's `secure:` values, or (None, why it cannot be had)."""
    env = os.environ if env is None else env
    provider = stack_file.get("secretsprovider")
    salt_state = stack_file.get("encryptionsalt")
    if provider not in (None, "", "passphrase") and not str(provider).startswith("passphrase"):
        return None, f"its secrets provider {provider} needs the cloud, which the offline preview does not call"
    if not salt_state:
        return None, ("the stack file has no `encryptionsalt` (its secrets provider is the Pulumi Cloud "
                      "or another service, which the offline preview does not call)")
    passphrase = _passphrase(env)
    if passphrase is None:
        return None, f"neither {PASSPHRASE_ENV} nor {PASSPHRASE_FILE_ENV} is set for the passphrase provider"
    parts = str(salt_state).split(":", 2)
    if len(parts) != 3 or parts[0] != "v1":
        raise SecretsError("`encryptionsalt` is not in the passphrase provider's v1 format")
    try:
        salt = base64.b64decode(parts[1])
    except ValueError:
        raise SecretsError("`encryptionsalt` has a salt that is not base64") from None
    key = _key(passphrase, salt)
    try:
        verified = _decrypt(key, parts[2])
    except SecretsError:
        verified = None
    if verified != _VERIFIER:
        raise SecretsError(f"incorrect passphrase: {PASSPHRASE_ENV} does not open this stack's secrets")
    return functools.partial(_decrypt, key), ""
