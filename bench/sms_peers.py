"""SMS: N personalised messages to a local HTTPS stand-in for the Nexmo API.

    python bench/sms_peers.py [--count 2000] [--rounds 3] [--peers postroom,vonage,...]
                              [--latency 0] [--apprise-share 0.1]
    python bench/sms_peers.py --peer postroom --url https://127.0.0.1:PORT --ca ca.pem ...

Every peer renders the same template (the name in the text) for the same N
numbers and posts them to ``nexmo_sink.py``, in a fresh process of its own;
the time is end to end, rendering included, and the fake API must have
accepted N more messages afterwards.

- ``postroom``: ``Engine.send(template=..., recipients=...)`` (durable SQLite
  outbox, delivery log on), ``run_worker(once=True, wait=0)`` through the
  nexmo plugin: keep-alive HTTPS, ``connections`` requests in flight, under
  the account's ``rate_per_second`` with a burst of a whole batch.
- ``vonage``: the official SDK (v4), ``Vonage(Auth(key, secret),
  HttpClientOptions(rest_host=...)).sms.send(SmsMessage(...))`` per message.
- ``requests``: a plain loop of ``Session.post`` to ``/sms/json``, reading each answer.
- ``apprise``: ``vonage://key:secret@FROM/TO`` per message. Apprise's Vonage
  plugin has a fixed endpoint (``NotifyVonage.notify_url``, no URL option);
  this script points that class attribute at the fake, in its own process only.

The fake holds each answer back ``--latency`` seconds, 10 ms unless told: the
real API is tens of milliseconds and more away, and the time a client spends
waiting for it is what keep-alive and requests in flight save. ``--latency 0``
answers at once; then there is nothing to overlap, every client is bound by
its own CPU, and the run measures the cost of the HTTP stack (see README).
The target (postroom at least twice as fast as the SDK) is judged on the run
with latency; the run at once is shown beside it without a target.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from common import (
    SHARED,
    SMS_SENDER,
    SMS_SENDER_NUMBER,
    Person,
    Results,
    jinja_templates,
    people,
    timed,
    values,
    write_templates,
)
from nexmo_sink import API_KEY, API_SECRET
from sinks import NexmoSink

PEERS = ("postroom", "vonage", "requests", "apprise")
# The bench account's request limit. Vonage's default is 30 a second (more on
# request); at that rate 2,000 messages take 67 s whoever sends them, so the
# limit is set where it does not bind and the clients' own costs show.
RATE_PER_SECOND = 2000
CONNECTIONS = 4
# How long the fake API takes to answer: a conservative stand-in for the real
# one, which is tens of milliseconds away from any customer's server.
API_LATENCY = 0.010
TARGET = 2.0  # postroom at least this many times as fast as the vonage SDK


def send_postroom(url: str, ca: str, recipients: list[Person], folder: Path,
                  batch_size: int, connections: int = CONNECTIONS):
    """postroom's whole path: render, enqueue durably, worker, delivery log."""
    from postroom import Engine
    from postroom.templating import Recipient

    templates = write_templates(folder / "templates")
    engine = Engine.from_dict({
        "region": "GB",
        "store": {"path": str(folder / "outbox.db"), "log": True, "durability": "full"},
        "delivery": {"batch_size": batch_size},
        "templates": {"directory": str(templates)},
        "accounts": {"texts": {"provider": "nexmo", "api_key": API_KEY,
                               "api_secret": API_SECRET, "sender": SMS_SENDER,
                               "base_url": url, "ca_bundle": ca,
                               "rate_per_second": RATE_PER_SECOND,
                               "connections": connections,
                               # A whole batch at once: the limit is not to bind here.
                               "schedule": {"burst": batch_size}}},
    }, base_dir=folder)

    def run() -> int:
        engine.send("texts", template="renewal", context=SHARED, recipients=[
            Recipient(to=p.phone, name=p.name, context={"number": p.number})
            for p in recipients])
        return engine.run_worker(once=True, wait=0).sent

    return run


def send_vonage(url: str, ca: str, recipients: list[Person]):
    """The official SDK, one ``sms.send`` per message, as its README shows."""
    from vonage import Auth, HttpClientOptions, Vonage
    from vonage_sms import SmsMessage

    # The SDK's session trusts the CA through requests' environment variable.
    os.environ["REQUESTS_CA_BUNDLE"] = ca
    client = Vonage(Auth(api_key=API_KEY, api_secret=API_SECRET),
                    HttpClientOptions(rest_host=url.removeprefix("https://")))

    def run() -> int:
        template = jinja_templates()["sms"]
        sent = 0
        for person in recipients:
            answer = client.sms.send(SmsMessage(to=person.phone.removeprefix("+"),
                                                from_=SMS_SENDER,
                                                text=template.render(values(person))))
            sent += answer.messages[0].status == "0"
        return sent

    return run


