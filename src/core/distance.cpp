// distance.cpp
//
// Distance kernels: AVX-512F and AVX2+FMA intrinsics, a scalar fallback,
// and the run-time choice between them.  See distance.hpp for the accuracy
// contract and how relative error is defined.
//
// Every kernel forms differences and products in float, as pgvector does,
// so overflow near the float limit gives the same Infinity.  The SIMD
// kernels keep eight float accumulators (two per sum for AVX-512 cosine,
// four for AVX2 cosine) and run at most 8 steps per block.  Each block's
// tree sum of the accumulators then goes into a double total, so no float
// accumulator lane ever sums more than 8 terms.  Tails shorter than a full step use masked
// loads, which read nothing past the end of the input.
#include "similarity/core_only.hpp"

#include <immintrin.h>

#include <cmath>
#include <limits>

#include "similarity/distance.hpp"
#include "similarity/vector_capi.h"

// GCC 12's AVX-512 headers build some results from _mm256_undefined_pd(),
// which its uninitialized-variable analysis reports falsely when inlined
// here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define SIM_TARGET_AVX512 __attribute__((target("avx512f")))
#define SIM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SIM_INLINE_AVX512 __attribute__((always_inline, target("avx512f"))) inline
#define SIM_INLINE_AVX2 __attribute__((always_inline, target("avx2,fma"))) inline

namespace similarity {
namespace {

// Steps of one block: each float accumulator lane sums at most this many
// terms before the block is added to the double totals.
constexpr int kStepsPerBlock = 8;

// Inputs of at most this many steps are summed in float only (see reduce).
constexpr int kShortSteps = 5;

// ---- scalar -----------------------------------------------------------------
// Plain loops with double accumulators, for CPUs without AVX2.
namespace scalar {

double l2_squared_distance(const float *a, const float *b, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        float diff = a[i] - b[i];
        sum += static_cast<double>(diff * diff);
    }
    return sum;
}

double inner_product(const float *a, const float *b, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += static_cast<double>(a[i] * b[i]);
    return sum;
}

double l1_distance(const float *a, const float *b, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += static_cast<double>(std::fabs(a[i] - b[i]));
    return sum;
}

CosineSums cosine_sums(const float *a, const float *b, int n) {
    CosineSums sums{0.0, 0.0, 0.0};
    for (int i = 0; i < n; i++) {
        sums.dot += static_cast<double>(a[i] * b[i]);
        sums.norm_a_squared += static_cast<double>(a[i] * a[i]);
        sums.norm_b_squared += static_cast<double>(b[i] * b[i]);
    }
    return sums;
}

double cosine_distance(const float *a, const float *b, int n) {
    return cosine_distance_from_sums(cosine_sums(a, b, n));
}

double norm_squared(const float *a, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        double x = a[i];
        sum += x * x;
    }
    return sum;
}

}  // namespace scalar

// ---- AVX-512F ---------------------------------------------------------------
namespace avx512 {

constexpr int kLanes = 16;

// Mask of the first `remaining` lanes; all lanes when remaining >= 16, none
// when remaining <= 0.
SIM_INLINE_AVX512 __mmask16 tail_mask(int remaining) {
    if (remaining >= kLanes)
        return 0xFFFF;
    if (remaining <= 0)
        return 0;
    return static_cast<__mmask16>((1u << remaining) - 1u);
}

SIM_INLINE_AVX512 __m512d low_half_as_double(__m512 x) {
    return _mm512_cvtps_pd(_mm512_castps512_ps256(x));
}

SIM_INLINE_AVX512 __m512d high_half_as_double(__m512 x) {
    __m256d high = _mm512_extractf64x4_pd(_mm512_castps_pd(x), 1);
    return _mm512_cvtps_pd(_mm256_castpd_ps(high));
}

// Add the 16 float lanes of block to the 8 double lanes of total, folding
// the upper 8 lanes onto the lower 8 in float first (one more rounding,
// half the conversions).
SIM_INLINE_AVX512 __m512d add_to_total(__m512d total, __m512 block) {
    __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(block), 1));
    __m256 folded = _mm256_add_ps(_mm512_castps512_ps256(block), high);
    return _mm512_add_pd(total, _mm512_cvtps_pd(folded));
}

