#!/bin/bash
# phishing_compare.sh -- the URL detector side by side with eth-phishing-detect
# (MetaMask's npm package; fuzzy Levenshtein match of domains against its
# fuzzylist), then spimguard alone on real top sites and PhishTank.
#   usage: bench/phishing_compare.sh [BUILD_DIR] [SHARED_DATA_DIR]
# Needs node + npm for the peer (installed into a temporary folder) and
# python3 for counting.  Prints:
#   1. both tools with the peer's 15-domain fuzzylist as protected brands:
#      recall on the peer's blacklist (13,752 phishing domains; the peer's
#      fuzzy match alone, blacklist emptied; ours: LOOKALIKE_DOMAIN or
#      BRAND_IN_SUBDOMAIN), false positives on the Majestic top 10k and on
#      the peer's whitelist (1,138 legitimate lookalike-ish domains; the
#      peer's whitelist disabled so its fuzzy match is what is measured);
#   2. spimguard with its shipped brands on the Majestic top 10k;
#   3. PhishTank URLs whose target is a shipped brand: share with any URL
#      finding, and among those whose host carries a trace of the brand,
#      the share flagged LOOKALIKE_DOMAIN / BRAND_IN_SUBDOMAIN.
set -e
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
shared=${2:-${SG_SHARED_DATA:-$here/../../shared/data}}
sg="$build/spimguard"
ph="$shared/phishing"
top="$shared/top_sites/majestic_top10k.txt"
[ -x "$sg" ] || { echo "no $sg (build first)" >&2; exit 2; }
[ -f "$ph/eth_phishing_detect_blacklist.txt" ] || { echo "no data in $shared" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$ph/eth_phishing_detect_fuzzylist.txt" > "$tmp/fuzzy.txt"

# ---- spimguard: count lines with a lookalike finding (domain -> http://domain)
cat > "$tmp/count.py" <<'EOF'
import sys, json
kinds = {"LOOKALIKE_DOMAIN", "BRAND_IN_SUBDOMAIN"}
n = hit = 0
for line in sys.stdin:
    o = json.loads(line); n += 1
    hit += any(f["kind"] in kinds for u in o["urls"] for f in u["findings"])
print(hit, n)
EOF
ours() { # FILE [spimguard urls options]
    local f=$1; shift
    grep -v '^#' "$f" | sed 's|^|http://|' | "$sg" urls --json "$@" | python3 "$tmp/count.py"
}

# ---- the peer: eth-phishing-detect 1.2.0, fuzzy match only
peer_ok=0
if command -v npm >/dev/null && command -v node >/dev/null &&
   (cd "$tmp" && npm install --silent --no-audit --no-fund eth-phishing-detect@1.2.0 >/dev/null 2>&1); then
    peer_ok=1
    cat > "$tmp/peer.js" <<'EOF'
// node peer.js FUZZYLIST [WHITELIST] < domains: prints "fuzzy-matches total"
const D = require(process.cwd() + '/node_modules/eth-phishing-detect/src/detector.js');
const fs = require('fs');
const rd = f => fs.readFileSync(f, 'utf8').split('\n').map(s => s.trim()).filter(s => s && !s.startsWith('#'));
const det = new D({ fuzzylist: rd(process.argv[2]), whitelist: process.argv[3] ? rd(process.argv[3]) : [],
                    blacklist: [], tolerance: 2 });  /* tolerance 2 as in its config.json */
let n = 0, hit = 0;
for (const d of rd('/dev/stdin')) { n++; const r = det.check(d.toLowerCase()); if (r.result && r.type === 'fuzzy') hit++; }
console.log(hit + ' ' + n);
EOF
    peer() { (cd "$tmp" && node peer.js "$@"); }
fi

row() { # NAME "hit n" "hit n" "hit n"
    printf "%-32s" "$1"; shift
    for c in "$@"; do set -- $c; printf "%7s/%-6s (%5.2f %%)  " "$1" "$2" "$(echo "$1 $2" | awk '{print 100*$1/$2}')"; done
    echo
}
echo "== lookalike domains, brands = eth-phishing-detect's fuzzylist (15 domains)"
printf "%-32s%-27s%-27s%-27s\n" "tool" "blacklist recall" "Majestic top10k flagged" "peer whitelist flagged"
if [ $peer_ok = 1 ]; then
    row "eth-phishing-detect 1.2.0 fuzzy" "$(peer "$tmp/fuzzy.txt" < "$ph/eth_phishing_detect_blacklist.txt")" \
        "$(peer "$tmp/fuzzy.txt" < "$top")" "$(peer "$tmp/fuzzy.txt" < "$ph/eth_phishing_detect_whitelist.txt")"
    row "  (with its whitelist on)" "$(peer "$tmp/fuzzy.txt" "$ph/eth_phishing_detect_whitelist.txt" < "$ph/eth_phishing_detect_blacklist.txt")" \
        "$(peer "$tmp/fuzzy.txt" "$ph/eth_phishing_detect_whitelist.txt" < "$top")" "0 1138"
else
    echo "eth-phishing-detect: skipped (needs node and npm install eth-phishing-detect@1.2.0)"
fi
row "spimguard urls" "$(ours "$ph/eth_phishing_detect_blacklist.txt" --brands "$tmp/fuzzy.txt")" \
    "$(ours "$top" --brands "$tmp/fuzzy.txt")" "$(ours "$ph/eth_phishing_detect_whitelist.txt" --brands "$tmp/fuzzy.txt")"

echo
echo "== spimguard with its shipped brands (data/brands.txt) and allow-list"
row "Majestic top 10k flagged" "$(ours "$top")"

echo
echo "== PhishTank URLs whose target is a shipped brand"
cat > "$tmp/phishtank.py" <<'EOF'
import sys, json, subprocess, re
sg, tsv, data = sys.argv[1], sys.argv[2], sys.argv[3]
# PhishTank target name -> brand labels of data/brands.txt
T = {"Facebook": ["facebook", "fb", "messenger"], "PayPal": ["paypal"], "eBay, Inc.": ["ebay"],
     "Microsoft": ["microsoft", "live", "outlook", "hotmail", "office", "office365", "microsoftonline",
                   "skype", "msn", "xbox", "onedrive", "sharepoint", "azure"],
     "Lloyds Bank": ["lloydsbank"], "Instagram": ["instagram"], "Her Majesty's Revenue and Customs": ["hmrc"],
     "Google": ["google", "gmail", "googlemail", "youtube"], "Amazon.com": ["amazon"],
     "Internal Revenue Service": ["irs"], "Orange": ["orange"], "Mastercard": ["mastercard"],
     "ING Direct": ["ing"], "Halifax": ["halifax"], "HSBC Group": ["hsbc"], "Adobe": ["adobe"],
     "JPMorgan Chase and Co.": ["chase"], "Allegro": ["allegro"], "Netflix": ["netflix"], "DHL": ["dhl"],
     "Twitter": ["twitter", "x"], "Wells Fargo": ["wellsfargo"], "Steam": ["steamcommunity", "steampowered"],
     "Vodafone": ["vodafone"], "VKontakte": ["vk"], "Bank of America Corporation": ["bankofamerica"],
     "WeTransfer": ["wetransfer"], "Dropbox": ["dropbox"], "Blockchain": ["blockchain"],
     "Banco Santander, S.A.": ["santander"], "Apple": ["apple", "icloud", "itunes"],
     "American Express": ["americanexpress"], "Yahoo": ["yahoo", "ymail"], "Visa": ["visa"],
     "Rakuten": ["rakuten"], "LinkedIn": ["linkedin"], "Hotmail": ["hotmail", "live", "outlook"],
     "DocuSign": ["docusign"], "Comcast": ["comcast", "xfinity"], "Binance": ["binance"],
     "Barclays Bank PLC": ["barclays"], "NatWest Bank": ["natwest"], "AOL": ["aol"],
     "WhatsApp": ["whatsapp"], "Coinbase": ["coinbase"], "GitHub": ["github"],
     "United Services Automobile Association": ["usaa"]}
rows = []
for l in open(tsv, encoding="utf-8"):
    if l.startswith("#"): continue
    pid, tgt, url = l.rstrip("\n").split("\t", 2)
    if tgt in T: rows.append((tgt, url))
inp = "".join(u.replace("\r", " ") + "\n" for _, u in rows)
out = subprocess.run([sg, "urls", "--json"], input=inp.encode(), capture_output=True).stdout.decode().splitlines()
# hosts the brands own (brands.txt, allow.txt, and Google / Microsoft
# infrastructure): phishing hosted there carries no lookalike host
own = {"googleapis.com", "azureedge.net"}
for f in ("brands.txt", "allow.txt"):
    for l in open(data + "/" + f):
        if not l.startswith("#"): own |= {d for d in l.split() if "*" not in d}
def owned(host):
    p = host.split(".")
    return any(".".join(p[i:]) in own for i in range(len(p) - 1))
def dl(a, b):  # Damerau-Levenshtein (optimal string alignment)
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + (a[i-1] != b[j-1]))
            if i > 1 and j > 1 and a[i-1] == b[j-2] and a[i-2] == b[j-1]: d[i][j] = min(d[i][j], d[i-2][j-2] + 1)
    return d[-1][-1]
