# Reads abidiff's report (a release's baseline against the built
# library; abidiff counts a change already reported through another
# function as "filtered out") and prints every line that is not an allowed change: added
# functions, and fields appended at the end of a size-first params struct
# (docs/abi.md). Anything printed fails tests/abidiff.test.sh.
{ sub(/^[ \t]+/, "") }
/^$/ { next }
/^Functions changes summary: 0 Removed, [0-9]+ Changed( \([0-9]+ filtered out\))?, [0-9]+ Added functions?$/ { next }
/^Variables changes summary: 0 Removed, 0 Changed, [0-9]+ Added variables?$/ { next }
/^[0-9]+ Added functions?:$/ || /^\[A\] 'function / { next }
/^[0-9]+ functions? with some indirect sub-type changes?:$/ { next }
/^\[C\] 'function .*' at .* has some indirect sub-type changes:$/ { next }
/^parameter [0-9]+ of type '.*' has sub-type changes:$/ { next }
/^in pointed to type '.*'( at .*)?:$/ || /^in unqualified underlying type '.*'( at .*)?:$/ { next }
/^underlying type 'struct gpt2_[a-z]+_params' at .* changed:$/ { next }
/^type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
  old_size = $5 + 0
  if ($7 + 0 > old_size) next
}
/^[0-9]+ data member insertions?:$/ { next }
/^'.*', at offset [0-9]+ \(in bits\)/ {
  match($0, /at offset [0-9]+/)
  if (substr($0, RSTART + 10, RLENGTH - 10) + 0 >= old_size) next
}
{ print }