// Sum the accumulators as a balanced tree.
template <int kCount>
SIM_INLINE_AVX512 __m512 sum_tree(const __m512 (&acc)[kCount]) {
    __m512 level[kCount];
#pragma GCC unroll 8
    for (int j = 0; j < kCount; j++)
        level[j] = acc[j];
#pragma GCC unroll 8
    for (int width = kCount / 2; width > 0; width /= 2)
#pragma GCC unroll 8
        for (int j = 0; j < width; j++)
            level[j] = _mm512_add_ps(level[j], level[j + width]);
    return level[0];
}

struct L2Step {
    SIM_INLINE_AVX512 static __m512 apply(__m512 acc, __m512 x, __m512 y) {
        __m512 diff = _mm512_sub_ps(x, y);
        return _mm512_fmadd_ps(diff, diff, acc);
    }
};

struct DotStep {
    SIM_INLINE_AVX512 static __m512 apply(__m512 acc, __m512 x, __m512 y) {
        return _mm512_fmadd_ps(x, y, acc);
    }
};

struct L1Step {
    SIM_INLINE_AVX512 static __m512 apply(__m512 acc, __m512 x, __m512 y) {
        return _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)));
    }
};

constexpr int kAccumulators = 8;
constexpr int kStep = kAccumulators * kLanes;

// Sum Step::apply over a[start, end) and b[start, end) with eight
// accumulators of 16 lanes.  end - start is at most kStepsPerBlock * kStep.
template <class Step>
SIM_INLINE_AVX512 __m512 block_sum(const float *a, const float *b, int start, int end) {
    __m512 acc[kAccumulators];
#pragma GCC unroll 8
    for (int j = 0; j < kAccumulators; j++)
        acc[j] = _mm512_setzero_ps();
    int i = start;

    for (; i + kStep <= end; i += kStep) {
#pragma GCC unroll 8
        for (int j = 0; j < kAccumulators; j++)
            acc[j] = Step::apply(acc[j], _mm512_loadu_ps(a + i + j * kLanes),
                                 _mm512_loadu_ps(b + i + j * kLanes));
    }

    // A tail follows at most kStepsPerBlock - 1 full steps, so one more
    // masked step per accumulator keeps every lane within the limit.
    if (i < end) {
        int remaining = end - i;
#pragma GCC unroll 8
        for (int j = 0; j < kAccumulators; j++) {
            __mmask16 mask = tail_mask(remaining - j * kLanes);
            acc[j] = Step::apply(acc[j], _mm512_maskz_loadu_ps(mask, a + i + j * kLanes),
                                 _mm512_maskz_loadu_ps(mask, b + i + j * kLanes));
        }
    }
    return sum_tree(acc);
}

template <class Step>
SIM_TARGET_AVX512 double reduce(const float *a, const float *b, int n) {
    // Short inputs take at most kShortSteps terms per lane, so summing the
    // lanes in float stays within the error bound and saves the conversion.
    if (n <= kShortSteps * kStep)
        return _mm512_reduce_add_ps(block_sum<Step>(a, b, 0, n));

    constexpr int kBlock = kStepsPerBlock * kStep;
    __m512d total = _mm512_setzero_pd();
    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        total = add_to_total(total, block_sum<Step>(a, b, start, end));
    }
    return _mm512_reduce_add_pd(total);
}

double l2_squared_distance(const float *a, const float *b, int n) {
    return reduce<L2Step>(a, b, n);
}

double inner_product(const float *a, const float *b, int n) {
    return reduce<DotStep>(a, b, n);
}

double l1_distance(const float *a, const float *b, int n) { return reduce<L1Step>(a, b, n); }

// Two per sum: on AMD Zen 4, which executes 512-bit FMAs in two halves,
// four per sum measured no faster (bench/vector/kernels_bench.cpp).
constexpr int kCosineAccumulators = 2;
constexpr int kCosineStep = kCosineAccumulators * kLanes;

