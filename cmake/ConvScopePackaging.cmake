# `cpack -G DEB` in a build configured with -DCONVSCOPE_TORCH_CUDA=OFF: one package that runs on
# any Debian 12 amd64, on the CPU. It carries LibTorch's CPU libraries (lib/convscope, found
# through the binary's $ORIGIN RUNPATH) and depends on Debian's Qt 6, OpenCV, HDF5, QCustomPlot,
# libjpeg and libpng, as dpkg-shlibdeps finds them. scripts/check-deb builds it and installs it
# in a clean Debian 12 root.
set(CPACK_PACKAGE_NAME convscope)
set(CPACK_PACKAGE_VENDOR "The ConvScope developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Workbench for training image classifiers and looking inside them")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 2)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# There is no project address or mailing list yet: .invalid says so rather than inventing one.
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The ConvScope developers <convscope@example.invalid>")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}
 ConvScope trains convolutional networks on a folder of images (one sub-folder per
 class), shows data augmentation, the training curves, the filters, feature maps
 and class activation maps of a trained network, and classifies images. Every
 step also runs headless from the command line.
 .
 This package runs on the CPU: it bundles LibTorch's CPU libraries from PyTorch's
 wheel. For a GPU, build from source with the CUDA wheel (see the README).")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Loaded as plugins, so no NEEDED entry names them: Qt's xcb and Wayland platforms (only a
# Recommends of libqt6gui6, and the window needs one); Qt's SVG image plugin, for the charts of a
# report printed to PDF.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins, libqt6svg6")
# The bundled LibTorch libraries belong to no Debian package: dpkg-shlibdeps finds them there.
file(GLOB _wheel_lib_dirs LIST_DIRECTORIES true "${_site_packages}/nvidia/*/lib")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${_site_packages}/torch/lib" ${_wheel_lib_dirs})
# zstd: the 450 MB of libtorch_cpu pack in a minute on two cores (xz takes ten); dpkg reads it
# since Debian 12.
set(CPACK_DEBIAN_COMPRESSION_TYPE zstd)
# Checked when cpack runs: a CUDA build's binary points into the wheel on the build machine.
set(CPACK_PROJECT_CONFIG_FILE "${CMAKE_CURRENT_LIST_DIR}/ConvScopeCPackCheck.cmake")
set(CPACK_CONVSCOPE_TORCH_CUDA ${CONVSCOPE_TORCH_CUDA})
include(CPack)
