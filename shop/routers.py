"""Route every domain app to its own service's database.

The messaging app (outbox, processed_messages) and the idempotency keys have a table in every
service database and are always used with an explicit ``.using(alias)``; staff accounts, sessions
and the admin log live in "default". Relations across databases are refused.
"""

from shop.registry import SERVICE_BY_APP_LABEL, SERVICES

SHARED_APPS = {"events", "idempotency"}  # a table in every service database


class ServiceRouter:
    def _database_for(self, model) -> str | None:
        service = SERVICE_BY_APP_LABEL.get(model._meta.app_label)
        return service.database if service else None

    def db_for_read(self, model, **hints):
        return self._database_for(model)

    def db_for_write(self, model, **hints):
        return self._database_for(model)

    def allow_relation(self, obj1, obj2, **hints):
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label in SHARED_APPS:
            return db in SERVICES
        service = SERVICE_BY_APP_LABEL.get(app_label)
        if service is not None:
            return db == service.database
        return db == "default"
