"""Scoring predictions."""
