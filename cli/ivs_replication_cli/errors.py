"""Exit statuses and the one error type the commands raise: one clear line each."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1  # status: something drifts; reconcile: some declarations failed
EXIT_USAGE = 2  # argparse's own
EXIT_MISSING_DEPENDENCY = 3
EXIT_NO_CREDENTIALS = 4
EXIT_NO_STACK = 5
EXIT_ACCESS_DENIED = 6
EXIT_AWS_ERROR = 7
EXIT_NO_RECONCILER = 8


class CliError(Exception):
    """A failure the command reports as one line, with its exit status."""

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        super().__init__(message)
