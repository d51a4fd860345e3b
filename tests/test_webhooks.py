"""Webhooks against a real HTTP server on 127.0.0.1: signed JSON bodies, retries with
backoff, the server down and back, dead letters from the API and the command line, and
``resilience watch``."""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from resilience import Engine, InvalidInputError, ManualClock, Notice, Undeliverable, Webhook
from resilience.adapters.webhooks import shown_url, sign, verify
from resilience.cli import main
from resilience.domain.escalated import told_text
from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.domain.incident import Incident
from test_notifications import notice_keys, record_incidents

from conftest import OFFICE, T0, donghu

SECRET = "s3cret"


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread of its own, keeping every request it got
    and answering each with the next status of ``statuses`` (then 200); ``posted`` is set
    once a request came. ``stop()`` closes its port (connections are refused); ``start()``
    opens the same port again."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.posted = threading.Event()
        self.port = 0
        self.server: http.server.ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/resilience?token=abc"

    def start(self) -> None:
        receiver = self

        class Handle(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                receiver.posted.set()
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handle)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def notices(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


class Pauses(list[float]):
    """A webhook's ``sleep``: keeps the pauses asked for instead of pausing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_each_notice_is_posted_as_signed_json_the_receiver_can_verify(
        engine: Engine, receiver: Receiver) -> None:
    """The body is the notice's ``to_dict()``; its key and kind are headers; the signature
    verifies with the secret over the raw body, and not with another secret."""
    incidents = record_incidents(engine, donghu(engine), 2)
    got: list[Notice] = []
    hook = Webhook(receiver.url, SECRET, sleep=Pauses())

    def both(notice: Notice) -> None:
        got.append(notice)
        hook(notice)

    assert engine.subscribe("app", both).deliver() == 4
    assert [n["key"] for n in receiver.notices()] == notice_keys(engine, *incidents)
    for (headers, body), notice in zip(receiver.requests, got, strict=True):
        assert json.loads(body) == notice.to_dict()
        assert Notice.from_dict(json.loads(body)) == notice
        assert headers["X-Resilience-Key"] == notice.key
        assert headers["X-Resilience-Kind"] == notice.kind
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert verify(SECRET, body, headers["X-Resilience-Signature"])
        assert not verify("another", body, headers["X-Resilience-Signature"])
        assert not verify(SECRET, body + b" ", headers["X-Resilience-Signature"])
        assert not verify(SECRET, body, None)


def test_a_server_error_is_retried_with_doubling_pauses_until_taken(
        memory_engine: Engine, receiver: Receiver) -> None:
    """500, 502 then 200: delivered at the third attempt, after pauses of 1 then 2 s, with
    the same signed body each time."""
    record_incidents(memory_engine, donghu(memory_engine), 1)
    receiver.statuses = [500, 502]
    pauses = Pauses()
    subscription = memory_engine.subscribe("app", Webhook(receiver.url, SECRET, sleep=pauses),
                                           kinds=["incident.new"])
    assert subscription.deliver() == 1
    assert pauses == [1.0, 2.0]
    assert [h["X-Resilience-Attempt"] for h, _ in receiver.requests] == ["1", "2", "3"]
    assert len({body for _, body in receiver.requests}) == 1
    assert subscription.dead_letters() == []


def test_a_server_down_and_back_up_gets_the_notice_after_retries(
        memory_engine: Engine, receiver: Receiver) -> None:
    """Connections refused twice (the server is down), then the server is back: the
    notice is delivered, nothing lost."""
    record_incidents(memory_engine, donghu(memory_engine), 1)
    receiver.stop()
    pauses = Pauses()

    def sleep(seconds: float) -> None:
        pauses(seconds)
        if len(pauses) == 2:
            receiver.start()  # back up on the same port

    hook = Webhook(receiver.url, SECRET, sleep=sleep, backoff=0.5)
    assert memory_engine.subscribe("app", hook, kinds=["incident.new"]).deliver() == 1
    assert pauses == [0.5, 1.0]
    assert [n["kind"] for n in receiver.notices()] == ["incident.new"]


def test_retry_after_is_honoured_within_the_longest_pause(
        memory_engine: Engine, receiver: Receiver) -> None:
    """A 429 or 503 with ``Retry-After: 7`` pauses 7 s (at most ``max_backoff``)."""
    record_incidents(memory_engine, donghu(memory_engine), 1)
    receiver.statuses = [429, 503]
    receiver.headers = {"Retry-After": "7"}
    pauses = Pauses()
    hook = Webhook(receiver.url, SECRET, sleep=pauses, max_backoff=5)
    memory_engine.subscribe("app", hook, kinds=["incident.new"]).deliver()
    assert pauses == [5.0, 5.0]


def test_a_redirect_is_a_failure_not_followed(memory_engine: Engine,
                                              receiver: Receiver) -> None:
    """A 3xx answer is retried like any non-2xx; the notice never goes elsewhere."""
    record_incidents(memory_engine, donghu(memory_engine), 1)
    receiver.statuses = [302, 302]
    subscription = memory_engine.subscribe(
        "app", Webhook(receiver.url, SECRET, sleep=Pauses(), attempts=2),
        kinds=["incident.new"])
    assert subscription.deliver() == 0
    assert "HTTP 302" in subscription.dead_letters()[0].error


def test_after_every_attempt_fails_the_notice_is_a_dead_letter_and_delivery_goes_on(
        engine: Engine, receiver: Receiver) -> None:
    """Five 503s for the first notice: it becomes a dead letter naming the URL (without
    its query) and the answer; the next notices are delivered; redelivery sends it."""
    (fire,) = record_incidents(engine, donghu(engine), 1)
    receiver.statuses = [503] * 5
    pauses = Pauses()
    subscription = engine.subscribe("app", Webhook(receiver.url, SECRET, sleep=pauses))
    assert subscription.deliver() == 1
    assert pauses == [1.0, 2.0, 4.0, 8.0]
    (letter,) = subscription.dead_letters()
    assert (letter.key, letter.attempts) == (f"{fire}/1", 5)
    assert "HTTP 503" in letter.error
    assert "/hooks/resilience" in letter.error
    assert "token" not in letter.error
    assert subscription.redeliver() == 1
    assert subscription.dead_letters() == []
    assert [n["key"] for n in receiver.notices()][-2:] == [f"{fire}/4", f"{fire}/1"]


def test_a_webhook_gives_up_with_undeliverable(receiver: Receiver) -> None:
    """Called on its own, a webhook that can't deliver raises Undeliverable."""
    receiver.stop()
    notice = Notice(key="k/1", kind="incident.new", position=1, aggregate_id=UUID(int=1),
                    aggregate_kind="incident", version=1, community_id=None, drill=False,
                    occurred_at=T0,
                    recorded_at=T0, actor=OFFICE, summary="s", data={})
    with pytest.raises(Undeliverable, match="cannot connect") as raised:
        Webhook(receiver.url, SECRET, attempts=3, sleep=Pauses())(notice)
    assert raised.value.attempts == 3


@pytest.mark.parametrize("make", [
    lambda: Webhook("file:///etc/passwd", SECRET),
    lambda: Webhook("ftp://example.org/x", SECRET),
    lambda: Webhook("http:///no-host", SECRET),
    lambda: Webhook("https://example.org/x", ""),
    lambda: Webhook("https://example.org/x", b""),
    lambda: Webhook("https://example.org/x", SECRET, attempts=0),
    lambda: Webhook("https://example.org/x", SECRET, attempts=True),
    lambda: Webhook("https://example.org/x", SECRET, backoff=-1),
    lambda: Webhook("https://example.org/x", SECRET, timeout=float("nan")),
    lambda: Webhook("https://example.org/x", SECRET, sleep=3),  # type: ignore[arg-type]
])
def test_a_webhook_refuses_what_it_cannot_use(make: Any) -> None:
    """Only http(s) URLs with a host, a non-empty secret, numbers in range."""
    with pytest.raises(InvalidInputError):
        make()


def test_a_webhook_shows_neither_its_secret_nor_its_url_s_query() -> None:
    """Its repr is safe to log; ``shown_url`` drops a user, password and query, keeps an
    IPv6 address's brackets and the port, and never raises."""
    shown = repr(Webhook("https://example.org:8443/hook?token=t0k", "s3cret"))
    assert "s3cret" not in shown
    assert "t0k" not in shown
    assert shown == "Webhook('https://example.org:8443/hook')"
    assert shown_url("https://user:pw@example.org/hook?token=t0k#x") == (
        "https://example.org/hook")
    assert shown_url("http://[::1]:8080/h") == "http://[::1]:8080/h"
    assert shown_url("http://h:abc/") == "http://h:abc/"
    for odd in ("http://[::1/", "", "::", "http://u:p@[bad/x", "\x00"):
        shown_url(odd)  # never raises
    assert sign(SECRET, b"{}") == sign(SECRET.encode(), b"{}")


@pytest.mark.parametrize("url", [
    "http://h:abc/", "http://127.0.0.1:99999/x", "http://[::1/x",
    "http://u:p@127.0.0.1/x", "https://token@example.org/x",
    "http://example.org/x", "http://10.0.0.8/x", "http://db.internal:8080/x",
])
def test_a_webhook_refuses_a_bad_port_credentials_and_plain_http_elsewhere(url: str) -> None:
    """A port that is not a number (accepted before, then a traceback on every POST), a
    user or password (never sent), and plain http to another machine (notices carry
    personal data): InvalidInputError when it is made."""
    with pytest.raises(InvalidInputError):
        Webhook(url, SECRET)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:8080/x",
    "https://example.org/x", "https://[2001:db8::1]:8443/x",
])
def test_a_webhook_takes_https_and_plain_http_to_this_machine(url: str) -> None:
    assert Webhook(url, SECRET).url == url


