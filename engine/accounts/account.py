"""Accounts: who trades, with what weight and in which group, and their keys (never shown).

Configuration: `SLT_ACCOUNTS=id:TYPE:weight:group,...`, e.g.
`SLT_ACCOUNTS=main:PRIMARY:1.5:aggressive,alt:SECONDARY:1:conservative` (weight defaults to 1, group
to neutral). Each account's key and secret come from `SLT_ACCOUNT_<ID>_KEY` and
`SLT_ACCOUNT_<ID>_SECRET` (the id upper-cased), from the environment or `.env` only. Without
`SLT_ACCOUNTS` there is one account, `main`, trading with `SLT_API_KEY` / `SLT_API_SECRET`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from engine.core.errors import ConfigError
from engine.core.secret import Secret
from engine.logs import register_secret

ACCOUNT_ID_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
DEFAULT_ACCOUNT_ID = "main"


class AccountType(StrEnum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"
    ARBITRAGE = "ARBITRAGE"
    HEDGE = "HEDGE"


class AccountGroup(StrEnum):
    AGGRESSIVE = "aggressive"
    CONSERVATIVE = "conservative"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class AccountSpec:
    """An account as configured (no credentials)."""

    id: str
    type: AccountType = AccountType.PRIMARY
    weight: Decimal = Decimal(1)
    group: AccountGroup = AccountGroup.NEUTRAL

    @property
    def key_variable(self) -> str:
        return f"SLT_ACCOUNT_{self.id.upper()}_KEY"

    @property
    def secret_variable(self) -> str:
        return f"SLT_ACCOUNT_{self.id.upper()}_SECRET"


@dataclass(frozen=True)
class Account:
    """A configured account with its credentials; repr shows the key and secret masked."""

    id: str
    type: AccountType
    weight: Decimal
    group: AccountGroup
    api_key: Secret = field(default_factory=lambda: Secret(""))
    api_secret: Secret = field(default_factory=lambda: Secret(""))


def parse_account_specs(raw: str) -> tuple[AccountSpec, ...]:
    """Parse `id:TYPE:weight:group,...`; raise `ConfigError` naming the entry and what is wrong."""
    specs: list[AccountSpec] = []
    seen: dict[str, str] = {}
    for number, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        where = f"entry {number} {entry!r}"
        parts = [p.strip() for p in entry.split(":")]
        if not 2 <= len(parts) <= 4:
            raise ConfigError(f"{where}: expected id:TYPE[:weight[:group]]")
        ident = parts[0]
        if not ACCOUNT_ID_RE.match(ident):
            raise ConfigError(f"{where}: account id must be 1-32 letters, digits or _")
        if ident.upper() in seen:
            raise ConfigError(f"{where}: account id {ident!r} repeats {seen[ident.upper()]!r} "
                              "(ids are case-insensitive: they name environment variables)")
        seen[ident.upper()] = ident
        kind = _enum(AccountType, parts[1].upper(), where, "type")
        weight = _weight(parts[2] if len(parts) > 2 else "1", where)
        group = _enum(AccountGroup, parts[3].lower() if len(parts) > 3 else "neutral", where, "group")
        specs.append(AccountSpec(ident, kind, weight, group))
    if raw.strip() and not specs:
        raise ConfigError("no accounts listed")
    return tuple(specs)


def missing_credentials(specs: Iterable[AccountSpec], credentials: Mapping[str, Secret]) -> list[str]:
    """Names of the environment variables the listed accounts need but lack (empty counts as missing)."""
    return [name for spec in specs for name in (spec.key_variable, spec.secret_variable)
            if not credentials.get(name)]


def build_accounts(specs: Iterable[AccountSpec], credentials: Mapping[str, Secret]) -> tuple[Account, ...]:
    """Join specs with their credentials; registers every secret with the log mask."""
    specs = tuple(specs)
    missing = missing_credentials(specs, credentials)
    if missing:
        raise ConfigError("accounts without credentials: set " + ", ".join(missing))
    accounts = tuple(Account(s.id, s.type, s.weight, s.group, credentials[s.key_variable],
                             credentials[s.secret_variable]) for s in specs)
    for account in accounts:
        register_secret(account.api_key.reveal())
        register_secret(account.api_secret.reveal())
    return accounts


def in_group(accounts: Iterable[Account], group: AccountGroup | str | None) -> tuple[Account, ...]:
    """The accounts of one group (all of them for None), sorted by id: the target of batch operations."""
    wanted = None if group is None else AccountGroup(group)
    return tuple(sorted((a for a in accounts if wanted is None or a.group is wanted), key=lambda a: a.id))


def _enum(kind: type[AccountType] | type[AccountGroup], value: str, where: str, what: str) -> AccountType | AccountGroup:
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{where}: unknown {what} {value!r} (expected one of "
                          f"{', '.join(m.value for m in kind)})") from None


def _weight(value: str, where: str) -> Decimal:
    try:
        weight = Decimal(value)
    except InvalidOperation:
        weight = Decimal("NaN")
    if not weight.is_finite() or weight <= 0:
        raise ConfigError(f"{where}: weight must be a number greater than 0, got {value!r}")
    return weight
