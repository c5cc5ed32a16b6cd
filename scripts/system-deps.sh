#!/bin/sh
# Installs the Debian packages ckm needs on the host (as root), only those that are missing.
# debootstrap builds the Asterisk sandbox; espeak-ng + sox render and convert prompts;
# chromium runs the browser tests; baresip (a real SIP user agent) is the desk phone in tests;
# ip (iproute2) makes the network namespace of the LAN browser test.
set -e
need=""
for pair in debootstrap:debootstrap espeak-ng:espeak-ng sox:sox chromium:chromium baresip:baresip-core ip:iproute2; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
[ -e /usr/lib/x86_64-linux-gnu/sox/libsox_fmt_all.so ] || [ -e /usr/lib/aarch64-linux-gnu/libsox_fmt_all.so ] || true
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "ckm: missing system packages:$need — run as root or install them with apt-get" >&2
        exit 1
    fi
    echo "ckm: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