def test_plain_http_elsewhere_takes_an_explicit_insecure() -> None:
    assert Webhook("http://example.org/x", SECRET, insecure=True).url == "http://example.org/x"
    with pytest.raises(InvalidInputError):
        Webhook("http://example.org/x", SECRET, insecure=1)  # type: ignore[arg-type]


URL_PARTS = st.sampled_from(["http://", "https://", "ftp://", "", "//", "http:", "HTTPS://"])
HOSTS = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "example.org", "[::1", "u:p@h",
                         "h:abc", "h:99999", "h:0", "", "\x00", "é.example", "10.0.0.8"])
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                st.binary(max_size=8))


VALID: dict[str, Any] = {"url": "https://example.org/hook?token=t0k", "secret": SECRET,
                         "attempts": 5, "backoff": 1.0, "timeout": 10.0, "insecure": False}
DRAWN: dict[str, st.SearchStrategy[Any]] = {
    "url": st.one_of(st.text(max_size=60), ANY, st.builds(
        lambda scheme, host, port, path: f"{scheme}{host}{port}{path}", URL_PARTS, HOSTS,
        st.sampled_from(["", ":80", ":8443", ":", ":x"]), st.text(max_size=15))),
    "secret": st.one_of(st.text(max_size=10), st.binary(max_size=10), ANY),
    "attempts": st.one_of(st.integers(-2, 30), ANY),
    "backoff": st.one_of(st.floats(), ANY),
    "timeout": st.one_of(st.floats(), ANY),
    "insecure": ANY,
}


