"""restore — archival footage restoration with frame-accurate I/O and provenance."""

__version__ = "0.1.0"
