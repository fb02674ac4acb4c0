// distance.cpp
//
// Distance kernels: AVX-512F and AVX2+FMA intrinsics, a scalar fallback,
// and the run-time choice between them.  See distance.hpp for the accuracy
// contract and how relative error is defined.
//
// Every kernel forms differences and products in float, as pgvector does,
// so overflow near the float limit gives the same Infinity.  The SIMD
// kernels keep four (or, for cosine, two per sum) float accumulators and
// add them into double totals after each block of 8 steps, so no float
// accumulator lane ever sums more than 8 terms.  Tails shorter than a full
// step use masked loads, which read nothing past the end of the input.
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

// Add the 16 float lanes of block to the two double totals.
SIM_INLINE_AVX512 void add_to_totals(__m512 block, __m512d &low, __m512d &high) {
    low = _mm512_add_pd(low, low_half_as_double(block));
    high = _mm512_add_pd(high, high_half_as_double(block));
}

SIM_INLINE_AVX512 __m512 sum4(__m512 w, __m512 x, __m512 y, __m512 z) {
    return _mm512_add_ps(_mm512_add_ps(w, x), _mm512_add_ps(y, z));
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

// Sum Step::apply over a and b with four accumulators of 16 lanes.
template <class Step>
SIM_TARGET_AVX512 double reduce(const float *a, const float *b, int n) {
    constexpr int kStep = 4 * kLanes;
    constexpr int kBlock = kStepsPerBlock * kStep;
    __m512d total_low = _mm512_setzero_pd();
    __m512d total_high = _mm512_setzero_pd();

    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        __m512 acc0 = _mm512_setzero_ps();
        __m512 acc1 = _mm512_setzero_ps();
        __m512 acc2 = _mm512_setzero_ps();
        __m512 acc3 = _mm512_setzero_ps();
        int i = start;

        for (; i + kStep <= end; i += kStep) {
            acc0 = Step::apply(acc0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
            acc1 = Step::apply(acc1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
            acc2 = Step::apply(acc2, _mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
            acc3 = Step::apply(acc3, _mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        }

        // Fewer than 64 values are left only in the last block, which then
        // ran at most 7 full steps, so one more step per accumulator keeps
        // every lane at 8 terms or fewer.
        if (i < end) {
            int remaining = end - i;
            __mmask16 m0 = tail_mask(remaining);
            __mmask16 m1 = tail_mask(remaining - 16);
            __mmask16 m2 = tail_mask(remaining - 32);
            __mmask16 m3 = tail_mask(remaining - 48);
            acc0 = Step::apply(acc0, _mm512_maskz_loadu_ps(m0, a + i),
                               _mm512_maskz_loadu_ps(m0, b + i));
            acc1 = Step::apply(acc1, _mm512_maskz_loadu_ps(m1, a + i + 16),
                               _mm512_maskz_loadu_ps(m1, b + i + 16));
            acc2 = Step::apply(acc2, _mm512_maskz_loadu_ps(m2, a + i + 32),
                               _mm512_maskz_loadu_ps(m2, b + i + 32));
            acc3 = Step::apply(acc3, _mm512_maskz_loadu_ps(m3, a + i + 48),
                               _mm512_maskz_loadu_ps(m3, b + i + 48));
        }

        add_to_totals(sum4(acc0, acc1, acc2, acc3), total_low, total_high);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(total_low, total_high));
}

double l2_squared_distance(const float *a, const float *b, int n) {
    return reduce<L2Step>(a, b, n);
}

double inner_product(const float *a, const float *b, int n) {
    return reduce<DotStep>(a, b, n);
}

double l1_distance(const float *a, const float *b, int n) { return reduce<L1Step>(a, b, n); }

// Accumulators of one cosine step: dot product and both squared norms.
struct CosineAccumulators {
    __m512 dot, norm_a, norm_b;
};

SIM_INLINE_AVX512 void cosine_step(CosineAccumulators &acc, __m512 x, __m512 y) {
    acc.dot = _mm512_fmadd_ps(x, y, acc.dot);
    acc.norm_a = _mm512_fmadd_ps(x, x, acc.norm_a);
    acc.norm_b = _mm512_fmadd_ps(y, y, acc.norm_b);
}

SIM_TARGET_AVX512 CosineSums cosine_sums(const float *a, const float *b, int n) {
    constexpr int kStep = 2 * kLanes;
    constexpr int kBlock = kStepsPerBlock * kStep;
    __m512d dot_low = _mm512_setzero_pd(), dot_high = _mm512_setzero_pd();
    __m512d norm_a_low = _mm512_setzero_pd(), norm_a_high = _mm512_setzero_pd();
    __m512d norm_b_low = _mm512_setzero_pd(), norm_b_high = _mm512_setzero_pd();

    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        CosineAccumulators acc0{_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        CosineAccumulators acc1 = acc0;
        int i = start;

        for (; i + kStep <= end; i += kStep) {
            cosine_step(acc0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
            cosine_step(acc1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        }
        if (i < end) {
            int remaining = end - i;
            __mmask16 m0 = tail_mask(remaining);
            __mmask16 m1 = tail_mask(remaining - 16);
            cosine_step(acc0, _mm512_maskz_loadu_ps(m0, a + i), _mm512_maskz_loadu_ps(m0, b + i));
            cosine_step(acc1, _mm512_maskz_loadu_ps(m1, a + i + 16),
                        _mm512_maskz_loadu_ps(m1, b + i + 16));
        }

        add_to_totals(_mm512_add_ps(acc0.dot, acc1.dot), dot_low, dot_high);
        add_to_totals(_mm512_add_ps(acc0.norm_a, acc1.norm_a), norm_a_low, norm_a_high);
        add_to_totals(_mm512_add_ps(acc0.norm_b, acc1.norm_b), norm_b_low, norm_b_high);
    }

    CosineSums sums;
    sums.dot = _mm512_reduce_add_pd(_mm512_add_pd(dot_low, dot_high));
    sums.norm_a_squared = _mm512_reduce_add_pd(_mm512_add_pd(norm_a_low, norm_a_high));
    sums.norm_b_squared = _mm512_reduce_add_pd(_mm512_add_pd(norm_b_low, norm_b_high));
    return sums;
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

SIM_INLINE_AVX2 void add_to_totals(__m256 block, __m256d &low, __m256d &high) {
    low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm256_castps256_ps128(block)));
    high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm256_extractf128_ps(block, 1)));
}

SIM_INLINE_AVX2 double horizontal_sum(__m256d x) {
    __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
    return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

SIM_INLINE_AVX2 __m256 sum4(__m256 w, __m256 x, __m256 y, __m256 z) {
    return _mm256_add_ps(_mm256_add_ps(w, x), _mm256_add_ps(y, z));
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

// Sum Step::apply over a and b with four accumulators of 8 lanes.
template <class Step>
SIM_TARGET_AVX2 double reduce(const float *a, const float *b, int n) {
    constexpr int kStep = 4 * kLanes;
    constexpr int kBlock = kStepsPerBlock * kStep;
    __m256d total_low = _mm256_setzero_pd();
    __m256d total_high = _mm256_setzero_pd();

    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        __m256 acc0 = _mm256_setzero_ps();
        __m256 acc1 = _mm256_setzero_ps();
        __m256 acc2 = _mm256_setzero_ps();
        __m256 acc3 = _mm256_setzero_ps();
        int i = start;

        for (; i + kStep <= end; i += kStep) {
            acc0 = Step::apply(acc0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
            acc1 = Step::apply(acc1, _mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
            acc2 = Step::apply(acc2, _mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
            acc3 = Step::apply(acc3, _mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        }

        // As in the AVX-512 kernel: a tail only follows at most 7 full steps.
        if (i < end) {
            int remaining = end - i;
            __m256i m0 = tail_mask(remaining);
            __m256i m1 = tail_mask(remaining - 8);
            __m256i m2 = tail_mask(remaining - 16);
            __m256i m3 = tail_mask(remaining - 24);
            acc0 = Step::apply(acc0, _mm256_maskload_ps(a + i, m0), _mm256_maskload_ps(b + i, m0));
            acc1 = Step::apply(acc1, _mm256_maskload_ps(a + i + 8, m1),
                               _mm256_maskload_ps(b + i + 8, m1));
            acc2 = Step::apply(acc2, _mm256_maskload_ps(a + i + 16, m2),
                               _mm256_maskload_ps(b + i + 16, m2));
            acc3 = Step::apply(acc3, _mm256_maskload_ps(a + i + 24, m3),
                               _mm256_maskload_ps(b + i + 24, m3));
        }

        add_to_totals(sum4(acc0, acc1, acc2, acc3), total_low, total_high);
    }
    return horizontal_sum(_mm256_add_pd(total_low, total_high));
}

double l2_squared_distance(const float *a, const float *b, int n) {
    return reduce<L2Step>(a, b, n);
}

double inner_product(const float *a, const float *b, int n) {
    return reduce<DotStep>(a, b, n);
}

double l1_distance(const float *a, const float *b, int n) { return reduce<L1Step>(a, b, n); }

struct CosineAccumulators {
    __m256 dot, norm_a, norm_b;
};

SIM_INLINE_AVX2 void cosine_step(CosineAccumulators &acc, __m256 x, __m256 y) {
    acc.dot = _mm256_fmadd_ps(x, y, acc.dot);
    acc.norm_a = _mm256_fmadd_ps(x, x, acc.norm_a);
    acc.norm_b = _mm256_fmadd_ps(y, y, acc.norm_b);
}

SIM_TARGET_AVX2 CosineSums cosine_sums(const float *a, const float *b, int n) {
    constexpr int kStep = 2 * kLanes;
    constexpr int kBlock = kStepsPerBlock * kStep;
    __m256d dot_low = _mm256_setzero_pd(), dot_high = _mm256_setzero_pd();
    __m256d norm_a_low = _mm256_setzero_pd(), norm_a_high = _mm256_setzero_pd();
    __m256d norm_b_low = _mm256_setzero_pd(), norm_b_high = _mm256_setzero_pd();

    for (int start = 0; start < n; start += kBlock) {
        int end = (n - start < kBlock) ? n : start + kBlock;
        CosineAccumulators acc0{_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        CosineAccumulators acc1 = acc0;
        int i = start;

        for (; i + kStep <= end; i += kStep) {
            cosine_step(acc0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
            cosine_step(acc1, _mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        }
        if (i < end) {
            int remaining = end - i;
            __m256i m0 = tail_mask(remaining);
            __m256i m1 = tail_mask(remaining - 8);
            cosine_step(acc0, _mm256_maskload_ps(a + i, m0), _mm256_maskload_ps(b + i, m0));
            cosine_step(acc1, _mm256_maskload_ps(a + i + 8, m1), _mm256_maskload_ps(b + i + 8, m1));
        }

        add_to_totals(_mm256_add_ps(acc0.dot, acc1.dot), dot_low, dot_high);
        add_to_totals(_mm256_add_ps(acc0.norm_a, acc1.norm_a), norm_a_low, norm_a_high);
        add_to_totals(_mm256_add_ps(acc0.norm_b, acc1.norm_b), norm_b_low, norm_b_high);
    }

    CosineSums sums;
    sums.dot = horizontal_sum(_mm256_add_pd(dot_low, dot_high));
    sums.norm_a_squared = horizontal_sum(_mm256_add_pd(norm_a_low, norm_a_high));
    sums.norm_b_squared = horizontal_sum(_mm256_add_pd(norm_b_low, norm_b_high));
    return sums;
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
    scalar::norm_squared,
};

const DistanceKernels kAvx2Kernels = {
    "avx2",
    KernelIsa::avx2,
    avx2::l2_squared_distance,
    avx2::inner_product,
    avx2::l1_distance,
    avx2::cosine_sums,
    avx2::norm_squared,
};

const DistanceKernels kAvx512Kernels = {
    "avx512",
    KernelIsa::avx512,
    avx512::l2_squared_distance,
    avx512::inner_product,
    avx512::l1_distance,
    avx512::cosine_sums,
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

double cosine_distance_from_sums(const CosineSums &sums) noexcept {
    // sqrt(a * b) rather than sqrt(a) * sqrt(b), as pgvector computes it.
    // A zero norm makes this 0 / 0, so NaN propagates through the clamp.
    double similarity = sums.dot / std::sqrt(sums.norm_a_squared * sums.norm_b_squared);
    if (similarity > 1.0)
        similarity = 1.0;
    else if (similarity < -1.0)
        similarity = -1.0;
    return 1.0 - similarity;
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
