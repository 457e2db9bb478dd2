"""Judging the judges: agreement with the others' consensus, judgment times and position
bias, as pure functions and from the store; a careless annotator (always A) and an
adversarial one (always against the others) stand out."""

import random

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import Ranking
from factory.annotation import task_queue
from factory.annotation.quality import (
    Agreement,
    Position,
    agreement_with_others,
    position_bias,
    timing,
)
from factory.annotation.stats import annotator_quality
from factory.cli.main import app
from tests.annotation_helpers import (
    ADVERSARIAL,
    CARELESS,
    HONEST,
    TEAM,
    annotation_store,
    choose,
    rank_everything,
)
from tests.conftest import use


def shuffled(task: int, who: str) -> list[int]:
    """Task ``task`` has responses 2*task (the good one) and 2*task + 1, shown in a random
    order per annotator, as the app shuffles them."""
    order = [2 * task, 2 * task + 1]
    random.Random(f"{task}:{who}").shuffle(order)
    return order


def team_rankings(tasks: int = 24) -> list[tuple[int, str, list[list[int]], list[int]]]:
    out = []
    for t in range(tasks):
        for who in TEAM:
            shown = shuffled(t, who)
            out.append((t, who, choose(who, shown, 2 * t), shown))
    return out


def test_careless_and_adversarial_annotators_stand_out() -> None:
    rankings = team_rankings()
    by_task: dict[int, list] = {}
    for t, who, tiers, _ in rankings:
        by_task.setdefault(t, []).append((who, tiers))
    agreed = agreement_with_others(by_task.values())
    # against three honest people and a coin, the adversary is always on the other side
    assert agreed[ADVERSARIAL] == Agreement(tasks=24, agree=0, oppose=24, tied=0)
    # the careless one agrees exactly when the good response happened to be shown first
    lucky = sum(shuffled(t, CARELESS)[0] == 2 * t for t in range(24))
    assert 0 < lucky < 24
    assert agreed[CARELESS] == Agreement(tasks=24, agree=lucky, oppose=24 - lucky)
    # an honest one never opposes the others; where the coin went bad the others are split
    # two against two and there is no consensus to compare with
    for who in HONEST:
        assert agreed[who] == Agreement(tasks=24, agree=lucky, oppose=0)
    worst_first = sorted(agreed, key=lambda a: agreed[a].rate)
    assert worst_first[:2] == [ADVERSARIAL, CARELESS]

    bias = {who: position_bias((tiers, shown) for _, w, tiers, shown in rankings if w == who)
            for who in TEAM}
    assert bias[CARELESS] == Position(first=24, second=0, tied=0)
    assert bias[CARELESS].first_share == 1.0
    assert bias[CARELESS].p_value == pytest.approx(2 * 0.5 ** 24)
    for who in (*HONEST, ADVERSARIAL):
        assert bias[who].decided == 24 and bias[who].p_value > bias[CARELESS].p_value * 1000


def test_agreement_counts_ties_and_longer_lists_and_needs_two_rankings() -> None:
    agreed = agreement_with_others([
        [(1, [[10], [11], [12]]), (2, [[10], [11, 12]])],  # 2 ties what 1 orders
        [(1, [[20], [21]])],  # nobody to agree with
    ])
    # 1 against 2: 2 orders (10 over 11) and (10 over 12), and 1 orders them the same way
    assert agreed[1] == Agreement(tasks=1, agree=2)
    # 2 against 1: three pairs ordered by 1, two agreed, 11 vs 12 tied by 2
    assert agreed[2] == Agreement(tasks=1, agree=2, tied=1)
    assert agreed[2].compared == 3 and agreed[2].rate == pytest.approx(2 / 3)
    assert Agreement().rate is None


def test_position_bias_compares_the_first_two_shown_and_counts_ties() -> None:
    bias = position_bias([
        ([[1], [2]], [1, 2]),  # first shown wins
        ([[1], [2]], [2, 1]),  # second shown wins
        ([[1, 2]], [2, 1]),  # tie
        ([[3], [2], [1]], [1, 2, 3]),  # a list: the second shown (2) beat the first (1)
        ([], [1, 2]),  # a skip names no tiers: left out
    ])
    assert bias == Position(first=1, second=2, tied=1)
    assert bias.first_share == pytest.approx(1 / 3)
    assert Position().p_value is None and Position().first_share is None
    # exact binomial, two-sided: 9 of 10 -> 2 * 11/1024; an even split -> 1
    assert Position(first=9, second=1).p_value == pytest.approx(22 / 1024)
    assert Position(first=5, second=5).p_value == 1.0
    assert Position(first=600, second=400).p_value < 1e-9