// The three cosine sums of one block, one float vector each.
struct CosineBlock {
    __m512 dot, norm_a, norm_b;
};

SIM_INLINE_AVX512 CosineBlock cosine_block(const float *a, const float *b, int start, int end) {
    __m512 dot[kCosineAccumulators], norm_a[kCosineAccumulators], norm_b[kCosineAccumulators];
#pragma GCC unroll 8
    for (int j = 0; j < kCosineAccumulators; j++) {
        dot[j] = _mm512_setzero_ps();
        norm_a[j] = _mm512_setzero_ps();
        norm_b[j] = _mm512_setzero_ps();
    }
    int i = start;

    for (; i + kCosineStep <= end; i += kCosineStep) {
#pragma GCC unroll 8
        for (int j = 0; j < kCosineAccumulators; j++) {
            __m512 x = _mm512_loadu_ps(a + i + j * kLanes);
            __m512 y = _mm512_loadu_ps(b + i + j * kLanes);
            dot[j] = _mm512_fmadd_ps(x, y, dot[j]);
            norm_a[j] = _mm512_fmadd_ps(x, x, norm_a[j]);
            norm_b[j] = _mm512_fmadd_ps(y, y, norm_b[j]);
        }
    }
    if (i < end) {
        int remaining = end - i;
#pragma GCC unroll 8
        for (int j = 0; j < kCosineAccumulators; j++) {
            __mmask16 mask = tail_mask(remaining - j * kLanes);
            __m512 x = _mm512_maskz_loadu_ps(mask, a + i + j * kLanes);
            __m512 y = _mm512_maskz_loadu_ps(mask, b + i + j * kLanes);
            dot[j] = _mm512_fmadd_ps(x, y, dot[j]);
            norm_a[j] = _mm512_fmadd_ps(x, x, norm_a[j]);
            norm_b[j] = _mm512_fmadd_ps(y, y, norm_b[j]);
        }
    }
    return CosineBlock{sum_tree(dot), sum_tree(norm_a), sum_tree(norm_b)};
}

SIM_INLINE_AVX512 CosineSums sum_cosine_terms(const float *a, const float *b, int n) {
    // One block: at most 8 terms per lane and a 1-level tree, so summing
    // the lanes in float (4 levels) stays within the error bound.
    constexpr int kBlock = kStepsPerBlock * kCosineStep;
    if (n <= kBlock) {
        CosineBlock block = cosine_block(a, b, 0, n);
        return CosineSums{_mm512_reduce_add_ps(block.dot), _mm512_reduce_add_ps(block.norm_a),
                          _mm512_reduce_add_ps(block.norm_b)};
    }

    __m512d dot = _mm512_setzero_pd();
    __m512d norm_a = _mm512_setzero_pd();
    __m512d norm_b = _mm512_setzero_pd();
    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        CosineBlock block = cosine_block(a, b, start, end);
        dot = add_to_total(dot, block.dot);
        norm_a = add_to_total(norm_a, block.norm_a);
        norm_b = add_to_total(norm_b, block.norm_b);
    }
    return CosineSums{_mm512_reduce_add_pd(dot), _mm512_reduce_add_pd(norm_a),
                      _mm512_reduce_add_pd(norm_b)};
}

SIM_TARGET_AVX512 CosineSums cosine_sums(const float *a, const float *b, int n) {
    return sum_cosine_terms(a, b, n);
}

SIM_TARGET_AVX512 double cosine_distance(const float *a, const float *b, int n) {
    return cosine_distance_from_sums(sum_cosine_terms(a, b, n));
}

