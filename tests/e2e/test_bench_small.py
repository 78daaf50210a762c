"""A small version of `make bench` in the suite: its figures must add up and the audit must hold.

It asserts correctness only, never speed: speed is for `make bench` to print.
"""

import asyncio
from argparse import Namespace

import pytest

from bench import measure
from bench.__main__ import run
from bench.load import Target
from runner.launcher import ROOT

pytestmark = pytest.mark.e2e


def test_a_small_benchmark_places_every_order_and_leaves_the_invariants_whole(platform, tmp_path):
    args = Namespace(
        customers=6,
        orders=30,
        rate=0,
        skus=3,
        items=3,
        read_seconds=1,
        read_connections=4,
        web_concurrency="1",
        celery_concurrency="1",
        profile=True,
    )

    result = asyncio.run(run(args, Target(platform), platform, tmp_path))

    assert result["carts"] == 30
    assert result["outcomes"] == {"ordered": 30}
    assert result["confirmed_orders"] == 30
    assert result["error_count"] == 0
    latency = result["latency_ms"]
    assert latency["convert_to_confirmed"]["count"] == 30
    assert latency["convert_to_notifications_sent"]["count"] == 30
    assert 0 < latency["convert_to_confirmed"]["p50"] <= latency["convert_to_confirmed"]["max"]
    for hop in result["hops_ms"].values():
        assert hop["outbox_to_published"]["count"] > 0
    # --profile sampled the real processes: the web servers' time was in the cart views, the
    # workers' in the inbox.
    web, worker = result["profile"]["web"], result["profile"]["worker"]
    assert web["samples"] > 0
    assert worker["samples"] > 0
    assert web["inclusive_percent"]["our code"] > 0
    assert worker["inclusive_percent"]["our code"] > 0
    assert list((tmp_path / "profile").glob("cart-web.txt"))
    measure.chart(result, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 0
    audit = measure.audit(platform.env, ROOT)
    assert audit["ok"], audit
