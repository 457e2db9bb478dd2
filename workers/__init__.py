"""Celery wrapping of the factory's stages; the domain lives in factory/."""