// Squares and sums in double, 32 values per step.
SIM_TARGET_AVX512 double norm_squared(const float *a, int n) {
    __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
    __m512d sum2 = _mm512_setzero_pd(), sum3 = _mm512_setzero_pd();
    int i = 0;

    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        __m512 x0 = _mm512_loadu_ps(a + i);
        __m512 x1 = _mm512_loadu_ps(a + i + 16);
        __m512d p0 = low_half_as_double(x0), p1 = high_half_as_double(x0);
        __m512d p2 = low_half_as_double(x1), p3 = high_half_as_double(x1);
        sum0 = _mm512_fmadd_pd(p0, p0, sum0);
        sum1 = _mm512_fmadd_pd(p1, p1, sum1);
        sum2 = _mm512_fmadd_pd(p2, p2, sum2);
        sum3 = _mm512_fmadd_pd(p3, p3, sum3);
    }
    for (; i < n; i += kLanes) {
        __m512 x = _mm512_maskz_loadu_ps(tail_mask(n - i), a + i);
        __m512d p0 = low_half_as_double(x), p1 = high_half_as_double(x);
        sum0 = _mm512_fmadd_pd(p0, p0, sum0);
        sum1 = _mm512_fmadd_pd(p1, p1, sum1);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(sum0, sum1), _mm512_add_pd(sum2, sum3)));
}

}  // namespace avx512

// ---- AVX2 + FMA ---------------------------------------------------------------
namespace avx2 {

constexpr int kLanes = 8;

// Integer mask of the first `remaining` lanes (any int, clamped like
// avx512::tail_mask), for _mm256_maskload_ps.
SIM_INLINE_AVX2 __m256i tail_mask(int remaining) {
    const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(remaining), lane_index);
}

// Add the 8 float lanes of block to the 4 double lanes of total, folding
// the upper 4 lanes onto the lower 4 in float first.
SIM_INLINE_AVX2 __m256d add_to_total(__m256d total, __m256 block) {
    __m128 folded = _mm_add_ps(_mm256_castps256_ps128(block), _mm256_extractf128_ps(block, 1));
    return _mm256_add_pd(total, _mm256_cvtps_pd(folded));
}

SIM_INLINE_AVX2 double horizontal_sum(__m256d x) {
    __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
    return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

// Sum the accumulators as a balanced tree.
template <int kCount>
SIM_INLINE_AVX2 __m256 sum_tree(const __m256 (&acc)[kCount]) {
    __m256 level[kCount];
#pragma GCC unroll 8
    for (int j = 0; j < kCount; j++)
        level[j] = acc[j];
#pragma GCC unroll 8
    for (int width = kCount / 2; width > 0; width /= 2)
#pragma GCC unroll 8
        for (int j = 0; j < width; j++)
            level[j] = _mm256_add_ps(level[j], level[j + width]);
    return level[0];
}

struct L2Step {
    SIM_INLINE_AVX2 static __m256 apply(__m256 acc, __m256 x, __m256 y) {
        __m256 diff = _mm256_sub_ps(x, y);
        return _mm256_fmadd_ps(diff, diff, acc);
    }
};

struct DotStep {
    SIM_INLINE_AVX2 static __m256 apply(__m256 acc, __m256 x, __m256 y) {
        return _mm256_fmadd_ps(x, y, acc);
    }
};

struct L1Step {
    SIM_INLINE_AVX2 static __m256 apply(__m256 acc, __m256 x, __m256 y) {
        const __m256 sign_bit = _mm256_set1_ps(-0.0f);
        return _mm256_add_ps(acc, _mm256_andnot_ps(sign_bit, _mm256_sub_ps(x, y)));
    }
};

// Sum Step::apply over a and b with eight accumulators of 8 lanes.
template <class Step>
SIM_TARGET_AVX2 double reduce(const float *a, const float *b, int n) {
    constexpr int kAccumulators = 8;
    constexpr int kStep = kAccumulators * kLanes;
    constexpr int kBlock = kStepsPerBlock * kStep;
    __m256d total = _mm256_setzero_pd();

    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        __m256 acc[kAccumulators];
#pragma GCC unroll 8
        for (int j = 0; j < kAccumulators; j++)
            acc[j] = _mm256_setzero_ps();
        int i = start;

        for (; i + kStep <= end; i += kStep) {
#pragma GCC unroll 8
            for (int j = 0; j < kAccumulators; j++)
                acc[j] = Step::apply(acc[j], _mm256_loadu_ps(a + i + j * kLanes),
                                     _mm256_loadu_ps(b + i + j * kLanes));
        }

        // As in the AVX-512 kernel: a tail only follows at most 7 full steps.
        if (i < end) {
            int remaining = end - i;
#pragma GCC unroll 8
            for (int j = 0; j < kAccumulators; j++) {
                __m256i mask = tail_mask(remaining - j * kLanes);
                acc[j] = Step::apply(acc[j], _mm256_maskload_ps(a + i + j * kLanes, mask),
                                     _mm256_maskload_ps(b + i + j * kLanes, mask));
            }
        }

        total = add_to_total(total, sum_tree(acc));
    }
    return horizontal_sum(total);
}

