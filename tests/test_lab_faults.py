"""Fault injection: refused logins, dropped connections, stalls, failed originates."""

from __future__ import annotations

import time

import pytest

from test_lab_rawami import RawAmi


def _originate(c, number="79061234561", **extra):
    resp, seen = c.action("Originate", Channel=f"Local/{number}@sim-pstn", Context="from-dialer", Exten="s",
                          Priority="1", Async="true", Timeout="10000", **extra)
    return resp


def test_refused_logins(lab_pbx):
    lab_pbx.faults.refuse_logins(1)
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    assert c.login()["Message"] == "Authentication failed"
    c.close()
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    assert c.login()["Message"] == "Authentication accepted"
    c.close()


def test_drop_all_connections(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login()
    assert lab_pbx.faults.drop_connections() == 1
    with pytest.raises((ConnectionError, OSError)):
        c.read(2)
        c.read(2)


def test_drop_after_n_actions(lab_pbx):
    lab_pbx.faults.drop_after(2)
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login()
    c.send("Ping")
    with pytest.raises((ConnectionError, OSError)):
        for _ in range(3):
            c.read(2)
    lab_pbx.faults.drop_after(None)
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login()
    assert c.action("Ping")[0]["Ping"] == "Pong"


def test_stall_delays_replies(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login()
    lab_pbx.faults.stall(0.5)
    t0 = time.monotonic()
    resp, _ = c.action("Ping")
    assert resp["Ping"] == "Pong" and time.monotonic() - t0 >= 0.45


def test_failed_originates_error_then_silent(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login()
    lab_pbx.faults.fail_originates(1)
    resp = _originate(c)
    assert (resp["Response"], resp["Message"]) == ("Error", "Originate failed")
    assert lab_pbx.active_calls() == 0
    lab_pbx.faults.fail_originates(1, mode="silent")
    resp = _originate(c, ActionID="silent-1")
    assert resp["Message"] == "Originate successfully queued"
    seen = []
    with pytest.raises(TimeoutError):
        while True:
            seen.append(c.read(0.3))
    assert seen == [] and lab_pbx.active_calls() == 0  # never any OriginateResponse
    resp = _originate(c, ActionID="ok-1")
    assert resp["Response"] == "Success"
    ev = c.until(lambda m: m.get("Event") == "OriginateResponse")[-1]
    assert ev["ActionID"] == "ok-1"


def test_failed_originates_at_a_rate(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login(Events="off")
    lab_pbx.faults.fail_originates(rate=1.0)
    assert all(_originate(c, "79061234562")["Response"] == "Error" for _ in range(5))
    lab_pbx.faults.clear()
    assert _originate(c, "79061234562")["Response"] == "Success"
