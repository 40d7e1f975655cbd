"""Every benchmark in one run, peers side by side: ``make bench`` runs this.

    python bench/run.py [--quick]
                        [--only email,email-tls,email-postfix,sms,sms-at-once,outbox,workers]
                        [--markdown results.md] [--json results.json]

1. email: 5,000 templated messages to one SMTP sink over plain TCP;
   postroom, Django, smtplib, Apprise (targets: postroom at least 2x as fast
   as Django and 1.2x as fast as the smtplib loop);
   email-tls: the same to a real Postfix smtpd with STARTTLS and a login,
   queueing and discarding; postroom, Django, smtplib (targets: 2x Django,
   and at least 70 % of postroom's own rate over plain TCP to that Postfix);
   email-postfix: the same Postfix over plain TCP, for that comparison
   (the Postfix runs need root, as the tests' private Postfix does);
2. sms: 2,000 templated messages to the fake Nexmo API answering after
   10 ms, a conservative stand-in for the real API's distance; postroom, the
   vonage SDK, requests, Apprise (target: 2x the vonage SDK);
3. sms-at-once: the same with every answer at once, where no client has
   anything to overlap and each is bound by its own CPU (shown, no target);
4. outbox: 100,000 messages enqueued (target 20,000/s) and drained by 1 and 4
   workers, on SQLite and on PostgreSQL, with the worker's peak memory
   (target: flat, under 150 MB); beside it procrastinate deferring as many
   jobs into PostgreSQL (target: postroom's enqueue at least 2x its rate);
5. workers: 1, 2, 4 and 8 worker processes to an SMTP server taking 10 ms a
   message, without a limit (target: 4 workers at least 3x one) and under
   ``per_second`` (target: within 2 % of it, never above).

Peers alternate within each round and rounds rotate their order; the tables
give medians, spread and the ratio of each peer's time to postroom's. The
machine, the date and the versions head the report. ``--quick`` runs a
tenth of every N, once, to check that everything works.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import email_peers
import outbox
import sms_peers
import workers
from common import Results
from sinks import PostfixServer, SmtpSink

PACKAGES = ("postroom", "Django", "apprise", "vonage", "vonage-sms", "vonage-http-client",
            "requests", "urllib3", "Jinja2", "psycopg", "procrastinate")
STORES = ("sqlite", "postgres")
WORKLOADS = ("email", "email-tls", "email-postfix", "sms", "sms-at-once", "outbox", "workers")
POSTFIX_LANES = 4
EMAIL_SERVERS = {"email": "sink", "email-tls": "postfix-starttls",
                 "email-postfix": "postfix-plain"}
TLS_SHARE_TARGET = 0.7  # postroom over STARTTLS + login, against its own plain rate
OUTBOX_TARGET_PER_SECOND = 20_000
OUTBOX_TARGET_MB = 150


def machine() -> list[str]:
    """Date, CPU, cores, Python and the versions of postroom and the peers."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    with SmtpSink() as sink:
        sink_kind = sink.kind
    return [f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"machine: {model}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, {platform.python_implementation()} "
            f"{platform.python_version()}",
            f"smtp sink: {sink_kind}; mail server: {mail_server_versions()}",
            "versions: " + ", ".join(versions)]


def mail_server_versions() -> str:
    """Postfix's and Dovecot's versions, as the email-tls and email-postfix runs use them."""
    found = []
    for command, name in ((["postconf", "-dh", "mail_version"], "Postfix"),
                          (["dovecot", "--version"], "Dovecot")):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10,
                                  check=False)
        except OSError:
            found.append(f"{name} (not installed)")
            continue
        found.append(f"{name} {done.stdout.split()[0] if done.stdout.split() else '?'}")
    return ", ".join(found)


def outbox_report(count: int, postgres: str) -> tuple[str, list[str], dict]:
    """Run the outbox benchmark on both stores, with 1 and 4 workers, and the
    procrastinate peer; its table, the verdicts and the raw numbers."""
    runs = {(store, workers): outbox.measure(count, "sms", store, workers, postgres)
            for store in ("sqlite", "postgres") for workers in (1, 4)}
    peer = json.loads(subprocess.run(
        [sys.executable, "procrastinate_peer.py", "--count", str(count), "--postgres", postgres],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parent).stdout)

    def rate(report: dict) -> str:
        return f"{report['per_second']:,.0f}/s"

    rows = [("build the messages (number checks)",
             *(f"{runs[store, 1][0]['build_per_second']:,.0f}/s" for store in STORES)),
            ("enqueue them (`Engine.send`, commits of 1,000)",
             *(rate(runs[store, 1][0]) for store in STORES)),
            ("drain, 1 worker (`run_worker`, batches of 500, log on)",
             *(rate(runs[store, 1][1]) for store in STORES)),
            ("drain, 4 worker processes together", *(rate(runs[store, 4][1]) for store in STORES)),
            ("worker memory (1 worker): first tenth, last tenth, peak",
             *("{rss_first_tenth_mb:.0f}, {rss_last_tenth_mb:.0f}, {rss_peak_mb:.0f} MB".format(
                 **runs[store, 1][1]) for store in STORES)),
            ("peer: procrastinate `batch_defer`, 1,000 jobs a call", "", rate(peer))]
    table = "\n".join([f"| outbox: N = {count:,} SMS | SQLite | PostgreSQL |", "|---|---:|---:|",
                       *(f"| {name} | {lite} | {pg} |" for name, lite, pg in rows)])
    verdicts = []
    for store in STORES:
        enqueue, drain = runs[store, 1]
        verdicts.append(f"outbox enqueue ({store}): {enqueue['per_second']:,.0f}/s "
                        f"(target >= {OUTBOX_TARGET_PER_SECOND:,}/s): "
                        + ("met" if enqueue["per_second"] >= OUTBOX_TARGET_PER_SECOND
                           else "MISSED"))
        growth = drain["rss_last_tenth_mb"] - drain["rss_first_tenth_mb"]
        verdicts.append(f"outbox drain memory ({store}): peak {drain['rss_peak_mb']:.0f} MB, "
                        f"{growth:+.0f} MB from the first tenth to the last (target: flat, "
                        f"under {OUTBOX_TARGET_MB} MB): "
                        + ("met" if drain["rss_peak_mb"] < OUTBOX_TARGET_MB
                           and growth <= 0.1 * drain["rss_first_tenth_mb"] else "MISSED"))
    ratio = runs["postgres", 1][0]["per_second"] / peer["per_second"]
    verdicts.append(f"PostgreSQL enqueue against procrastinate's batch_defer: {ratio:.2f}x "
                    "(target >= 2x): " + ("met" if ratio >= 2 else "MISSED"))
    raw = {f"{store}, {workers} workers": reports for (store, workers), reports in runs.items()}
    return table, verdicts, {**raw, "procrastinate": peer}

