"""send_email: real SMTP in the test process, and the settings' choice of route in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from steward.notifications.email import send_email
from tests.notify_fixtures import SmtpSink


def test_email_arrives_over_smtp_with_subject_body_and_one_recipient(smtp_sink: SmtpSink) -> None:
    send_email("parent@example.org", "New homework for Sam", "Sign in to Steward to see it.\n")

    [mail] = smtp_sink.messages
    assert mail.rcpt_tos == ["parent@example.org"]
    assert mail.mail_from == "no-reply@steward.invalid"
    assert mail.message["Subject"] == "New homework for Sam"
    assert mail.message["To"] == "parent@example.org"
    assert mail.message["From"] == settings.DEFAULT_FROM_EMAIL == "Steward <no-reply@steward.invalid>"
    assert mail.body == "Sign in to Steward to see it.\n"


def _send_from_fresh_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings anew with `env`, as `steward demo` or `steward serve` would, and send."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_SMTP_", "STEWARD_EMAIL_"))}
    clean.update(
        STEWARD_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="steward.settings",
        # A database URL that is never used: settings need one, and it spares starting PostgreSQL.
        DATABASE_URL="postgresql://owner@127.0.0.1:9/unused",
        STEWARD_APP_DB_PASSWORD="unused",
        SECRET_KEY="test",
        **env,
    )
    code = (
        "import django; django.setup()\n"
        "from steward.notifications.email import send_email\n"
        "send_email('parent@example.org', 'New achievement for Sam', 'Well done.')\n"
    )
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)


def test_without_an_smtp_host_mail_is_kept_as_files_in_var_mail(tmp_path: Path) -> None:
    result = _send_from_fresh_process(tmp_path)

    assert result.returncode == 0, result.stderr
    [kept] = (tmp_path / "mail").iterdir()
    text = kept.read_text()
    assert "Subject: New achievement for Sam" in text
    assert "To: parent@example.org" in text
    assert "Well done." in text


def test_an_smtp_host_in_the_environment_sends_over_smtp_from_the_configured_sender(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    result = _send_from_fresh_process(
        tmp_path, **smtp_sink.env, STEWARD_DEFAULT_FROM_EMAIL="Meadowbank Primary <office@meadowbank.invalid>"
    )

    assert result.returncode == 0, result.stderr
    [mail] = smtp_sink.wait_for(1)
    assert mail.message["Subject"] == "New achievement for Sam"
    assert mail.message["From"] == "Meadowbank Primary <office@meadowbank.invalid>"
    assert mail.rcpt_tos == ["parent@example.org"]
    assert not (tmp_path / "mail").exists()
