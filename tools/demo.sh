#!/bin/sh
# make demo: run the main job (spimguard scan with the default model) on the
# bundled real example, data/demo/messages.jsonl, and print readable verdicts.
set -e
bin=${1:-build/spimguard}
here=$(dirname "$0")/..
demo="$here/data/demo/messages.jsonl"
echo "== spimguard scan --human --summary < data/demo/messages.jsonl"
echo "   ($(wc -l < "$demo") messages: real SMS ham and spam, then a compromised"
echo "    contact sending one phishing lure to its contacts)"
echo
"$bin" scan --human --summary "$demo"
