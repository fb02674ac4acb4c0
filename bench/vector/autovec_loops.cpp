// Plain float loops for the compiler to vectorise, built by bench/vector/run
// with the flags pgvector 0.8.6's Makefile uses (-O2 -march=native
// -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math).
// They show what auto-vectorisation reaches on this CPU, next to the
// explicit kernels.
#include <cmath>

float autovec_l2_squared(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        float diff = a[i] - b[i];
        sum += diff * diff;
    }
    return sum;
}

float autovec_inner_product(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

float autovec_l1(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += std::fabs(a[i] - b[i]);
    return sum;
}

double autovec_cosine(const float *a, const float *b, int n) {
    float dot = 0.0f, norm_a = 0.0f, norm_b = 0.0f;
    for (int i = 0; i < n; i++) {
        dot += a[i] * b[i];
        norm_a += a[i] * a[i];
        norm_b += b[i] * b[i];
    }
    return 1.0 - dot / std::sqrt(static_cast<double>(norm_a) * norm_b);
}
