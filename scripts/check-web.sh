#!/usr/bin/env bash
# Drive Assay's fleet web UI in headless Chromium as a person would, and check what they see.
#
#   scripts/check-web.sh
#
# Starts `assay serve` on a fresh embedded store (SQLite, blobs on disk, one in-process
# worker) with an admin made by `--create-admin`, then, in Debian's chromium (installed when
# missing, which needs root) driven over the DevTools protocol on a pipe (Python's standard
# library only): logs in through the form, uploads the two example releases through the
# upload form, waits for their scans, opens the HTML report from the image page, asks a
# question across images (the components both releases share), searches, and opens the diff
# page. Each step asserts on the rendered page text and saves a screenshot under
# target/web-check/. The pages themselves run no script (their CSP forbids it); the checker
# fills and submits the forms through DevTools. Exits non-zero when anything is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/web-check
mkdir -p "$out"
rm -f "$out"/*.png

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "check-web: chromium is missing; run as root to install it (apt-get install chromium)" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
fi

cargo build -q -p assay
assay=${CARGO_TARGET_DIR:-target}/debug/assay
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

password="check-web password $(date +%s)"
printf '%s\n' "$password" | "$assay" serve --data "$work/data" --create-admin checker >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$assay" serve --data "$work/data" --listen "127.0.0.1:$port" --workers 1 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "http://" "$work/server.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "http://" "$work/server.log" || { cat "$work/server.log" >&2; exit 1; }

python3 - "http://127.0.0.1:$port" "$password" "$(realpath "$out")" "$work/profile" \
  "$(realpath examples/acme-demo.bin)" "$(realpath examples/acme-demo-v2.bin)" <<'PY'
import base64, json, os, subprocess, sys, time

base, password, out, profile, image_v1, image_v2 = sys.argv[1:7]

class Chrome:
    """Chromium over --remote-debugging-pipe: JSON messages separated by NUL on fds 3 and 4."""
    def __init__(self):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # The child sees our pipes as its fds 3 (it reads) and 4 (it writes).
        def fds():
            # Through fresh copies: dup2 onto the same number would keep O_CLOEXEC.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--window-size=1280,1600", "about:blank"],
            # close_fds would run after preexec_fn and close 3 and 4 again; Python's own
            # pipes are not inherited (O_CLOEXEC), the dup2 copies are.
            preexec_fn=fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf, self.next_id, self.events, self.session = b"", 0, [], None

    def _read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise SystemExit("check-web: chromium went away")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=True, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise SystemExit(f"check-web: {method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, name, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    del self.events[i]
                    return e
            self.events.append(self._read())
        raise SystemExit(f"check-web: no {name} within {timeout} s")

    def open(self):
        target = self.call("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", session=False, targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("DOM.enable")

    def load(self, action):
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        action()
        self.wait_event("Page.loadEventFired")

    def goto(self, url):
        self.load(lambda: self.call("Page.navigate", url=url))

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def text(self):
        return self.js("document.body.innerText") or ""

    def url(self):
        return self.js("location.href")

    def fill(self, selector, value):
        ok = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                     f" if (!e) return false; e.value = {json.dumps(value)}; return true; }})()")
        if not ok:
            raise SystemExit(f"check-web: no field {selector} on {self.url()}")

    def submit(self, form_selector):
        self.load(lambda: self.js(f"document.querySelector({json.dumps(form_selector)}).requestSubmit()"))

    def set_file(self, selector, path):
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[path])

    def shot(self, name):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path = os.path.join(out, name + ".png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

problems = []
def expect(what, text, *needles):
    missing = [n for n in needles if n not in text]
    if missing:
        problems.append(f"{what}: missing {missing!r}")
    print(f"{'ok  ' if not missing else 'FAIL'} {what}")

c = Chrome()
try:
    c.open()
    # Anything but the login form needs a login.
    c.goto(base + "/images")
    expect("a visitor is sent to the login form", c.url(), "/login")
    c.fill("input[name=name]", "checker")
    c.fill("input[name=password]", password)
    c.shot("01-login")
    c.submit("form[action='/login']")
    expect("login lands on the image list", c.text(), "checker (admin)", "0 images")
    c.shot("02-images-empty")

    ids = []
    for path, version in ((image_v1, "1.0"), (image_v2, "2.0")):
        c.goto(base + "/upload")
        c.fill("input[name=vendor]", "acme")
        c.fill("input[name=model]", "demo")
        c.fill("input[name=version]", version)
        c.set_file("input[name=file]", path)
        if version == "1.0":
            c.shot("03-upload-form")
        c.submit("form[action='/upload']")
        expect(f"upload of {os.path.basename(path)} opens its image page", c.text(),
               os.path.basename(path), "acme", version)
        ids.append(c.url().rstrip("/").rsplit("/", 1)[-1])

    # Wait for both scans (the page does not refresh by itself: reload it).
    for i in ids:
        end = time.time() + 300
        while True:
            c.goto(f"{base}/images/{i}")
            if "Report " in c.text() and "Scan\ndone" in c.text().replace("\t", "\n"):
                break
            if time.time() > end:
                problems.append(f"image {i}: no report within 300 s: {c.text()[:400]!r}")
                break
            time.sleep(1)
    c.goto(f"{base}/images/{ids[0]}")
    expect("the image page lists the signed report and its downloads", c.text(),
           "Report", "JSON", "signed (DSSE)", "assay verify --key store.pub")
    c.shot("04-image-scanned")

    # The HTML report, opened from the image page.
    c.load(lambda: c.js("document.querySelector('a.report-link').click()"))
    report_text = c.text()
    expect("the report page is the HTML report", report_text, "acme-demo.bin")
    if not any(report_text.find(s) >= 0 for s in ("This image contains", "No critical", "Assay found nothing")):
        problems.append("the report page has no first-screen summary")
    c.shot("05-report")

    # A question across images: components found in both releases.
    c.goto(base + "/questions")
    c.fill("form[action='/questions/shared'] select[name=kind]", "component")
    c.submit("form[action='/questions/shared']")
    shared = c.text()
    expect("components shared by both releases are listed", shared, "component values in at least 2 images")
    c.shot("06-shared-components")
    # Follow the first shared value: both releases hold it.
    has_value = c.js("!!document.querySelector('table.list a')")
    if has_value:
        c.load(lambda: c.js("document.querySelector('table.list a').click()"))
        expect("the shared component is found in both releases", c.text(),
               "acme-demo.bin", "acme-demo-v2.bin", "2 hits")
        c.shot("07-find-component")
    else:
        problems.append("no component is shared by the two releases")

    c.goto(base + "/search?q=acme-demo")
    expect("search finds both images by name", c.text(), "Images (2)")
    c.shot("08-search")

    # Compare the releases.
    c.goto(f"{base}/images/{ids[1]}")
    c.submit("form[action='/diff']")
    expect("the diff page compares the two releases", c.text(),
           "Compare two releases", "acme-demo.bin", "acme-demo-v2.bin")
    c.shot("09-diff")

    # Script never runs in the UI's own pages.
    c.goto(base + "/images")
    if c.js("document.scripts.length") != 0:
        problems.append("a page carries a <script> element")
finally:
    c.proc.kill()

print(f"screenshots: {out}")
if problems:
    print("\n".join("FAIL " + p for p in problems), file=sys.stderr)
    sys.exit(1)
PY
echo "check-web: ok; screenshots in $(realpath "$out")"
