"""Command-line interface: ``abuse-detector <command>``."""
