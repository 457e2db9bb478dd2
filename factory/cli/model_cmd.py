"""`factory model`: build the tiny demo model, serve a model with vLLM, stop it."""

from __future__ import annotations

import subprocess

import typer

from factory import model_server
from factory.cli.common import clean_errors, console, fail, settings
from factory.config import PROJECT_ROOT

app = typer.Typer(no_args_is_help=True, help="The model: build, serve, stop.")


def build_tiny() -> None:
    s = settings()
    if not s.vllm_python.exists():
        raise fail(f"{s.vllm_python} not found; run scripts/setup.sh first")
    script = PROJECT_ROOT / "scripts" / "build_tiny_model.py"
    cmd = [str(s.vllm_python), str(script), str(s.model_dir), "--seed", str(s.model_seed)]
    if subprocess.run(cmd).returncode:
        raise fail("building the tiny model failed (see above)")


@app.command("build")
def build() -> None:
    """Train the tiny Qwen2 demo model (cached; rebuilt only when its recipe changes)."""
    build_tiny()


@app.command("serve")
def serve(model: str | None = typer.Option(None, help="weights dir or hub id; default tiny"),
          port: int | None = None, gpu: bool = typer.Option(False, help="GPU: prefix caching"),
          max_model_len: int = 4096, wait_s: float = 300.0) -> None:
    """Start an OpenAI-compatible vLLM server in the background and wait until it is healthy."""
    s = settings()
    opts = model_server.ServeOptions(model=model or str(s.model_dir), served_name=s.llm_model,
                                     port=port or s.vllm_port, gpu=gpu,
                                     max_model_len=max_model_len)
    with clean_errors(model_server.ModelServerError), console.status("starting vLLM"):
        pid = model_server.start(s, opts, wait_s)
    console.print(f"vLLM (pid {pid}) serves {opts.served_name} on "
                  f"http://127.0.0.1:{opts.port}/v1; log {model_server.logfile(opts.port)}")


@app.command("stop")
def stop(port: int | None = None) -> None:
    """Stop the server started by `factory model serve`."""
    stopped = model_server.stop(port or settings().vllm_port)
    console.print("stopped" if stopped else "no server was running")
