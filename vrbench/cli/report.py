"""`vrbench report` commands (not built yet)."""


def register(sub) -> None:
    pass
