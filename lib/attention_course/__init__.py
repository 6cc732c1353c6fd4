"""Attention, step by step: data, models, decoding and evaluation for the course."""

__version__ = "0.1.0"
