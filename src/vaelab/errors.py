"""The exception types for failures the user can act on, each told in one line.

    UsageError      a mistake the user can fix (bad input, bad config): the CLI prints it, exit code 2
    ExternalError   a run stopped by something outside vaelab (the disk full, a process of a torchrun run
                    dead): the CLI prints it, exit code 1

Messages name the problem *and* what to do. Anything else is a bug (a traceback, exit code 1).
"""


class UsageError(Exception):
    """Bad usage or bad input: the message says what is wrong and what to do about it."""


class ExternalError(Exception):
    """Something outside vaelab stopped the work: the message says what happened, what was kept (the last good
    checkpoint) and how to go on."""
