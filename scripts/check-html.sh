#!/usr/bin/env bash
# Render Assay's HTML report in headless Chromium and check what a reader sees.
#
#   scripts/check-html.sh [IMAGE]
#
# Scans IMAGE (default: the committed evidence fixture, a small router image with a hidden
# root account, telnet with a root shell, a cracked root password and HTML-injection names),
# writes target/html-check/report.html, renders it with Debian's chromium (installed when
# missing, which needs root), saves a screenshot to target/html-check/report.png and checks in
# the rendered DOM that the first-screen summary and every finding's title appear. Exits
# non-zero when anything is missing. No network is used by the page or by Chromium's checks.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-crates/assay/tests/fixtures/evidence-b/router.bin}
out=target/html-check
mkdir -p "$out"

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "check-html: chromium is missing; run as root to install it (apt-get install chromium)" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
fi

cargo build -q -p assay
assay=${CARGO_TARGET_DIR:-target}/debug/assay
"$assay" scan "$image" --quiet --reproducible --as-of 2026-01-01 --format html -o "$out/report.html"
"$assay" scan "$image" --quiet --reproducible --as-of 2026-01-01 --format json -o "$out/report.json"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile")
page="file://$(realpath "$out/report.html")"
rm -f "$out/report.png"
timeout 120 "${chrome[@]}" --screenshot="$(realpath "$out")/report.png" --window-size=1280,2400 \
  "$page" 2>/dev/null
timeout 120 "${chrome[@]}" --dump-dom "$page" 2>/dev/null >"$out/dom.html"
[ -s "$out/report.png" ] || { echo "check-html: no screenshot written" >&2; exit 1; }

python3 - "$out/dom.html" "$out/report.json" <<'PY'
import html.parser, json, sys

dom_path, report_path = sys.argv[1], sys.argv[2]

class Text(html.parser.HTMLParser):
    """Collects the page's text and the text of the first-screen headline."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.headline, self.in_headline, self.tags = [], [], False, []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "p" and ("class", "headline") in attrs:
            self.in_headline = True
    def handle_endtag(self, tag):
        if tag == "p":
            self.in_headline = False
    def handle_data(self, data):
        self.parts.append(data)
        if self.in_headline:
            self.headline.append(data)

p = Text()
p.feed(open(dom_path, encoding="utf-8").read())
text = " ".join(p.parts)
headline = "".join(p.headline).strip()
report = json.load(open(report_path, encoding="utf-8"))
problems = []
openers = ("This image contains", "No critical", "Assay found nothing")
if not headline.startswith(openers):
    problems.append(f"first-screen summary missing or unexpected: {headline!r}")
if "script" in p.tags:
    problems.append("the rendered page has a <script> element")
for f in report["findings"]:
    if f["title"] not in text:
        problems.append(f"finding title not shown: {f['title']!r}")
print(f"summary: {headline}")
print(f"findings shown: {len(report['findings']) - sum('title not shown' in x for x in problems)}"
      f" of {len(report['findings'])}")
if problems:
    print("\n".join("FAIL " + x for x in problems), file=sys.stderr)
    sys.exit(1)
PY
echo "check-html: ok; screenshot $(realpath "$out/report.png")"
