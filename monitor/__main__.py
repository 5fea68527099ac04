"""``python -m monitor`` runs the ``nianbao`` command line."""

from monitor.cli import cli

if __name__ == "__main__":
    cli()
