"""What a GitHub runner makes of a step's output (the Action's and the github format's tests)."""

from __future__ import annotations


def live_commands(stdout: str) -> list[str]:
    """The lines the runner would take as workflow commands (stop-commands honoured)."""
    live, token = [], None
    for line in stdout.splitlines():
        stripped = line.lstrip()
        if token is not None:
            if stripped == f"::{token}::":
                token = None
            continue
        if stripped.startswith("::stop-commands::"):
            token = stripped.removeprefix("::stop-commands::")
        elif stripped.startswith("::"):
            live.append(stripped)
    return live
