"""Test doubles that speak the platforms' real wire protocols."""
