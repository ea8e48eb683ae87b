#!/usr/bin/env python3
"""Fleet mode figures: scans per CPU-second through the store with 1 and 2 workers, the time
of cross-image queries over 10,000 stored reports, and a fault run.

    python3 bench/fleet.py [--corpus DIR] [--copies 4] [--reports 10000] [--no-postgres]

1. Throughput: every corpus image is added `--copies` times under different names (content
   dedup: one blob and one job per content), then `assay worker --until-idle` processes (1,
   then 2 of them, on fresh stores) drain the queue. CPU seconds are the workers' user+system
   time (os.wait4), so "scans per CPU-second" does not depend on how busy the machine is.
2. Queries: crates/assay-store/examples/fleet_queries varies the stored real reports into
   `--reports` synthetic signed reports, imports them, and times the key-fingerprint and
   component-version queries in-process (SQLite, and PostgreSQL when installed); then
   crates/assay-server/examples/web_latency times the web UI's pages and API calls over the
   same store (the image list, the questions, search, timeline).
3. Fault run (PostgreSQL): variants of the corpus images are queued; two workers with short
   leases start; one is killed with SIGKILL right after it claims a job; the database is
   restarted (immediate stop, as a crash) while the other works; a replacement worker joins.
   Afterwards every job must be done exactly once and every content must have one report.

Builds `assay` and the example in release mode first (cargo), unless --no-build.
"""
import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def default_corpus():
    for c in (os.path.join(ROOT, "..", "shared", "corpus"), "/work/shared/corpus"):
        if os.path.isdir(c):
            return c
    return os.path.join(ROOT, "..", "shared", "corpus")


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def build():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "assay", "-p", "assay-store",
         "--example", "fleet_queries", "--bin", "assay"],
        cwd=ROOT, check=True)
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "assay-server", "--example", "web_latency"],
        cwd=ROOT, check=True)


