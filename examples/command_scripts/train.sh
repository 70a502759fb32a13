#!/bin/sh
# A trial written as a shell script: it reports by printing lines
#   [scheduler] {"epoch": E, "accuracy": A}
# on stdout (anything else it prints goes to the task's stdout.log). Its config comes
# as arguments: --width W --depth D.
width=1; depth=1
while [ $# -gt 0 ]; do
    case "$1" in
        --width) width="$2"; shift 2 ;;
        --depth) depth="$2"; shift 2 ;;
        *) shift ;;
    esac
done
for epoch in 1 2 3 4 5; do
    accuracy=$(awk -v w="$width" -v d="$depth" -v e="$epoch" \
        'BEGIN { printf "%.4f", (1 - 1 / (1 + e * w / 10)) * (1 - (d - 3) ^ 2 / 20) }')
    echo "epoch $epoch: width=$width depth=$depth accuracy=$accuracy"
    echo "[scheduler] {\"epoch\": $epoch, \"accuracy\": $accuracy}"
done
