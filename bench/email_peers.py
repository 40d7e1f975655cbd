"""Email: N personalised messages to one local SMTP sink, postroom against its peers.

    python bench/email_peers.py [--count 5000] [--rounds 3] [--peers postroom,django,...]
                                [--sink auto|postfix|python] [--batch-size 500]
                                [--apprise-share 0.1]
    python bench/email_peers.py --peer postroom --port 2525 --count 5000 [--profile out.prof]

Every peer renders the same template (name in the subject and the body) for
the same N recipients and sends the messages to the same sink, in a fresh
process of its own; the time is end to end, rendering included, and the sink
must have counted N more messages afterwards.

- ``postroom``: ``Engine.send(template=..., recipients=...)`` (sandboxed Jinja
  from a template folder; enqueued durably in SQLite, ``durability = "full"``,
  delivery log on), then ``run_worker(once=True, wait=0)`` through the smtp
  plugin, one SMTP session per batch of ``--batch-size``.
- ``django``: ``EmailMessage`` for each (text rendered with plain Jinja),
  ``get_connection().send_messages(messages)``: one connection, no queue, no log.
- ``smtplib``: ``MIMEText`` (compat32, as Django and postroom build theirs)
  and ``sendmail`` in a loop on one ``smtplib.SMTP`` connection.
- ``apprise``: one ``mailto://`` notification per recipient (the URL names
  the recipient, so each is its own Apprise object: Apprise opens one SMTP
  connection per notification; reusing one object would wait 5.5 s between
  notifications, its default throttle). At about 40 ms a message it sends a
  tenth of N by default, and its times are scaled up to N.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import (
    EHLO_NAME,
    SENDER,
    SENDER_NAME,
    SHARED,
    Person,
    Results,
    jinja_templates,
    people,
    timed,
    values,
    write_templates,
)
from sinks import HOST, SmtpSink

PEERS = ("postroom", "django", "smtplib", "apprise")


def send_postroom(port: int, recipients: list[Person], folder: Path,
                  batch_size: int) -> int:
    """postroom's whole path: render, enqueue durably, worker, delivery log."""
    from postroom import Engine
    from postroom.templating import Recipient

    templates = write_templates(folder / "templates")
    engine = Engine.from_dict({
        "region": "GB",
        "store": {"path": str(folder / "outbox.db"), "log": True, "durability": "full"},
        "delivery": {"batch_size": batch_size},
        "templates": {"directory": str(templates)},
        "accounts": {"mail": {"provider": "smtp", "host": HOST, "port": port,
                              "security": "none", "sender_email": SENDER,
                              "sender_name": SENDER_NAME, "local_hostname": EHLO_NAME}},
    }, base_dir=folder)

    def run() -> int:
        engine.send("mail", template="renewal", context=SHARED, recipients=[
            Recipient(to=p.email, name=p.name, context={"number": p.number})
            for p in recipients])
        report = engine.run_worker(once=True, wait=0)
        return report.sent

    return run


def send_django(port: int, recipients: list[Person]):
    """Django's SMTP backend: one connection, ``send_messages`` for the whole list."""
    from django.conf import settings

    settings.configure(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                       EMAIL_HOST=HOST, EMAIL_PORT=port, EMAIL_USE_TLS=False,
                       DEFAULT_FROM_EMAIL=f"{SENDER_NAME} <{SENDER}>")
    from django.core.mail import EmailMessage, get_connection

    def run() -> int:
        templates = jinja_templates()
        messages = []
        for person in recipients:
            data = values(person)
            messages.append(EmailMessage(templates["subject"].render(data),
                                         templates["text"].render(data),
                                         to=[f"{person.name} <{person.email}>"]))
        return get_connection().send_messages(messages)

    return run


def send_smtplib(port: int, recipients: list[Person]):
    """A plain loop: one ``smtplib.SMTP`` connection, one ``sendmail`` per message."""
    import smtplib
    from email.mime.text import MIMEText
    from email.utils import formataddr, formatdate, make_msgid

    def run() -> int:
        templates = jinja_templates()
        sent = 0
        with smtplib.SMTP(HOST, port, local_hostname=EHLO_NAME) as connection:
            for person in recipients:
                data = values(person)
                message = MIMEText(templates["text"].render(data), "plain", "utf-8")
                message["Subject"] = templates["subject"].render(data)
                message["From"] = formataddr((SENDER_NAME, SENDER))
                message["To"] = formataddr((person.name, person.email))
                message["Date"] = formatdate(localtime=True)
                message["Message-ID"] = make_msgid(domain="example.org")
                connection.sendmail(SENDER, [person.email], message.as_bytes())
                sent += 1
        return sent

    return run


def send_apprise(port: int, recipients: list[Person]):
    """Apprise's ``mailto://``: plain SMTP (``mode=insecure``) to the sink's port."""
    import apprise

    def run() -> int:
        templates = jinja_templates()
        sent = 0
        for person in recipients:
            data = values(person)
            notifier = apprise.Apprise()
            # mailto:// is plain SMTP; host:port is the server, the path the recipient.
            notifier.add(f"mailto://{HOST}:{port}/{person.email}?mode=insecure&format=text"
                         f"&from={SENDER}&name={SENDER_NAME.replace(' ', '+')}")
            if notifier.notify(body=templates["text"].render(data),
                               title=templates["subject"].render(data)):
                sent += 1
        return sent

    return run


def one_peer(args: argparse.Namespace) -> None:
    """Run ``args.peer`` once (in this fresh process) and print its time as JSON."""
    recipients = people(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        if args.peer == "postroom":
            run = send_postroom(args.port, recipients, Path(tmp), args.batch_size)
        else:
            run = globals()[f"send_{args.peer}"](args.port, recipients)
        print(json.dumps(timed(run, args.profile)))


def measure(count: int, rounds: int, peers: list[str], sink_kind: str = "auto",
            batch_size: int = 500, apprise_share: float = 0.1, log=print) -> Results:
    """Every peer once per round against one sink; times and sink counts checked.

    Apprise takes about 40 ms a message (a connection, and a TLS context
    loaded from the system's CA store, per notification): it sends
    ``apprise_share`` of N each round and its times are scaled up to N.
    """
    results = Results("email", count, reference="django", target=1.5)
    with SmtpSink(sink_kind) as sink:
        results.notes.append(f"sink: {sink.kind}; postroom batch_size {batch_size}")
        results.run_rounds(Path(__file__), peers, rounds, sink,
                           ["--port", str(sink.port), "--batch-size", str(batch_size)],
                           apprise_share, "the sink counted", timeout=900, log=log)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--sink", choices=["auto", "postfix", "python"], default="auto")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="postroom's [delivery] batch_size")
    parser.add_argument("--apprise-share", type=float, default=0.1,
                        help="the part of N Apprise sends (its time is scaled up); 1 for all")
    parser.add_argument("--peer", choices=PEERS, help="run one peer once (used internally)")
    parser.add_argument("--port", type=int, help="the sink's port, with --peer")
    parser.add_argument("--profile", type=Path, help="with --peer: cProfile to this file")
    args = parser.parse_args()
    if args.peer:
        one_peer(args)
        return
    results = measure(args.count, args.rounds, args.peers.split(","), args.sink,
                      args.batch_size, args.apprise_share)
    print(results.table())


if __name__ == "__main__":
    main()
