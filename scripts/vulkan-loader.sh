# Sourced by the tests/gpu Vulkan scripts. The GPU machine has NVIDIA's Vulkan driver but no
# Vulkan loader, nor the GL dispatch libraries the driver (libGLX_nvidia) needs to start, so
# they travel as Debian packages, unpacked there as /work/.library/device/README.md says:
#   fetch_vulkan_loader DIR   here: downloads the packages (amd64) into DIR unless there
#   use_vulkan_loader DIR     there, only where no loader is installed: unpacks them into /,
#                             runs ldconfig and names NVIDIA's driver manifests
VULKAN_LOADER_PACKAGES=(libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0)

fetch_vulkan_loader() {
  local dir=$1 pkg missing=()
  for pkg in "${VULKAN_LOADER_PACKAGES[@]}"; do
    compgen -G "$dir/${pkg}_*_amd64.deb" > /dev/null || missing+=("$pkg:amd64")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  mkdir -p "$dir"
  local opts=()
  if [[ $(dpkg --print-architecture) != amd64 ]]; then
    mkdir -p /tmp/amd64/partial
    opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${opts[@]}" update
  fi
  (cd "$dir" && apt-get "${opts[@]}" download "${missing[@]}")
}

use_vulkan_loader() {
  if ldconfig -p | grep -q 'libvulkan\.so\.1 '; then return 0; fi
  local deb
  for deb in "$1"/*.deb; do dpkg -x "$deb" /; done
  ldconfig
  local nv=/usr/local/nvidia/share
  if [[ -f $nv/vulkan/icd.d/nvidia_icd.json ]]; then
    export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$nv/vulkan/icd.d/nvidia_icd.json}
    export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-$nv/glvnd/egl_vendor.d/10_nvidia.json}
  fi
  echo "Vulkan loader: unpacked $(ls "$1"/*.deb | wc -l) packages from $1"
}
