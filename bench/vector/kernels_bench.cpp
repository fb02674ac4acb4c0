// Microbenchmark of the distance kernels: vectors per second for one query
// against a set of stored vectors, for each kernel set this CPU supports,
// for a plain scalar loop (float accumulator, compiled without -ffast-math,
// so the compiler keeps it scalar) and for the same loops auto-vectorised
// with pgvector's compile flags (autovec_loops.cpp).
//
// Usage: kernels_bench [repeats]
// Build: see bench/vector/run, which compiles it against build/'s core.
// Prints one Markdown table row per dimension count and function: the
// median rate over `repeats` runs (default 7) and the ratio of each kernel
// set to the plain loop.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include "similarity/distance.hpp"

float autovec_l2_squared(const float *a, const float *b, int n);
float autovec_inner_product(const float *a, const float *b, int n);
float autovec_l1(const float *a, const float *b, int n);
double autovec_cosine(const float *a, const float *b, int n);

namespace {

using similarity::DistanceKernels;
using similarity::KernelIsa;
using DistanceFunction = double (*)(const float *, const float *, int);

float plain_l2_squared(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        float diff = a[i] - b[i];
        sum += diff * diff;
    }
    return sum;
}

float plain_inner_product(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

float plain_l1(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += std::fabs(a[i] - b[i]);
    return sum;
}

double plain_cosine(const float *a, const float *b, int n) {
    float dot = 0.0f, norm_a = 0.0f, norm_b = 0.0f;
    for (int i = 0; i < n; i++) {
        dot += a[i] * b[i];
        norm_a += a[i] * a[i];
        norm_b += b[i] * b[i];
    }
    return 1.0 - dot / std::sqrt(static_cast<double>(norm_a) * norm_b);
}

// Stored vectors laid out back to back, and one query.
struct Dataset {
    int dims;
    int count;
    std::vector<float> stored;
    std::vector<float> query;
};

Dataset make_dataset(int dims, int count) {
    std::mt19937 generator(dims);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    Dataset data{dims, count, std::vector<float>(static_cast<size_t>(dims) * count),
                 std::vector<float>(dims)};
    for (float &x : data.stored)
        x = unit(generator);
    for (float &x : data.query)
        x = unit(generator);
    return data;
}

volatile double sink;

// CPU time of this thread: on a shared machine, wall-clock time mostly
// measures the other processes.
double thread_cpu_seconds() {
    timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return now.tv_sec + now.tv_nsec * 1e-9;
}

// Passes over the stored vectors in one timed run: 64 Mi floats per run.
constexpr int kPassesPerRun = 512;

// Return the median rate in vectors per second of distance(query, v) over
// all stored vectors.
template <typename Distance>
double median_rate(const Dataset &data, Distance distance, int repeats) {
    std::vector<double> rates;
    for (int r = 0; r < repeats; r++) {
        double start = thread_cpu_seconds();
        double total = 0.0;
        for (int pass = 0; pass < kPassesPerRun; pass++) {
            for (int v = 0; v < data.count; v++) {
                const float *stored = data.stored.data() + static_cast<size_t>(v) * data.dims;
                total += distance(data.query.data(), stored, data.dims);
            }
        }
        double seconds = thread_cpu_seconds() - start;
        sink = total;
        rates.push_back(kPassesPerRun * data.count / seconds);
    }
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

std::string format_rate(double rate) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.3g M", rate / 1e6);
    return text;
}

}  // namespace

int main(int argc, char **argv) {
    int repeats = argc > 1 ? std::atoi(argv[1]) : 7;
    if (repeats < 1) {
        std::fprintf(stderr, "repeats must be a positive integer, not \"%s\"\n", argv[1]);
        return 2;
    }

    std::vector<const DistanceKernels *> kernel_sets;
    for (KernelIsa isa : {KernelIsa::scalar, KernelIsa::avx2, KernelIsa::avx512})
        if (const DistanceKernels *kernels = similarity::kernels_for_isa(isa))
            kernel_sets.push_back(kernels);

    std::printf("Vectors per CPU second (M = million), median of %d runs; active kernel set: %s\n\n",
                repeats, similarity::kernel_name());
    std::printf("| dims | function | plain loop | auto-vectorised |");
    for (const DistanceKernels *kernels : kernel_sets)
        std::printf(" %s | %s / plain |", kernels->name, kernels->name);
    std::printf("\n|---|---|---|---|");
    for (size_t i = 0; i < kernel_sets.size(); i++)
        std::printf("---|---|");
    std::printf("\n");

    for (int dims : {128, 1024, 4096}) {
        // 512 KiB of stored vectors, which stay in a 1 MiB or larger L2
        // cache, so the rates measure the kernels rather than memory.
        Dataset data = make_dataset(dims, (128 << 10) / dims);

        struct Row {
            const char *name;
            double plain;
            double autovec;
            DistanceFunction (*select)(const DistanceKernels &);
        };
        Row rows[] = {
            {"l2_squared", median_rate(data, plain_l2_squared, repeats),
             median_rate(data, autovec_l2_squared, repeats),
             [](const DistanceKernels &k) { return k.l2_squared_distance; }},
            {"inner_product", median_rate(data, plain_inner_product, repeats),
             median_rate(data, autovec_inner_product, repeats),
             [](const DistanceKernels &k) { return k.inner_product; }},
            {"l1", median_rate(data, plain_l1, repeats), median_rate(data, autovec_l1, repeats),
             [](const DistanceKernels &k) { return k.l1_distance; }},
            {"cosine", median_rate(data, plain_cosine, repeats),
             median_rate(data, autovec_cosine, repeats),
             [](const DistanceKernels &k) { return k.cosine_distance; }},
        };

        for (const Row &row : rows) {
            std::printf("| %d | %s | %s | %s |", dims, row.name, format_rate(row.plain).c_str(),
                        format_rate(row.autovec).c_str());
            for (const DistanceKernels *kernels : kernel_sets) {
                double rate = median_rate(data, row.select(*kernels), repeats);
                std::printf(" %s | %.2f |", format_rate(rate).c_str(), rate / row.plain);
            }
            std::printf("\n");
        }
    }
    return 0;
}
