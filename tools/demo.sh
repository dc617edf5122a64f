#!/bin/sh
# make demo: run the main job (spimguard scan with the default model) on the
# bundled real example, data/demo/messages.jsonl, print readable verdicts,
# then compare them with the ground truth the file carries ("truth").
set -e
bin=${1:-build/spimguard}
here=$(dirname "$0")/..
demo="$here/data/demo/messages.jsonl"
echo "== spimguard scan --human --summary data/demo/messages.jsonl"
echo "   ($(wc -l < "$demo") messages: real SMS ham and spam from the SMS Spam Collection"
echo "    test split, then a compromised contact sending one phishing lure to"
echo "    its contacts; reasons are shown for messages that were not delivered)"
echo
"$bin" scan --human --summary "$demo"
echo
echo "== against the ground truth in the file"
tmp=$(mktemp)
"$bin" scan "$demo" | sed 's/.*"action":"\([a-z]*\)".*"account_action":"\([a-z_]*\)".*/\1 \2/' > "$tmp"
sed 's/.*"truth": *"\([a-z]*\)".*/\1/' "$demo" | paste -d' ' - "$tmp" | awk '
  { n[$1]++; if ($2 != "deliver") stopped[$1]++; if ($3 != "none") acct[$1]++ }
  END {
    printf "%-9s %9s %18s %16s\n", "truth", "messages", "not delivered", "account actions"
    split("ham spam phishing", k, " ")
    for (i = 1; i <= 3; i++) printf "%-9s %9d %18d %16d\n", k[i], n[k[i]], stopped[k[i]], acct[k[i]]
  }'
rm -f "$tmp"
