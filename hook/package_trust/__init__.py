"""package-trust: enforce signed audits of npm dependencies."""

__version__ = "0.1.0"
