"""TENON's RFC-16 compliance suite: loaders, controls, catalog and reports."""

__version__ = "0.1.0"
