"""The `connector` command line: --help everywhere, mappings tools, db upgrade, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main

COMMANDS = [
    [],
    ["serve"],
    ["worker"],
    ["demo"],
    ["db"],
    ["db", "upgrade"],
    ["mappings"],
    ["mappings", "validate"],
    ["mappings", "show"],
    ["mappings", "preview"],
    ["replay"],
    ["simulate"],
    ["policy"],
    ["policy", "validate"],
    ["policy", "show"],
    ["report"],
    ["report", "sla"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "connector")
def test_help(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_mappings_validate_ok_and_bad(tmp_path):
    good = Path("mappings/defaults/jira.yaml")
    result = CliRunner().invoke(main, ["mappings", "validate", str(good)])
    assert result.exit_code == 0 and "valid jira mapping" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("vendor: jira\nshapes:\n  issue:\n    fields:\n      severty: {path: x}\n")
    result = CliRunner().invoke(main, ["mappings", "validate", str(bad)])
    assert result.exit_code != 0
    assert "unknown canonical field 'severty'" in result.output


def test_mappings_show_default():
    result = CliRunner().invoke(main, ["mappings", "show", "pagerduty", "--default"])
    assert result.exit_code == 0
    assert "vendor: pagerduty" in result.output


def test_mappings_preview_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    fixture = Path("tests/fixtures/pagerduty/incident.triggered.json")
    result = CliRunner().invoke(main, ["mappings", "preview", "pagerduty", "--file", str(fixture)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["events"][0]["kind"] == "incident_triggered"
    assert out["events"][0]["fields"]["title"]


def test_db_upgrade(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'up.db'}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0 and "database at head" in result.output


def test_worker_refuses_embedded_mode(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code != 0
    assert "REDIS_URL is not set" in result.output


def test_demo_runs_end_to_end():
    result = CliRunner().invoke(main, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    tickets = json.loads(result.stdout)  # standard output is only JSON: `connector demo --json | jq` works
    assert "connector demo" in result.stderr  # the progress went to standard error
    channels = sorted(t["channel"] for t in tickets)
    assert channels == ["email", "jira", "web"]
    zendesk = next(t for t in tickets if t["channel"] == "email")
    assert zendesk["severity"] == "P0"  # the late, older priority change did not roll it back
    assert zendesk["status"] == "waiting_on_customer"
    assert zendesk["first_response_at"] is not None
    # its own ticket, the incident that paged for it, and the engineering issue the demo's Jira made for it
    assert {ln["vendor"] for ln in zendesk["links"]} == {"zendesk", "pagerduty", "jira"}
    # synced back to the demo's Zendesk simulator: the Jira key with a note, the PagerDuty note, the resolve
    synced = [(i["intent"], i["status"]) for i in zendesk["escalation"]["outbox"] if i["channel"] == "zendesk"]
    assert synced == [("zendesk_update", "sent")] * 3
    assert zendesk["customer_tier"] == "enterprise"  # the tier tag the demo sends is the one the mapping reads
    # the reply came 12 minutes after the ticket: its deliveries are a burst about the past, and no alarm
    # is raised for a clock the reply met in time
    kinds = [e["kind"] for e in zendesk["timeline"]]
    assert "sla_breach" not in kinds and "sla_warning" not in kinds
    first = next(c for c in zendesk["sla_clocks"] if c["metric"] == "first_response")
    assert first["state"] == "met"
    # act two: the Enterprise P0 nobody acknowledged paged on-call once, then the secondary on the
    # acknowledgement breach, and its resolution resolved both pages
    p0 = next(t for t in tickets if t["channel"] == "web")
    story = p0["escalation"]
    assert [(d["trigger"], d["action"], d["target"]) for d in story["decisions"]] == [
        ("p0-p1-auto-escalate", "raise_level", "L3"),
        ("p0-p1-auto-escalate", "page", "oncall_primary"),
        ("p0-p1-auto-escalate", "create_linked_issue", "jira"),
        ("p0-ack-breach", "page", "oncall_secondary"),
        ("lifecycle", "page_resolve", "oncall_primary"),
        ("lifecycle", "page_resolve", "oncall_secondary"),
    ]
    assert [(i["intent"], i["target"], i["status"]) for i in story["outbox"]] == [
        ("page_trigger", "oncall_primary", "sent"),
        ("create_linked_issue", None, "sent"),  # to the demo's local Jira simulator
        ("zendesk_update", "#48230", "sent"),  # the Jira key and a note, to the demo's local Zendesk simulator
        ("page_trigger", "oncall_secondary", "sent"),
        ("zendesk_update", "#48230", "sent"),  # the engineer's Jira comment, as an internal note
        ("jira_comment", "ENG-2", "sent"),  # the customer's reply, to the Jira issue
        ("zendesk_update", "#48230", "sent"),  # Jira done: the ticket back to the agent
        ("page_resolve", "oncall_primary", "sent"),
        ("page_resolve", "oncall_secondary", "sent"),
    ]
    # the ticket that came from a Jira issue is not given a second one
    from_jira = next(t for t in tickets if t["channel"] == "jira")
    [linked] = [i for i in from_jira["escalation"]["outbox"] if i["intent"] == "create_linked_issue"]
    assert linked["status"] == "not_sent" and "already has its Jira issue PLAT-311" in linked["reason"]
    assert story["open_pages"] == []


def test_report_sla_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'report.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(main, ["report", "sla", "--since", "2026-01-01", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("section,")
    bad = CliRunner().invoke(main, ["report", "sla", "--since", "last tuesday"])
    assert bad.exit_code != 0


READ_ONLY = [
    ["mappings", "show", "zendesk"],
    ["policy", "show"],
    ["report", "sla"],
    ["replay", "--status", "dead"],
    ["mappings", "preview", "pagerduty", "--file", "tests/fixtures/pagerduty/incident.triggered.json"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a[:2]))
def test_commands_other_than_db_upgrade_never_migrate(tmp_path, monkeypatch, args):
    """On a database that is behind, a command says in one line what to run, and changes nothing."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'behind.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade", "--revision", "0003"]).exit_code == 0
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    message = result.output.strip()
    assert "\n" not in message and "run `connector db upgrade`" in message and "at 0003" in message
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    engine.dispose()
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    assert CliRunner().invoke(main, args).exit_code == 0