def verdicts_of(results: Results) -> list[str]:
    return [f"{results.title()}: {line}" for line in results.verdicts()]


def tls_share(tls: Results, plain: Results) -> str:
    """postroom's rate over STARTTLS + login as a share of its rate over plain TCP."""
    share = plain.median("postroom") / tls.median("postroom")
    return (f"email: postroom over STARTTLS + login runs at {share:.0%} of its rate over "
            f"plain TCP to the same Postfix (target >= {TLS_SHARE_TARGET:.0%}): "
            + ("met" if share >= TLS_SHARE_TARGET else "MISSED"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of each N, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--postgres", default=outbox.DEFAULT_POSTGRES, metavar="URL",
                        help="the PostgreSQL database of the outbox workload (a schema of "
                             "its own is made and dropped)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    rounds = 1 if args.quick else args.rounds
    # Against Postfix, which shares the cores with the peers, a peer's time moves by
    # half from run to run on a 2-core machine: two more rounds steady the medians.
    postfix_rounds = 1 if args.quick else args.rounds + 2
    chosen = args.only.split(",")
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown:
        parser.error(f"--only: no workload {', '.join(unknown)}; choose from "
                     f"{','.join(WORKLOADS)}")
    started = time.monotonic()

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    header = machine()
    for line in header:
        log(line)
    sections, verdicts, raw = [], [], {"machine": header}
    emailed = {}
    for workload, server in EMAIL_SERVERS.items():
        if workload not in chosen:
            continue
        if server != "sink" and (reason := PostfixServer.unavailable()):
            log(f"{workload}: skipped: {reason}")
            verdicts.append(f"{workload}: not run: {reason}")
            continue
        log(f"{workload} ...")
        # Apprise speaks plain SMTP to the sink only.
        peers = list(email_peers.PEERS) if server == "sink" else ["postroom", "django",
                                                                   "smtplib"]
        # A real Postfix's smtpd serves one session at a time: postroom sends over four
        # ([delivery] concurrency = 4), as a site sending bulk to its own server would.
        results = email_peers.measure(int(5000 * scale),
                                      rounds if server == "sink" else postfix_rounds,
                                      peers, apprise_share=0.1, log=log, server=server,
                                      concurrency=1 if server == "sink" else POSTFIX_LANES)
        sections.append(results.table())
        verdicts.extend(verdicts_of(results))
        raw[workload] = results.as_json()
        emailed[workload] = results
    if {"email-tls", "email-postfix"} <= emailed.keys():
        verdicts.append(tls_share(emailed["email-tls"], emailed["email-postfix"]))
    if "sms" in chosen:
        log(f"sms, answers after {sms_peers.API_LATENCY * 1000:g} ms ...")
        # Two rounds: the sequential peers take over 20 s each here.
        results = sms_peers.measure(int(2000 * scale), min(rounds, 2), list(sms_peers.PEERS),
                                    apprise_share=0.1, log=log)
        sections.append(results.table())
        verdicts.extend(verdicts_of(results))
        raw["sms"] = results.as_json()
    if "sms-at-once" in chosen:
        log("sms, answers at once ...")
        results = sms_peers.measure(int(2000 * scale), rounds, list(sms_peers.PEERS),
                                    latency=0.0, apprise_share=1.0, log=log)
        sections.append(results.table())
        verdicts.extend(verdicts_of(results))
        raw["sms-at-once"] = results.as_json()
    if "outbox" in chosen:
        log("outbox: SQLite and PostgreSQL, 1 and 4 workers, procrastinate ...")
        text, outbox_verdicts, numbers = outbox_report(int(100_000 * scale), args.postgres)
        sections.append(text)
        verdicts.extend(outbox_verdicts)
        raw["outbox"] = numbers
    if "workers" in chosen:
        log("workers ...")
        numbers = workers.measure((int(2000 * scale), int(600 * scale)), [1, 2, 4, 8],
                                  workers.DELAY, workers.RATE, workers.BURST, 1, log=log)
        table, workers_verdicts = workers.describe(numbers, workers.DELAY)
        sections.append(table)
        verdicts.extend(workers_verdicts)
        raw["workers"] = numbers
    minutes = (time.monotonic() - started) / 60
    report = "\n".join(
        ["\n".join(f"- {line}" for line in header), "", *("\n\n".join(sections),), "",
         "\n".join(f"- {line}" for line in verdicts), "",
         f"(the whole run took {minutes:.1f} minutes)"])
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
