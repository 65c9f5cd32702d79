"""Production settings pass Django's deploy checks; every response carries the security headers."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import manager, submitted_referral

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="harbour.example.org",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        FIELD_HASH_KEY=secrets.token_urlsafe(32),
        HARBOUR_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        EMAIL_URL="smtp+tls://harbour:a-relay-password@mail.example.org:587",
        MANAGERS_DUTY_PHONE="020 7946 0321",
    )
    for key in ("REQUIRE_MFA", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT"):
        env.pop(key, None)
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy_with_no_warnings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("email_url", ["filemail://", "consolemail://", "memorymail://"])
def test_check_deploy_warns_when_email_goes_nowhere_with_debug_off(tmp_path, email_url):
    """Notifications would be recorded as delivered while nobody receives them."""
    result = manage(
        production_env(tmp_path, EMAIL_URL=email_url), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "notifications.W001" in result.stdout + result.stderr


def test_check_deploy_fails_when_a_secure_default_is_relaxed(tmp_path):
    result = manage(
        production_env(tmp_path, SESSION_COOKIE_SECURE="0"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "security.W012" in result.stdout + result.stderr


def test_production_defaults_require_mfa_and_https(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.REQUIRE_MFA, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    result = manage(production_env(tmp_path), "shell", "-c", script)
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "True", "True", "31536000"], (
        result.stderr
    )


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy_and_the_other_security_headers(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle\s*=", re.IGNORECASE)


def assert_no_inline_code(html: str) -> None:
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


@pytest.mark.django_db
def test_our_pages_need_no_inline_script_or_style_that_the_policy_would_block(client):
    assert_no_inline_code(client.get(reverse("login")).content.decode())
    client.force_login(manager())
    for name in ("referrals:triage", "referrals:case_list", "audit-log"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert_no_inline_code(response.content.decode())


@pytest.mark.django_db
def test_the_django_admin_works_under_the_policy(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response
    assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.django_db
def test_the_api_docs_page_runs_under_the_policy_with_its_script_from_our_origin(client):
    import base64
    import hashlib

    client.force_login(manager())
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert not INLINE_SCRIPT.search(html)
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    for block in re.findall(r"<style>(.*?)</style>", html, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    script_src = re.search(r'<script src="([^"]*\?script[^"]*)"', html).group(1).replace("&amp;", "&")
    script = client.get(script_src)
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]


@pytest.mark.django_db
def test_pages_and_api_answers_with_a_persons_details_are_not_stored_by_the_browser(client):
    referral = submitted_referral()
    client.force_login(referral.submitted_by)
    api = APIClient()
    api.force_authenticate(referral.submitted_by)
    for response in (
        client.get(reverse("referrals:case", args=[referral.pk])),
        api.get(f"/api/v1/referrals/{referral.pk}/"),
        api.get("/api/v1/referrals/"),
    ):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


ROOT = Path(__file__).resolve().parents[2]
HARBOUR_KEYS = {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FIELD_HASH_KEY", "DATABASE_URL"}


def compose_services() -> dict[str, Any]:
    """docker-compose.yml's services, as compose reads them."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def env_file_keys(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}


def test_compose_gives_harbours_keys_to_harbours_containers_only():
    services = compose_services()
    for name, service in services.items():
        files = [entry["path"] for entry in service.get("env_file", [])]
        keys = set().union(*(env_file_keys(ROOT / path) for path in files if path.endswith(".example")))
        if name in ("migrate", "web", "worker", "sweeper", "beat"):
            assert keys >= HARBOUR_KEYS, name
        else:  # the database, the broker and the proxy facing the internet
            assert not HARBOUR_KEYS & keys, (name, HARBOUR_KEYS & keys)
            assert not any(path.startswith(".env.docker") for path in files), name


def test_compose_migrates_once_before_web_worker_sweeper_and_beat_start():
    """Two web containers migrating as they start race: one crashes, migrations are recorded twice."""
    services = compose_services()
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert migrate["restart"] == "no"  # a one-shot: restarted, it would never complete
    for name in ("web", "worker", "sweeper", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    starts_migrating = [
        name
        for name, service in services.items()
        if name != "migrate" and "migrate" in str(service.get("command"))
    ]
    assert starts_migrating == []
    assert "migrate" not in (ROOT / "Dockerfile").read_text().split("CMD", 1)[1]


def test_compose_calls_postgresql_ready_only_once_it_listens_where_migrate_connects():
    """On a new volume the postgres image first runs a set-up server on its Unix socket alone: pg_isready
    over that socket says ready, compose starts migrate, and migrate's connection to postgres:5432 is
    refused, so the first `docker compose up` stops with web, worker, sweeper and beat never started."""
    postgres = compose_services()["postgres"]
    check = postgres["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and check[1].startswith("pg_isready "), check
    assert re.search(r"\s(-h|--host)[ =]127\.0\.0\.1\s", check[1]), check[1]


def test_caddy_trusts_forwarded_headers_only_from_the_load_balancer_ranges_it_is_given():
    """Caddy discards the X-Forwarded-For of a peer it does not trust: behind a load balancer, every user
    would be recorded with the balancer's address. Unset, it must trust nobody's."""
    caddyfile = (ROOT / "Caddyfile").read_text()
    global_options = caddyfile.split("{$HARBOUR_HOST}", 1)[0]
    assert re.search(r"servers \{\s*trusted_proxies static \{\$LOAD_BALANCER_RANGES\}\s*\}", global_options)
    example = (ROOT / ".env.proxy.example").read_text()
    assert "LOAD_BALANCER_RANGES" in example and "LOAD_BALANCER_RANGES" not in env_file_keys(
        ROOT / ".env.proxy.example"
    )


def celery_command_lines() -> dict[str, str]:
    """The shell lines that start Celery: the Procfile's (which honcho hands to a shell) and
    docker-compose.yml's, as the container's shell receives them (compose turns ``$$`` into ``$``)."""
    lines = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, command = line.split(": ", 1)
        if command.startswith("celery "):
            lines[f"Procfile {name}"] = command
    for name, service in compose_services().items():
        command = service.get("command")
        if command and "celery " in " ".join(command):
            assert command[:2] == ["sh", "-c"], (
                name
            )  # so that the level comes from the container's environment
            lines[f"compose {name}"] = command[2].replace("$$", "$")
    return lines


@pytest.mark.parametrize(("level", "passed"), [("WARNING", "WARNING"), (None, "INFO")])
def test_the_worker_sweeper_and_beat_log_at_log_level(level, passed):
    """LOG_LEVEL (INFO when unset) is the level Celery is started with, as it is the web process's."""
    env = {"PATH": os.environ["PATH"]} | ({"LOG_LEVEL": level} if level else {})
    lines = celery_command_lines()
    assert {"Procfile worker", "Procfile sweeper", "Procfile beat"} <= set(lines)
    assert {"compose worker", "compose sweeper", "compose beat"} <= set(lines)
    for name, line in lines.items():
        # Run as the shell would run it, with echo in place of celery: what celery would be given.
        shown = subprocess.run(
            ["sh", "-c", re.sub(r"\bcelery -A", "echo celery -A", line, count=1)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert shown[shown.index("--loglevel") + 1] == passed, (name, shown)
