"""Sessions into the organization's accounts, retries and error wording shared by the tools."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

SESSION_NAME = "ml-platform-operations"

# botocore's own retry modes: "standard" retries throttling and transient errors with
# exponential backoff and jitter; "adaptive" also rate-limits the client after throttling.
RETRY_MODES = ("standard", "adaptive")
DEFAULT_MAX_ATTEMPTS = 8
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                           "UnauthorizedException", "AuthorizationError"})
THROTTLING = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
                        "TooManyRequestsException", "ProvisionedThroughputExceededException",
                        "RequestThrottled", "SlowDown", "LimitExceededException"})


class OperationsError(RuntimeError):
    """A problem the operator must fix; the message names what failed and what to do."""


def retry_config(mode: str = "standard", max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Config:
    """The client configuration every tool uses: botocore retries with backoff."""
    if mode not in RETRY_MODES:
        raise OperationsError(f"--retry-mode: '{mode}' (allowed: {', '.join(RETRY_MODES)})")
    if max_attempts < 1:
        raise OperationsError(f"--max-attempts: {max_attempts} (allowed: 1 or more)")
    # total_max_attempts counts the first call too (botocore's max_attempts counts retries only).
    return Config(retries={"mode": mode, "total_max_attempts": max_attempts})


def assume(session: Any, role_arn: str, config: Config | None = None, sts: Any = None) -> Any:
    """A session as `role_arn`, assumed from `session` (through `sts`, a client of it, when
    given). It shares `session`'s loader, so each service model is parsed once for all
    accounts (an organization is many sessions)."""
    sts = sts or session.client("sts", config=config)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
    core = botocore.session.get_session()
    core.register_component("data_loader", session._session.get_component("data_loader"))
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=session.region_name,
                         botocore_session=core)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def explain(exc: ClientError, where: str, config: Config | None = None) -> str:
    """One line naming the call, where it ran, what AWS said and what to do about it."""
    code, message = error_code(exc), error_message(exc)
    what = f"{exc.operation_name} in {where}: {code}: {message}"
    if code in ACCESS_DENIED:
        return (f"{what} (missing permission: allow {exc.operation_name} to the role used there, or run with a role "
                f"that has it)")
    if code in THROTTLING:
        retries = (config.retries or {}) if config else {}
        # botocore keeps max_attempts (retries) as total_max_attempts (calls) once configured.
        attempts = retries.get("total_max_attempts", retries.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
        return (f"{what} (still throttled after {attempts} attempts with backoff: run again later, or raise "
                f"--max-attempts / use --retry-mode adaptive)")
    return what


@dataclass
class Sessions:
    """boto3 sessions in the organization's accounts, reached through `role_name` (the
    deployment role) from the caller's credentials; clients carry the retry configuration.

    `client_hook(client, account_id, service, region, role)` is called on every new client
    (tests attach botocore Stubbers there for the responses moto cannot give)."""

    base: Any
    role_name: str
    config: Config = field(default_factory=retry_config)
    client_hook: Callable[..., None] | None = None
    _caller: str | None = None
    _sessions: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    _clients: dict[tuple[str, str, str, str | None], Any] = field(default_factory=dict)

    @property
    def caller_account(self) -> str:
        if self._caller is None:
            try:
                self._caller = self.base.client("sts", config=self.config).get_caller_identity()["Account"]
            except ClientError as exc:
                raise OperationsError(f"cannot identify the credentials: {explain(exc, 'STS', self.config)}") from None
        return self._caller

    def session(self, account_id: str, role: str | None = None) -> Any:
        """A session in `account_id` (the deployment role; then `role`, chained, when given)."""
        key = (account_id, role)
        if key in self._sessions:
            return self._sessions[key]
        if role is not None:
            base = self.session(account_id)
            arn = f"arn:aws:iam::{account_id}:role/{role}"
            hint = f"create role {role} in account {account_id} (trusting the deployment role) or name another"
        elif account_id == self.caller_account:
            base, arn = self.base, None
        else:
            base = self.base
            arn = f"arn:aws:iam::{account_id}:role/{self.role_name}"
            hint = (f"check that account {account_id} belongs to the organization (the organization stack's "
                    f"accountIds) and that its role {self.role_name} trusts account {self.caller_account}")
        if arn is not None:
            if not re.fullmatch(r"\d{12}", account_id):
                raise OperationsError(f"account id '{account_id}' is not 12 digits; check the organization stack's "
                                      f"accountIds")
            sts = base.client("sts", config=self.config)
            if self.client_hook is not None:
                self.client_hook(sts, account_id, "sts", None, role or self.role_name)
            try:
                base = assume(base, arn, self.config, sts)
            except ClientError as exc:
                raise OperationsError(f"cannot assume {arn}: {error_code(exc)}: {error_message(exc)}; {hint}") from None
        self._sessions[key] = base
        return base

    def client(self, account_id: str, service: str, region: str, role: str | None = None) -> Any:
        key = (account_id, service, region, role)
        if key not in self._clients:
            client = self.session(account_id, role).client(service, region_name=region, config=self.config)
            if self.client_hook is not None:
                self.client_hook(client, account_id, service, region, role)
            self._clients[key] = client
        return self._clients[key]


def default_session(profile: str | None, region: str) -> Any:
    return boto3.Session(profile_name=profile, region_name=region)