double l2_squared_distance(const float *a, const float *b, int n) {
    return reduce<L2Step>(a, b, n);
}

double inner_product(const float *a, const float *b, int n) {
    return reduce<DotStep>(a, b, n);
}

double l1_distance(const float *a, const float *b, int n) { return reduce<L1Step>(a, b, n); }

SIM_INLINE_AVX2 CosineSums sum_cosine_terms(const float *a, const float *b, int n) {
    constexpr int kAccumulators = 4;  // per sum, so 12 of the 16 registers
    constexpr int kStep = kAccumulators * kLanes;
    constexpr int kBlock = kStepsPerBlock * kStep;
    __m256d dot_total = _mm256_setzero_pd();
    __m256d norm_a_total = _mm256_setzero_pd();
    __m256d norm_b_total = _mm256_setzero_pd();

    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        __m256 dot[kAccumulators], norm_a[kAccumulators], norm_b[kAccumulators];
#pragma GCC unroll 8
        for (int j = 0; j < kAccumulators; j++) {
            dot[j] = _mm256_setzero_ps();
            norm_a[j] = _mm256_setzero_ps();
            norm_b[j] = _mm256_setzero_ps();
        }
        int i = start;

        for (; i + kStep <= end; i += kStep) {
#pragma GCC unroll 8
            for (int j = 0; j < kAccumulators; j++) {
                __m256 x = _mm256_loadu_ps(a + i + j * kLanes);
                __m256 y = _mm256_loadu_ps(b + i + j * kLanes);
                dot[j] = _mm256_fmadd_ps(x, y, dot[j]);
                norm_a[j] = _mm256_fmadd_ps(x, x, norm_a[j]);
                norm_b[j] = _mm256_fmadd_ps(y, y, norm_b[j]);
            }
        }
        if (i < end) {
            int remaining = end - i;
#pragma GCC unroll 8
            for (int j = 0; j < kAccumulators; j++) {
                __m256i mask = tail_mask(remaining - j * kLanes);
                __m256 x = _mm256_maskload_ps(a + i + j * kLanes, mask);
                __m256 y = _mm256_maskload_ps(b + i + j * kLanes, mask);
                dot[j] = _mm256_fmadd_ps(x, y, dot[j]);
                norm_a[j] = _mm256_fmadd_ps(x, x, norm_a[j]);
                norm_b[j] = _mm256_fmadd_ps(y, y, norm_b[j]);
            }
        }

        dot_total = add_to_total(dot_total, sum_tree(dot));
        norm_a_total = add_to_total(norm_a_total, sum_tree(norm_a));
        norm_b_total = add_to_total(norm_b_total, sum_tree(norm_b));
    }

    CosineSums sums;
    sums.dot = horizontal_sum(dot_total);
    sums.norm_a_squared = horizontal_sum(norm_a_total);
    sums.norm_b_squared = horizontal_sum(norm_b_total);
    return sums;
}

SIM_TARGET_AVX2 CosineSums cosine_sums(const float *a, const float *b, int n) {
    return sum_cosine_terms(a, b, n);
}

SIM_TARGET_AVX2 double cosine_distance(const float *a, const float *b, int n) {
    return cosine_distance_from_sums(sum_cosine_terms(a, b, n));
}

