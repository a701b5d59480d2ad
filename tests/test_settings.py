"""Settings come from the environment: production passes `check --deploy`, bad values stop start-up by name."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every variable settings.py reads, so the parent's environment (pytest-env, CI) cannot leak in.
SETTINGS_VARIABLES = set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]*)"', (ROOT / "config" / "settings.py").read_text()))


def _clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    # DJANGO_* too: browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process, which --deploy flags.
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES and not k.startswith("DJANGO_")}
    env["VAR_DIR"] = str(tmp_path / "var")
    env.update(values)
    return env


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    production = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "learn.firstbreak.ai",
        "EMAIL_HOST": "smtp.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    }
    return _clean_env(tmp_path, **{**production, **overrides})


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_settings_variable_list_found_the_readers():
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DB_CONN_MAX_AGE"} <= SETTINGS_VARIABLES


def test_check_deploy_production_settings_have_no_issues(tmp_path):
    env = _production_env(tmp_path)

    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_production_settings_with_postgres_and_redis_urls_have_no_issues(tmp_path):
    env = _production_env(
        tmp_path, DATABASE_URL="postgres://firstbreak@127.0.0.1:5432/firstbreak", REDIS_URL="redis://127.0.0.1:6379/0"
    )

    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_development_settings_are_flagged(tmp_path):
    env = _clean_env(tmp_path, DEBUG="true")

    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def test_check_development_defaults_start(tmp_path):
    result = _manage(_clean_env(tmp_path, DEBUG="true"), "check")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DB_CONN_MAX_AGE", "abc"),
        ("DB_CONN_MAX_AGE", "-1"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("SITE_URL", "ftp://example.com"),
        ("ROSTER_MAX_ROWS", "lots"),
        ("SECURE_SSL_REDIRECT", "sometimes"),
    ],
)
def test_check_malformed_value_fails_naming_the_variable(tmp_path, variable, value):
    env = _production_env(tmp_path, **{variable: value})

    result = _manage(env, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} must" in result.stderr
    assert repr(value) in result.stderr or value in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "EMAIL_HOST"])
def test_check_production_without_required_value_fails_naming_it(tmp_path, missing):
    env = _production_env(tmp_path)
    del env[missing]

    result = _manage(env, "check")

    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_check_github_client_id_without_secret_fails(tmp_path):
    env = _production_env(tmp_path, GITHUB_CLIENT_ID="abc")

    result = _manage(env, "check")

    assert result.returncode != 0
    assert "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together" in result.stderr


def test_check_celery_limits_out_of_order_fail(tmp_path):
    env = _production_env(tmp_path, CELERY_TASK_HARD_TIME_LIMIT="600", CELERY_VISIBILITY_TIMEOUT="300")

    result = _manage(env, "check")

    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be above CELERY_TASK_HARD_TIME_LIMIT" in result.stderr


def test_favicon_ico_redirects_to_the_site_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
