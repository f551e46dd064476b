# Per-user 1-minute tumbling windows: count and sum of amount, one output row per (user, window).
# Run with: jq -nc -f bench/jq/window.jq INPUT
#
# A streaming `reduce` over `inputs` keeps only the aggregates in memory (`-s group_by` would
# slurp the whole file). The state is an object keyed by "user|minute" holding [count, sum].
# The current aggregate is bound to $acc first so that the right-hand side of the assignment
# never reads `.`: a version that computed the new value from `.[$k].count` was ~13x slower at
# 100k events (jq 1.6 then seems to copy the whole state object on every record).
reduce inputs as $r ({};
  ($r.user + "|" + (($r.ts / 60000 | floor) | tostring)) as $k
  | .[$k] as $acc
  | .[$k] = if $acc then [$acc[0] + 1, $acc[1] + $r.amount] else [1, $r.amount] end)
| to_entries[]
| (.key | split("|")) as [$user, $minute]
| ($minute | tonumber * 60000) as $start
| {user: $user, window_start: $start, window_end: ($start + 60000),
   count: .value[0], amount_sum: .value[1]}
