"""Type/syntax check: every Python file compiles and the frontend config is valid JSON."""
import json
import pathlib
import py_compile
import sys

ok = True
for path in pathlib.Path(".").glob("**/*.py"):
    if ".stagegate" in path.parts:
        continue
    try:
        py_compile.compile(str(path), doraise=True)
    except py_compile.PyCompileError as e:
        print(e)
        ok = False
for path in pathlib.Path("stagegate").glob("**/*.json"):
    try:
        json.loads(path.read_text())
    except ValueError as e:
        print(f"{path}: {e}")
        ok = False
print("typecheck: ok" if ok else "typecheck: failed")
sys.exit(0 if ok else 1)
