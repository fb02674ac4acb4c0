// eigensolver_bench.cpp
//
// Compare the building blocks pca_fit could use, on random data:
//   - the scatter-matrix update: Eigen's own rank-k update against BLAS dsyrk
//   - the eigensolver: Eigen's SelfAdjointEigenSolver (every eigenpair)
//     against LAPACK dsyevr restricted to the top k
// Build and run (without EIGEN_USE_BLAS, so Eigen's own kernels are used):
//   g++ -O2 -I/usr/include/eigen3 bench/pca/eigensolver_bench.cpp \
//       /usr/lib/x86_64-linux-gnu/libopenblas.so.0 -o /tmp/eigensolver_bench
//   /tmp/eigensolver_bench DIMS ROWS K [--skip-eigen]
#include <Eigen/Dense>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *beta,
            double *c, const int *ldc);
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
             double *a, const int *lda, const double *vl, const double *vu,
             const int *il, const int *iu, const double *abstol, int *m, double *w,
             double *z, const int *ldz, int *isuppz, double *work, const int *lwork,
             int *iwork, const int *liwork, int *info);
}

using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s DIMS ROWS K [--skip-eigen]\n", argv[0]);
        return 2;
    }
    int dims = std::atoi(argv[1]);
    int rows = std::atoi(argv[2]);
    int k = std::atoi(argv[3]);
    bool skip_eigen = argc > 4 && std::strcmp(argv[4], "--skip-eigen") == 0;

    Eigen::MatrixXd data = Eigen::MatrixXd::Random(dims, rows);

    // Rank-k updates in batches of 256 rows, as pca_fit does.
    auto start = Clock::now();
    Eigen::MatrixXd eigen_scatter = Eigen::MatrixXd::Zero(dims, dims);
    for (int j = 0; j < rows; j += 256)
        eigen_scatter.selfadjointView<Eigen::Lower>().rankUpdate(
            data.middleCols(j, std::min(256, rows - j)));
    std::printf("rank-k update, Eigen kernels: %.2f s\n", seconds_since(start));

    start = Clock::now();
    Eigen::MatrixXd scatter = Eigen::MatrixXd::Zero(dims, dims);
    const double one = 1.0;
    for (int j = 0; j < rows; j += 256) {
        int batch = std::min(256, rows - j);
        dsyrk_("L", "N", &dims, &batch, &one, data.col(j).data(), &dims, &one,
               scatter.data(), &dims);
    }
    std::printf("rank-k update, BLAS dsyrk:   %.2f s\n", seconds_since(start));

    if (!skip_eigen) {
        Eigen::MatrixXd full = scatter.selfadjointView<Eigen::Lower>();
        start = Clock::now();
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(full);
        std::printf("Eigen SelfAdjointEigenSolver, all %d: %.2f s (largest %.6g)\n", dims,
                    seconds_since(start), solver.eigenvalues()(dims - 1));
    }

    start = Clock::now();
    int found = 0, info = 0, lwork = -1, liwork = -1, iwork_size = 0;
    int il = dims - k + 1, iu = dims;
    double vl = 0, vu = 0, abstol = 0, work_size = 0;
    std::vector<double> values(dims);
    std::vector<int> isuppz(2 * k);
    Eigen::MatrixXd vectors(dims, k);
    dsyevr_("V", "I", "L", &dims, scatter.data(), &dims, &vl, &vu, &il, &iu, &abstol,
            &found, values.data(), vectors.data(), &dims, isuppz.data(), &work_size,
            &lwork, &iwork_size, &liwork, &info);
    lwork = static_cast<int>(work_size);
    liwork = iwork_size;
    std::vector<double> work(lwork);
    std::vector<int> iwork(liwork);
    dsyevr_("V", "I", "L", &dims, scatter.data(), &dims, &vl, &vu, &il, &iu, &abstol,
            &found, values.data(), vectors.data(), &dims, isuppz.data(), work.data(),
            &lwork, iwork.data(), &liwork, &info);
    std::printf("LAPACK dsyevr, top %d: %.2f s (info %d, largest %.6g)\n", k,
                seconds_since(start), info, values[found - 1]);
    return 0;
}
