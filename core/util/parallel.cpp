#include "util/parallel.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace convscope {

int defaultThreadCount() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(n);
}

bool parallelFor(std::size_t n, int threads, const std::function<void(std::size_t)>& fn,
                 const std::atomic<bool>* cancel, const ProgressFn& progress) {
    const int workers = int(std::min<std::size_t>(n, threads > 0 ? threads : defaultThreadCount()));
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    std::mutex mutex;
    std::condition_variable allDone;
    int running = workers;

    auto cancelled = [&] { return cancel && cancel->load(std::memory_order_relaxed); };
    auto work = [&] {
        for (;;) {
            if (cancelled())
                break;
            const std::size_t i = next.fetch_add(1);
            if (i >= n)
                break;
            fn(i);
            done.fetch_add(1, std::memory_order_relaxed);
        }
        std::lock_guard lock(mutex);
        if (--running == 0)
            allDone.notify_all();
    };

    std::vector<std::thread> pool;
    pool.reserve(std::size_t(workers));
    for (int t = 0; t < workers; ++t)
        pool.emplace_back(work);
    {
        std::unique_lock lock(mutex);
        while (running > 0) {
            allDone.wait_for(lock, std::chrono::milliseconds(50));
            if (progress && running > 0) {
                lock.unlock();
                progress(done.load(), n);
                lock.lock();
            }
        }
    }
    for (auto& t : pool)
        t.join();
    if (progress)
        progress(done.load(), n);
    return !cancelled() || done.load() == n;
}

}  // namespace convscope
