"""Verifiers: plain functions or services with a name and a version, usable by any strategy."""