@settings(max_examples=300)
@given(changed=st.dictionaries(st.sampled_from(sorted(DRAWN)), st.none(), max_size=3)
       .flatmap(lambda names: st.fixed_dictionaries({n: DRAWN[n] for n in names})))
def test_whatever_a_webhook_is_given_it_is_refused_or_usable(changed: dict[str, Any]) -> None:
    """Any URL, secret and settings (a working webhook's, up to three of them drawn
    anew): InvalidInputError when the webhook is made, or a webhook whose URL is kept as
    given and whose shown form and repr never raise nor show the secret."""
    given_ = {**VALID, **changed}
    url, secret = given_.pop("url"), given_.pop("secret")
    try:
        hook = Webhook(url, secret, **given_)
    except InvalidInputError:
        event("refused")
        return
    event("made")
    assert hook.url == url
    shown = repr(hook) + shown_url(hook.url)
    text = secret if isinstance(secret, str) else secret.decode("utf-8", "replace")
    if len(text) >= 4 and text not in str(url):  # else it may be in the URL by chance
        assert text not in shown


@pytest.mark.parametrize("header", [None, "", "sha256=é", "sha256=\udcff", "sha256=zz",
                                    "é" * 71, b"sha256=\xff", 7])
def test_verify_says_false_for_a_missing_or_odd_header_never_raises(header: Any) -> None:
    """A receiver calling ``verify`` with whatever header came gets False, not an error."""
    assert verify(SECRET, b"{}", header) is False
    assert verify(SECRET, b"{}", sign(SECRET, b"{}")) is True


