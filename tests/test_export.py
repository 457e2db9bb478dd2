"""SFT and DPO export: TRL's formats, metadata, filters, dedup, manifest; loads with datasets."""

import hashlib
import json
from pathlib import Path

import datasets
from sqlalchemy import select

from db.models import SftExample
from factory.config import Settings
from factory.export import ExportFilter, export
from factory.runner import InProcess
from tests.helpers import make_job
from tests.test_pipeline import run


def job_with_data(sessions, tmp_path: Path) -> int:
    job_id = make_job(sessions, tmp_path, count=30, batch_size=10)
    run(sessions, job_id, InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")))
    return job_id


def test_files_load_with_datasets_and_have_trl_columns(sessions, tmp_path: Path) -> None:
    job_id = job_with_data(sessions, tmp_path)
    with sessions() as s:
        sft = export(s, "sft", tmp_path / "sft.jsonl", ExportFilter(job_id=job_id))
        dpo = export(s, "dpo", tmp_path / "dpo.jsonl", ExportFilter(job_id=job_id, system="Be"))
    assert sft.written > 0 and dpo.written > 0
    ds = datasets.load_dataset("json", data_files=str(sft.path), split="train")
    assert "messages" in ds.column_names and len(ds) == sft.written
    roles = [m["role"] for m in ds[0]["messages"]]
    assert roles == ["user", "assistant"]
    pref = datasets.load_dataset("json", data_files=str(dpo.path), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(pref.column_names)
    row = pref[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
    assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
    meta = row["metadata"]
    assert meta["strategy"] == "math" and meta["job"] == job_id
    assert meta["model"] == "scripted-arithmetic" and meta["template_version"] == "v1"
    assert meta["verifiers"][0]["name"] == "math-verify"
    assert meta["sampling"]["temperature"] == 0.7 and isinstance(meta["sampling"]["seed"], int)


def test_manifest_records_counts_and_sha256(sessions, tmp_path: Path) -> None:
    job_id = job_with_data(sessions, tmp_path)
    with sessions() as s:
        r = export(s, "sft", tmp_path / "out" / "sft.jsonl", ExportFilter(job_id=job_id))
    manifest = json.loads(r.manifest.read_text())
    assert manifest["count"] == r.written == len(r.path.read_text().splitlines())
    assert manifest["sha256"] == hashlib.sha256(r.path.read_bytes()).hexdigest()
    assert manifest["models"] == ["scripted-arithmetic"]
    job = manifest["jobs"][str(job_id)]
    assert job["strategy"] == "math" and job["params"]["max_samples"] == 16


def test_filters_and_exact_duplicates(sessions, tmp_path: Path) -> None:
    job_id = job_with_data(sessions, tmp_path)
    other = job_with_data(sessions, tmp_path)
    with sessions() as s:
        one = export(s, "sft", tmp_path / "a.jsonl", ExportFilter(job_id=job_id))
        both = export(s, "sft", tmp_path / "b.jsonl", ExportFilter())
        none = export(s, "sft", tmp_path / "c.jsonl", ExportFilter(strategy="code"))
        high = export(s, "sft", tmp_path / "d.jsonl", ExportFilter(min_score=2.0))
        total = len(s.scalars(select(SftExample.id)).all())
    assert other != job_id
    # the second job made the very same examples: they are dropped as exact duplicates
    assert both.written == one.written and both.duplicates == total - one.written
    assert none.written == 0 and high.written == 0
