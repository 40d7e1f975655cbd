"""What one request to the fake Nexmo API costs through each layer of the HTTP stack.

    python bench/http_stack.py [--requests 2000] [--rounds 3]

With the fake answering at once, every SMS client is bound by its own CPU,
and most of that CPU is the HTTP stack they share. This measures one
keep-alive POST of an SMS form, answer read and parsed, through each layer
from the top down, in one process against one fake API (``nexmo_sink.py``),
the layers taking turns round by round:

- ``requests.Session.post``: what the vonage SDK and a plain loop use;
- ``postroom-nexmo``: the plugin's ``NexmoClient.send_sms`` (the session's
  adapter with a prepared request, as postroom sends);
- ``urllib3``: an ``HTTPSConnectionPool.request``, the layer under requests;
- ``http.client``: the standard library's ``HTTPSConnection``, under urllib3.

The figures say how far a client can get ahead of another by its HTTP layer
alone: the time a layer takes is a floor for any client built on it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from nexmo_sink import API_KEY, API_SECRET
from sinks import NexmoSink

FORM = {"api_key": API_KEY, "api_secret": API_SECRET, "from": "Postroom",
        "to": "447700900123", "text": "Hello Ada, your membership 1042 renews on 1 December."}


def via_requests(url: str, ca: str) -> Callable[[], dict]:
    import requests

    session = requests.Session()

    def post() -> dict:
        answer = session.post(f"{url}/sms/json", data=FORM, timeout=10, verify=ca)
        answer.raise_for_status()
        return answer.json()

    return post


def via_plugin(url: str, ca: str) -> Callable[[], dict]:
    from postroom import Engine
    from postroom_nexmo.client import NexmoClient

    engine = Engine.from_dict({"accounts": {"texts": {
        "provider": "nexmo", "api_key": API_KEY, "api_secret": API_SECRET,
        "sender": "Postroom", "base_url": url, "ca_bundle": ca}}})
    client = NexmoClient(engine.account("texts").config)
    form = {key: value for key, value in FORM.items() if not key.startswith("api_")}
    return lambda: client.send_sms(form)


def via_urllib3(url: str, ca: str) -> Callable[[], dict]:
    import urllib3

    address = urlsplit(url)
    pool = urllib3.HTTPSConnectionPool(address.hostname, address.port, ca_certs=ca,
                                       cert_reqs="CERT_REQUIRED", maxsize=1)
    body = urlencode(FORM)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def post() -> dict:
        answer = pool.request("POST", "/sms/json", body=body, headers=headers, retries=False,
                              timeout=10)
        return json.loads(answer.data)

    return post


def via_http_client(url: str, ca: str) -> Callable[[], dict]:
    address = urlsplit(url)
    connection = http.client.HTTPSConnection(
        address.hostname, address.port, timeout=10,
        context=ssl.create_default_context(cafile=ca))
    body = urlencode(FORM)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def post() -> dict:
        connection.request("POST", "/sms/json", body=body, headers=headers)
        return json.loads(connection.getresponse().read())

    return post


LAYERS = {"requests.Session.post": via_requests, "postroom-nexmo": via_plugin,
          "urllib3": via_urllib3, "http.client": via_http_client}


def measure(requests_per_round: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds a request, per layer and round."""
    times: dict[str, list[float]] = {name: [] for name in LAYERS}
    with tempfile.TemporaryDirectory() as tmp, NexmoSink(Path(tmp)) as api:
        posts = {name: make(api.url, str(api.ca_file)) for name, make in LAYERS.items()}
        for name, post in posts.items():  # connect and warm up outside the timing
            if post()["messages"][0]["status"] != "0":
                raise RuntimeError(f"{name}: the fake API refused the request")
        for round_number in range(rounds):
            names = list(posts)
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                post = posts[name]
                started = time.perf_counter()
                for _ in range(requests_per_round):
                    post()
                elapsed = time.perf_counter() - started
                times[name].append(elapsed / requests_per_round * 1e6)
    return times


def table(times: dict[str, list[float]]) -> str:
    base = statistics.median(times["requests.Session.post"])
    lines = ["| layer (one keep-alive POST, answer parsed) | median µs | min-max µs "
             "| / requests.Session.post |", "|---|---:|---:|---:|"]
    for name, samples in times.items():
        median = statistics.median(samples)
        lines.append(f"| {name} | {median:,.0f} | {min(samples):,.0f}-{max(samples):,.0f} | "
                     f"{median / base:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests a layer a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(table(measure(args.requests, args.rounds)))


if __name__ == "__main__":
    main()
