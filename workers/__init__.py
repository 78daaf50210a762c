"""The processes that move messages: the outbox relay (relay, redrive) and the Pub/Sub -> Celery bridge.

A Django app for their commands, `manage.py run_relay` and `manage.py run_bridge`: the project
package (shop) does not import the workers. It has no models.
"""
