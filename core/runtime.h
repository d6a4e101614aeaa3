#pragma once

namespace convscope {

/// Sets LibTorch's intra-op thread count to `threads` (0: every core; Debian's LibTorch
/// starts with one) and keeps OpenCV single-threaded inside our own worker pools.
/// Call once at start-up, before any tensor work.
void configureThreads(int threads = 0);

/// LibTorch's current intra-op thread count.
int torchThreadCount();

}  // namespace convscope
