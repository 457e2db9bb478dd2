"""Settings from the environment (prefix ``FACTORY_``) or a ``.env`` file.

With nothing set, the factory runs embedded: a SQLite file in the working directory, tasks
in-process, and the tiny local model served by vLLM on 127.0.0.1:8000.
"""

from __future__ import annotations

from functools import cache
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACTORY_", env_file=".env", extra="ignore")

    database_url: str = Field("sqlite:///factory.db", description="SQLAlchemy URL of the store")
    broker_url: str | None = Field(None, description="Celery broker; unset = run tasks in-process")
    result_backend: str | None = None
    visibility_timeout_s: int = Field(3600, description="Redis redelivery of unacked tasks")
    stale_batch_s: float = Field(300, gt=0, description="a batch with no live lease whose "
                                 "step was sent this long ago is sent again by the sweep")
    lease_s: float = Field(60, gt=0, description="a step's lease on its batch, renewed every "
                           "third of it while the step works")
    sweep_interval_s: float = Field(30, gt=0, description="how often each worker looks for "
                                    "stranded steps")
    steps_in_flight: int = Field(8, ge=1, description="steps (batches) one process runs at "
                                 "once - the embedded runner, a generate worker's threads - "
                                 "so the model server's batch stays full")
    step_attempts: int = Field(6, ge=1, description="a step that fails this often (server "
                               "down, store down) fails its job, to resume later")
    step_retry_base_s: float = Field(5, gt=0, description="a failed step's first retry "
                                     "waits half to all of this, doubling each retry (at "
                                     "most 300 s)")
    worker_grace_s: float = Field(20, ge=0, description="`factory job run` with a broker "
                                  "waits this long for a worker to consume the job's queues "
                                  "(one may be starting) before it says none does")

    llm_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible API; "
                              "several servers: comma-separated, requests spread over them")
    llm_model: str = "tiny-qwen2"
    llm_api_key: SecretStr = SecretStr("EMPTY")
    llm_concurrency: int = Field(256, ge=1, description="requests in flight per step and "
                                 "server (a process runs FACTORY_STEPS_IN_FLIGHT steps)")
    llm_timeout_s: float = Field(300.0, gt=0)
    llm_max_retries: int = Field(5, ge=0)
    llm_retry_base_s: float = Field(0.5, gt=0)

    model_dir: Path = Field(PROJECT_ROOT / ".cache" / "tiny-qwen2", description="tiny demo model")
    model_seed: int = Field(0, description="the tiny model's training seed (tests must pass "
                            "with any)")
    vllm_python: Path = Field(PROJECT_ROOT / ".venv-vllm" / "bin" / "python")
    vllm_port: int = 8000

    reward_base_url: str = Field("http://127.0.0.1:8001", description="vLLM reward server "
                                 "(pooling runner, POST /classify at its root); scripted://NAME "
                                 "for a stand-in")
    reward_model: str = Field("tiny-reward", description="the reward server's model name")
    reward_model_dir: Path = Field(PROJECT_ROOT / ".cache" / "tiny-reward",
                                   description="tiny reward model, built from the tiny model")
    reward_port: int = Field(8001, description="`factory model serve --reward` listens here")

    sandbox_image: str = Field("factory-sandbox:current",
                               description="built by scripts/build_sandbox_image.sh")
    sandbox_timeout_s: float = Field(10.0, gt=0, description="wall clock per program")
    sandbox_memory_mb: int = Field(256, ge=32)
    sandbox_pool_size: int = Field(2, ge=1, description="warm containers per process")

    annotation_k: int = Field(3, ge=1, description="distinct annotators who judge each task")
    annotation_max_responses: int = Field(4, ge=2, description="responses shown per task")
    annotation_claim_minutes: float = Field(30, gt=0, description="an unjudged task returns "
                                            "to the queue after this long")
    annotation_session_idle_minutes: float = Field(30, gt=0, description="a log-in session "
                                                   "unused this long ends")
    annotation_session_hours: float = Field(12, gt=0, description="a log-in session ends this "
                                            "long after it began, however busy")
    annotation_secure_cookie: bool = Field(False, description="mark the session cookie Secure "
                                           "even when the app sees plain HTTP (behind a TLS "
                                           "proxy it does not trust); HTTPS requests always do")
    annotation_trusted_proxies: str = Field("", description="comma-separated addresses or "
                                            "networks of reverse proxies whose X-Forwarded-For "
                                            "and X-Forwarded-Proto are believed; empty: none")
    annotation_oidc_client_id: str = Field("", description="OpenID Connect log-in (st.login) "
                                           "is offered when this, the metadata URL and the "
                                           "redirect URI are set")
    annotation_oidc_client_secret: SecretStr = SecretStr("")
    annotation_oidc_metadata_url: str = Field("", description="the identity provider's "
                                              ".well-known/openid-configuration")
    annotation_oidc_redirect_uri: str = Field("", description="this app's /oauth2callback as "
                                              "the browser reaches it")
    annotation_oidc_cookie_secret: SecretStr = Field(SecretStr(""), description="signs "
                                                     "Streamlit's own short-lived OIDC cookie; "
                                                     "empty: random per start")
    annotation_oidc_label: str = Field("single sign-on", description="the log-in button says "
                                       "'Log in with <label>'")
    annotation_oidc_trust_unverified_email: bool = Field(
        False, description="accept an identity provider's email that it does not mark "
        "email_verified (only for a provider that issues verified emails alone and omits the "
        "claim): whoever can set such an email there logs in as that account")

    @field_validator("annotation_trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        """A typo here would silently trust nobody (or the wrong host): refuse it."""
        hosts = [part.strip() for part in value.split(",") if part.strip()]
        for host in hosts:
            ip_network(host, strict=False)  # ValueError names the bad entry
        return ",".join(hosts)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.annotation_oidc_client_id and self.annotation_oidc_metadata_url
                    and self.annotation_oidc_redirect_uri)

    def masked(self) -> dict[str, Any]:
        """Effective settings with secrets and URL passwords hidden."""
        out: dict[str, Any] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value and "@" in value:
                scheme, rest = value.split("://", 1)
                creds, host = rest.rsplit("@", 1)
                user = creds.split(":", 1)[0]
                value = f"{scheme}://{user}:********@{host}" if ":" in creds else value
            out[key] = str(value) if isinstance(value, Path) else value
        return out


@cache
def get_settings() -> Settings:
    return Settings()
