"""Every projection on the small fixed class, against numbers worked out by hand.

The class (``data/small_class``): twelve students, five line items. Quiz 1 (max 10), Homework 1
(max 20), Quiz 2 (max 10) and Test 1 (max 100) are due by 2025-09-21, the newest score date,
so they count; Project 1 is due 2025-10-15 and does not. Per student (fractions of the max):

======  =================================  ====================  =========  ===========
id      results                            completed / counted   progress   proficiency
======  =================================  ====================  =========  ===========
stu-01  1.0 .95 .9 .92 (last 09-21)        4/4                   100        94.25
stu-02  .9 .9 .8 .85                       4/4                   100        86.25
stu-03  .7 .7 .7 .7                        4/4                   100        70
stu-04  .8 .8 - .6                         3/4                   75         73.3333
stu-05  NS(0) .3 NS(0) .3                  2/4                   50         15
stu-06  .3 (09-06) NS NS NS                1/4                   25         7.5
stu-07  .8 .8 .7 (09-12) -                 3/4                   75         76.6667
stu-08  - - - .88                          1/4                   25         (1 scored)
stu-09  no results                         0/4                   0          (none)
stu-10  exempt 1.0 1.0 .95                 3/4                   75         98.3333
stu-11  .8 .8 .8 .8                        4/4                   100        80
stu-12  .6 (regraded from .4) .4 .4 .4     4/4                   100        45
======  =================================  ====================  =========  ===========

NS = not submitted (score 0: scored, not completed). Three results are noise the gradebook
must ignore: stu-12's older Quiz 1 result, a student not on the roster, a line item of
another class (both dated 09-25, which must not move the as-of date).
"""

from __future__ import annotations

import pytest

from snapkit.parity import format_cell
from snapkit.projection import derive_for_project
from snapkit_instructor_dashboard.projections import rows


def cells(values: list[object]) -> list[str]:
    return [format_cell(v) for v in values]


def test_progress_counts_completions_per_line_item_and_per_student(small_class):
    _, derived = small_class
    progress = derived["progress"]
    assert progress.status == "ready"
    value = progress.value
    assert value["as_of"] == "2025-09-21"
    assert value["counted_line_items"] == 4
    items = value["line_items"]
    assert [i["title"] for i in items] == ["Quiz 1", "Homework 1", "Quiz 2", "Test 1", "Project 1"]
    assert [i["students_completed"] for i in items] == [8, 9, 7, 9, 0]
    assert cells([i["completion_rate"] for i in items]) == ["66.6667", "75", "58.3333", "75", "0"]
    assert [i["counted"] for i in items] == [True, True, True, True, False]
    per_student = {s["student"]: s["progress_pct"] for s in rows(value["per_student"])}
    assert per_student == {
        "stu-01": 100,
        "stu-02": 100,
        "stu-03": 100,
        "stu-04": 75,
        "stu-05": 50,
        "stu-06": 25,
        "stu-07": 75,
        "stu-08": 25,
        "stu-09": 0,
        "stu-10": 75,
        "stu-11": 100,
        "stu-12": 100,
    }
    assert value["students_completed"] == 5  # progress >= 80: stu-01, 02, 03, 11, 12
    assert format_cell(value["completion_rate"]) == "41.6667"


def test_completion_threshold_comes_from_the_scope_filters(make_small_project):
    project = make_small_project(filters={"completion_threshold": 75})
    project.refresh()
    value = derive_for_project(project, project.current())["progress"].value
    assert value["completion_threshold"] == 75
    assert value["students_completed"] == 8  # adds stu-04, stu-07, stu-10 at 75


def test_proficiency_levels_and_not_enough_data_under_three_scores(small_class):
    _, derived = small_class
    value = derived["proficiency"].value
    by_student = {s["student"]: s for s in rows(value["students"])}
    assert format_cell(by_student["stu-01"]["mean_fraction"]) == "0.9425"
    assert format_cell(by_student["stu-12"]["mean_fraction"]) == "0.45"
    assert by_student["stu-08"]["scored_items"] == 1
    assert by_student["stu-08"]["mean_fraction"] is None
    assert by_student["stu-08"]["level"] == "not enough data"
    assert by_student["stu-10"]["scored_items"] == 3  # the exempt result does not count
    assert by_student["stu-11"]["level"] == "Medium"  # 0.8 is Medium (<= 0.8)
    assert by_student["stu-06"]["level"] == "Low"
    assert value["levels"] == {"High": 3, "Medium": 5, "Low": 2, "not enough data": 2}


