"""``python -m vistransfer``: the same as the ``vistransfer`` command."""

from .cli.main import main

main()
