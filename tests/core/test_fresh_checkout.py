"""A fresh checkout started the way the README tells production to: the keys in the environment,
nothing else, no ``instance/`` folder yet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import ROOT, TEST_TOKEN_KEY, bin_path


def _fresh_env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "BIGCOMMERCE_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "APP_ENV"):
        env.pop(name, None)
    env.update(
        SECRET_KEY="fresh-checkout-secret-key-of-some-length",
        TOKEN_ENCRYPTION_KEY=TEST_TOKEN_KEY,
        INSTANCE_PATH=str(instance),
        PYTHONPATH=str(ROOT),
    )
    return env


def test_db_upgrade_on_a_fresh_checkout_with_the_keys_in_the_environment(tmp_path: Path) -> None:
    """Regression: instance/ was made only when a key file was generated, so with both keys given the
    default SQLite file had no folder ("unable to open database file")."""
    instance = tmp_path / "checkout" / "instance"
    result = subprocess.run(
        [bin_path("flask"), "--app", "integration", "db", "upgrade"],
        env=_fresh_env(instance),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert (instance / "personal_commerce.db").is_file()
    assert not (instance / "secret_key").exists()  # the given keys were used, none generated
    assert not (instance / "token_key").exists()
