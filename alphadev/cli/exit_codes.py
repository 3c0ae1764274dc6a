"""The exit codes of every ``alphadev`` command, in one place."""

from __future__ import annotations

__all__ = ["FAILED", "INTERRUPTED", "OK", "UNDECIDED", "USAGE"]

#: Success: every kernel is correct, a kernel was found, (``prove``) a certificate.
OK = 0
#: A kernel is wrong, no kernel was found in time, or (``prove``) a program of the length
#: exists.
FAILED = 1
#: Bad input (malformed assembly, a missing, unreadable or too large file, a bad flag, an
#: output that cannot be written): one line on stderr, no traceback, nothing written.
USAGE = 2
#: (``prove``) Undecided within the time limit.
UNDECIDED = 3
#: Interrupted (Ctrl-C; a search still verifies and writes or prints the best kernel it had).
INTERRUPTED = 130
