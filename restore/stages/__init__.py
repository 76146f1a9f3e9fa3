"""Restoration stages: one module per stage, each registered with ``@register_stage``."""
