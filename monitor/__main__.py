"""The ``nianbao`` command (``python -m monitor`` too): the CLI, and for ``nianbao crawl``
its crawl process started first, so that Scrapy's imports overlap the CLI's
(``monitor.standby``)."""

import sys


def main() -> None:
    from monitor import standby

    standby.start_for(sys.argv[1:])
    from monitor.cli import cli

    cli()


if __name__ == "__main__":
    main()
