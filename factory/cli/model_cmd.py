"""`factory model`: build the tiny demo model, serve a model with vLLM, stop it."""

from __future__ import annotations

import subprocess

import typer

from factory import model_server
from factory.cli.common import clean_errors, console, fail, settings
from factory.config import PROJECT_ROOT

app = typer.Typer(no_args_is_help=True, help="The model: build, serve, stop.")


def build_tiny(reward: bool = True) -> None:
    """The tiny generator, then (``reward``) the tiny reward model built from it."""
    s = settings()
    if not s.vllm_python.exists():
        raise fail(f"{s.vllm_python} not found; run scripts/setup.sh first")
    scripts = PROJECT_ROOT / "scripts"
    steps = [("the tiny model", [str(scripts / "build_tiny_model.py"), str(s.model_dir)])]
    if reward:
        steps.append(("the tiny reward model", [str(scripts / "build_tiny_reward_model.py"),
                                                str(s.model_dir), str(s.reward_model_dir)]))
    for what, args in steps:
        if subprocess.run([str(s.vllm_python), *args, "--seed", str(s.model_seed)]).returncode:
            raise fail(f"building {what} failed (see above)")


@app.command("build")
def build(reward: bool = typer.Option(True, help="also the tiny reward model")) -> None:
    """Train the tiny Qwen2 demo model and build the tiny reward model from it (cached; each
    rebuilt only when its recipe changes)."""
    build_tiny(reward)


@app.command("serve")
def serve(model: str | None = typer.Option(None, help="weights dir or hub id; default tiny"),
          port: int | None = None, gpu: bool = typer.Option(False, help="GPU: prefix caching"),
          max_model_len: int = 4096, wait_s: float = 300.0,
          reward: bool = typer.Option(False, help="the reward server (pooling runner, "
                                      "reward_port, reward_model_dir) instead of the generator"),
          gpu_memory: float = typer.Option(0.9, help="GPU: this server's share of memory "
                                           "(two servers on one GPU: e.g. 0.75 + 0.15)")) -> None:
    """Start a vLLM server in the background and wait until it is healthy: the generator
    (OpenAI-compatible, /v1) or, with --reward, the reward model (POST /classify)."""
    s = settings()
    if reward:
        opts = model_server.ServeOptions(model=model or str(s.reward_model_dir),
                                         served_name=s.reward_model, port=port or s.reward_port,
                                         gpu=gpu, max_model_len=max_model_len, reward=True,
                                         gpu_memory_utilization=gpu_memory)
    else:
        opts = model_server.ServeOptions(model=model or str(s.model_dir), served_name=s.llm_model,
                                         port=port or s.vllm_port, gpu=gpu,
                                         max_model_len=max_model_len,
                                         gpu_memory_utilization=gpu_memory)
    with clean_errors(model_server.ModelServerError), console.status("starting vLLM"):
        pid = model_server.start(s, opts, wait_s)
    where = f"http://127.0.0.1:{opts.port}" + ("/classify" if reward else "/v1")
    console.print(f"vLLM (pid {pid}) serves {opts.served_name} on {where}; "
                  f"log {model_server.logfile(opts.port)}")


@app.command("stop")
def stop(port: int | None = None,
         reward: bool = typer.Option(False, help="the reward server (reward_port)")) -> None:
    """Stop a server started by `factory model serve`."""
    s = settings()
    stopped = model_server.stop(port or (s.reward_port if reward else s.vllm_port))
    console.print("stopped" if stopped else "no server was running")