def run_json(assay, data, db, *args):
    out = subprocess.run([assay, "fleet", *args, "--json", "--data", data, "--db", db],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def corpus_images(corpus):
    return sorted(p for p in glob.glob(os.path.join(corpus, "*"))
                  if os.path.isfile(p) and not p.endswith((".json", ".md", ".sh")))


def worker(assay, data, db, wid, *extra, stderr=subprocess.DEVNULL):
    scratch = os.path.join(data, "scratch-" + wid)
    return subprocess.Popen([assay, "worker", "--data", data, "--db", db, "--id", wid,
                             "--scratch", scratch, *extra],
                            stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def wait_cpu(proc):
    """Wait for a process; its user+system CPU seconds."""
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_utime + usage.ru_stime


def add_copies(assay, data, db, images, copies, workdir):
    """Each image `copies` times under other names (hard links), added and queued."""
    folder = os.path.join(workdir, "copies")
    os.makedirs(folder, exist_ok=True)
    for img in images:
        base = os.path.basename(img)
        for k in range(copies):
            dst = os.path.join(folder, f"copy{k}-{base}")
            try:
                os.link(img, dst)
            except OSError:
                shutil.copyfile(img, dst)
    added = run_json(assay, data, db, "add", folder, "--vendor", "corpus", "--queue")
    return added


def throughput(assay, images, copies, workers):
    work = tempfile.mkdtemp(prefix="assay-fleet-bench-")
    try:
        data = os.path.join(work, "data")
        db = "sqlite:" + os.path.join(data, "store.sqlite")
        added = add_copies(assay, data, db, images, copies, work)
        contents = len({a["image"]["sha256"] for a in added})
        new_blobs = sum(1 for a in added if a["new_content"])
        start = time.monotonic()
        procs = [worker(assay, data, db, f"w{k}", "--until-idle", "-q") for k in range(workers)]
        cpu = sum(wait_cpu(p) for p in procs)
        wall = time.monotonic() - start
        status = run_json(assay, data, db, "status")
        done = status["counts"]["done"]
        blob_files = sum(len(fs) for _, _, fs in os.walk(os.path.join(data, "blobs", "sha256")))
        print(f"  {workers} worker(s): {len(added)} images added ({copies} names each), "
              f"{contents} contents, {new_blobs} new blobs ({blob_files} files on disk), "
              f"{done} jobs done, {status['reports']} reports, {status['counts']['dead']} dead")
        print(f"    wall {wall:.1f} s, worker CPU {cpu:.1f} s: "
              f"{done / cpu:.2f} scans per CPU-second, {done / wall:.2f} scans per second")
        return data, db
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        raise


# --- PostgreSQL in a temporary directory -------------------------------------------------

def pg_bin():
    env = os.environ.get("ASSAY_PG_BIN")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    def __init__(self):
        self.bin = pg_bin()
        self.dir = tempfile.mkdtemp(prefix="assay-fleet-pg-")
        self.data = os.path.join(self.dir, "data")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.root = os.geteuid() == 0
        if self.root:
            subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        self.cmd("initdb", "-D", self.data, "-U", "assay", "--auth=trust", "--no-sync",
                 "-E", "UTF8")
        self.start()

    def cmd(self, prog, *args):
        argv = [os.path.join(self.bin, prog), *args]
        if self.root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.dir} -c max_connections=60")
        self.cmd("pg_ctl", "-D", self.data, "-o", opts, "-l",
                 os.path.join(self.dir, "server.log"), "-w", "start")

    def stop(self):
        self.cmd("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def restart(self):
        self.stop()
        self.start()

    def database(self, name):
        self.cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "assay", name)
        return f"postgres://assay@127.0.0.1:{self.port}/{name}"

    def close(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def queries(example, db, reports, label):
    print(f"  {label}:")
    out = subprocess.run([example, "--db", db, "--reports", str(reports)],
                         check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        print("    " + line)
    # The same store through the web server: page and API latency.
    web = os.path.join(os.path.dirname(example), "web_latency")
    out = subprocess.run([web, "--db", db], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        print("    web: " + line)


def fault_run(assay, images, pg):
    work = tempfile.mkdtemp(prefix="assay-fleet-fault-")
    data = os.path.join(work, "data")
    db = pg.database("faults")
    # Variants: each corpus image with 1..3 bytes appended (other contents, same work).
    folder = os.path.join(work, "variants")
    os.makedirs(folder)
    for img in images:
        body = open(img, "rb").read()
        for k in range(3):
            with open(os.path.join(folder, f"v{k}-{os.path.basename(img)}"), "wb") as f:
                f.write(body + bytes(k + 1))
    added = run_json(assay, data, db, "add", folder, "--vendor", "faults", "--queue")
    jobs = len({a["image"]["sha256"] for a in added})
    lease = ["--lease", "5", "--poll", "0.2"]
    doomed = worker(assay, data, db, "doomed", *lease, stderr=subprocess.PIPE)
    steady = worker(assay, data, db, "steady", *lease)
    for line in doomed.stderr:
        if "claimed" in line:
            break
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    killed_at = time.monotonic()
    print(f"  {jobs} jobs; worker 'doomed' killed with SIGKILL right after claiming a job")
    deadline = time.monotonic() + 1800
    restarted = False
    replacement = None
    while True:
        try:
            s = run_json(assay, data, db, "status")
        except subprocess.CalledProcessError:
            time.sleep(0.5)
            continue
        c = s["counts"]
        if not restarted and c["done"] >= max(1, jobs // 3):
            pg.restart()
            restarted = True
            print(f"  database restarted (immediate stop) with {c['done']} of {jobs} done")
            replacement = worker(assay, data, db, "replacement", *lease)
            continue
        if c["done"] + c["dead"] == jobs:
            break
        if time.monotonic() > deadline:
            print(f"  TIMEOUT: {s}")
            break
        time.sleep(0.5)
    for p in (steady, replacement):
        if p is not None:
            p.send_signal(signal.SIGKILL)
            p.wait()
    jobs_state = run_json(assay, data, db, "status")
    # Every job's record, for attempts.
    redone = 0
    out = subprocess.run(
        [os.path.join(pg.bin, "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "assay",
         "-d", "faults", "-At", "-c",
         "SELECT (SELECT COUNT(*) FROM jobs WHERE attempts > 1), "
         "(SELECT COUNT(*) FROM jobs WHERE state = 'done'), "
         "(SELECT COUNT(*) FROM reports), "
         "(SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM reports "
         "GROUP BY sha256, settings_id) x), "
         "(SELECT COUNT(*) FROM jobs j WHERE NOT EXISTS "
         "(SELECT 1 FROM reports r WHERE r.id = j.report_id))"],
        check=True, capture_output=True, text=True)
    redone, done, reports, max_per, lost = (int(x) for x in out.stdout.strip().split("|"))
    ok = done == jobs and reports == jobs and max_per == 1 and lost == 0
    print(f"  after the faults: {done} of {jobs} jobs done, {reports} reports "
          f"(at most {max_per} per content and settings), {lost} jobs without their report, "
          f"{redone} jobs redone after a lost lease, {jobs_state['counts']['dead']} dead, "
          f"{time.monotonic() - killed_at:.0f} s from the kill to the end")
    print("  fault run: " + ("every job done exactly once, no report lost" if ok else "FAILED"))
    shutil.rmtree(work, ignore_errors=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=default_corpus())
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--reports", type=int, default=10000)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        build()
    assay = os.path.join(target_dir(), "release", "assay")
    example = os.path.join(target_dir(), "release", "examples", "fleet_queries")
    images = corpus_images(args.corpus)
    if not images:
        sys.exit(f"no images in {args.corpus}")
    print(f"corpus: {len(images)} images from {args.corpus}; {os.cpu_count()} CPUs")
    print("1. throughput through the store (SQLite, disk blobs)")
    data, _ = throughput(assay, images, args.copies, 1)
    shutil.rmtree(os.path.dirname(data), ignore_errors=True)
    data, db = throughput(assay, images, args.copies, 2)
    print(f"2. cross-image queries over {args.reports} synthetic reports + the real ones")
    queries(example, db, args.reports, "SQLite")
    shutil.rmtree(os.path.dirname(data), ignore_errors=True)
    ok = True
    if args.no_postgres or not pg_bin():
        print("PostgreSQL not installed (or --no-postgres): no PostgreSQL figures, no fault run")
        return 0
    pg = Postgres()
    try:
        work = tempfile.mkdtemp(prefix="assay-fleet-pgq-")
        pdata = os.path.join(work, "data")
        pdb = pg.database("queries")
        run_json(assay, pdata, pdb, "add", *images, "--vendor", "corpus", "--queue")
        subprocess.run([assay, "worker", "--data", pdata, "--db", pdb, "--until-idle", "-q",
                        "--concurrency", "2", "--scratch", os.path.join(work, "scratch")],
                       check=True)
        queries(example, pdb, args.reports, "PostgreSQL")
        shutil.rmtree(work, ignore_errors=True)
        print("3. fault run (PostgreSQL)")
        ok = fault_run(assay, images, pg)
    finally:
        pg.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
