# Headless Chromium with no network, for the report tests: the DOM the browser built
# from a page, or a screenshot of it. Needs `chromium` (scripts/deps.sh installs it).
CHROMIUM_FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  "--host-resolver-rules=MAP * ~NOTFOUND")
have_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  fail "chromium is missing (scripts/deps.sh installs it)"; return 1
}
browser_dom() { # PAGE.html > DOM
  have_chromium || return 1
  timeout 120 chromium "${CHROMIUM_FLAGS[@]}" --user-data-dir="$(mktemp -d "$T/profile.XXXXXX")" \
    --dump-dom "file://$(realpath "$1")" 2>>"$T/chromium.log"
}
browser_shot() { # PAGE.html OUT.png
  have_chromium || return 1
  rm -f "$2"
  timeout 120 chromium "${CHROMIUM_FLAGS[@]}" --user-data-dir="$(mktemp -d "$T/profile.XXXXXX")" \
    --screenshot="$2" --window-size=1280,2000 "file://$(realpath "$1")" >>"$T/chromium.log" 2>&1
}
# The rendered DOM as JSON: the first visible text and the element holding it, the count
# of each tag, and every element with an id or data-* attributes (with its text).
dom_json() { # < DOM > JSON
  /usr/bin/python3 -c '
import json, sys
from html.parser import HTMLParser
VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "area", "base", "wbr"}
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.tags = {}; s.els = []; s.first = None; s.skip = 0
    def handle_starttag(s, tag, attrs):
        s.tags[tag] = s.tags.get(tag, 0) + 1
        a = dict(attrs)
        el = {"tag": tag, "id": a.get("id"), "attrs": {k: v for k, v in a.items() if k.startswith("data-")}, "text": ""}
        if el["id"] or el["attrs"]:
            s.els.append(el)
        if tag in VOID:
            return
        s.stack.append(el)
        if tag in ("head", "style", "title", "script"):
            s.skip += 1
    def handle_startendtag(s, tag, attrs):
        s.handle_starttag(tag, attrs)
        if tag not in VOID:
            s.handle_endtag(tag)
    def handle_endtag(s, tag):
        while s.stack:
            el = s.stack.pop()
            if el["tag"] in ("head", "style", "title", "script"):
                s.skip -= 1
            if el["tag"] == tag:
                break
    def handle_data(s, d):
        if s.skip:
            return
        for el in s.stack:
            el["text"] += d
        if s.first is None and d.strip():
            s.first = {"text": d.strip(), "in": [e["id"] for e in s.stack if e["id"]]}
p = P(); p.feed(sys.stdin.read())
json.dump({"first": p.first, "tags": p.tags, "els": p.els}, sys.stdout)
'
}
