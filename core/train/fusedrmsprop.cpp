#include "train/fusedrmsprop.h"

#include "util/cpufeatures.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONVSCOPE_AVX512 1
#endif

namespace convscope {

namespace {

// The step's constants as LibTorch's float32 kernels see them: each Scalar rounded to float.
struct Constants {
    float alpha, oneMinusAlpha, eps, negativeLr, weightDecay;
    bool decay;
};

// Elements [begin, end): the operations of add (weight decay), mul_, addcmul_, sqrt, add_ and
// addcdiv_ in their order, one element at a time, rounded where ATen's vectorised kernels
// round: add's and addcmul_'s last multiply-add is fused there (checked against LibTorch
// 2.15), so it is here; nothing else is (this file is built with -ffp-contract=off).
void stepScalar(float* p, const float* g, float* squareAvg, const Constants& k, std::int64_t begin,
                std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
        float grad = g[i];
        if (k.decay)
            grad = std::fma(k.weightDecay, p[i], grad);
        float avg = squareAvg[i] * k.alpha;
        avg = std::fma(k.oneMinusAlpha * grad, grad, avg);
        squareAvg[i] = avg;
        const float denominator = std::sqrt(avg) + k.eps;
        p[i] = p[i] + k.negativeLr * grad / denominator;
    }
}

#ifdef CONVSCOPE_AVX512
[[gnu::target("avx512f")]] void stepAvx512(float* p, const float* g, float* squareAvg,
                                           const Constants& k, std::int64_t begin,
                                           std::int64_t end) {
    const __m512 alpha = _mm512_set1_ps(k.alpha), oneMinusAlpha = _mm512_set1_ps(k.oneMinusAlpha);
    const __m512 eps = _mm512_set1_ps(k.eps), negativeLr = _mm512_set1_ps(k.negativeLr);
    const __m512 weightDecay = _mm512_set1_ps(k.weightDecay);
    std::int64_t i = begin;
    for (; i + 16 <= end; i += 16) {
        const __m512 value = _mm512_loadu_ps(p + i);
        __m512 grad = _mm512_loadu_ps(g + i);
        if (k.decay)
            grad = _mm512_fmadd_ps(weightDecay, value, grad);
        __m512 avg = _mm512_mul_ps(_mm512_loadu_ps(squareAvg + i), alpha);
        avg = _mm512_fmadd_ps(_mm512_mul_ps(oneMinusAlpha, grad), grad, avg);
        _mm512_storeu_ps(squareAvg + i, avg);
        // The maskz form: GCC 12 warns about the plain one's undefined source operand.
        const __m512 denominator = _mm512_add_ps(_mm512_maskz_sqrt_ps(0xffff, avg), eps);
        _mm512_storeu_ps(p + i, _mm512_add_ps(value, _mm512_div_ps(_mm512_mul_ps(negativeLr, grad),
                                                                   denominator)));
    }
    stepScalar(p, g, squareAvg, k, i, end);
}
#endif

// A float32 CPU tensor whose elements fill its memory without gaps or overlaps (contiguous,
// or channels_last as the conv weights of a channels_last model are), laid out as `like`:
// then one pass over the raw memory meets the same elements in all of them.
bool laidOutAs(const torch::Tensor& t, const torch::Tensor& like) {
    return t.defined() && t.device().is_cpu() && t.layout() == torch::kStrided &&
           t.scalar_type() == torch::kFloat32 && t.is_non_overlapping_and_dense() &&
           t.sizes() == like.sizes() && t.strides() == like.strides();
}

}  // namespace

// Whether every parameter with a gradient can take the one pass.
bool FusedRmsProp::fusable() const {
    for (const auto& group : param_groups_) {
        const auto& options = static_cast<const torch::optim::RMSpropOptions&>(group.options());
        if (options.momentum() > 0 || options.centered())
            return false;
        for (const torch::Tensor& p : group.params()) {
            if (!p.grad().defined())
                continue;
            const auto found = state_.find(p.unsafeGetTensorImpl());
            if (!laidOutAs(p, p) || !laidOutAs(p.grad(), p) ||
                (found != state_.end() &&
                 !laidOutAs(
                     static_cast<torch::optim::RMSpropParamState&>(*found->second).square_avg(),
                     p)))
                return false;
        }
    }
    return true;
}

torch::Tensor FusedRmsProp::step(LossClosure closure) {
    // The closure first: it may make the gradients that decide the path.
    torch::Tensor loss;
    if (closure) {
        at::AutoGradMode enableGrad(true);
        loss = closure();
    }
    m_lastFused = fusable();
    if (!m_lastFused) {
        torch::optim::RMSprop::step(nullptr);
        return loss;
    }
    torch::NoGradGuard noGrad;
    for (auto& group : param_groups_) {
        const auto& options = static_cast<const torch::optim::RMSpropOptions&>(group.options());
        const Constants k{float(options.alpha()),        float(1 - options.alpha()),
                          float(options.eps()),          float(-options.lr()),
                          float(options.weight_decay()), options.weight_decay() != 0};
        for (torch::Tensor& p : group.params()) {
            if (!p.grad().defined())
                continue;
            auto& slot = state_[p.unsafeGetTensorImpl()];
            if (!slot) {
                auto fresh = std::make_unique<torch::optim::RMSpropParamState>();
                fresh->step(0);
                fresh->square_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
                slot = std::move(fresh);
            }
            auto& state = static_cast<torch::optim::RMSpropParamState&>(*slot);
            state.step(state.step() + 1);
            float* value = p.data_ptr<float>();  // numel() floats from here, in every layout
            const float* grad = p.grad().data_ptr<float>();
            float* squareAvg = state.square_avg().data_ptr<float>();
            at::parallel_for(0, p.numel(), 16384, [&](std::int64_t begin, std::int64_t end) {
#ifdef CONVSCOPE_AVX512
                if (cpuHasAvx512f())
                    return stepAvx512(value, grad, squareAvg, k, begin, end);
#endif
                stepScalar(value, grad, squareAvg, k, begin, end);
            });
            // Written in place, as LibTorch's addcdiv_ and mul_ do: autograd must see it.
            p.unsafeGetTensorImpl()->bump_version();
            state.square_avg().unsafeGetTensorImpl()->bump_version();
        }
    }
    return loss;
}

}  // namespace convscope
