#!/usr/bin/env bash
# Install the Debian/Ubuntu packages voicelive-nb needs, if any are missing.
#   libportaudio2 (+ libasound2-plugins): sounddevice's PortAudio and its route to PulseAudio
#   pulseaudio, pulseaudio-utils: private virtual sound devices for headless tests and demos
#   espeak-ng, sox: the emulator's speech engine and audio tools
#   cmt: a LADSPA feedback delay, the room response of the virtual room (echo tests)
#   chromium: the browser the JupyterLab tests drive (never downloaded by playwright)
# As root (or with password-less sudo) it installs them; otherwise it prints the command.
set -euo pipefail
PKGS=(libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils espeak-ng sox cmt chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "voicelive-nb: missing system packages: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
  echo "voicelive-nb: missing system packages: ${missing[*]}" >&2
  echo "  run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "voicelive-nb: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
