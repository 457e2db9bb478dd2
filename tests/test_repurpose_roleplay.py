"""Literary repurposing and role-play with a scripted model: thresholds, the untouched passage,
multi-turn assembly, and profiles extracted from text."""

import json
from pathlib import Path

from sqlalchemy import select

from db.models import Generation, Job, Prompt, SftExample, Verdict
from factory.jobs import create_job
from factory.llm import SamplingParams
from factory.llm.scripted import ScriptedLLM
from factory.passages import Window
from factory.seeds import SeedKind, import_seeds, read_seeds
from tests.helpers import ROOT, run_in_process, seed_job

DATA = ROOT / "factory" / "data"
PROFILES = [r for _, r in read_seeds(DATA / "profiles.jsonl", SeedKind.profiles)]


def backtranslator(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """Good instructions mention the passage's first word; the judge checks for it."""
    if params.json_schema is not None:
        asked = messages[-1]["content"]
        instruction = asked.split("Instruction:\n")[1].split("\n\nResponse:")[0]
        passage = asked.split("Response:\n")[1]
        score = 5 if passage.split()[0] in instruction else 2
        return json.dumps({"score": score, "reason": f"scored {score}"})
    passage = messages[-1]["content"].split("Passage:\n")[1]
    return [f"Write a passage that opens with {passage.split()[0]} in a whimsical voice.",
            "Instruction: Write two paragraphs of whimsical prose about a rabbit.",
            "ok"][index % 3]


def make_text_job(sessions, tmp_path: Path, count: int, **params) -> int:
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, DATA / "alice_in_wonderland.txt", SeedKind.text,
                                   window=Window(64, 512))
        job = create_job(s, params.pop("strategy", "repurpose"), seed_set,
                         {"batch_size": 100, **params}, "scripted")
        s.flush()
        # keep the test small: only the first `count` passages
        for p in s.scalars(select(Prompt).where(Prompt.job_id == job.id)).all()[count:]:
            s.delete(p)
        return job.id


def test_repurposing_keeps_the_passage_and_drops_pairs_under_the_threshold(sessions, tmp_path
                                                                          ) -> None:
    job_id = make_text_job(sessions, tmp_path, 3, candidates=3, min_score=4)
    llm = ScriptedLLM(backtranslator)
    run_in_process(sessions, job_id, llm)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        prompts = s.scalars(select(Prompt).where(Prompt.job_id == job_id)).all()
        assert len(prompts) == 3
        verdicts = {v.generation_id: v for v in s.scalars(select(Verdict))}
        gens = s.scalars(select(Generation)).all()
        assert len(gens) == 9 and len(verdicts) == 9
        short = [verdicts[g.id] for g in gens if g.text == "ok"]
        assert all(v.details["error"] == "instruction too short" for v in short)
        scores = sorted(v.score for v in verdicts.values() if v.score is not None)
        assert scores == [2.0] * 3 + [5.0] * 3
        sft = s.scalars(select(SftExample)).all()
        assert len(sft) == 3
        for example in sft:
            prompt = s.get_one(Prompt, example.prompt_id)
            user, assistant = example.messages
            assert assistant["content"] == prompt.reference["passage"]  # unchanged
            assert user["content"].startswith("Write a passage that opens with")
            assert example.score == 5.0 and example.meta["source"]["position"]["index"] >= 0
    # the judge is never asked about an instruction too short to judge
    assert sum("Rate how well" in a for a in llm.asked) == 6


def test_repurposing_flags_passages_whose_instructions_all_fail(sessions, tmp_path) -> None:
    def poor(messages, params, index):
        if params.json_schema is not None:
            return json.dumps({"score": 3, "reason": "middling"})
        return "Write something about the text, please."

    job_id = make_text_job(sessions, tmp_path, 2, candidates=2, min_score=4)
    run_in_process(sessions, job_id, ScriptedLLM(poor))
    with sessions() as s:
        assert s.scalars(select(SftExample)).all() == []
        assert s.scalars(select(Prompt.flag)).all() == ["no_instruction"] * 2


