"""Security scan: refuses committed credentials (AWS keys, private keys, tokens)."""
import pathlib
import re
import sys

PATTERNS = [
    (re.compile(r"AKIA[0-9A-Z]{16}"), "AWS access key id"),
    (re.compile(r"-----BEGIN (RSA |EC )?PRIVATE KEY-----"), "private key"),
    (re.compile(r"ghp_[0-9A-Za-z]{36}"), "GitHub token"),
]
findings = []
for path in pathlib.Path(".").rglob("*"):
    if not path.is_file() or ".stagegate" in path.parts or path.suffix in {".pyc"}:
        continue
    text = path.read_text(errors="ignore")
    for pattern, what in PATTERNS:
        if pattern.search(text):
            findings.append(f"{path}: {what}")
print("\n".join(findings) or "security scan: no critical findings")
sys.exit(1 if findings else 0)
