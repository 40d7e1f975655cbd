"""Sending through Exchange Online: its limits and refusals, each provoked for real."""

from __future__ import annotations

from loopback.microsoft365 import SEND_AS_DENIED, RecipientRateLimit
from loopback.smtp import Answer, ForAddress

from postroom import Outcome
from postroom_microsoft365.exchange import DAILY_LIMIT_PAUSE


def test_exchanges_limits_are_the_schedules_limits(engine):
    schedule = engine().account("m").schedule

    assert (schedule.per_minute, schedule.daily_cap) == (30, 10_000)


def test_a_looser_schedule_does_not_raise_exchanges_limits(engine):
    schedule = engine(schedule={"per_minute": 100, "daily_cap": 50_000}).account("m").schedule

    assert (schedule.per_minute, schedule.daily_cap) == (30, 10_000)


def test_the_account_may_tighten_the_limits(engine):
    schedule = engine(schedule={"per_minute": 10, "daily_cap": 400}).account("m").schedule

    assert (schedule.per_minute, schedule.daily_cap) == (10, 400)


def test_the_daily_recipient_limit_pauses_the_account_for_a_day(exchange_server, engine,
                                                                 messages):
    server = exchange_server(faults=[RecipientRateLimit(2)])

    results = engine(server).deliver("m", messages(4))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2 + [Outcome.ACCOUNT_STOPPED] * 2
    assert results[2].retry_after == DAILY_LIMIT_PAUSE
    assert "550 5.1.90" in f"{results[2].code} {results[2].text}"
    assert "lower daily_cap" in results[2].text
    assert len(server.received) == 2


def test_a_from_address_the_mailbox_may_not_send_as(exchange_server, engine, messages):
    server = exchange_server(faults=[ForAddress("MAIL", "other@contoso.example",
                                                Answer(SEND_AS_DENIED))])
    batch = messages(1, sender="other@contoso.example") + messages(1)

    results = engine(server).deliver("m", batch)

    assert [r.outcome for r in results] == [Outcome.PERMANENT, Outcome.ACCEPTED]
    assert "grants it Send As" in results[0].text


def test_more_recipients_than_exchange_takes_are_refused_before_connecting(exchange, engine,
                                                                           messages):
    crowd = [f"p{i}@example.org" for i in range(3)]

    results = engine(exchange, max_recipients=2).deliver("m", messages(1, to=crowd)
                                                         + messages(1))

    assert [r.outcome for r in results] == [Outcome.PERMANENT, Outcome.ACCEPTED]
    assert "3 recipients (To, Cc and Bcc together), more than the 2 one Exchange Online " \
           "message may have" in results[0].text
    assert [r.recipients for r in exchange.received] == [("bob@example.org",)]
