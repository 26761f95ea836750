"""The one exception type that means "the user gave us something we cannot use".

Everything raised as a ``FaceganError`` reaches the person as a one-line message (exit status 2 on the
command line, an error box in the dashboard); anything else is a bug and keeps its traceback.
"""


class FaceganError(Exception):
    """Bad input: a wrong config value, an unusable data source, a broken checkpoint."""


class ConfigError(FaceganError):
    """A configuration field holds a value it may not hold."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}: got {value!r}; allowed: {allowed}")


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty): enough for
    a one-line error that wraps a library's multi-line one."""
    return (str(e).splitlines() or [type(e).__name__])[0]


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters written as escapes (``\\x1e``), so a
    message quoting what somebody typed stays one line on a terminal and cannot move its cursor."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
