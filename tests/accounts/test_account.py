"""Account configuration: SLT_ACCOUNTS, per-account keys from the environment, never shown."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine.accounts import (
    AccountGroup,
    AccountSpec,
    AccountType,
    in_group,
    parse_account_specs,
)
from engine.config import ConfigError, load_settings
from engine.logs import SecretMaskingFilter
from engine.wiring import accounts_from_settings

KEY = "key-A1-abcdefghijklmnopqrstuvwxyz"
SECRET = "secret-A1-0123456789abcdefghijklmnop"


def env(**extra: str) -> dict[str, str]:
    base = {"SLT_ACCOUNTS": "a1:PRIMARY:1.5:aggressive,b2:secondary:1:Conservative",
            "SLT_ACCOUNT_A1_KEY": KEY, "SLT_ACCOUNT_A1_SECRET": SECRET,
            "SLT_ACCOUNT_B2_KEY": "key-B2-xxxxxxxx", "SLT_ACCOUNT_B2_SECRET": "secret-B2-xxxxxxxx"}
    return base | extra


def test_parse_the_original_example_and_defaults() -> None:
    specs = parse_account_specs("account_1:PRIMARY:1.5:aggressive, account_2:SECONDARY:1.0:conservative,h:hedge")
    assert specs == (AccountSpec("account_1", AccountType.PRIMARY, D("1.5"), AccountGroup.AGGRESSIVE),
                     AccountSpec("account_2", AccountType.SECONDARY, D("1.0"), AccountGroup.CONSERVATIVE),
                     AccountSpec("h", AccountType.HEDGE, D(1), AccountGroup.NEUTRAL))
    assert specs[0].key_variable == "SLT_ACCOUNT_ACCOUNT_1_KEY"
    assert parse_account_specs("") == ()


@pytest.mark.parametrize(("raw", "message"), [
    ("a:PRIMRY", "entry 1 'a:PRIMRY': unknown type 'PRIMRY' (expected one of PRIMARY, SECONDARY, ARBITRAGE, HEDGE)"),
    ("a:PRIMARY:0", "weight must be a number greater than 0, got '0'"),
    ("a:PRIMARY:-1", "weight must be a number greater than 0"),
    ("a:PRIMARY:heavy", "weight must be a number greater than 0, got 'heavy'"),
    ("a:PRIMARY:NaN", "weight must be a number greater than 0"),
    ("a:PRIMARY:1:bold", "unknown group 'bold' (expected one of aggressive, conservative, neutral)"),
    ("a:PRIMARY,A:HEDGE", "entry 2 'A:HEDGE': account id 'A' repeats 'a'"),
    ("a-b:PRIMARY", "account id must be 1-32 letters, digits or _"),
    ("a", "expected id:TYPE[:weight[:group]]"),
    ("a:PRIMARY:1:neutral:x", "expected id:TYPE[:weight[:group]]"),
    (" , ,", "no accounts listed"),
])
def test_bad_specs_name_the_entry_and_the_problem(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_account_specs(raw)
    assert message in str(info.value)


def test_settings_carry_accounts_and_their_keys_masked(tmp_path: Path) -> None:
    settings = load_settings(env(SLT_ACCOUNT_DISTRIBUTION="risk_based"), env_file=tmp_path / "none")
    assert [s.id for s in settings.accounts] == ["a1", "b2"] and settings.account_distribution == "risk_based"
    accounts = accounts_from_settings(settings)
    a1 = accounts[0]
    assert (a1.type, a1.weight, a1.group) == (AccountType.PRIMARY, D("1.5"), AccountGroup.AGGRESSIVE)
    assert a1.api_key.reveal() == KEY and a1.api_secret.reveal() == SECRET
    for text in (repr(settings), str(settings), repr(accounts), f"{a1}"):
        assert KEY not in text and SECRET not in text


def test_keys_in_a_dotenv_file_are_read(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SLT_ACCOUNTS=a1:PRIMARY\nSLT_ACCOUNT_A1_KEY={KEY}\nSLT_ACCOUNT_A1_SECRET={SECRET}\n")
    (account,) = accounts_from_settings(load_settings({}, env_file=dotenv))
    assert account.api_secret.reveal() == SECRET


def test_bad_account_list_is_reported_with_the_detail(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env(SLT_ACCOUNTS="a1:PRIMARY:1:aggresive"), env_file=tmp_path / "none")
    text = str(info.value)
    assert "SLT_ACCOUNTS='a1:PRIMARY:1:aggresive' is not allowed (entry 1 'a1:PRIMARY:1:aggresive': unknown group" in text
    assert SECRET not in text


def test_missing_credentials_name_the_variables_not_the_values(tmp_path: Path) -> None:
    environ = env()
    del environ["SLT_ACCOUNT_B2_SECRET"]
    with pytest.raises(ConfigError) as info:
        load_settings(environ | {"SLT_ACCOUNT_B2_KEY": ""}, env_file=tmp_path / "none")
    assert "SLT_ACCOUNTS lists accounts without credentials: set SLT_ACCOUNT_B2_KEY, SLT_ACCOUNT_B2_SECRET" in str(
        info.value)
    assert KEY not in str(info.value)


def test_bad_distribution_strategy(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLT_ACCOUNT_DISTRIBUTION='random' is not allowed: expected one of equal"):
        load_settings({"SLT_ACCOUNT_DISTRIBUTION": "random"}, env_file=tmp_path / "none")


def test_without_a_list_there_is_one_main_account_on_the_api_key(tmp_path: Path) -> None:
    settings = load_settings({"SLT_API_KEY": KEY, "SLT_API_SECRET": SECRET}, env_file=tmp_path / "none")
    (main,) = accounts_from_settings(settings)
    assert (main.id, main.type, main.weight, main.group) == ("main", AccountType.PRIMARY, D(1), AccountGroup.NEUTRAL)
    assert main.api_key.reveal() == KEY


def test_account_keys_are_masked_in_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    accounts_from_settings(load_settings(env(), env_file=tmp_path / "none"))
    logger = logging.getLogger("test.accounts")
    logger.addFilter(SecretMaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.accounts"):
        logger.info("oops %s %s", KEY, SECRET)
    assert KEY not in caplog.text and SECRET not in caplog.text


def test_groups_select_accounts_for_batch_operations(tmp_path: Path) -> None:
    accounts = accounts_from_settings(load_settings(env(), env_file=tmp_path / "none"))
    assert [a.id for a in in_group(accounts, "aggressive")] == ["a1"]
    assert [a.id for a in in_group(accounts, AccountGroup.NEUTRAL)] == []
    assert [a.id for a in in_group(accounts, None)] == ["a1", "b2"]
    with pytest.raises(ValueError):
        in_group(accounts, "bold")
