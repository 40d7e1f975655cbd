"""The admin pages, one module each; every one reads and acts through the ``Engine``.

A module exposes ``page``, a ``postroom.web.site.Page``; ``postroom.web.app.PAGES``
lists them in menu order.
"""
