#!/usr/bin/env bash
# Part 1 of `make demo`: a card session on a simulated My Number card, the way a kiosk
# integrator or developer would drive it from the command line. Test card, test PKI only.
set -euo pipefail
jpki="${JPKI:-.venv/bin/jpki}"
work=$(mktemp -d -t jpki-demo-card-XXXXXX)
trap 'rm -rf "$work"' EXIT
export JPKI_SIM_CA="$work/ca"             # the simulator's test CA (never trusted by default)
export JPKI_SIMULATOR="$work/card.json"   # every card command below uses this simulated card
step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "a new simulated card (test keys, a generated identity)" \
  "$jpki" sim init "$JPKI_SIMULATOR" --seed 7
step "card type, PIN tries left (no try used), certificates" "$jpki" status
step "the user-authentication certificate, read from the card" \
  "$jpki" cert export auth -o "$work/auth.pem"
printf 'hello from jpki-sdk\n' > "$work/message.txt"
step "a signature with the auth key (PIN from JPKI_PIN; never from the command line)" \
  env JPKI_PIN=1234 "$jpki" sign "$work/message.txt" --key auth --hash sha256 -o "$work/message.sig"
step "the signature checked against the certificate, without the card" \
  "$jpki" verify "$work/message.txt" "$work/message.sig" --cert "$work/auth.pem"
"$jpki" sim ca export "$work/ca-export" > /dev/null
step "the certificate verified: path to the (explicitly trusted) TEST root, CRL" \
  "$jpki" cert verify "$work/auth.pem" --purpose auth \
  --test-roots "$work/ca-export/roots" --crl "$work/ca-export/crls"
