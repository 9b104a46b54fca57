"""Fixtures of the email channel's tests.

The corpus lives in ``shared/email-corpus`` beside the repository (or where
``HELPDESK_EMAIL_CORPUS`` points). Without it the corpus tests skip locally
and fail in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from email_corpus_check import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "chatwoot").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"email corpus missing at {CORPUS}")
        pytest.skip(f"email corpus missing at {CORPUS}")
    return CORPUS
