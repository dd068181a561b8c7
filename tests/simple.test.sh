# examples/simple.c end to end: greedy text from the generated models,
# the same text on every run.
. "$(dirname "$0")/lib.sh"
for model in tiny-f32 124m-f16; do
  out=$("$BUILD/simple" "$MODELS/$model" "Hello, world" 16 2>&1)
  status=$?
  check "simple on $model exits 0" test $status -eq 0
  case $out in "Hello, world"?*) ok "simple on $model prints the prompt and a continuation";;
    *) fail "simple on $model printed: $out";; esac
  again=$("$BUILD/simple" "$MODELS/$model" "Hello, world" 16 2>&1)
  check "simple on $model gives the same text twice" test "$out" = "$again"
done
out=$("$BUILD/simple" "$MODELS/does-not-exist" "x" 2>&1)
check "simple on a missing model exits 1" test $? -eq 1
case $out in *"does-not-exist"*) ok "simple names the missing path";; *) fail "simple printed: $out";; esac

# README's main job (`make demo`): the default model and the program it runs.
out=$(N=4 BUILD="$BUILD" tests/demo.sh 2>&1)
check "make demo's script generates text from the default model" test $? -eq 0
case $out in *"generated:"*"4 tokens"*) ok "demo prints the timing summary";; *) fail "demo printed: $out";; esac
