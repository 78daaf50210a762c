"""How `make bench --profile` reads py-spy's collapsed stacks into a summary per process kind."""

from bench.profile import read_collapsed, summarize

RAW = """\
process 7:"g";handle (gunicorn/workers/sync.py:135);post (apps/carts/api/views.py:44);execute (psycopg/cursor.py:97) 6
process 7:"g";handle (gunicorn/workers/sync.py:135);post (apps/carts/api/views.py:44);execute (psycopg/cursor.py:98) 2
process 7:"g";handle (gunicorn/workers/sync.py:135);get_fields (rest_framework/serializers.py:1050) 2
not a sample line
"""


def test_collapsed_stacks_are_counted_per_stack():
    stacks = read_collapsed(RAW)

    assert sum(stacks.values()) == 10
    assert len(stacks) == 3


def test_self_time_is_per_function_and_areas_count_a_sample_once_per_stack():
    summary = summarize(read_collapsed(RAW))

    assert summary["samples"] == 10
    # The two lines of one function are one entry.
    assert summary["self_percent"] == {
        "execute (psycopg/cursor.py)": 80.0,
        "get_fields (rest_framework/serializers.py)": 20.0,
    }
    areas = summary["inclusive_percent"]
    assert areas["gunicorn"] == 100.0
    assert areas["our code"] == 80.0
    assert areas["psycopg"] == 80.0
    assert areas["DRF"] == 20.0
    assert "celery / kombu / amqp" not in areas
    assert summary["our_functions_percent"] == {"post (apps/carts/api/views.py)": 80.0}


def test_an_empty_profile_has_no_shares():
    assert summarize(read_collapsed("")) == {
        "samples": 0,
        "self_percent": {},
        "inclusive_percent": {},
        "our_functions_percent": {},
    }
