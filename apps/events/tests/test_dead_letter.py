"""Giving up on an event: the dead letter and the hook commit together; a hook that fails is noted
with the dead letter, which is kept all the same."""

import uuid

import pytest

from apps.events.inbox import dead_letter
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage

pytestmark = pytest.mark.django_db(databases=["cart"])


def give_up(on_give_up) -> str:
    event_id = str(uuid.uuid4())
    dead_letter(
        database="cart",
        service_name="cart-service",
        event_type="stock.rejected",
        payload={"cart_id": str(uuid.uuid4())},
        attributes={"event_id": event_id},
        error="RuntimeError: a bug",
        attempts=9,
        on_give_up=on_give_up,
    )
    return event_id


def test_a_failing_hook_is_rolled_back_and_noted_and_the_dead_letter_kept():
    def hook(error):
        OutboxEvent.objects.using("cart").create(topic="t", event_type="t", schema_version=1, payload={})
        raise ValueError("the hook broke")

    event_id = give_up(hook)

    letter = DeadLetter.objects.using("cart").get(event_id=event_id)
    assert letter.error_message == ("RuntimeError: a bug\n(the give-up hook failed too: ValueError: the hook broke)")
    assert not OutboxEvent.objects.using("cart").exists()  # the hook's writes are rolled back
    assert ProcessedMessage.objects.using("cart").get(message_id=event_id).status == "dead_lettered"


def test_a_hook_runs_with_the_error_and_commits_with_the_dead_letter():
    seen = []

    event_id = give_up(seen.append)

    assert seen == ["RuntimeError: a bug"]
    assert DeadLetter.objects.using("cart").get(event_id=event_id).error_message == "RuntimeError: a bug"
