"""Lint: no tabs, no trailing whitespace, no debugger statements in the app's code."""
import pathlib
import sys

problems = []
for path in list(pathlib.Path("backend").glob("*.py")) + list(pathlib.Path("frontend").glob("*.js")):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if "\t" in line:
            problems.append(f"{path}:{n}: tab character")
        if line != line.rstrip():
            problems.append(f"{path}:{n}: trailing whitespace")
        if "debugger;" in line or "breakpoint()" in line:
            problems.append(f"{path}:{n}: debugger left in")
print("\n".join(problems) or "lint: clean")
sys.exit(1 if problems else 0)
