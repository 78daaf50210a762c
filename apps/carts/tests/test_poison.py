"""Poison: a message no attempt can process or record ends in the dead letters, once, at once."""

import json
import uuid
from types import SimpleNamespace

import pytest
from celery.exceptions import Reject
from django.db import DataError

from apps.carts.tasks import handle_event, handle_events
from apps.carts.tests.factories import CartFactory
from apps.carts.tests.test_tasks import state, stock_rejected
from apps.events import consumer as event_consumer
from apps.events import dead_letters
from apps.events.models import DeadLetter, ProcessedMessage
from shop.registry import get_service
from testsupport.events import message

pytestmark = pytest.mark.django_db(databases=["cart"])


def poisoned(cart) -> list:
    """A stock.rejected whose SKU holds U+0000: valid JSON, valid for pydantic, refused by jsonb."""
    event_type, payload, attributes = message(stock_rejected(cart))
    payload["details"][0]["product_sku"] = "LAP\x00001"
    return [event_type, payload, attributes]


def test_a_payload_with_a_nul_is_dead_lettered_on_its_first_delivery_with_its_raw_bytes():
    cart = CartFactory(processing=True)
    event = poisoned(cart)

    assert handle_event(*event) == "dead_lettered"

    assert state(cart) == ("processing", True)
    letter = DeadLetter.objects.using("cart").get(event_id=event[2]["event_id"])
    assert (letter.payload, letter.attributes) == (None, None)  # jsonb cannot take it
    assert json.loads(bytes(letter.raw_message)) == event
    assert letter.message() == event
    assert "U+0000" in letter.error_message
    inbox = ProcessedMessage.objects.using("cart").get(message_id=event[2]["event_id"])
    assert inbox.status == "dead_lettered"


def test_an_event_id_that_is_no_uuid_and_holds_a_nul_is_kept_keyed_on_its_content():
    cart = CartFactory(processing=True)
    event_type, payload, attributes = message(stock_rejected(cart))
    attributes["event_id"] = "not-a-uuid\x00"

    assert handle_event(event_type, payload, attributes) == "dead_lettered"
    assert handle_event(event_type, payload, attributes) == "dead_lettered"  # delivered again

    letter = DeadLetter.objects.using("cart").get()
    assert letter.message() == [event_type, payload, attributes]
    assert ProcessedMessage.objects.using("cart").get(message_id=str(letter.event_id)).status == "dead_lettered"


def test_a_poison_in_a_batch_holds_up_nothing_behind_it():
    first, poison, last = (CartFactory(processing=True) for _ in range(3))
    batch = [message(stock_rejected(first)), poisoned(poison), message(stock_rejected(last))]

    assert handle_events(batch) == {"processed": 2, "dead_lettered": 1}

    assert state(first) == state(last) == ("stock-unavailable", False)
    assert DeadLetter.objects.using("cart").get().event_id == uuid.UUID(batch[1][2]["event_id"])


def test_a_value_the_database_refuses_is_dead_lettered_without_retries(monkeypatch):
    from apps.carts.handlers import HANDLERS

    def refused(event, envelope):
        raise DataError("value too long for type character varying(64)")

    monkeypatch.setitem(HANDLERS, "stock.rejected", refused)
    cart = CartFactory(processing=True)

    assert handle_event(*message(stock_rejected(cart))) == "dead_lettered"

    assert "value too long" in DeadLetter.objects.using("cart").get().error_message


def test_a_dead_letter_the_database_refuses_is_rejected_to_the_broker_not_requeued(monkeypatch):
    def refuses(**kwargs):
        raise DataError("something no code foresaw")

    monkeypatch.setattr(event_consumer, "dead_letter", refuses)
    cart = CartFactory(processing=True)

    with pytest.raises(Reject) as rejected:
        handle_event(*poisoned(cart))

    assert rejected.value.requeue is False  # the queue's dead-letter exchange parks it


def test_a_redelivered_batch_goes_on_as_single_events(monkeypatch):
    carts = [CartFactory(processing=True) for _ in range(3)]
    batch = [message(stock_rejected(cart)) for cart in carts]
    sent = []
    monkeypatch.setattr(handle_event, "apply_async", lambda **options: sent.append(options))
    # as the worker sees a message the broker delivers again (Task.apply cannot say so)
    redelivered = SimpleNamespace(delivery_info={"redelivered": True})
    monkeypatch.setattr(type(handle_events._get_current_object()), "request", property(lambda task: redelivered))

    assert handle_events(batch) == {"split": 3}
    assert [options["args"] for options in sent] == batch
    assert {options["queue"] for options in sent} == {get_service("cart").queue}
    assert all(state(cart) == ("processing", True) for cart in carts)  # each runs in its own task


def test_a_raw_dead_letter_is_replayed_exactly_as_it_came(monkeypatch):
    event = poisoned(CartFactory(processing=True))
    handle_event(*event)
    sent = []
    monkeypatch.setattr(dead_letters.current_app, "send_task", lambda name, **kw: sent.append((name, kw)))

    dead_letters.replay(get_service("cart"), dead_letters.pending_dead_letters(get_service("cart")))

    assert sent == [("cart.handle_event", {"args": event, "queue": get_service("cart").queue})]


def test_staff_see_the_raw_message_of_a_dead_letter_jsonb_could_not_take():
    from django.contrib.admin.sites import AdminSite

    from apps.events.admin import DeadLetterAdmin

    event = poisoned(CartFactory(processing=True))
    handle_event(*event)

    shown = DeadLetterAdmin(DeadLetter, AdminSite()).raw_message_text(DeadLetter.objects.using("cart").get())

    assert json.loads(shown) == event


def test_an_event_that_cannot_even_be_dead_lettered_is_set_apart_from_its_batch(monkeypatch):
    real_dead_letter = event_consumer.dead_letter

    def refuses_the_poison(**kwargs):
        if kwargs["attributes"]["event_id"] == batch[1][2]["event_id"]:
            raise DataError("something no code foresaw")
        return real_dead_letter(**kwargs)

    first, poison, last = (CartFactory(processing=True) for _ in range(3))
    batch = [message(stock_rejected(first)), poisoned(poison), message(stock_rejected(last))]
    monkeypatch.setattr(event_consumer, "dead_letter", refuses_the_poison)
    sent = []
    monkeypatch.setattr(handle_event, "apply_async", lambda **options: sent.append(options))

    assert handle_events(batch) == {"processed": 2, "unrecordable": 1}

    assert state(first) == state(last) == ("stock-unavailable", False)
    assert [options["args"] for options in sent] == [batch[1]]  # alone, for the broker to park
