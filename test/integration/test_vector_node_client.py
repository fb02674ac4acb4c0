"""Check that pgvector's Node.js client (npm pg and pgvector) works unchanged.

Runs test/client/vector_client_test.js with Node.js against a throwaway
cluster.  The npm packages come from test/client/node_modules when it
exists, otherwise from a cache directory that `npm ci` fills on first use
from test/client/package-lock.json (SIM_NODE_CACHE, default
~/.cache/similarity).  A missing Node.js or a failed npm install fails the
test instead of skipping it, because the client check is part of the
compatibility contract.
"""

import hashlib
import os
import shutil
import subprocess
import sys

from pgcluster import Cluster

NODE = "/usr/bin/node"
SRC_DIR = os.environ.get("SIM_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT_DIR = os.path.join(SRC_DIR, "test", "client")


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def cache_root():
    root = os.environ.get("SIM_NODE_CACHE")
    if root:
        return root
    home = os.path.expanduser("~")
    if home and os.access(home, os.W_OK):
        return os.path.join(home, ".cache", "similarity")
    return os.path.join("/tmp", f"similarity-cache-{os.getuid()}")


def installed_modules():
    """Return a node_modules directory that contains pg and pgvector."""
    local = os.path.join(CLIENT_DIR, "node_modules")
    if os.path.isdir(os.path.join(local, "pgvector")) and os.path.isdir(os.path.join(local, "pg")):
        return local

    lock_path = os.path.join(CLIENT_DIR, "package-lock.json")
    with open(lock_path, "rb") as lock:
        digest = hashlib.sha256(lock.read()).hexdigest()[:16]
    target = os.path.join(cache_root(), f"node-client-{digest}")
    modules = os.path.join(target, "node_modules")
    if os.path.isdir(os.path.join(modules, "pgvector")):
        return modules

    npm = shutil.which("npm")
    if npm is None:
        fail("npm is not installed; install Debian's npm package (scripts/setup does)")
    os.makedirs(target, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(CLIENT_DIR, name), target)
    env = dict(os.environ, npm_config_cache=os.path.join(cache_root(), "npm"))
    print(f"installing pg and pgvector with npm ci into {target}")
    try:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=target, env=env,
                                capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        shutil.rmtree(modules, ignore_errors=True)
        fail("npm ci timed out after 600 s; check access to the npm registry")
    if result.returncode != 0:
        shutil.rmtree(modules, ignore_errors=True)
        print(result.stdout[-3000:])
        print(result.stderr[-3000:])
        fail(f"npm ci failed with exit status {result.returncode}; "
             "the npm registry must be reachable for the first run")
    return modules


def main():
    if not os.access(NODE, os.X_OK):
        fail(f"{NODE} not found; install Debian's nodejs package (scripts/setup does)")
    modules = installed_modules()

    with Cluster("node-client").init() as node:
        node.start()
        env = dict(os.environ, NODE_PATH=modules, PGHOST=node.socketdir,
                   PGPORT=str(node.port), PGUSER="postgres", PGDATABASE="postgres")
        result = subprocess.run([NODE, os.path.join(CLIENT_DIR, "vector_client_test.js")],
                                env=env, capture_output=True, text=True, timeout=300)
        print(result.stdout)
        if result.returncode != 0:
            print(result.stderr)
            fail(f"the Node.js client test exited with status {result.returncode}")


if __name__ == "__main__":
    main()
