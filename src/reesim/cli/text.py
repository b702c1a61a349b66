"""Text from users (names, paths, messages) made safe for the terminal.

Rich interprets ``[...]`` as markup and terminals interpret escape sequences: a scenario
named ``"[/bold] oops"`` must not crash the printer, and one holding ``\\x1b]8;;...`` must
not plant a link. The CLI prints through :class:`SafeConsole` (no markup, no emoji codes,
control characters shown as ``\\xNN``); styles are explicit (:func:`styled`).
"""

from __future__ import annotations

import os
import re
import sys

from rich.console import Console
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with control and bidirectional-override characters shown as escapes (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


class SafeConsole(Console):
    """A rich console that never reads markup or emoji codes from text and shows control characters.

    Every string printed or put in a table cell is literal (``[/bold]`` prints as itself);
    styles are given explicitly (``style=``, :func:`styled`).
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        kwargs.setdefault("highlight", False)
        super().__init__(**kwargs)

    def on_broken_pipe(self) -> None:
        """The reader of this console's stream has gone (``reesim run ... | head``): the rest of
        the text is dropped and the command goes on, so that a run still writes its results
        folder. (rich's default ends the process with exit 1 at once: the run's results were
        lost, without a word.) The stream is pointed at the null device so that later writes and
        the flush at exit do not fail again."""
        self.quiet = True
        stream = sys.stderr if self.stderr else sys.stdout
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a stream without a descriptor (a capture)
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def render_str(self, text: str, **kwargs) -> Text:
        kwargs["markup"] = False
        kwargs["emoji"] = False
        return super().render_str(visible(text), **kwargs)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of text from literal parts, each plain or ``(text, style)``; control characters visible."""
    return Text.assemble(*((visible(p[0]), p[1]) if isinstance(p, tuple) else visible(p) for p in parts))


#: Standard output of the CLI (wide tables are not cut when the output is not a terminal).
out = SafeConsole(width=None if Console().is_terminal else 140)
#: Standard error of the CLI.
err = SafeConsole(stderr=True)


def echo(text: str) -> None:
    """Print ``text`` on standard output as it is (no wrapping: Markdown, JSON); if the reader has
    gone, drop it and go on, as :meth:`SafeConsole.on_broken_pipe` does."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        out.on_broken_pipe()
