"""What every subcommand shares: its errors and exit codes."""

#: Exit codes. check uses 0, 1 and 2 as nova-status upgrade check does;
#: a subcommand that could not run at all exits with ERROR.
EXIT_OK = 0
EXIT_ERROR = 3


class CommandError(Exception):
    """A failure the operator can fix; shown as one line on stderr."""
