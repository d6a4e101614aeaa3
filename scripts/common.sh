# Shared by scripts/test and scripts/run: install what is missing, then configure and build.
# Sourced, not run.

CONVSCOPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONVSCOPE_BUILD="${CONVSCOPE_BUILD:-$CONVSCOPE_ROOT/build}"

CONVSCOPE_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libopenblas0-pthread                         # OpenBLAS for OpenCV's and NumPy's BLAS calls
  libopencv-dev libhdf5-dev zlib1g-dev libjpeg-dev libpng-dev
  qt6-base-dev libqcustomplot-dev libgl-dev
  libgtest-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev                  # ONNX export (ONNX 1.12, opsets to 17)
  libgloo-dev                                  # Gloo's headers for data-parallel training
                                               # (declarations only; the wheel's Gloo runs)
  dataset-fashion-mnist                        # the demo data (real photos, MIT)
  xvfb xauth imagemagick                       # screenshots of the window
  librsvg2-bin                                 # renders the icon's PNGs from its SVG
  libqt6svg6                                   # SVG charts in the PDF of a run report
  chromium                                     # opens run reports in a real browser (tests)
  desktop-file-utils appstream                 # validate the desktop entry and metainfo
  python3 python3-venv                         # the PyTorch environment below
)

# LibTorch comes from PyTorch's own wheel (CUDA-enabled; it runs on the CPU where there is no
# GPU), in a virtual environment outside the clone so that later clones and CI reuse it.
# torchvision 0.29.2 is the newest pip serves; it declares torch>=2.14 and its operators load
# with 2.15.0 (checked with torchvision.ops.nms).
CONVSCOPE_TORCH_VERSION=2.15.0
CONVSCOPE_PY_PACKAGES=(
  "torch==$CONVSCOPE_TORCH_VERSION" torchvision==0.29.2 numpy==2.4.6 h5py==3.16.0 pillow==13.0.0
)
# Real Keras 3 for tests/keras (ConvScope's Keras graphs against Keras itself): its torch backend
# runs on the torch above; its jax backend is TensorFlow's arithmetic where the torch backend's
# is not ('same' average pooling with uneven padding). Pinned with torch so pip keeps torch.
CONVSCOPE_KERAS_PACKAGES=(keras==3.15.1 jax==0.10.2 jaxlib==0.10.2)
# ONNX Runtime reads what `convscope export --onnx` writes (tests/e2e/test_onnx_export.py).
CONVSCOPE_ONNX_PACKAGES=(onnxruntime==1.32.0 onnx==1.23.2)
# TensorFlow.js's converter from pip (tests/keras/compare_tfjs_converter.py) in an environment of
# its own: it brings TensorFlow 2.19, which wants numpy < 2.2 where the one above has 2.4.6.
# tensorflow-decision-forests, which the converter imports at once, pins TensorFlow 2.19.0; ydf
# 0.16 is generated for protobuf 6 where TensorFlow 2.19 wants protobuf < 6, hence ydf 0.15.0.
CONVSCOPE_TFJS_VERSION=4.22.0
CONVSCOPE_TFJS_PACKAGES=(
  "tensorflowjs==$CONVSCOPE_TFJS_VERSION" tensorflow==2.19.0 tf-keras==2.19.0
  tensorflow-decision-forests==1.12.0 ydf==0.15.0
)
CONVSCOPE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/convscope"
CONVSCOPE_VENV="${CONVSCOPE_VENV:-$CONVSCOPE_CACHE/venv-torch-$CONVSCOPE_TORCH_VERSION}"
CONVSCOPE_PYTHON="$CONVSCOPE_VENV/bin/python"
CONVSCOPE_TFJS_VENV="${CONVSCOPE_TFJS_VENV:-$CONVSCOPE_CACHE/venv-tfjs-$CONVSCOPE_TFJS_VERSION}"
CONVSCOPE_TFJS_PYTHON="$CONVSCOPE_TFJS_VENV/bin/python"
# The interpreter that makes the environment (python3 and python3-venv from the package list);
# every test and bench then runs with the environment's own, CONVSCOPE_PYTHON.
CONVSCOPE_BASE_PYTHON="${CONVSCOPE_BASE_PYTHON:-python3}"

convscope_install_missing() {
  local missing=() p
  for p in "${CONVSCOPE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  convscope_install_torch && convscope_install_keras && convscope_install_onnx
}