def actor(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """Writes conversations of the requested length, profiles of whoever is named; the judge
    likes conversations whose character says its own name."""
    schema = params.json_schema or {}
    props = schema.get("properties", {})
    asked = messages[-1]["content"]
    if "turns" in props:
        n = props["turns"]["minItems"]
        name = asked.split(" talks to ")[1].split(". ")[0]
        return json.dumps({"turns": [{"user": f"question {i}", "character": f"{name} says {i}"}
                                     for i in range(n + index)]})  # sample 1: one turn too many
    if "name" in props:
        return json.dumps({"name": "Alice", "background": "A curious girl.",
                           "traits": ["curious"], "speaking_style": "Polite but blunt."})
    if "score" in props:
        name = asked.split("Name: ")[1].split("\n")[0]
        return json.dumps({"score": 5 if f"{name}: {name} says" in asked else 1,
                           "reason": "in character"})
    raise AssertionError(f"unexpected request {asked[:80]}")


def test_roleplay_assembles_multi_turn_sft_with_the_profile_as_system(sessions, tmp_path
                                                                      ) -> None:
    job_id = seed_job(sessions, tmp_path / "profiles.jsonl", "roleplay", SeedKind.profiles,
                      PROFILES[:2], turns=3, candidates=2)
    llm = ScriptedLLM(actor)
    run_in_process(sessions, job_id, llm)
    with sessions() as s:
        verdicts = s.scalars(select(Verdict).order_by(Verdict.generation_id)).all()
        assert [v.passed for v in verdicts] == [True, False, True, False]
        assert verdicts[1].details["error"] == "not a conversation of 3 turns"
        sft = s.scalars(select(SftExample).order_by(SftExample.id)).all()
        assert [x.meta["character"] for x in sft] == ["The Cheshire Cat", "The Mad Hatter"]
        messages = sft[0].messages
        assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3
        assert messages[0]["content"].startswith("You are The Cheshire Cat.")
        assert "mischievous" in messages[0]["content"]
        assert messages[2]["content"] == "The Cheshire Cat says 0"


def test_roleplay_from_text_extracts_a_profile_then_talks_with_it(sessions, tmp_path) -> None:
    job_id = make_text_job(sessions, tmp_path, 2, strategy="roleplay-from-text", turns=2,
                           candidates=1)
    llm = ScriptedLLM(actor)
    run_in_process(sessions, job_id, llm)
    with sessions() as s:
        gens = s.scalars(select(Generation).order_by(Generation.id)).all()
        assert sorted((g.round, g.ask) for g in gens) == [(0, "profile")] * 2 + \
            [(1, "conversation")] * 2
        sft = s.scalars(select(SftExample)).all()
        assert len(sft) == 2 and all(x.meta["character"] == "Alice" for x in sft)
        assert all(x.messages[0]["content"].startswith("You are Alice.") for x in sft)
        assert all(x.meta["source"]["title"] == "alice_in_wonderland" for x in sft)


def test_a_profile_that_does_not_parse_stops_there(sessions, tmp_path) -> None:
    def mute(messages, params, index):
        return "{not json"

    job_id = make_text_job(sessions, tmp_path, 1, strategy="roleplay-from-text")
    run_in_process(sessions, job_id, ScriptedLLM(mute))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        gens = s.scalars(select(Generation)).all()
        assert [g.ask for g in gens] == ["profile"]
        assert "not a profile" in s.scalars(select(Verdict)).one().details["error"]
        assert s.scalars(select(Prompt.flag)).all() == ["no_conversation"]


def test_roleplay_acceptance_counts_conversations_only(sessions, tmp_path) -> None:
    """1 extracted profile + 2 conversations (1 passes: the script's second has a turn too
    many) is 1 of 2 in the prompt's figures and in `factory status`, not 2 of 3."""
    from factory import ops

    job_id = make_text_job(sessions, tmp_path, 1, strategy="roleplay-from-text", turns=2,
                           candidates=2)
    run_in_process(sessions, job_id, ScriptedLLM(actor))
    with sessions() as s:
        asks = sorted(g.ask for g in s.scalars(select(Generation)))
        assert asks == ["conversation", "conversation", "profile"]
        prompt = s.scalars(select(Prompt).where(Prompt.job_id == job_id)).one()
        assert (prompt.samples, prompt.passed, prompt.pass_rate) == (2, 1, 0.5)
        health = {h.strategy: h for h in ops.strategies(s)}["roleplay-from-text"]
        assert (health.samples, health.verdicts, health.passed) == (2, 2, 1)
        assert health.acceptance == 0.5