def test_student_support_categories_in_order_with_fallback_and_inactivity(small_class):
    _, derived = small_class
    value = derived["student_support"].value
    support = {s["student"]: (s["category"], s["inactive"]) for s in rows(value["students"])}
    assert support == {
        "stu-01": ("excelling", False),
        "stu-02": ("excelling", False),
        "stu-03": ("on_track", False),
        "stu-04": ("on_track", False),
        "stu-05": ("on_track", False),  # progress 50, proficiency 15: the fallback
        "stu-06": ("struggling", True),  # last completed 09-06: 15 days before as_of
        "stu-07": ("on_track", True),  # last completed 09-12: 9 days
        "stu-08": ("not_enough_information", False),
        "stu-09": ("not_enough_information", True),  # no results at all
        "stu-10": ("on_track", False),  # proficiency 98 but progress 75
        "stu-11": ("excelling", False),  # exactly 100 / 80
        "stu-12": ("on_track", False),
    }
    assert value["counts"] == {
        "excelling": 3,
        "on_track": 6,
        "struggling": 1,
        "not_enough_information": 2,
    }
    assert value["inactive"] == 3
    assert cells(list(value["percentages"].values())) == ["25", "50", "8.3333", "16.6667"]
    names = value["students"]["name"]
    assert names[:3] == ["Ada Adams", "Ben Baker", "Cai Chen"]  # by family name


def test_support_thresholds_and_inactivity_window_come_from_filters(make_small_project):
    project = make_small_project(
        filters={
            "struggling_progress_below": 60,
            "struggling_proficiency_at_most": 20,
            "inactivity_days": 10,
        }
    )
    project.refresh()
    value = derive_for_project(project, project.current())["student_support"].value
    support = {s["student"]: (s["category"], s["inactive"]) for s in rows(value["students"])}
    assert support["stu-05"] == ("struggling", False)  # 50 < 60 and 15 <= 20
    assert support["stu-07"] == ("on_track", False)  # 9 days is within 10
    assert support["stu-06"] == ("struggling", True)
    assert value["thresholds"]["struggling_progress_below"] == 60


def test_filters_given_at_derivation_override_the_scope(small_class):
    project, _ = small_class
    derived = derive_for_project(
        project, project.current(), filters={"excelling_proficiency_at_least": 90}
    )
    counts = derived["student_support"].value["counts"]
    assert counts["excelling"] == 1  # only stu-01 (94.25) of the three


def test_assessment_statistics_and_buckets_per_line_item(small_class):
    _, derived = small_class
    items = derived["assessments"].value["line_items"]
    stats = [cells([i["min"], i["median"], i["mean"], i["max"], i["std_dev"]]) for i in items]
    assert stats == [
        ["0", "80", "65.5556", "100", "29.8556"],  # 0 30 60 70 80 80 80 90 100
        ["0", "80", "66.5", "100", "30.8261"],  # 0 30 40 70 80 80 80 90 95 100
        ["0", "70", "58.8889", "100", "35.1013"],  # 0 0 40 70 70 80 80 90 100
        ["0", "75", "64", "95", "29.8295"],  # 0 30 40 60 70 80 85 88 92 95
        ["", "", "", "", ""],  # Project 1: no scores yet
    ]
    buckets = [[b["count"] for b in i["buckets"]] for i in items]
    assert buckets == [
        [1, 0, 0, 1, 0, 0, 1, 1, 3, 2],
        [1, 0, 0, 1, 1, 0, 0, 1, 3, 3],
        [2, 0, 0, 0, 1, 0, 0, 2, 2, 2],
        [1, 0, 0, 1, 1, 0, 1, 1, 3, 2],
        [0] * 10,
    ]
    assert [b["range"] for b in items[0]["buckets"]][::3] == ["0-10", "30-40", "60-70", "90-100"]
    assert [(i["students_completed"], i["students_not_completed"]) for i in items] == [
        (8, 4),
        (9, 3),
        (7, 5),
        (9, 3),
        (0, 12),
    ]
    assert items[0]["available_from"] == "2025-09-01T08:00:00.000Z"
    assert items[0]["due_date"] == "2025-09-05T23:59:00.000Z"


