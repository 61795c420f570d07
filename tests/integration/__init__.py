"""Tests of the integration package."""
