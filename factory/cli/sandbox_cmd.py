"""`factory sandbox run`: one program in the code sandbox, a JSON result out."""

from __future__ import annotations

from pathlib import Path

import typer

from factory.cli.common import clean_errors, console, fail, settings
from verifiers.sandbox import SandboxError, SandboxLimits, SandboxPool

app = typer.Typer(no_args_is_help=True, help="The Docker code sandbox.")


@app.command("run")
def run(program: Path, stdin: Path | None = typer.Option(None, help="file fed to stdin"),
        timeout: float | None = typer.Option(None, help="seconds of wall clock")) -> None:
    """Run PROGRAM (Python) in a locked-down container and print the result as JSON."""
    for path in (program, stdin):
        if path is not None and not path.is_file():
            raise fail(f"{path}: no such file")
    s = settings()
    with clean_errors(SandboxError), \
            SandboxPool(s.sandbox_image, 1, SandboxLimits(memory_mb=s.sandbox_memory_mb)) as pool:
        result = pool.run(program.read_text(), stdin.read_text() if stdin else "",
                          timeout or s.sandbox_timeout_s)
    console.print_json(result.model_dump_json())
