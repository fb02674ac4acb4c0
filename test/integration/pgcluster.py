"""Throwaway PostgreSQL clusters for the integration tests.

Each Cluster lives in its own temporary directory, listens only on a Unix
socket in that directory and on 127.0.0.1 at a free port, and is removed by
destroy().  The binaries come from SIM_PG_BINDIR, which test/run points at a
private installation that contains the freshly built extension.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psycopg2

BINDIR = os.environ.get("SIM_PG_BINDIR", "/usr/lib/postgresql/15/bin")
SKIP = 77  # exit status that test/run counts as skipped


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def data_dir():
    """Return the sample-data directory, or None when it is not available."""
    path = os.environ.get("SIM_DATA_DIR", "")
    return path if path and os.path.isdir(path) else None


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


class Cluster:
    def __init__(self, name="node", settings=None, port=None):
        self.name = name
        self.base = tempfile.mkdtemp(prefix=f"sim-{name}-")
        self.datadir = os.path.join(self.base, "data")
        self.socketdir = self.base
        self.port = port or free_port()
        self.logfile = os.path.join(self.base, "server.log")
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socketdir}'",
            "port": str(self.port),
            "fsync": "off",
            "shared_buffers": "128MB",
            "max_connections": "50",
            "log_min_messages": "warning",
        }
        self.settings.update(settings or {})

    def bin(self, program):
        return os.path.join(BINDIR, program)

    def init(self, initdb_args=()):
        subprocess.run([self.bin("initdb"), "-D", self.datadir, "-A", "trust",
                        "-U", "postgres", "--no-sync", *initdb_args],
                       check=True, stdout=subprocess.DEVNULL)
        self.write_settings()
        return self

    def write_settings(self, extra=None):
        if extra:
            self.settings.update(extra)
        with open(os.path.join(self.datadir, "postgresql.auto.conf"), "w") as conf:
            for key, value in self.settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self):
        subprocess.run([self.bin("pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                        "-w", "-t", "120", "start"], check=True, stdout=subprocess.DEVNULL)
        return self

    def stop(self, mode="fast"):
        subprocess.run([self.bin("pg_ctl"), "-D", self.datadir, "-m", mode, "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill9(self):
        """SIGKILL the postmaster and every child at once, as a power loss would.

        The postmaster is stopped first so it cannot fork replacements, and
        the children die together, so no busy backend runs on and commits."""
        with open(os.path.join(self.datadir, "postmaster.pid")) as pidfile:
            postmaster = int(pidfile.readline())
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == postmaster:
                children.append(int(entry))
        os.kill(postmaster, signal.SIGSTOP)
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.time() + 30
        for pid in children + [postmaster]:
            while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)

    def restart(self):
        self.stop()
        return self.start()

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def dsn(self, dbname="postgres"):
        return f"host={self.socketdir} port={self.port} dbname={dbname} user=postgres"

    def connect(self, dbname="postgres", autocommit=True):
        conn = psycopg2.connect(self.dsn(dbname))
        conn.autocommit = autocommit
        return conn

    def execute(self, sql, params=None, dbname="postgres"):
        """Run one statement in its own connection; return all rows, if any."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def psql(self, sql, dbname="postgres"):
        return subprocess.run([self.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                               "-d", self.dsn(dbname), "-c", sql],
                              check=True, capture_output=True, text=True).stdout

    def log(self):
        with open(self.logfile, errors="replace") as log:
            return log.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            print(f"--- server log of {self.name} ---")
            print(self.log()[-6000:])
        self.destroy()
