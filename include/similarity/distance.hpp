// distance.hpp
//
// Distance kernels for C++ callers (the HNSW graph, the PCA code, tests and
// benchmarks).  These are the same kernels that vector_capi.h exposes to the
// C glue: each C function sim_X calls similarity::X.
//
// Three kernel sets exist: AVX-512F, AVX2 with FMA, and portable scalar code.
// The first call picks the best set this CPU supports and keeps it for the
// life of the process.
//
// Accuracy.  Each kernel returns a double and stays within 1e-6 relative
// error of the same sum computed in double precision from the same float
// inputs.  For a sum of terms t_i (t_i = a_i b_i for the inner product,
// (a_i - b_i)^2 for squared L2, |a_i - b_i| for L1, a_i^2 for the norm) the
// relative error is |computed - exact| / sum_i |t_i|.  For squared L2, L1
// and the norm every term is non-negative, so this is the usual relative
// error; for the inner product, whose terms can cancel, it is the standard
// bound for a signed sum.  The SIMD kernels accumulate float products in
// blocks of at most 8 terms per lane, sum the accumulators as a tree of at
// most 3 levels, fold the lanes once more in float and add each block to a
// double total.  A term so passes at most 12 float additions, plus 2
// roundings of the difference in squared L2, which bounds the error by
// 14 * 2^-24 = 8.3e-7.  The AVX-512 kernels sum short inputs (one block of
// at most 5 steps, or 8 for cosine) entirely in float, with the same
// bound of at most 14 roundings.
//
// Overflow follows pgvector 0.8.6: differences and products are formed in
// float, so an input near the float limit yields Infinity (and cosine
// distance NaN) where pgvector does.
#pragma once

#include "similarity/core_only.hpp"

#include <cmath>

namespace similarity {

// Instruction set of a kernel set.
enum class KernelIsa { scalar, avx2, avx512 };

// The three sums that cosine distance needs, computed in one pass.
struct CosineSums {
    double dot;             // sum a_i b_i
    double norm_a_squared;  // sum a_i^2
    double norm_b_squared;  // sum b_i^2
};

// One set of kernels.  Every function takes n >= 0 floats per input and
// never throws.
struct DistanceKernels {
    const char *name;  // "avx512", "avx2" or "scalar"
    KernelIsa isa;
    double (*l2_squared_distance)(const float *a, const float *b, int n);
    double (*inner_product)(const float *a, const float *b, int n);
    double (*l1_distance)(const float *a, const float *b, int n);
    CosineSums (*cosine_sums)(const float *a, const float *b, int n);
    // cosine_distance_from_sums(cosine_sums(a, b, n)) in one call.
    double (*cosine_distance)(const float *a, const float *b, int n);
    // Sum of a_i^2 in double precision, so it does not overflow for finite
    // float inputs (pgvector's vector_norm does the same).
    double (*norm_squared)(const float *a, int n);
};

// Whether this CPU can run the kernel set for isa.
bool kernel_isa_supported(KernelIsa isa) noexcept;

// The kernel set for isa, or nullptr when this CPU lacks the instructions.
const DistanceKernels *kernels_for_isa(KernelIsa isa) noexcept;

// The fastest kernel set this CPU supports, chosen once.
const DistanceKernels &active_kernels() noexcept;

// Cosine distance 1 - dot / sqrt(|a|^2 |b|^2), clamped to [0, 2].  NaN when
// either norm is zero or a sum overflowed, as pgvector returns.
inline double cosine_distance_from_sums(const CosineSums &sums) noexcept {
    // sqrt(a * b) rather than sqrt(a) * sqrt(b), as pgvector computes it.
    // A zero norm makes this 0 / 0, so NaN propagates through the clamp.
    double similarity = sums.dot / std::sqrt(sums.norm_a_squared * sums.norm_b_squared);
    if (similarity > 1.0)
        similarity = 1.0;
    else if (similarity < -1.0)
        similarity = -1.0;
    return 1.0 - similarity;
}

inline double l2_squared_distance(const float *a, const float *b, int n) noexcept {
    return active_kernels().l2_squared_distance(a, b, n);
}

inline double inner_product(const float *a, const float *b, int n) noexcept {
    return active_kernels().inner_product(a, b, n);
}

inline double l1_distance(const float *a, const float *b, int n) noexcept {
    return active_kernels().l1_distance(a, b, n);
}

inline double cosine_distance(const float *a, const float *b, int n) noexcept {
    return active_kernels().cosine_distance(a, b, n);
}

inline double norm_squared(const float *a, int n) noexcept {
    return active_kernels().norm_squared(a, n);
}

inline const char *kernel_name() noexcept { return active_kernels().name; }

}  // namespace similarity
