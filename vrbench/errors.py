"""Errors that reach the user as one line, never as a traceback."""


class VRBenchError(Exception):
    """A user-facing problem (bad input, missing file, bad option).

    The CLI prints ``vrbench: error: <message>`` and exits non-zero; the message names the file,
    line or field and what was expected.
    """


class SuiteError(VRBenchError):
    """The suite failed validation; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid suite"
        more = f" (and {len(self.problems) - 1} more problems; run `vrbench suite lint`)" if len(self.problems) > 1 else ""
        super().__init__(first + more)