def test_summary_metrics_and_metadata(small_class):
    project, derived = small_class
    value = derived["summary"].value
    assert derived["summary"].status == "ready"
    assert value["snapshot_id"] == project.current().id
    assert (value["class_title"], value["class_code"]) == ("Algebra I - Period 2", "ALG1-02")
    assert value["as_of"] == "2025-09-21"
    metrics = {m["metric"]: (format_cell(m["value"]), m["unit"]) for m in value["metrics"]}
    assert metrics == {
        "students": ("12", "count"),
        "line_items": ("5", "count"),
        "line_items_due": ("4", "count"),
        "results": ("39", "count"),  # 42 served, 41 stored (1 older), 2 ignored
        "average_progress": ("68.75", "percent"),  # 825 / 12
        "average_proficiency": ("64.6333", "percent"),  # mean of the 10 with 3+ scores
        "students_completed": ("5", "count"),
        "completion_rate": ("41.6667", "percent"),
        "inactive_students": ("3", "count"),
    }


def test_summary_is_partial_without_the_class_record(make_small_project):
    project = make_small_project(skip=("dashboard_class",))
    project.refresh()
    derived = derive_for_project(project, project.current())
    assert derived["summary"].status == "partial"
    assert derived["summary"].reason == "missing_optional_oracle"
    assert derived["summary"].value["class_title"] is None
    assert derived["progress"].status == "ready"


def test_an_explicit_as_of_date_moves_the_counted_items_and_inactivity(make_small_project):
    project = make_small_project(filters={"as_of": "2025-09-12"})
    project.refresh()
    derived = derive_for_project(project, project.current())
    assert derived["progress"].value["counted_line_items"] == 2  # Quiz 1, Homework 1
    assert derived["student_support"].value["students"]["inactive"][0] is False


@pytest.mark.parametrize(
    "bad", [{"inactivity_days": "seven"}, {"as_of": "yesterday"}, {"min_scored_items": 2.5}]
)
def test_an_invalid_filter_fails_the_projections_with_a_reason(make_small_project, bad):
    project = make_small_project(filters=bad)
    project.refresh()
    derived = derive_for_project(project, project.current())
    assert {r.status for r in derived.results.values()} == {"failed"}
    assert {r.reason for r in derived.results.values()} == {"invalid_filter"}


def test_a_failed_results_oracle_fails_every_projection_with_missing_required_oracle(
    make_small_project,
):
    project = make_small_project(fail=("dashboard_results",))
    outcome = project.refresh()
    assert outcome.status == "failed"
    derived = derive_for_project(project, outcome.manifest)
    assert {r.reason for r in derived.results.values()} == {"missing_required_oracle"}


def test_results_are_grouped_by_line_item_keeping_the_newer_of_two():
    from snapkit_instructor_dashboard.oracles import decode_dictionary, group_results

    table = group_results(
        [
            {
                "sourcedId": "r3",
                "lineItem": {"sourcedId": "li-2"},
                "student": "s2",
                "score": 5.0,
                "scoreStatus": "fully graded",
                "scoreDate": "2025-09-02",
            },
            {
                "sourcedId": "r1",
                "lineItem": "li-1",
                "student": "s2",
                "score": 1.0,
                "scoreStatus": "fully graded",
                "scoreDate": "2025-09-03T10:00:00Z",
            },
            {
                "sourcedId": "r2",
                "lineItem": "li-1",
                "student": "s1",
                "score": None,
                "scoreStatus": "exempt",
                "scoreDate": None,
            },
            {
                "sourcedId": "r0",
                "lineItem": "li-1",
                "student": "s2",
                "score": 9.0,
                "scoreStatus": "fully graded",
                "scoreDate": "2025-09-03",
            },  # same day, lower id
            {
                "sourcedId": "r4",
                "lineItem": "li-2",
                "student": "s2",
                "score": 7.0,
                "scoreStatus": "fully graded",
                "scoreDate": "2025-09-01",
            },  # older
        ]
    )
    assert table == [
        {
            "lineItem": "li-1",
            "students": ["s1", "s2"],
            "scores": [None, 1.0],
            "scoreStatus": {"values": ["exempt", "fully graded"], "codes": [0, 1]},
            "scoreDate": {"values": [None, "2025-09-03"], "codes": [0, 1]},
        },
        {
            "lineItem": "li-2",
            "students": ["s2"],
            "scores": [5.0],
            "scoreStatus": {"values": ["fully graded"], "codes": [0]},
            "scoreDate": {"values": ["2025-09-02"], "codes": [0]},
        },
    ]
    assert decode_dictionary(table[0]["scoreStatus"]) == ["exempt", "fully graded"]


def _results(item, students, scores, statuses, dates):
    from snapkit_instructor_dashboard.oracles import encode_dictionary

    return {
        "lineItem": item,
        "students": students,
        "scores": scores,
        "scoreStatus": encode_dictionary(statuses),
        "scoreDate": encode_dictionary(dates),
    }


