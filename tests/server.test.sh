#!/usr/bin/env bash
# gpt2.server (python/gpt2/server.py) driven by a client nobody here wrote:
# the official `openai` npm package, pinned by tests/python/server/
# package-lock.json and installed with `npm ci` into $BUILD/server-npm (its
# cache in $BUILD/npm-cache). Then curl for what a client library hides
# (413, 404, 401 without a key, bad JSON, the SSE framing). On mid-f32; the
# greedy check is against the float64 reference continuation in
# tests/data/golden/mid-f32.txt. No npm registry reachable: a skip for the
# client's checks (never a pass); the curl checks still run.
. "$(dirname "$0")/lib.sh"
library=$PWD/$BUILD/libgpt2.so
model=$MODELS/mid-f32
key=test-key-$$

[ -e "$library" ] || { fail "server: $library is missing (run make)"; exit 1; }
[ -d "$model" ] || { fail "server: $model is missing (tools/gen/make_models.sh)"; exit 1; }

export GPT2_LIBRARY=$library PYTHONPATH=$PWD/python
"$PYTHON" -m gpt2.server -m "$model" --port 0 --api-key "$key" --max-body 65536 \
  >"$tmp/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$tmp"; [ "$failures" -eq 0 ] || exit 1' EXIT
for _ in $(seq 100); do
  base=$(sed -n 's|^gpt2.server: .* on \(http://.*/v1\)$|\1|p' "$tmp/server.log")
  [ -n "$base" ] && break
  sleep 0.1
done
if [ -z "$base" ]; then
  fail "server: did not start"; cat "$tmp/server.log"; exit 1
fi
check "server: binds to loopback by default" grep -q '^gpt2.server: .* on http://127.0.0.1:' "$tmp/server.log"
root=${base%/v1}
auth="Authorization: Bearer $key"

# ---- curl ------------------------------------------------------------------
status() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
check "server: GET /health 200 without a key" test "$(status "$root/health")" = 200
check "server: 401 without the key, OpenAI's error object" \
  test "$(status "$base/models")" = 401 -a "$(grep -c '"invalid_api_key"' "$tmp/body")" = 1
check "server: 404 for an unknown route" test "$(status -H "$auth" "$base/nothing")" = 404
check "server: 400 for a body that is not JSON" \
  test "$(status -H "$auth" -d '{nope' "$base/completions")" = 400
head -c 70000 /dev/zero | tr '\0' x >"$tmp/big"
check "server: 413 for a body over --max-body" \
  test "$(status -H "$auth" --data-binary @"$tmp/big" "$base/completions")" = 413
curl -sN -H "$auth" -d '{"prompt":"Hi","max_tokens":3,"stream":true,"seed":2}' \
  "$base/completions" >"$tmp/sse"
check "server: SSE framing: data: lines, blank-line separated, ending with [DONE]" \
  "$PYTHON" -c '
import json, sys
events = open(sys.argv[1]).read().split("\n\n")
assert events[-1] == "" and events[-2] == "data: [DONE]", events[-3:]
chunks = [json.loads(e[len("data: "):]) for e in events[:-2]]
assert all(e.startswith("data: ") for e in events[:-2])
assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop")
' "$tmp/sse"

# ---- greedy = the float64 reference, on the other f32 models -----------------
# (mid-f32 is checked through the openai client below.) A server of its own
# per model, without a key; the request goes through urllib.
for name in tiny-f32 124m-f32; do
  "$PYTHON" -m gpt2.server -m "$MODELS/$name" --port 0 >"$tmp/$name.log" 2>&1 &
  other=$!
  other_base=
  for _ in $(seq 300); do
    other_base=$(sed -n 's|^gpt2.server: .* on \(http://.*/v1\)$|\1|p' "$tmp/$name.log")
    [ -n "$other_base" ] && break
    sleep 0.1
  done
  "$PYTHON" - "$GPT2_TEST_DATA/golden/$name.txt" "$MODELS/$name" "$other_base" \
    >"$tmp/golden-$name" <<'PY'
import json, sys, urllib.request
import gpt2
golden, path, base = sys.argv[1:]
fields = {}
for line in open(golden):
    if line.strip() and not line.startswith("#"):
        key, *values = line.split()
        fields[key] = values
prompt = [int(v) for v in fields["prompt"][1:]]
continuation = [int(v) for v in fields["continuation"][1:]]
with gpt2.Model(path) as model:
    # the reference runs on past <|endoftext|>; the server stops there ("stop")
    end = continuation.index(model.eot) if model.eot in continuation else None
    expected = (model.decode(continuation[:end]), "length" if end is None else "stop")
body = json.dumps({"prompt": prompt, "max_tokens": len(continuation), "temperature": 0}).encode()
try:
    with urllib.request.urlopen(urllib.request.Request(base + "/completions", body)) as reply:
        choice = json.load(reply)["choices"][0]
    got = (choice["text"], choice["finish_reason"])
except Exception as error:  # noqa: B902 - reported as the check's failure
    got = ("(%s)" % error, None)
name = path.rstrip("/").rsplit("/", 1)[-1]
print(("ok" if got == expected else "FAIL") +
      " server: %s greedy completion = float64 reference continuation (%s)%s"
      % (name, expected[1], "" if got == expected else ": %r != %r" % (got, expected)))
PY
  [ $? -eq 0 ] || fail "server: $name greedy check did not run"
  relay "$tmp/golden-$name"
  kill "$other"; wait "$other" 2>/dev/null
done

# ---- the openai client ------------------------------------------------------
npm_dir=$BUILD/server-npm
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  skip "server: openai client: node and npm are not installed (apt-get install nodejs npm)"
  exit 0
fi
mkdir -p "$npm_dir"
cp tests/python/server/package.json tests/python/server/package-lock.json \
  tests/python/server/client.mjs "$npm_dir/"
if ! (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
        --cache "$PWD/../npm-cache" >"$tmp/npm.log" 2>&1); then
  if grep -qiE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|network' "$tmp/npm.log"; then
    skip "server: openai client: npm cannot reach the registry to install openai"
    exit 0
  fi
  fail "server: npm ci failed"; tail -n 20 "$tmp/npm.log"; exit 1
fi

"$PYTHON" - "$GPT2_TEST_DATA/golden/mid-f32.txt" "$model" >"$tmp/expected.json" <<'PY'
import json, sys
import gpt2
fields = {}
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("#"):
        key, *values = line.split()
        fields[key] = values
prompt = [int(v) for v in fields["prompt"][1:]]
continuation = [int(v) for v in fields["continuation"][1:]]
with gpt2.Model(sys.argv[2]) as model:
    assert model.eot not in continuation  # the server would stop there
    text = model.decode(continuation)
print(json.dumps({"model": "mid-f32", "golden": {"prompt": prompt, "text": text,
                                                  "n": len(continuation)}}))
PY
(cd "$npm_dir" && node client.mjs "$base" "$key" "$tmp/expected.json") >"$tmp/client.log" 2>&1
client_status=$?
relay "$tmp/client.log"
if [ "$client_status" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/client.log"; then
  fail "server: the openai client exited with status $client_status"
fi
exit 0
