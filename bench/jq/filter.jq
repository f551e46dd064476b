# Stateless job: keep purchases, project to {user, amount, cents}.
# Run with: jq -c -f bench/jq/filter.jq INPUT
select(.event == "purchase") | {user, amount, cents: (.amount * 100)}
