"""The `egress` command ([project.scripts] in pyproject.toml) and `python -m egress`."""

from __future__ import annotations


def main() -> None:
    import gc

    # Start-up imports (Typer, the command modules) create ~20k objects that live until exit; the cycle collector
    # would walk them again and again while they load and on every later full pass. Load them without it, then
    # freeze them out of its reach: the command's own objects are collected as usual.
    gc.disable()
    try:
        from egress.cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    cli_main()


if __name__ == "__main__":
    main()
