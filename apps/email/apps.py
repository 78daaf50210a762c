from django.apps import AppConfig


class EmailConfig(AppConfig):
    name = "apps.email"
    label = "email"
    verbose_name = "Email service: outgoing email"