def _project_with_results(make_small_project, small_class_oracles, results):
    from snapkit_instructor_dashboard import keys

    plugin = small_class_oracles(skip=(keys.RESULTS,))
    plugin.add(keys.RESULTS, lambda call: results, records=True, key_column="lineItem")
    project = make_small_project(oracles=plugin)
    assert project.refresh().status == "success"
    return derive_for_project(project, project.current())


@pytest.mark.parametrize(
    "record",
    [
        _results("li-1", ["stu-01", "stu-02"], [1.0], ["fully graded"] * 2, ["2025-09-05"] * 2),
        _results(
            "li-1", ["stu-01", "stu-01"], [1.0, 2.0], ["fully graded"] * 2, ["2025-09-05"] * 2
        ),
        _results("li-1", ["stu-01"], [1.0], ["fully graded"], ["2025-09-05"])
        | {"students": "stu-01"},
        _results("li-1", ["stu-01"], [1.0], ["fully graded"], ["2025-09-05"])
        | {"scoreStatus": ["fully graded"]},
        _results("li-1", ["stu-01"], [1.0], ["fully graded"], ["2025-09-05"])
        | {"scoreStatus": {"values": ["fully graded"], "codes": [1]}},
        _results("li-1", ["stu-01"], [1.0], ["fully graded"], ["2025-09-05"])
        | {"scoreDate": {"values": ["2025-09-05"], "codes": [-1]}},
        _results("li-1", ["stu-01"], [1.0], ["fully graded"], ["2025-09-05"])
        | {"scoreDate": {"values": ["2025-09-05"], "codes": [0.5]}},
        _results("li-1", ["stu-01"], [1.0], ["fully graded"], ["2025-09-05"])
        | {"scoreDate": {"values": ["2025-09-05"], "codes": [0, 0]}},
        _results("li-1", ["stu-01"], [[1.0]], ["fully graded"], ["2025-09-05"]),
    ],
    ids=[
        "short scores",
        "student twice",
        "students not a list",
        "statuses not encoded",
        "status code past the values",
        "negative day code",
        "fractional code",
        "codes longer than students",
        "score not a number",
    ],
)
def test_malformed_results_records_fail_every_projection_with_invalid_results(
    make_small_project, small_class_oracles, record
):
    derived = _project_with_results(make_small_project, small_class_oracles, [record])
    assert {r.status for r in derived.results.values()} == {"failed"}
    assert {r.reason for r in derived.results.values()} == {"invalid_results"}


def test_a_student_missing_from_some_line_items_is_aligned_by_id(
    make_small_project, small_class_oracles
):
    # stu-02 has no result for li-1, a student off the roster is ignored, order is by id
    derived = _project_with_results(
        make_small_project,
        small_class_oracles,
        [
            _results(
                "li-1",
                ["stu-01", "stu-03", "zz-not-enrolled"],
                [10.0, 5.0, 1.0],
                ["fully graded"] * 3,
                ["2025-09-05", "2025-09-06", "2025-09-30"],
            ),
            _results(
                "li-2",
                ["stu-01", "stu-02", "stu-03"],
                [20.0, 10.0, None],
                ["fully graded", "submitted", None],
                ["2025-09-10", "2025-09-11", None],
            ),
        ],
    )
    progress = {
        s["student"]: s["completed_items"] for s in rows(derived["progress"].value["per_student"])
    }
    assert (progress["stu-01"], progress["stu-02"], progress["stu-03"]) == (2, 1, 1)
    support = {
        s["student"]: s["last_activity"] for s in rows(derived["student_support"].value["students"])
    }
    assert (support["stu-01"], support["stu-02"], support["stu-03"]) == (
        "2025-09-10",
        "2025-09-11",
        "2025-09-06",
    )
    assert derived["summary"].value["as_of"] == "2025-09-11"  # the off-roster result is not
    items = derived["assessments"].value["line_items"]
    assert [(i["line_item"], i["scored"]) for i in items[:2]] == [("li-1", 2), ("li-2", 2)]


def test_dates_given_as_timestamps_count_by_their_day(make_small_project, small_class_oracles):
    derived = _project_with_results(
        make_small_project,
        small_class_oracles,
        [
            _results(
                "li-1",
                ["stu-01", "stu-02"],
                [10.0, 5.0],
                ["fully graded"] * 2,
                ["2025-09-05T23:59:00Z", "2025-09-06T08:00:00.000Z"],
            ),
        ],
    )
    support = {
        s["student"]: s["last_activity"] for s in rows(derived["student_support"].value["students"])
    }
    assert (support["stu-01"], support["stu-02"]) == ("2025-09-05", "2025-09-06")
    assert derived["summary"].value["as_of"] == "2025-09-06"