# The command line ----------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A SQLite store with Donghu and one fire recorded in 2022 (long past due)."""
    path = tmp_path / "watch.db"
    with Engine(f"sqlite:///{path}", clock=ManualClock(T0), policy=None) as engine:
        record_incidents(engine, donghu(engine), 1)
    return path


def test_watch_once_ticks_and_delivers_escalations_to_the_webhook(
        db: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One round: the views caught up, the tick's escalations recorded and printed, every
    notice (the escalations too) POSTed."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert main(["watch", "--db", str(db), "--once", "--webhook", receiver.url,
                 "--secret-env", "HOOK_SECRET"]) == 0
    out = capsys.readouterr().out
    kinds = [n["kind"] for n in receiver.notices()]
    assert kinds[:2] == ["incident.new", "incident.contained"]
    assert "incident.escalated" in kinds
    assert "escalated incident" in out
    assert f"delivered {len(kinds)} notices" in out
    assert main(["watch", "--db", str(db), "--once", "--webhook", receiver.url,
                 "--secret-env", "HOOK_SECRET"]) == 0
    assert len(receiver.notices()) == len(kinds)  # nothing twice
    assert "delivered 0 notices (position " in capsys.readouterr().out  # said, 0 too


def test_watch_once_raises_the_escalations_of_the_policy_file_it_is_given(
        db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--escalation FILE.json`` as ``tick`` takes it: the file's deadline is raised (the
    fire, acknowledged and contained, was never resolved), none of the built-in policy's."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(EscalationPolicy([Deadline(
        "resolved_within_an_hour", "incident", ["resolved"], within=timedelta(hours=1),
        levels=[Level(timedelta(0), [Recipient(body="subdistrict")])])]).to_dict()))
    assert main(["watch", "--db", str(db), "--once", "--escalation", str(policy)]) == 0
    raised = [line for line in capsys.readouterr().out.splitlines() if " escalated " in line]
    assert len(raised) == 1
    assert ": resolved_within_an_hour level 0 (due " in raised[0]
    assert raised[0].endswith("; notified subdistrict Daimiao")


