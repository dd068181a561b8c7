#!/usr/bin/env bash
# The Python binding's pytest suite (python/tests), one "ok"/"FAIL" line per
# pytest test, against $BUILD/libgpt2.so and the models in $GPT2_TEST_MODELS.
# A missing pytest, library or model is a failure, never a skip.
. "$(dirname "$0")/lib.sh"
library=$PWD/$BUILD/libgpt2.so

if [ ! -e "$library" ]; then
  fail "python: $library is missing (run make)"; exit 1
fi
if ! "$PYTHON" -c "import pytest" 2>/dev/null; then
  fail "python: $PYTHON has no pytest (apt-get install python3-pytest)"; exit 1
fi

GPT2_LIBRARY=$library BUILD=$BUILD "$PYTHON" -m pytest -p no:cacheprovider -q \
  --junitxml="$tmp/junit.xml" python/tests >"$tmp/log" 2>&1
status=$?

# One line per test case from pytest's JUnit XML; skipped counts as failed.
"$PYTHON" - "$tmp/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ElementTree

try:
    cases = list(ElementTree.parse(sys.argv[1]).getroot().iter("testcase"))
except (OSError, ElementTree.ParseError) as error:
    print("FAIL python: no pytest report (%s)" % error)
    sys.exit(1)
if not cases:
    print("FAIL python: pytest ran no tests")
failed = not cases
for case in cases:
    module = case.get("classname", "").rsplit(".", 1)[-1]
    name = "python: %s::%s" % (module, case.get("name")) if module else "python: " + case.get("name")
    problems = [child for child in case if child.tag in ("failure", "error", "skipped")]
    if problems:
        detail = (problems[0].get("message") or problems[0].tag).strip().splitlines()
        print("FAIL %s: %s" % (name, detail[0][:300] if detail else problems[0].tag))
        failed = True
    else:
        print("ok " + name)
sys.exit(1 if failed else 0)
PY
report=$?
if [ "$status" -ne 0 ] && [ "$report" -eq 0 ]; then
  fail "python: pytest exited with status $status"
  tail -n 20 "$tmp/log"
fi
exit 0
