"""A command suite in the app's own toolchain: smoke tests against the deployed API,
reported as JUnit XML where stagegate asks ($STAGEGATE_JUNIT). Stack outputs arrive as
STAGEGATE_OUTPUT_<Name>, the frontend as STAGEGATE_FRONTEND_URL. Exits non-zero when a
test fails, as test runners do."""
import json
import os
import time
import urllib.request
from xml.sax.saxutils import quoteattr

API = os.environ["STAGEGATE_OUTPUT_ApiUrl"]
SITE = os.environ["STAGEGATE_FRONTEND_URL"]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def health():
    status, body = get(API + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok", body


def home_page():
    status, body = get(SITE + "/index.html")
    assert status == 200, status


results = []
for test in (health, home_page):
    started = time.time()
    try:
        test()
        results.append((test.__name__, time.time() - started, None))
    except Exception as e:  # a failed assertion or a refused connection
        results.append((test.__name__, time.time() - started, repr(e)))

failures = sum(1 for r in results if r[2])
cases = "".join(
    '<testcase classname="smoke" name=%s time="%.3f">%s</testcase>'
    % (quoteattr(name), secs, "<failure message=%s/>" % quoteattr(err) if err else "")
    for name, secs, err in results
)
with open(os.environ["STAGEGATE_JUNIT"], "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?><testsuite name="smoke" tests="%d" failures="%d">%s</testsuite>\n'
            % (len(results), failures, cases))
raise SystemExit(1 if failures else 0)
