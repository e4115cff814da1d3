#!/usr/bin/env bash
# Makes sure OpenBLAS's development files (the engine's one system dependency) are installed.
# Installs Debian/Ubuntu's libopenblas-dev (and pkg-config) when missing: directly as root,
# through sudo otherwise. Source it or run it; it exits non-zero with a clear message on failure.
set -euo pipefail

if pkg-config --exists openblas 2>/dev/null; then
    exit 0
fi
echo "swift-gpt2: OpenBLAS (libopenblas-dev) is not installed; installing it..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "swift-gpt2: no apt-get here: install OpenBLAS and pkg-config with your package manager" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "swift-gpt2: run as root or install sudo, or: apt-get install libopenblas-dev pkg-config" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
pkg-config --exists openblas || { echo "swift-gpt2: libopenblas-dev installed but pkg-config cannot find openblas" >&2; exit 1; }
