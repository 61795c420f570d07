"""Tests of the inbound webhook edge: signatures, and the Shopify and BigCommerce endpoints."""