def send_requests(url: str, ca: str, recipients: list[Person]):
    """A plain ``requests.Session`` loop: one keep-alive connection, one POST each."""
    import requests

    def run() -> int:
        template = jinja_templates()["sms"]
        sent = 0
        with requests.Session() as session:
            for person in recipients:
                # verify per request: a session's own is overridden by $REQUESTS_CA_BUNDLE.
                answer = session.post(f"{url}/sms/json", timeout=10, verify=ca, data={
                    "api_key": API_KEY, "api_secret": API_SECRET, "from": SMS_SENDER,
                    "to": person.phone.removeprefix("+"), "text": template.render(values(person))})
                answer.raise_for_status()
                sent += all(m["status"] == "0" for m in answer.json()["messages"])
        return sent

    return run


def send_apprise(url: str, ca: str, recipients: list[Person]):
    """Apprise's ``vonage://``, its fixed endpoint pointed at the fake."""
    import apprise
    from apprise.plugins.vonage import NotifyVonage

    NotifyVonage.notify_url = f"{url}/sms/json"  # no setting for it: a class attribute
    os.environ["REQUESTS_CA_BUNDLE"] = ca  # Apprise posts with requests.post, verify=True

    def run() -> int:
        template = jinja_templates()["sms"]
        sent = 0
        for person in recipients:
            notifier = apprise.Apprise()
            notifier.add(f"vonage://{API_KEY}:{API_SECRET}@{SMS_SENDER_NUMBER}/"
                         f"{person.phone.removeprefix('+')}")
            sent += bool(notifier.notify(body=template.render(values(person))))
        return sent

    return run


def one_peer(args: argparse.Namespace) -> None:
    """Run ``args.peer`` once (in this fresh process) and print its time as JSON."""
    recipients = people(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        if args.peer == "postroom":
            run = send_postroom(args.url, args.ca, recipients, Path(tmp), args.batch_size,
                                args.connections)
        else:
            run = globals()[f"send_{args.peer}"](args.url, args.ca, recipients)
        print(json.dumps(timed(run, args.profile)))


def measure(count: int, rounds: int, peers: list[str], latency: float = API_LATENCY,
            batch_size: int = 500, apprise_share: float = 0.1, log=print,
            connections: int = CONNECTIONS) -> Results:
    """Every peer once per round against one fake API; times and counts checked.

    Apprise opens a connection (and loads the CA store) per message; it sends
    ``apprise_share`` of N each round and its time is scaled up to N.
    """
    name = f"sms, answers after {latency * 1000:g} ms" if latency else "sms, answers at once"
    # With no latency there is nothing for requests in flight to overlap: that
    # run compares the clients' CPU and is shown without the target.
    results = Results(name, count, targets={"vonage": TARGET if latency else None})
    with tempfile.TemporaryDirectory() as tmp, NexmoSink(Path(tmp), latency) as api:
        results.notes.append(f"fake API latency {latency * 1000:g} ms; postroom batch_size "
                             f"{batch_size}, {connections} connections, rate limit "
                             f"{RATE_PER_SECOND}/s")
        results.run_rounds(Path(__file__), peers, rounds, api,
                           ["--url", api.url, "--ca", str(api.ca_file), "--batch-size",
                            str(batch_size), "--connections", str(connections)],
                           apprise_share, "the API accepted", timeout=600, log=log)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--latency", type=float, default=API_LATENCY,
                        help="seconds the fake API holds each answer back (0: at once)")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="postroom's [delivery] batch_size")
    parser.add_argument("--connections", type=int, default=CONNECTIONS,
                        help="the nexmo account's connections (requests in flight)")
    parser.add_argument("--apprise-share", type=float, default=0.1,
                        help="the part of N Apprise sends (scaled up); 1 for all")
    parser.add_argument("--peer", choices=PEERS, help="run one peer once (used internally)")
    parser.add_argument("--url", help="with --peer: the fake API's base URL")
    parser.add_argument("--ca", help="with --peer: the fake API's CA (PEM)")
    parser.add_argument("--profile", type=Path, help="with --peer: cProfile to this file")
    args = parser.parse_args()
    if args.peer:
        one_peer(args)
        return
    results = measure(args.count, args.rounds, args.peers.split(","), args.latency,
                      args.batch_size, args.apprise_share, connections=args.connections)
    print(results.table())


if __name__ == "__main__":
    main()