def test_watch_names_whom_an_escalation_told_as_tick_does(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The watch's line for an escalation names whom it told in the words of ``resilience
    tick`` (each Notified as it reads: ``squad_member (nobody held it)``...)."""
    assert main(["watch", "--db", str(db), "--once"]) == 0
    out = capsys.readouterr().out
    with Engine(f"sqlite:///{db}", clock=ManualClock(T0), policy=None) as engine:
        got: list[Notice] = []
        engine.subscribe("check", got.append, kinds=["incident.escalated"]).deliver()
        told = [told_text(event.notified) for notice in got
                for event in engine.events(notice.aggregate_id)
                if isinstance(event, Incident.Escalated)
                and event.originator_version == notice.version]
    assert told
    for line in told:
        assert f"; notified {line}\n" in out


def test_dead_letters_show_in_the_command_line_and_are_redelivered_from_it(
        db: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``resilience webhooks dead-letters`` lists what failed; ``redeliver`` sends it."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver.statuses = [500]
    hook = ["--webhook", receiver.url, "--secret-env", "HOOK_SECRET", "--attempts", "1"]
    assert main(["watch", "--db", str(db), "--once", "--kinds", "incident.new", *hook]) == 0
    capsys.readouterr()
    assert main(["webhooks", "--db", str(db), "dead-letters"]) == 0
    listed = capsys.readouterr().out
    assert "incident.new" in listed
    assert "HTTP 500" in listed
    assert "1 dead letter" in listed
    assert main(["webhooks", "--db", str(db), "redeliver", *hook]) == 0
    assert "redelivered 1 of 1; 0 dead letters left" in capsys.readouterr().out
    assert main(["webhooks", "--db", str(db), "dead-letters"]) == 0
    assert "no dead letters" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    ([], "redeliver needs --webhook URL and --secret-env VAR"),
    (["--name", "app"], "--name goes with --webhook"),
    (["--secret-env", "HOME"], "--secret-env goes with --webhook"),
])
def test_redeliver_without_a_webhook_says_what_it_needs(
        db: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``webhooks redeliver`` without --webhook says it needs one, its default --name no
    sign of a webhook; a --name or --secret-env given goes with --webhook. Exit 2."""
    assert main(["webhooks", "--db", str(db), "redeliver", *args]) == 2
    assert capsys.readouterr().err == f"resilience: InvalidInputError: {message}\n"


@pytest.mark.parametrize("args", [
    ["--webhook", "http://127.0.0.1:9/x"],
    ["--webhook", "http://127.0.0.1:9/x", "--secret-env", "NOT_SET_ANYWHERE"],
    ["--secret-env", "HOME"],
    ["--kinds", "incident.new"],
    ["--webhook", "http://127.0.0.1:9/x", "--secret-env", "HOME", "--kinds", "nope"],
    ["--interval", "0"],
    ["--name", "app"],
    ["--from-now"],
    ["--insecure"],
    ["--webhook", "http://example.org/x", "--secret-env", "HOME"],
    ["--webhook", "http://h:abc/x", "--secret-env", "HOME"],
])
def test_watch_refuses_incomplete_webhook_options(
        db: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A webhook needs its secret's variable (set) and a usable URL; kinds, a name, a
    start and --insecure need a webhook; exit 2, one line."""
    assert main(["watch", "--db", str(db), "--once", *args]) == 2
    assert capsys.readouterr().err.startswith("resilience: ")


def test_watch_runs_until_sigterm_and_stops_cleanly(db: Path, receiver: Receiver) -> None:
    """The loop delivers, then SIGTERM ends it between rounds: exit 0, "watch stopped"."""
    env = {**os.environ, "HOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "resilience.cli", "watch", "--db", str(db),
               "--interval", "0.2", "--webhook", receiver.url, "--secret-env", "HOOK_SECRET"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, text=True) as running:
        assert running.stdout is not None
        lines = []
        for line in running.stdout:
            lines.append(line)
            if line.startswith("delivered"):
                break
        running.send_signal(signal.SIGTERM)
        out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert "watch stopped" in out
    assert receiver.notices()


def test_a_signal_during_a_webhook_s_pause_stops_the_watch_with_the_notice_untaken(
        db: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver fails, the webhook pauses before its next attempt, SIGTERM arrives: the
    watch ends at once (exit 0), no dead letter is made, and the notice comes next time."""
    receiver.statuses = [500] * 100
    env = {**os.environ, "HOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "resilience.cli", "watch", "--db", str(db),
               "--webhook", receiver.url, "--secret-env", "HOOK_SECRET", "--attempts", "9"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, text=True) as running:
        for _ in range(600):
            if receiver.requests:
                break
            threading.Event().wait(0.1)
        running.send_signal(signal.SIGTERM)
        out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert "watch stopped" in out
    assert main(["webhooks", "--db", str(db), "dead-letters"]) == 0
    assert "no dead letters" in capsys.readouterr().out
    receiver.statuses = []
    before = len(receiver.requests)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert main(["watch", "--db", str(db), "--once", "--webhook", receiver.url,
                 "--secret-env", "HOOK_SECRET"]) == 0
    assert receiver.notices()[before]["kind"] == "incident.new"


def test_a_webhook_that_is_down_never_holds_up_the_watch_s_escalations(
        db: Path, receiver: Receiver) -> None:
    """The webhook refuses every POST (its retries pause for minutes) while a new fire is
    recorded, long past its deadlines: the watch still raises its escalations at once
    (delivery runs apart from the tick), and SIGTERM still ends it."""
    receiver.statuses = [500] * 1000
    env = {**os.environ, "HOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "resilience.cli", "watch", "--db", str(db),
               "--interval", "0.2", "--webhook", receiver.url, "--secret-env", "HOOK_SECRET",
               "--attempts", "20"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, text=True) as running:
        assert running.stdout is not None
        try:  # the watch never outlives the test, whatever fails
            for _ in range(600):
                if receiver.requests:
                    break
                threading.Event().wait(0.1)
            assert receiver.requests  # the deliverer is in its webhook's retries
            with Engine(f"sqlite:///{db}", clock=ManualClock(T0), policy=None) as engine:
                probe: list[Notice] = []
                engine.subscribe("probe", probe.append, kinds=["incident.new"]).deliver()
                community = probe[0].community_id
                assert community is not None
                (fire,) = record_incidents(engine, community, 1)
            seen = threading.Event()

            def read() -> None:
                assert running.stdout is not None
                for line in running.stdout:
                    if f"escalated incident {fire}" in line:
                        seen.set()

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert seen.wait(60), "the tick was held up by the webhook"
            running.send_signal(signal.SIGTERM)
            assert running.wait(60) == 0
            reader.join(10)
        finally:
            if running.poll() is None:
                running.kill()


def test_watch_from_now_posts_only_what_comes_after_it_starts(
        db: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--from-now``: a new subscription skips the history (here the fire and its
    containment); the escalations its first tick records are delivered."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert main(["watch", "--db", str(db), "--once", "--from-now", "--webhook", receiver.url,
                 "--secret-env", "HOOK_SECRET"]) == 0
    kinds = {n["kind"] for n in receiver.notices()}
    assert kinds == {"incident.escalated"}


def test_dead_letters_are_listed_as_a_table_without_control_characters(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server's answer kept in a dead letter's error can't drive the terminal."""
    with Engine(f"sqlite:///{db}", clock=ManualClock(T0), policy=None) as engine:
        def refuse(notice: Notice) -> None:
            raise Undeliverable("HTTP 500 \x1b[2J\x1b]0;owned\x07 line\nbreak \u202e")

        engine.subscribe("webhook", refuse, kinds=["incident.new"]).deliver()
    assert main(["webhooks", "--db", str(db), "dead-letters"]) == 0
    out = capsys.readouterr().out
    assert "HTTP 500" in out
    assert "line break" in out
    assert not any(c in out for c in "\x1b\x07\u202e")
    header, rule, _, total = out.splitlines()
    assert header.split() == ["position", "key", "kind", "attempts", "failed", "at", "error"]
    assert set(rule) == {"-", " "}
    assert total == "1 dead letter of webhook"


def test_redeliver_interrupted_by_ctrl_c_exits_quietly(
        db: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)

    def interrupted(self: object, key: object = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("resilience.services.notifications.Subscription.redeliver",
                        interrupted)
    assert main(["webhooks", "--db", str(db), "redeliver", "--webhook", receiver.url,
                 "--secret-env", "HOOK_SECRET"]) == 130
    assert capsys.readouterr().err == "resilience: redelivery interrupted\n"


def test_a_webhook_told_personal_false_hides_the_declared_personal_values(
        memory_engine: Engine, receiver: Receiver) -> None:
    """``Webhook(..., personal=False)``: the body's summary and data show "[hidden]" where
    the fact declares a personal value; the rest, and the signature over it, as usual."""
    from resilience import Actor, Location, Role

    community = donghu(memory_engine, people=[("chen", "Chen")])
    memory_engine.incidents.report(community, incident_type="fire", severity="high",
                                   location=Location(building="30"),
                                   description="my storage room, Chen Li",
                                   actor=Actor("chen", Role.RESIDENT))
    hook = Webhook(receiver.url, SECRET, personal=False, sleep=Pauses())
    memory_engine.subscribe("banner", hook, kinds=["incident.new"]).deliver()
    ((headers, body),) = receiver.requests
    assert b"storage room" not in body
    sent = json.loads(body)
    assert sent["data"]["description"] == "[hidden]"
    assert sent["data"]["severity"] == "high"
    assert sent["kind"] == "incident.new"
    assert verify(SECRET, body, headers["X-Resilience-Signature"])
    bare = Notice.from_dict(sent)  # read back: what is personal is no longer known
    assert bare.to_dict(personal=False)["data"] == {}
    with pytest.raises(InvalidInputError):
        Webhook(receiver.url, SECRET, personal="no")  # type: ignore[arg-type]
