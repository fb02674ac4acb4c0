// distance.cpp
//
// Distance kernels.  NOTE: this first version relies on compiler
// vectorisation through target_clones; explicit AVX-512/AVX2 kernels with a
// measured comparison are the planned replacement.
#include "similarity/core_only.hpp"

#include <cmath>
#include <limits>

#include "similarity/vector_capi.h"

#define SIM_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))

namespace {

SIM_CLONES float l2_squared(const float *a, const float *b, int n) {
    float sum = 0.0f;
#pragma GCC ivdep
    for (int i = 0; i < n; i++) {
        float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

SIM_CLONES float dot(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

SIM_CLONES float l1(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += std::fabs(a[i] - b[i]);
    return sum;
}

}  // namespace

extern "C" {

double sim_l2_squared_distance(const float *a, const float *b, int n) {
    return l2_squared(a, b, n);
}

double sim_inner_product(const float *a, const float *b, int n) { return dot(a, b, n); }

double sim_l1_distance(const float *a, const float *b, int n) { return l1(a, b, n); }

double sim_norm_squared(const float *a, int n) { return dot(a, a, n); }

double sim_cosine_distance(const float *a, const float *b, int n) {
    double similarity = dot(a, b, n);
    double norms = std::sqrt((double)dot(a, a, n) * (double)dot(b, b, n));
    if (norms == 0.0)
        return std::numeric_limits<double>::quiet_NaN();

    double cosine = similarity / norms;
    if (cosine > 1.0)
        cosine = 1.0;
    else if (cosine < -1.0)
        cosine = -1.0;
    return 1.0 - cosine;
}

const char *sim_kernel_name(void) {
    if (__builtin_cpu_supports("avx512f"))
        return "avx512";
    if (__builtin_cpu_supports("avx2"))
        return "avx2";
    return "scalar";
}

}  // extern "C"
