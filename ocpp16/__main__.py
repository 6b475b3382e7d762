"""``python -m ocpp16``: the ``ocpp16`` command (``serve``, ``simulate``, ``demo``)."""

from ocpp16._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
