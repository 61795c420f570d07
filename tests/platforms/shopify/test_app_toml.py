"""shopify.app.toml declares the same subscriptions the install creates, plus the compliance topics."""

from __future__ import annotations

import tomllib

from integration.core.config import DEFAULT_SHOPIFY_API_VERSION, Settings
from integration.platforms.shopify.subscriptions import COMPLIANCE_TOPICS, SUBSCRIPTION_TOPICS
from tests.helpers import ROOT


def test_toml_subscriptions_match_the_api_subscriptions_and_compliance_topics() -> None:
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    webhooks = config["webhooks"]
    assert webhooks["api_version"] == DEFAULT_SHOPIFY_API_VERSION
    topics = [t for sub in webhooks["subscriptions"] for t in sub.get("topics", [])]
    compliance = [t for sub in webhooks["subscriptions"] for t in sub.get("compliance_topics", [])]
    assert sorted(topics) == sorted(SUBSCRIPTION_TOPICS)
    assert sorted(compliance) == sorted(COMPLIANCE_TOPICS)
    assert {sub["uri"] for sub in webhooks["subscriptions"]} == {"/webhooks/shopify"}
    assert config["access_scopes"]["scopes"] == Settings.shopify_scopes
