"""Email: N personalised messages to one local SMTP server, postroom against its peers.

    python bench/email_peers.py [--count 5000] [--rounds 3] [--peers postroom,django,...]
                                [--server sink|postfix-starttls|postfix-plain]
                                [--sink auto|postfix|python] [--batch-size 500] [--concurrency 1]
                                [--apprise-share 0.1]
    python bench/email_peers.py --peer postroom --port 2525 --count 5000 [--profile out.prof]

Every peer renders the same template (name in the subject and the body) for
the same N recipients and sends the messages to the same server, in a fresh
process of its own; the time is end to end, rendering included, and the
server must have counted N more messages afterwards.

The servers (``--server``): ``sink``, an SMTP sink over plain TCP (Postfix's
``smtp-sink``, or ``smtp_sink.py``); ``postfix-starttls``, a real Postfix
smtpd with STARTTLS and a login (SASL through Dovecot), queueing and
discarding what it accepts; ``postfix-plain``, the same Postfix over plain
TCP without login. Every peer logs in and encrypts the same way.

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
  tenth of N by default, and its times are scaled up to N. Sink only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from attrs import frozen
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
from sinks import HOST, PostfixServer, SmtpSink

PEERS = ("postroom", "django", "smtplib", "apprise")
SERVERS = ("sink", "postfix-starttls", "postfix-plain")


@frozen
class Server:
    """How the peers reach the server: ``security`` is ``none`` or ``starttls``;
    with ``user`` they log in (the password comes from $BENCH_SMTP_PASSWORD);
    ``ca_file`` certifies the server; ``sender`` is the address they send as."""

    host: str
    port: int
    security: str = "none"
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    sender: str = SENDER


def send_postroom(server: Server, recipients: list[Person], folder: Path,
                  batch_size: int, concurrency: int = 1) -> int:
    """postroom's whole path: render, enqueue durably, worker, delivery log."""
    from postroom import Engine
    from postroom.templating import Recipient

    templates = write_templates(folder / "templates")
    account = {"provider": "smtp", "host": server.host, "port": server.port,
               "security": server.security, "sender_email": server.sender,
               "sender_name": SENDER_NAME, "local_hostname": EHLO_NAME}
    if server.user:
        account.update(username=server.user, password=server.password)
    if server.ca_file:
        account["tls_ca_file"] = server.ca_file
    engine = Engine.from_dict({
        "region": "GB",
        "store": {"path": str(folder / "outbox.db"), "log": True, "durability": "full"},
        "delivery": {"batch_size": batch_size, "concurrency": concurrency},
        "templates": {"directory": str(templates)},
        "accounts": {"mail": account},
    }, base_dir=folder)

    def run() -> int:
        engine.send("mail", template="renewal", context=SHARED, recipients=[
            Recipient(to=p.email, name=p.name, context={"number": p.number})
            for p in recipients])
        report = engine.run_worker(once=True, wait=0)
        return report.sent

    return run


def send_django(server: Server, recipients: list[Person]):
    """Django's SMTP backend: one connection, ``send_messages`` for the whole list.
    It trusts the server's CA through $SSL_CERT_FILE (its TLS context is Python's
    default one)."""
    from django.conf import settings

    settings.configure(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                       EMAIL_HOST=server.host, EMAIL_PORT=server.port,
                       EMAIL_USE_TLS=server.security == "starttls",
                       EMAIL_HOST_USER=server.user or "",
                       EMAIL_HOST_PASSWORD=server.password or "",
                       DEFAULT_FROM_EMAIL=f"{SENDER_NAME} <{server.sender}>")
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


def send_smtplib(server: Server, recipients: list[Person]):
    """A plain loop: one ``smtplib.SMTP`` connection, one ``sendmail`` per message."""
    import smtplib
    import ssl
    from email.mime.text import MIMEText
    from email.utils import formataddr, formatdate, make_msgid

    def run() -> int:
        templates = jinja_templates()
        sent = 0
        with smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME) as connection:
            if server.security == "starttls":
                connection.starttls(context=ssl.create_default_context(cafile=server.ca_file))
            if server.user:
                connection.login(server.user, server.password)
            for person in recipients:
                data = values(person)
                message = MIMEText(templates["text"].render(data), "plain", "utf-8")
                message["Subject"] = templates["subject"].render(data)
                message["From"] = formataddr((SENDER_NAME, server.sender))
                message["To"] = formataddr((person.name, person.email))
                message["Date"] = formatdate(localtime=True)
                message["Message-ID"] = make_msgid(domain="example.org")
                connection.sendmail(server.sender, [person.email], message.as_bytes())
                sent += 1
        return sent

    return run


