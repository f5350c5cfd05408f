"""The `nomuck` command line as a newcomer meets it (issue 9): commands other than
`serve` never create a data directory, logs written to a file carry no colour codes,
and `--help` describes what is built and every option."""

import os
import pty
import re
import select
import shutil
import subprocess
import time

from conftest import BIN, ROOT, Server, nomuck


def clean_env(**extra):
    """The environment without nomuck settings, so the defaults apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMUCK_")}
    env.update(extra)
    return env


def run_in(cwd, *args, env=None):
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env or clean_env())


def test_commands_other_than_serve_refuse_a_missing_data_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["account", "list"], ["account", "create", "alice"], ["key", "create", "alice"],
                 ["key", "list", "alice"], ["key", "revoke", "AKIAEXAMPLE"]):
        proc = run_in(elsewhere, *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        # The absolute path looked at, and the three ways to point at the right one.
        assert f"no nomuck data directory at {elsewhere / 'nomuck-data'}" in proc.stderr, proc.stderr
        for way in ("--data-dir", "NOMUCK_DATA_DIR", "data_dir", "nomuck serve"):
            assert way in proc.stderr, (way, proc.stderr)
        assert proc.stdout == ""
    assert list(elsewhere.iterdir()) == [], "a CLI command created files"

    # The same through the environment and a relative --data-dir; an empty directory
    # is not taken for one either.
    proc = run_in(elsewhere, "account", "list", env=clean_env(NOMUCK_DATA_DIR="somewhere"))
    assert proc.returncode == 1 and str(elsewhere / "somewhere") in proc.stderr, proc.stderr
    (elsewhere / "empty").mkdir()
    proc = run_in(elsewhere, "--data-dir", "empty", "account", "list")
    assert proc.returncode == 1, proc.stderr
    assert f"{elsewhere / 'empty'} is not a nomuck data directory" in proc.stderr, proc.stderr
    assert list((elsewhere / "empty").iterdir()) == []


def test_commands_use_the_directory_serve_made(tmp_path):
    # `serve` creates the directory (and the admin account) in the working directory.
    proc = subprocess.Popen([str(BIN), "serve", "--listen", "127.0.0.1:0"], cwd=tmp_path, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        while "serving on" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "serve exited"
        assert (tmp_path / "nomuck-data" / "admin-credentials").exists()
        # While it serves, the CLI in the same directory goes through its admin API.
        made = run_in(tmp_path, "account", "create", "alice")
        assert made.returncode == 0 and "created account alice" in made.stdout, made.stderr
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    # With no server, it opens the directory itself; no second admin appears.
    listed = run_in(tmp_path, "account", "list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[-1] for line in listed.stdout.splitlines()[1:]]
    assert names == ["admin", "alice"]


def test_logs_written_to_a_file_have_no_colour_codes(tmp_path):
    srv = Server(tmp_path / "data").start()
    srv.stop()
    log = srv.log_path.read_text()
    assert "nomuck serving" in log and "stopped" in log, log
    assert "\x1b[" not in log, repr(log[:500])


def serve_log_on_a_terminal(data_dir, env):
    """The log lines `serve` writes when its standard error is a terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN), "--data-dir", str(data_dir), "serve", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while b"nomuck serving" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                out += os.read(master, 65536)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.close(master)
    assert b"nomuck serving" in out, out
    return out.decode(errors="replace")


def test_logs_are_coloured_only_on_a_terminal_without_no_color(tmp_path):
    assert "\x1b[" in serve_log_on_a_terminal(tmp_path / "data", clean_env())
    assert "\x1b[" not in serve_log_on_a_terminal(tmp_path / "data", clean_env(NO_COLOR="1"))


def test_help_describes_what_is_built_and_every_option(tmp_path):
    top = run_in(tmp_path, "--help")
    assert top.returncode == 0
    text = " ".join(top.stdout.split())
    for built in ("S3 storage", "EC2 compute", "STS", "SNS", "accounts", "access keys"):
        assert built in text, (built, text)
    # Billing is reached through `nomuck bill`.
    assert "nomuck bill" in text, text

    # Every option and argument of every command has a description after its name.
    commands = [[], ["serve"], ["account", "create"], ["account", "list"], ["key", "create"],
                ["key", "list"], ["key", "revoke"], ["bench", "s3"], ["instance", "ssh"], ["doctor"],
                ["image", "build-default"], ["bill", "show"], ["bill", "report"]]
    for cmd in commands:
        proc = run_in(tmp_path, *cmd, "--help")
        assert proc.returncode == 0, (cmd, proc.stderr)
        lines = proc.stdout.splitlines() + [""]
        entries = 0
        in_section = False
        for i, line in enumerate(lines[:-1]):
            if re.match(r"^(Options|Arguments):$", line):
                in_section = True
            elif line and not line.startswith(" "):
                in_section = False
            elif in_section and (entry := re.match(r"^ {2,6}(?:-|<|\[)\S*(?:[ ,]\S+)*( {2,}\S.*)?$", line)):
                entries += 1
                # The description follows on the same line, or on the next, indented deeper.
                after = lines[i + 1].strip()
                described = entry.group(1) or (
                    lines[i + 1].startswith(" " * 8) and after and not after.startswith(("Possible values", "[")))
                assert described, f"`nomuck {' '.join(cmd)} --help`: no description: {line!r}"
        assert entries > 0, (cmd, proc.stdout)


def test_no_data_directory_is_needed_for_help_or_bench_errors(tmp_path):
    # Commands that do not use a data directory do not look for one.
    proc = run_in(tmp_path, "serve", "--help")
    assert proc.returncode == 0 and list(tmp_path.iterdir()) == []
    assert nomuck(tmp_path / "none", "--version").returncode == 0
    assert not (tmp_path / "none").exists()


def test_setup_names_the_rust_version_it_needs(tmp_path):
    # A toolchain older than Cargo.toml's rust-version is refused before anything else,
    # with what to run, instead of a manifest error in the middle of the build.
    # PATH holds only the shell tools the check uses, so a Rust installed anywhere on
    # this machine is not found.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("bash", "dirname", "sed", "awk", "sort", "head"):
        (tools / tool).symlink_to(shutil.which(tool))
    fake = tmp_path / "old-rust"
    fake.mkdir()
    for tool, out in (("rustc", "rustc 1.80.0 (051478957 2024-07-21)"), ("cargo", "cargo 1.80.0")):
        (fake / tool).write_text(f"#!/bin/sh\necho '{out}'\n")
        (fake / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{tools}"}
    proc = subprocess.run([str(ROOT / "dev" / "setup")], capture_output=True, text=True, env=env, timeout=60)
    need = re.search(r'^rust-version = "(.+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    assert proc.returncode == 1, proc.stderr
    assert f"Rust {need} or newer is needed; rustc is 1.80.0" in proc.stderr
    assert "rustup update stable" in proc.stderr

    # No Rust at all: where to get it.
    env["PATH"] = str(tools)
    proc = subprocess.run([str(ROOT / "dev" / "setup")], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "https://rustup.rs" in proc.stderr, proc.stderr
