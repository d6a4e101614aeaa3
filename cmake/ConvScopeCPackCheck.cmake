# Read by cpack (CPACK_PROJECT_CONFIG_FILE): packages come from CPU-only builds only.
if(CPACK_CONVSCOPE_TORCH_CUDA)
  message(FATAL_ERROR "This build links LibTorch's CUDA libraries from the wheel on this machine, "
    "so its package would run nowhere else. Package a CPU-only build: configure with "
    "-DCONVSCOPE_TORCH_CUDA=OFF (scripts/check-deb does).")
endif()