def send_apprise(server: Server, recipients: list[Person]):
    """Apprise's ``mailto://``: plain SMTP (``mode=insecure``) to the sink's port."""
    import apprise

    def run() -> int:
        templates = jinja_templates()
        sent = 0
        for person in recipients:
            data = values(person)
            notifier = apprise.Apprise()
            # mailto:// is plain SMTP; host:port is the server, the path the recipient.
            notifier.add(f"mailto://{server.host}:{server.port}/{person.email}?mode=insecure"
                         f"&format=text&from={server.sender}"
                         f"&name={SENDER_NAME.replace(' ', '+')}")
            if notifier.notify(body=templates["text"].render(data),
                               title=templates["subject"].render(data)):
                sent += 1
        return sent

    return run


def one_peer(args: argparse.Namespace) -> None:
    """Run ``args.peer`` once (in this fresh process) and print its time as JSON."""
    recipients = people(args.count)
    server = Server(args.host, args.port, args.security, args.user,
                    os.environ.get("BENCH_SMTP_PASSWORD"), args.ca_file, args.sender)
    with tempfile.TemporaryDirectory() as tmp:
        if args.peer == "postroom":
            run = send_postroom(server, recipients, Path(tmp), args.batch_size,
                                args.concurrency)
        else:
            run = globals()[f"send_{args.peer}"](server, recipients)
        print(json.dumps(timed(run, args.profile)))


def _server(kind: str, sink_kind: str) -> SmtpSink | PostfixServer:
    if kind == "sink":
        return SmtpSink(sink_kind)
    return PostfixServer("starttls" if kind == "postfix-starttls" else "none")


def measure(count: int, rounds: int, peers: list[str], sink_kind: str = "auto",
            batch_size: int = 500, apprise_share: float = 0.1, log=print,
            server: str = "sink", concurrency: int = 1) -> Results:
    """Every peer once per round against one server; times and server counts checked.

    Apprise takes about 40 ms a message (a connection, and a TLS context
    loaded from the system's CA store, per notification): it sends
    ``apprise_share`` of N each round and its times are scaled up to N.
    Targets: against the sink, postroom at least 2x Django and 1.2x the
    smtplib loop; against Postfix with STARTTLS, at least 2x Django.
    """
    targets = ({"django": 2.0, "smtplib": 1.2} if server == "sink" else
               {"django": 2.0, "smtplib": None} if server == "postfix-starttls" else
               {"django": None, "smtplib": None})
    workload = {"sink": "email", "postfix-starttls": "email, Postfix, STARTTLS + login",
                "postfix-plain": "email, Postfix, plain"}[server]
    results = Results(workload, count, targets=targets)
    with _server(server, sink_kind) as running:
        results.notes.append(f"server: {running.kind}; postroom batch_size {batch_size}, "
                             f"concurrency {concurrency}")
        results.run_rounds(Path(__file__), peers, rounds, running,
                           [*running.peer_arguments(), "--batch-size", str(batch_size),
                            "--concurrency", str(concurrency)],
                           apprise_share, "the server counted", timeout=900, log=log,
                           environment=running.environment)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--server", choices=SERVERS, default="sink",
                        help="sink: smtp-sink over plain TCP; postfix-starttls, postfix-plain: "
                             "a private Postfix (root only)")
    parser.add_argument("--sink", choices=["auto", "postfix", "python"], default="auto",
                        help="which SMTP sink, for --server sink")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="postroom's [delivery] batch_size")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="postroom's [delivery] concurrency: batches sent at once")
    parser.add_argument("--apprise-share", type=float, default=0.1,
                        help="the part of N Apprise sends (its time is scaled up); 1 for all")
    parser.add_argument("--peer", choices=PEERS, help="run one peer once (used internally)")
    parser.add_argument("--port", type=int, help="the server's port, with --peer")
    parser.add_argument("--host", default=HOST, help="the server's name, with --peer")
    parser.add_argument("--security", choices=["none", "starttls"], default="none",
                        help="with --peer")
    parser.add_argument("--user", help="with --peer: log in as this user (the password "
                                       "comes from $BENCH_SMTP_PASSWORD)")
    parser.add_argument("--ca-file", help="with --peer: the CA that certifies the server")
    parser.add_argument("--sender", default=SENDER, help="with --peer: send as this address")
    parser.add_argument("--profile", type=Path, help="with --peer: cProfile to this file")
    args = parser.parse_args()
    if args.peer:
        one_peer(args)
        return
    results = measure(args.count, args.rounds, args.peers.split(","), args.sink,
                      args.batch_size, args.apprise_share, server=args.server,
                      concurrency=args.concurrency)
    print(results.table())


if __name__ == "__main__":
    main()
