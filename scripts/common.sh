# Shared by scripts/test and scripts/run: install what is missing, then configure and build.
# Sourced, not run.

CONVSCOPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONVSCOPE_BUILD="${CONVSCOPE_BUILD:-$CONVSCOPE_ROOT/build}"

CONVSCOPE_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread            # OpenBLAS: ~100x the reference BLAS for dense layers
  libopencv-dev libhdf5-dev zlib1g-dev libjpeg-dev
  qt6-base-dev libqcustomplot-dev libgl-dev
  libgtest-dev nlohmann-json3-dev
  dataset-fashion-mnist                        # the demo data (real photos, MIT)
  xvfb xauth imagemagick                       # screenshots of the window
  python3 python3-numpy python3-h5py python3-torch python3-torchvision python3-pil  # references
)

convscope_install_missing() {
  local missing=() p
  for p in "${CONVSCOPE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

convscope_build() {
  local jobs
  jobs="$(nproc)"
  if [ ! -f "$CONVSCOPE_BUILD/build.ninja" ]; then
    cmake -S "$CONVSCOPE_ROOT" -B "$CONVSCOPE_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
  fi
  cmake --build "$CONVSCOPE_BUILD" -j "$jobs"
}