// Squares and sums in double, 16 values per step.
SIM_TARGET_AVX2 double norm_squared(const float *a, int n) {
    __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
    __m256d sum2 = _mm256_setzero_pd(), sum3 = _mm256_setzero_pd();
    int i = 0;

    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        __m256 x0 = _mm256_loadu_ps(a + i);
        __m256 x1 = _mm256_loadu_ps(a + i + 8);
        __m256d p0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x0));
        __m256d p1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x0, 1));
        __m256d p2 = _mm256_cvtps_pd(_mm256_castps256_ps128(x1));
        __m256d p3 = _mm256_cvtps_pd(_mm256_extractf128_ps(x1, 1));
        sum0 = _mm256_fmadd_pd(p0, p0, sum0);
        sum1 = _mm256_fmadd_pd(p1, p1, sum1);
        sum2 = _mm256_fmadd_pd(p2, p2, sum2);
        sum3 = _mm256_fmadd_pd(p3, p3, sum3);
    }
    for (; i < n; i += kLanes) {
        __m256 x = _mm256_maskload_ps(a + i, tail_mask(n - i));
        __m256d p0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
        __m256d p1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        sum0 = _mm256_fmadd_pd(p0, p0, sum0);
        sum1 = _mm256_fmadd_pd(p1, p1, sum1);
    }
    return horizontal_sum(_mm256_add_pd(_mm256_add_pd(sum0, sum1), _mm256_add_pd(sum2, sum3)));
}

}  // namespace avx2

// ---- dispatch -----------------------------------------------------------------


const DistanceKernels kScalarKernels = {
    "scalar",
    KernelIsa::scalar,
    scalar::l2_squared_distance,
    scalar::inner_product,
    scalar::l1_distance,
    scalar::cosine_sums,
    scalar::cosine_distance,
    scalar::norm_squared,
};

const DistanceKernels kAvx2Kernels = {
    "avx2",
    KernelIsa::avx2,
    avx2::l2_squared_distance,
    avx2::inner_product,
    avx2::l1_distance,
    avx2::cosine_sums,
    avx2::cosine_distance,
    avx2::norm_squared,
};

const DistanceKernels kAvx512Kernels = {
    "avx512",
    KernelIsa::avx512,
    avx512::l2_squared_distance,
    avx512::inner_product,
    avx512::l1_distance,
    avx512::cosine_sums,
    avx512::cosine_distance,
    avx512::norm_squared,
};

const DistanceKernels &choose_kernels() noexcept {
    if (kernel_isa_supported(KernelIsa::avx512))
        return kAvx512Kernels;
    if (kernel_isa_supported(KernelIsa::avx2))
        return kAvx2Kernels;
    return kScalarKernels;
}

}  // namespace

bool kernel_isa_supported(KernelIsa isa) noexcept {
    // The CPU model is normally read by a libgcc constructor; reading it
    // again is cheap and makes this safe to call from other constructors.
    __builtin_cpu_init();
    switch (isa) {
        case KernelIsa::scalar:
            return true;
        case KernelIsa::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case KernelIsa::avx512:
            return __builtin_cpu_supports("avx512f");
    }
    return false;
}

const DistanceKernels *kernels_for_isa(KernelIsa isa) noexcept {
    if (!kernel_isa_supported(isa))
        return nullptr;
    switch (isa) {
        case KernelIsa::scalar:
            return &kScalarKernels;
        case KernelIsa::avx2:
            return &kAvx2Kernels;
        case KernelIsa::avx512:
            return &kAvx512Kernels;
    }
    return nullptr;
}

const DistanceKernels &active_kernels() noexcept {
    static const DistanceKernels &chosen = choose_kernels();
    return chosen;
}

}  // namespace similarity

extern "C" {

double sim_l2_squared_distance(const float *a, const float *b, int n) {
    return similarity::l2_squared_distance(a, b, n);
}

double sim_inner_product(const float *a, const float *b, int n) {
    return similarity::inner_product(a, b, n);
}

double sim_l1_distance(const float *a, const float *b, int n) {
    return similarity::l1_distance(a, b, n);
}

double sim_cosine_distance(const float *a, const float *b, int n) {
    return similarity::cosine_distance(a, b, n);
}

double sim_norm_squared(const float *a, int n) { return similarity::norm_squared(a, n); }

const char *sim_kernel_name(void) { return similarity::kernel_name(); }

}  // extern "C"
