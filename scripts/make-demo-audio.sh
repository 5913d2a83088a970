#!/usr/bin/env bash
# Regenerates the demo's recorded utterances (committed, so the demo needs no system tools):
# espeak-ng speaks each line, sox makes it 16 kHz mono 16-bit.
set -euo pipefail
cd "$(dirname "$0")/../examples/assets"
i=0
while IFS= read -r line; do
  i=$((i + 1))
  espeak-ng -v en-us -s 185 -w /tmp/utterance.wav "$line"
  sox /tmp/utterance.wav -r 16000 -c 1 -b 16 -e signed-integer "utterance-$i.wav"
done <<'LINES'
Hi, I need help with my order.
What is the weather in Paris?
Can you book a table for two?
When does the store open?
Thanks, that is all.
LINES
rm -f /tmp/utterance.wav
