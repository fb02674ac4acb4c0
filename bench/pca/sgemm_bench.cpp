// sgemm_bench.cpp
//
// Measure the rate of the matrix product behind pca_project's array form,
// outside PostgreSQL: C (k x n) = W^T X, with W the dims x k components and
// X the n input vectors, each a column with a leading dimension of
// dims + pad floats (a vector[] puts 2 floats of header between vectors).
// Build with one command (OpenBLAS's pthread build and its cblas.h)
//   g++ -O2 -I/usr/include/x86_64-linux-gnu/openblas-pthread
//       bench/pca/sgemm_bench.cpp /usr/lib/x86_64-linux-gnu/libopenblas.so.0
//       -o /tmp/sgemm_bench
// and run, with OPENBLAS_NUM_THREADS and OPENBLAS_CORETYPE selecting the
// threads and the kernel:
//   OPENBLAS_NUM_THREADS=2 /tmp/sgemm_bench VECTORS REPEAT [PAD [DIMS [K]]]
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s VECTORS REPEAT [PAD [DIMS [K]]]\n", argv[0]);
        return 2;
    }
    const int n = std::atoi(argv[1]);
    const int repeat = std::atoi(argv[2]);
    const int pad = argc > 3 ? std::atoi(argv[3]) : 0;
    const int dims = argc > 4 ? std::atoi(argv[4]) : 4096;
    const int k = argc > 5 ? std::atoi(argv[5]) : 256;
    const int ld = dims + pad;
    if (n < 1 || repeat < 1 || pad < 0 || dims < 1 || k < 1) {
        std::fprintf(stderr, "VECTORS, REPEAT, DIMS and K must be positive, PAD at least 0\n");
        return 2;
    }

    std::mt19937 generator(7);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> weights(static_cast<size_t>(dims) * k);
    std::vector<float> inputs(static_cast<size_t>(ld) * n);
    std::vector<float> outputs(static_cast<size_t>(k) * n);
    for (float &value : weights)
        value = uniform(generator);
    for (float &value : inputs)
        value = uniform(generator);

    auto product = [&] {
        cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, n, dims, 1.0f,
                    weights.data(), dims, inputs.data(), ld, 0.0f, outputs.data(), k);
    };
    product();  // warm-up: starts OpenBLAS's threads

    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; r++)
        product();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const double vectors = static_cast<double>(n) * repeat;
    std::printf("%d x %d -> %d, %d vectors per call, leading dimension %d: "
                "%.1f GFLOP/s, %.0f vectors/s\n",
                n, dims, k, n, ld, 2.0 * dims * k * vectors / seconds / 1e9, vectors / seconds);
    return 0;
}
