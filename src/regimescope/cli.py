"""The ``regimescope`` command line: a typer app whose commands live in ``commands/``.

Each command is a plain function in its own module; this file only registers them and
turns bad input into one line on stderr with exit code 2 (no traceback).
"""

from __future__ import annotations

import os
import sys

import typer

try:  # recent typer vendors its own copy of click (and moves Abort to typer.exceptions)
    from typer._click import exceptions as click_exceptions
    from typer.exceptions import Abort
except ImportError:  # older typer runs on click itself
    from click import exceptions as click_exceptions
    from click.exceptions import Abort

from regimescope.errors import BadInput

app = typer.Typer(
    name="regimescope",
    help="Tell a model's surface behaviour apart from the training regime that produced it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach every command to the app, once (heavy imports stay inside the commands)."""
    if app.registered_commands:
        return
    from regimescope.commands import basics, compare, demo, diff, publish, report, study, train

    app.command("organisms")(basics.organisms)
    app.command("tasks")(basics.tasks)
    app.command("pretrain")(basics.pretrain)
    app.command("sft")(train.sft)
    app.command("rl")(train.rl)
    app.command("sample")(basics.sample)
    app.command("eval")(basics.evaluate)
    app.command("runs")(basics.runs)
    app.command("demo")(demo.demo)
    app.command("studies")(study.studies)
    app.command("study")(study.study)
    app.command("report")(report.report)
    app.command("publish")(publish.publish)
    app.command("findings")(publish.findings)
    app.command("compare")(compare.compare)
    app.command("diff")(diff.diff)
    from regimescope.commands import passk

    app.command("passk")(passk.passk)
    from regimescope.commands import patch, probe

    app.command("probe")(probe.probe)
    app.command("patch")(patch.patch)


def offline_and_quiet() -> None:
    """Never reach a model hub; keep transformers' own progress bars off our output."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # read when transformers is first imported: importing it here would cost every command
    # (diff included, which never needs it) about 0.7 s
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "transformers" in sys.modules:  # already imported (in-process callers): set it directly
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    """Run the app on ``argv``; return the exit code (BadInput and usage errors give 2)."""
    _register()
    offline_and_quiet()
    try:
        result = app(args=argv, standalone_mode=False, prog_name="regimescope")
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except click_exceptions.NoArgsIsHelpError:
        return 0
    except click_exceptions.UsageError as error:
        print(f"error: {error.format_message()}", file=sys.stderr)
        return 2
    except Abort:
        print("aborted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
