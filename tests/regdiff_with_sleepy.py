"""``python -m tests.regdiff_with_sleepy ARGS``: ``regdiff ARGS`` with the test-only
experiment ``sleepy`` (``tests/sleepy_experiment.py``) registered beside the real ones, so
that the stop and concurrency tests run the real command on cells they control. Run it from
the repository's root (worker processes import ``tests.sleepy_experiment`` by name)."""

from __future__ import annotations

import sys

from simulate import cli, experiments
from tests import sleepy_experiment

_registry = experiments.registry


def _with_sleepy() -> dict:
    return {**_registry(), sleepy_experiment.NAME: sleepy_experiment}


experiments.registry = _with_sleepy

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
