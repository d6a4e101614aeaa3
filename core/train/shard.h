#pragma once

#include <cstddef>
#include <vector>

namespace convscope {

/// One rank's part of each epoch's order in data-parallel training: every `count`-th entry of
/// the order (the same on every rank), starting at `index`. With `pad`, every shard is as long
/// as the longest, the order padded by repeating its start as PyTorch's DistributedSampler
/// does, so that every rank runs as many training steps; without it every entry is taken once.
struct Shard {
    int count = 1;
    int index = 0;
    bool pad = false;

    /// How many of `n` entries this shard takes.
    std::size_t length(std::size_t n) const {
        if (count <= 1 || n == 0)
            return n;
        const auto c = std::size_t(count), i = std::size_t(index);
        if (pad)
            return (n + c - 1) / c;
        return i < n % c ? n / c + 1 : n / c;
    }

    /// This shard's entries of `order`, in order.
    template <class T>
    std::vector<T> of(const std::vector<T>& order) const {
        if (count <= 1)
            return order;
        std::vector<T> mine;
        const std::size_t wanted = length(order.size());
        mine.reserve(wanted);
        for (std::size_t i = std::size_t(index); mine.size() < wanted; i += std::size_t(count))
            mine.push_back(order[i % order.size()]);
        return mine;
    }
};

}  // namespace convscope
