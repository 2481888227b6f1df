"""The check, load -> judge -> result: lockfile parsers (``lockfile/``), the policy, the
ledgers (``ledger/``), isolated gpg, statements, the engine and its result. Pure: it
imports nothing from ``cache/``, ``formats/`` or ``audit/``, and never prints."""