def trace(host, labels):
    # a trace of the brand: its name in the host (>= 4 letters) or as a whole
    # label / token, or a label / token of >= 5 letters within 2 edits of it
    toks = set(re.split(r"[.\-]", host))
    for b in labels:
        if (len(b) >= 4 and b in host) or b in toks: return True
        if len(b) >= 5 and any(len(t) >= 5 and abs(len(t) - len(b)) <= 2 and dl(t, b) <= 2 for t in toks):
            return True
    return False
n = flagged = ntrace = tflag = 0
for (tgt, url), line in zip(rows, out):
    o = json.loads(line); n += 1
    if not o["urls"]: continue
    u = o["urls"][0]
    ks = {f["kind"] for f in u["findings"]}
    flagged += bool(ks)
    if trace(u["host"], T[tgt]) and not owned(u["host"]):
        ntrace += 1
        tflag += bool(ks & {"LOOKALIKE_DOMAIN", "BRAND_IN_SUBDOMAIN"})
print(f"URLs targeting a shipped brand: {n}; with any URL finding: {flagged} ({100*flagged/n:.1f} %)")
print(f"host carries a trace of the brand: {ntrace}; flagged LOOKALIKE_DOMAIN/BRAND_IN_SUBDOMAIN: "
      f"{tflag} ({100*tflag/max(ntrace, 1):.1f} %)")
EOF
python3 "$tmp/phishtank.py" "$sg" "$ph/phishtank_targets.tsv" "$here/../data"
