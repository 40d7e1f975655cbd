"""Providers shipped inside the core, so postroom runs with no server and no credentials.

- ``email_file`` writes each email as an ``.eml`` file into a folder.
- ``sms_file`` appends each text message as a JSON line to a file.
"""

from postroom.providers import email_file, sms_file

BUILTIN_PROVIDERS = [(email_file, ["email_file"]), (sms_file, ["sms_file"])]
