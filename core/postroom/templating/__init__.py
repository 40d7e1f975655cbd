"""Templates: the words of notifications, kept in files an admin can edit.

**Format.** A template is a folder holding one plain file per part::

    templates/
      reminder/
        subject.txt        email subject (made one line)
        text.txt           email text body
        html.html          email html body: the only part whose values are html-escaped
        sms.txt            SMS body
      reminder.fr/         French version: used whole for a French recipient that it
                           can serve, else the base folder; pt-BR tries reminder.pt-BR,
                           reminder.pt, then reminder
      _layouts/email.html  shared files live in folders starting with "_":
      _partials/footer.txt {% extends "_layouts/email.html" %}, {% include ... %}
      _signature/          text.txt and html.html: the organisation's signature,
                           appended to every email unless the send opts out

A part per file was chosen over one file with a block per part because each
file opens in any editor as what it is (text or html), line numbers in
errors are the file's own, a missing part is a missing file that
``validate`` can name, and html escaping follows the file's extension.
Email needs ``subject.txt`` and ``text.txt`` or ``html.html``; SMS needs
``sms.txt``.

**Language.** Jinja in a sandbox (see ``postroom.templating.sandbox``), with
strict undefined variables and the filters of ``postroom.templating.filters``
(``date``, ``time``, ``datetime``, ``money``, ``phone``). A template sees the
send's context, each recipient's own values and ``recipient`` (see
``postroom.templating.recipients``).

**Use.** Make one ``Templates`` and keep it::

    templates = Templates(TemplateSettings(directory=Path("templates")), region="GB")
    people = [Recipient(to="ann@example.org", name="Ann", locale="fr",
                        timezone="Europe/Paris", context={"appointment": when})]
    for rendered in templates.render_many("reminder", "email", people,
                                          context={"clinic": "North Street"}):
        message = rendered.to_message()          # an EmailMessage to Ann
    preview = templates.preview("reminder", context={...}, recipient=people[0])
    print(preview.as_text())                     # every part, SMS segments and cost
    problems = templates.problems()              # what validate reports

Errors in a template raise ``TemplateError``, which names the template
folder, the part, the file when it is a layout or include, and the line.
"""

from postroom.templating.errors import TemplateError
from postroom.templating.folder import PART_FILES, Part, locale_chain
from postroom.templating.preview import Preview, SmsFacts, parse_vars, sms_facts
from postroom.templating.recipients import Recipient
from postroom.templating.render import Rendered
from postroom.templating.sandbox import MAX_PART_CHARS
from postroom.templating.settings import TemplateSettings
from postroom.templating.templates import Templates

__all__ = [
    "MAX_PART_CHARS",
    "PART_FILES",
    "Part",
    "Preview",
    "Recipient",
    "Rendered",
    "SmsFacts",
    "TemplateError",
    "TemplateSettings",
    "Templates",
    "locale_chain",
    "parse_vars",
    "sms_facts",
]
