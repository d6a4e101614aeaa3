#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

namespace convscope {

/// Number of worker threads to use when the caller says 0: the machine's hardware threads.
int defaultThreadCount();

/// Called on the calling thread, about every 50 ms and once at the end, with items done.
using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;

/// Runs fn(i) for i in [0, n) on `threads` threads (0: all cores). Items are handed out in
/// order. Stops handing out items once `cancel` is set; returns false if it was. fn must not
/// throw. Blocks until every started item has finished.
bool parallelFor(std::size_t n, int threads, const std::function<void(std::size_t)>& fn,
                 const std::atomic<bool>* cancel = nullptr, const ProgressFn& progress = {});

}  // namespace convscope
