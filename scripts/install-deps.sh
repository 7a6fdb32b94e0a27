#!/usr/bin/env bash
# Installs the Debian 12 packages mlcc builds and tests with. Idempotent: packages
# already present are skipped, so running it twice costs only the dpkg query.
# libamdhip64-5 (AMD's HIP runtime) is for the ROCm device's test without an AMD GPU.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git python3 python3-dev
  llvm-19-dev lld-19 clang-19 libzstd-dev zlib1g-dev libedit-dev libcurl4-openssl-dev
  libfmt-dev catch2 pybind11-dev nlohmann-json3-dev libcli11-dev libpcre2-dev
  spirv-headers spirv-tools libvulkan-dev mesa-vulkan-drivers libsentencepiece-dev
  libamdhip64-5
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
