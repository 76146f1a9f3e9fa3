"""Pipelines as data: the YAML spec, the stage registry, and the streaming runner."""
