"""postroom for Django (``pip install "postroom[django]"``).

::

    INSTALLED_APPS = [..., "postroom.contrib.django"]
    EMAIL_BACKEND = "postroom.contrib.django.EmailBackend"
    POSTROOM = BASE_DIR / "postroom.toml"          # or a dict shaped like postroom.toml

``send_mail``, ``send_mass_mail``, ``EmailMessage`` and
``EmailMultiAlternatives`` then go through postroom's outbox, after the
transaction commits; ``manage.py postroom_worker`` sends them, and
``manage.py postroom ...`` is the ``postroom`` command on the same
configuration. ``engine()`` is the process's one ``Engine`` for everything
else (SMS, templates, events). With the outbox in Django's own PostgreSQL
database, Django's admin shows it and the delivery log, read-only.
"""

from postroom.contrib.django.backend import EmailBackend
from postroom.contrib.django.engine import engine

__all__ = ["EmailBackend", "engine"]