def test_timing_is_median_and_quartiles() -> None:
    assert timing([]) is None
    one = timing([7.0])
    assert (one.n, one.median, one.p25, one.p75) == (1, 7.0, 7.0, 7.0)
    t = timing([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (t.n, t.median, t.p25, t.p75) == (5, 3.0, 2.0, 4.0)


def test_the_store_times_judgments_and_the_tables_show_the_odd_ones_first(sessions,
                                                                           tmp_path) -> None:
    """Rankings through the task queue: seconds from the task first appearing (renewing the
    claim does not restart the clock, an edit keeps it), and stats' tables worst first."""
    _, ids = annotation_store(sessions, tmp_path, k=len(TEAM), count=4,
                              temperatures=(0.3, 1.0), people=TEAM)
    for who in TEAM:
        rank_everything(sessions, ids[who], who, took_s=5 if who == CARELESS else 60)
    with sessions() as s:
        seconds = dict(s.execute(select(Ranking.annotator_id, Ranking.seconds)
                                 .where(Ranking.task_id == 1)).all())
    assert seconds[ids[CARELESS]] == pytest.approx(5, abs=3)
    assert seconds[ids["ann"]] == pytest.approx(60, abs=3)
    with sessions.begin() as s:  # an edit changes the ranking, not how long it took
        task_queue.edit_last(s, ids["ann"])
        last = task_queue.last_ranking(s, ids["ann"])
        last_id = last.id
        task_queue.submit(s, ids["ann"], last.task_id, last.tiers, shown=last.shown_order,
                          all_bad=True)
    with sessions() as s:
        edited = s.get_one(Ranking, last_id)
        assert edited.all_bad and edited.updated_at is not None
        assert edited.seconds == pytest.approx(60, abs=3)
        tables = annotator_quality(s)
    assert [r["annotator"] for r in tables.agreement][0] == ADVERSARIAL
    assert tables.agreement[0]["agreement"] == 0.0 and tables.agreement[0]["compared"] == 4
    assert tables.time[0]["annotator"] == CARELESS and tables.time[0]["timed"] == 4
    assert tables.time[0]["median s"] < 10 < tables.time[1]["median s"]
    everyone = tables.position[0]
    assert everyone["annotator"] == "(everyone)"
    assert everyone["first wins"] + everyone["second wins"] + everyone["tied"] == 4 * len(TEAM)
    bias = {r["annotator"]: r for r in tables.position[1:]}
    assert (bias[CARELESS]["first wins"], bias[CARELESS]["first share"]) == (4, 1.0)
    assert tables.position[1]["p (no bias)"] == bias[CARELESS]["p (no bias)"]
    assert bias[CARELESS]["p (no bias)"] == pytest.approx(2 / 16)


def test_annotate_status_prints_each_annotator_worst_first(sessions, sqlite_url, tmp_path,
                                                            monkeypatch) -> None:
    """`factory annotate status` shows what the Progress page shows of each annotator, in a
    row each: the adversary first (agrees with nobody), the careless one fast and always A."""
    _, ids = annotation_store(sessions, tmp_path, k=len(TEAM), count=4,
                              temperatures=(0.3, 1.0), people=TEAM)
    for who in TEAM:
        rank_everything(sessions, ids[who], who, took_s=5 if who == CARELESS else 60)
    use(monkeypatch, database_url=sqlite_url)
    result = CliRunner().invoke(app, ["annotate", "status"])
    assert result.exit_code == 0, result.output
    cells = [[c.strip() for c in line.replace("┃", "│").split("│")[1:-1]]
             for line in result.output.splitlines()]
    assert ["annotator", "compared", "agreement", "median s", "first share", "p (no bias)"] in cells
    table = {r[0]: r[1:] for r in cells if r and r[0] in {*TEAM, "(everyone)"}}
    assert list(table)[0] == ADVERSARIAL and list(table)[-1] == "(everyone)"
    assert table[ADVERSARIAL][:2] == ["4", "0%"]  # compared, agreement
    careless = table[CARELESS]
    assert float(careless[2]) < 10 < float(table["ann"][2])  # median seconds
    assert careless[3:] == ["100%", "0.12"]  # the response shown first always won; p = 2/16
    assert table["(everyone)"][:3] == ["-", "-", "-"] and set(table) == {*TEAM, "(everyone)"}