def test_demo_prints_pauses_as_durations():
    from connector.demo import render_simulation

    clock = {
        "metric": "resolution",
        "state": "met",
        "target": "1d",
        "time": "calendar",
        "started_at": "2026-03-06T21:30:00Z",
        "due_at": "2026-03-07T21:30:00Z",
        "paused_seconds": 19200.0,
    }
    text = render_simulation({"policy": "signx", "clocks": [clock], "actions": []})
    assert "paused 5 h 20 min" in text and "19200" not in text


def _one_line(result) -> str:  # type: ignore[no-untyped-def]
    text = result.output.strip()
    assert result.exit_code == 1 and "\n" not in text and "Traceback" not in text, result.output
    return text


def test_a_bad_environment_value_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CONNECTOR_MAX_BODY_BYTES", "1MB")
    text = _one_line(CliRunner().invoke(main, ["policy", "show"]))
    assert "CONNECTOR_MAX_BODY_BYTES" in text and "'1MB'" in text


def test_an_unreachable_database_is_one_line_without_its_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://connector:s3cret-pw@127.0.0.1:9/nowhere")
    text = _one_line(CliRunner().invoke(main, ["report", "sla"]))
    assert "cannot reach the database" in text and "s3cret-pw" not in text and "127.0.0.1:9" in text


def test_db_upgrade_with_the_database_unreachable_is_one_line(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://connector:s3cret-pw@127.0.0.1:9/nowhere")
    text = _one_line(CliRunner().invoke(main, ["db", "upgrade"]))
    assert "cannot upgrade the database" in text and "s3cret-pw" not in text and "OperationalError" in text


def test_gunicorn_stops_instead_of_respawning_a_worker_that_cannot_boot(tmp_path):
    """A schema behind (or a bad setting) is one line and gunicorn's boot-error status: the arbiter
    halts with it instead of starting the same failing worker for ever."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    url = f"sqlite:///{tmp_path / 'behind.db'}"
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:9/0"}
    assert CliRunner().invoke(main, ["db", "upgrade", "--revision", "0003"], env={"DATABASE_URL": url}).exit_code == 0
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "webhooks.wsgi:app"],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3  # the arbiter's own "worker failed to boot"
    assert proc.stderr.count("run `connector db upgrade`") == 1  # one worker tried, once
    assert "Traceback" not in proc.stderr and "Worker failed to boot" in proc.stderr


def test_a_worker_with_redis_down_says_so_in_one_line_per_attempt(tmp_path):
    """Run as the operator would: a real process, Redis on a closed port; it waits (a supervisor would
    keep it), one line per attempt, no traceback, no password."""
    import os
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "w.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CONNECTOR_"))}
    env |= {"DATABASE_URL": f"sqlite:///{db}", "REDIS_URL": "redis://:pw-s3cret@127.0.0.1:9/0"}
    cli = [sys.executable, "-c", "from connector.cli import main; main()"]
    assert subprocess.run([*cli, "db", "upgrade"], env=env, capture_output=True, timeout=60).returncode == 0
    proc = subprocess.Popen([*cli, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    waiting = [line for line in lines if "waiting for Redis" in line]
    assert 2 <= len(waiting) <= 4 and "Traceback" not in err and "pw-s3cret" not in out + err
    assert "REDIS_URL=redis://:***@127.0.0.1:9/0" in waiting[0] and "is it running?" in waiting[0]
