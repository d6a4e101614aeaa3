#include "runtime.h"

#include "util/parallel.h"

#include <opencv2/core.hpp>

#include <torch/torch.h>

namespace convscope {

void configureThreads(int threads) {
    const int n = threads > 0 ? threads : defaultThreadCount();
    torch::set_num_threads(n);
    cv::setNumThreads(0);
}

int torchThreadCount() {
    return torch::get_num_threads();
}

}  // namespace convscope