convscope_install_torch() {
  if [ -f "$CONVSCOPE_VENV/.complete" ]; then
    return 0
  fi
  echo "Setting up PyTorch $CONVSCOPE_TORCH_VERSION (LibTorch with CUDA, torchvision, numpy, h5py)"
  echo "in $CONVSCOPE_VENV: a one-time download of about 3 GB (5.5 GB installed), reused by"
  echo "later builds, clones and CI runs."
  rm -rf "$CONVSCOPE_VENV"
  mkdir -p "$(dirname "$CONVSCOPE_VENV")"
  "$CONVSCOPE_BASE_PYTHON" -m venv "$CONVSCOPE_VENV"
  "$CONVSCOPE_VENV/bin/pip" install --disable-pip-version-check -q "${CONVSCOPE_PY_PACKAGES[@]}"
  "$CONVSCOPE_PYTHON" -c "import torch, torchvision, h5py, numpy" || return 1
  touch "$CONVSCOPE_VENV/.complete"
}

# Packages added to the environment after it was first made (Keras for tests/keras, ONNX
# Runtime for the ONNX export tests): installed into a new environment and an older one alike,
# once each, remembered by a marker named after the first package's version.
#   convscope_install_extra WHAT SIZE CHECK PACKAGE...
convscope_install_extra() {
  local what="$1" size="$2" check="$3"
  shift 3
  local marker="$CONVSCOPE_VENV/.${1%%==*}-${1#*==}"
  if [ -f "$marker" ]; then
    return 0
  fi
  echo "Installing $* into $CONVSCOPE_VENV ($what, $size, once)"
  "$CONVSCOPE_VENV/bin/pip" install --disable-pip-version-check -q \
    "torch==$CONVSCOPE_TORCH_VERSION" "$@" || return 1
  KERAS_BACKEND=torch "$CONVSCOPE_PYTHON" -c "$check" || return 1
  touch "$marker"
}

convscope_install_keras() {
  convscope_install_extra "real Keras for the Keras checks" "about 130 MB" \
    "import keras, jax, torch" "${CONVSCOPE_KERAS_PACKAGES[@]}"
}

convscope_install_onnx() {
  convscope_install_extra "ONNX Runtime for the ONNX export checks" "about 110 MB installed" \
    "import onnxruntime, onnx" "${CONVSCOPE_ONNX_PACKAGES[@]}"
}

# Only scripts/test calls this: the converter is a peer for the tests, not needed to run
# ConvScope, so scripts/run does not fetch its 900 MB.
convscope_install_tfjs() {
  if [ -f "$CONVSCOPE_TFJS_VENV/.complete" ]; then
    return 0
  fi
  echo "Setting up TensorFlow.js's converter $CONVSCOPE_TFJS_VERSION (TensorFlow, tf_keras)"
  echo "for the TF.js checks in $CONVSCOPE_TFJS_VENV: a one-time download of about 900 MB"
  echo "(2.9 GB installed), reused by later builds, clones and CI runs."
  rm -rf "$CONVSCOPE_TFJS_VENV"
  mkdir -p "$(dirname "$CONVSCOPE_TFJS_VENV")"
  "$CONVSCOPE_BASE_PYTHON" -m venv "$CONVSCOPE_TFJS_VENV"
  "$CONVSCOPE_TFJS_VENV/bin/pip" install --disable-pip-version-check -q \
    "${CONVSCOPE_TFJS_PACKAGES[@]}" || return 1
  TF_CPP_MIN_LOG_LEVEL=3 "$CONVSCOPE_TFJS_PYTHON" -c "import tensorflowjs, tf_keras, tensorflow" \
    || return 1
  touch "$CONVSCOPE_TFJS_VENV/.complete"
}

convscope_build() {
  local jobs
  jobs="$(nproc)"
  if [ ! -f "$CONVSCOPE_BUILD/build.ninja" ]; then
    cmake -S "$CONVSCOPE_ROOT" -B "$CONVSCOPE_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCONVSCOPE_PYTHON="$CONVSCOPE_PYTHON" -DCONVSCOPE_TFJS_PYTHON="$CONVSCOPE_TFJS_PYTHON" \
      "$@"
  fi
  cmake --build "$CONVSCOPE_BUILD" -j "$jobs"
}
