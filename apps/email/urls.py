"""The email service has no resources of its own on HTTP: it works from events (health, schema, admin only)."""

urlpatterns: list = []
