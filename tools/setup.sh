#!/usr/bin/env bash
# setup.sh - install omnic's build and test dependencies (Debian packages, the
# npm oracle packages pinned in tests/oracle) and build build/omnic.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends \
        build-essential pkg-config libjansson-dev libpcre2-dev libcmocka-dev libmicrohttpd-dev \
        libicu-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev \
        libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev libcurl4-openssl-dev zlib1g-dev \
        python3 python3-numpy python3-pil python3-torch python3-torchvision python3-torchaudio \
        python3-resampy ffmpeg >/dev/null
    command -v npm >/dev/null || $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
(cd tests/oracle && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
make -j"$(nproc)"
