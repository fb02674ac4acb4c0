// pca_fit.cpp
//
// Streaming mean and scatter accumulation, the pairwise merge used by the
// parallel aggregate, and the eigensolver step of pca_fit.
//
// Numerics: each batch of rows is centred on its own mean and added with a
// rank-k update, which is a BLAS syrk when Eigen is built with
// EIGEN_USE_BLAS.  Batches and partial states are combined with the
// pairwise formula of Chan, Golub and LeVeque ("Algorithms for computing
// the sample variance", 1983):
//   M = M_a + M_b + d d^T * n_a n_b / (n_a + n_b),  d = mean_b - mean_a.
// Centring before the product avoids the cancellation of the textbook
// sum(x x^T) - n mean mean^T when the mean is large relative to the spread.
//
// The leading eigenpairs come from LAPACK's dsyevr (MRRR), restricted to
// the top n_components.  Eigen's SelfAdjointEigenSolver computes every
// eigenpair after an unblocked tridiagonalisation: it took 5.3 s at 2048
// dimensions, so an estimated 40 s at 4096 (the cost grows as d^3), while
// dsyevr took 3.3 s for the top 256 of 4096 (docs/benchmarks.md, "PCA").
//
// dsyevr cannot be interrupted, and at 4096 dimensions it runs for seconds,
// so it runs on a worker thread that owns a copy of the matrix, while the
// calling thread polls the interrupt flag.  A cancel returns at once and
// leaves the worker to finish and free its own memory.  The flag is
// PostgreSQL's InterruptPending, which is also set by interrupts that are
// not a cancel (a message from a parallel worker, for example), so the glue
// calls sim_pca_compute again after serving them.  The abandoned run is
// kept, and a call with the same matrix waits for it instead of starting
// over.
//
// NOTE: OpenBLAS (0.3.21, pthreads build) starts its worker threads when
// the library is loaded, and they do not block signals, so the kernel may
// run a backend's signal handler on one of them.  PostgreSQL's handlers set
// flags and the process latch; whether every handler is safe on another
// thread has not been checked.
#include "similarity/core_only.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Dense>

#include "similarity/error.hpp"
#include "similarity/pca_capi.h"

extern "C" {
// LAPACK's symmetric eigensolver (Fortran calling convention), from the
// LAPACK library that the core links with the BLAS.
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
             double *a, const int *lda, const double *vl, const double *vu,
             const int *il, const int *iu, const double *abstol, int *m, double *w,
             double *z, const int *ldz, int *isuppz, double *work, const int *lwork,
             int *iwork, const int *liwork, int *info);
}

namespace {

using similarity::Error;
using MatrixMap = Eigen::Map<Eigen::MatrixXd>;
using VectorMap = Eigen::Map<Eigen::VectorXd>;
using ConstMatrixMap = Eigen::Map<const Eigen::MatrixXd>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXd>;

// Add a group of n_b rows with mean mean_b and centred scatter already added
// to the scatter matrix: update the mean and add the between-group term.
void combine_means(SimPcaAccumulator *acc, const Eigen::VectorXd &mean_b, int64_t n_b) {
    VectorMap mean(acc->mean, acc->dims);
    MatrixMap scatter(acc->scatter, acc->dims, acc->dims);

    if (acc->rows == 0) {
        mean = mean_b;
        acc->rows = n_b;
        return;
    }

    const double n_a = static_cast<double>(acc->rows);
    const double n_total = n_a + static_cast<double>(n_b);
    Eigen::VectorXd delta = mean_b - mean;

    scatter.selfadjointView<Eigen::Lower>().rankUpdate(delta, n_a * n_b / n_total);
    mean += delta * (n_b / n_total);
    acc->rows += n_b;
}

void flush_batch(SimPcaAccumulator *acc) {
    const int count = acc->batch_rows;
    if (count == 0)
        return;

    MatrixMap batch(acc->batch, acc->dims, count);
    MatrixMap scatter(acc->scatter, acc->dims, acc->dims);

    Eigen::VectorXd batch_mean = batch.rowwise().mean();
    batch.colwise() -= batch_mean;
    scatter.selfadjointView<Eigen::Lower>().rankUpdate(batch);

    combine_means(acc, batch_mean, count);
    acc->batch_rows = 0;
}

void merge(SimPcaAccumulator *into, const SimPcaAccumulator *from) {
    if (into->dims != from->dims)
        throw Error(SIM_ERR_DATA, "different vector dimensions " +
                                      std::to_string(into->dims) + " and " +
                                      std::to_string(from->dims));
    if (into->batch_rows != 0 || from->batch_rows != 0)
        throw Error(SIM_ERR_INTERNAL, "pca states must be flushed before they are merged");
    if (from->rows == 0)
        return;

    const int d = into->dims;
    MatrixMap scatter(into->scatter, d, d);
    ConstMatrixMap scatter_b(from->scatter, d, d);
    scatter.triangularView<Eigen::Lower>() += scatter_b;

    Eigen::VectorXd mean_b = ConstVectorMap(from->mean, d);
    combine_means(into, mean_b, from->rows);
}

// Call dsyevr for the eigenpairs il..iu (1-based, ascending) of the lower
// triangle of a, which it overwrites.
void top_eigenpairs(double *a, int n, int k, Eigen::VectorXd &values,
                    Eigen::MatrixXd &vectors) {
    const char jobz = 'V', range = 'I', uplo = 'L';
    const double vl = 0.0, vu = 0.0, abstol = 0.0;
    const int il = n - k + 1, iu = n;
    int found = 0, info = 0;
    std::vector<double> w(n);
    std::vector<int> isuppz(2 * static_cast<size_t>(k));
    vectors.resize(n, k);

    // A workspace query first, as LAPACK recommends.
    double work_size = 0.0;
    int iwork_size = 0;
    int lwork = -1, liwork = -1;
    dsyevr_(&jobz, &range, &uplo, &n, a, &n, &vl, &vu, &il, &iu, &abstol, &found,
            w.data(), vectors.data(), &n, isuppz.data(), &work_size, &lwork, &iwork_size,
            &liwork, &info);
    if (info != 0)
        throw Error(SIM_ERR_INTERNAL,
                    "dsyevr workspace query failed with info " + std::to_string(info));

    lwork = static_cast<int>(work_size);
    liwork = iwork_size;
    std::vector<double> work(lwork);
    std::vector<int> iwork(liwork);
    dsyevr_(&jobz, &range, &uplo, &n, a, &n, &vl, &vu, &il, &iu, &abstol, &found,
            w.data(), vectors.data(), &n, isuppz.data(), work.data(), &lwork, iwork.data(),
            &liwork, &info);
    if (info != 0 || found != k)
        throw Error(SIM_ERR_DATA, "eigendecomposition of the covariance matrix failed",
                    "LAPACK dsyevr returned info " + std::to_string(info) + " with " +
                        std::to_string(found) + " of " + std::to_string(k) +
                        " eigenpairs.");

    values = Eigen::Map<Eigen::VectorXd>(w.data(), k);
}

// State shared by an eigensolver worker and the thread waiting for it.  The
// worker holds a reference, so the state outlives a caller that gave up.
struct EigenJob {
    std::vector<double> matrix;
    int n = 0;
    int k = 0;
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    std::exception_ptr failure;
    bool done = false;
    std::mutex mutex;
    std::condition_variable finished;
};

// Serialises eigensolver workers, so a worker left running by a cancelled
// fit never runs alongside the next one.
std::mutex eigensolver_mutex;

void run_eigen_job(const std::shared_ptr<EigenJob> &job) {
    std::lock_guard<std::mutex> serial(eigensolver_mutex);
    try {
        top_eigenpairs(job->matrix.data(), job->n, job->k, job->values, job->vectors);
    } catch (...) {
        job->failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(job->mutex);
    job->done = true;
    job->finished.notify_all();
}

// 64-bit FNV-1a hash of the lower triangle of the n x n matrix a, the part
// that dsyevr reads.
uint64_t fingerprint(const double *a, int n) {
    uint64_t hash = 14695981039346656037ull;
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++) {
            uint64_t bits;
            std::memcpy(&bits, a + static_cast<size_t>(j) * n + i, sizeof(bits));
            hash = (hash ^ bits) * 1099511628211ull;
        }
    return hash;
}

// The run that the last interrupted call left behind, and the fingerprint
// of its input.  Only the backend's own thread reads or writes these.  The
// pointer is weak, so a run that is not resumed frees its memory when it
// ends, and a retry after that starts a new run.
std::weak_ptr<EigenJob> abandoned_job;
uint64_t abandoned_fingerprint = 0;

// Run top_eigenpairs on a worker thread and wait for it, returning
// SIM_ERR_CANCELED within about 20 ms of *interrupt being set.  After such a
// return, a call with the same n, k and matrix (same fingerprint) waits for
// the run already under way.
// NOTE: two different matrices with the same 64-bit fingerprint would get
// the first one's eigenpairs; the chance of that is about 2^-64.
void top_eigenpairs_interruptible(const double *a, int n, int k, Eigen::VectorXd &values,
                                  Eigen::MatrixXd &vectors, SimInterruptFlag interrupt) {
    std::shared_ptr<EigenJob> job = abandoned_job.lock();
    abandoned_job.reset();
    // A run for another matrix finishes on its own and frees its memory.
    if (job && (job->n != n || job->k != k || abandoned_fingerprint != fingerprint(a, n)))
        job.reset();

    if (!job) {
        job = std::make_shared<EigenJob>();
        job->matrix.assign(a, a + static_cast<size_t>(n) * n);
        job->n = n;
        job->k = k;

        // The worker inherits a mask that blocks every signal, so the
        // backend's handlers only ever run on the backend's own thread.
        sigset_t all, previous;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &previous);
        try {
            std::thread(run_eigen_job, job).detach();
        } catch (...) {
            pthread_sigmask(SIG_SETMASK, &previous, nullptr);
            throw;
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    }

    std::unique_lock<std::mutex> lock(job->mutex);
    while (!job->done) {
        if (interrupt != nullptr && *interrupt) {
            lock.unlock();
            abandoned_fingerprint = fingerprint(a, n);
            abandoned_job = job;
            throw Error(SIM_ERR_CANCELED, "canceling pca_fit");
        }
        job->finished.wait_for(lock, std::chrono::milliseconds(20));
    }
    lock.unlock();

    if (job->failure)
        std::rethrow_exception(job->failure);
    values = std::move(job->values);
    vectors = std::move(job->vectors);
}

[[noreturn]] void throw_not_finite() {
    throw Error(SIM_ERR_DATA, "pca_fit produced non-finite results",
                "The input values are too large for double precision arithmetic.");
}

void compute(SimPcaAccumulator *acc, SimPcaModelView *model, SimInterruptFlag interrupt) {
    const int d = acc->dims;
    const int k = model->n_components;

    if (model->dims != d || model->rows != acc->rows || acc->batch_rows != 0)
        throw Error(SIM_ERR_INTERNAL, "pca model shape does not match its statistics");
    if (k < 1 || k > d || acc->rows < 2)
        throw Error(SIM_ERR_INTERNAL, "pca_compute called with invalid counts");

    const double divisor = static_cast<double>(acc->rows - 1);
    MatrixMap scatter(acc->scatter, d, d);
    const double total = scatter.diagonal().sum() / divisor;
    if (!std::isfinite(total))
        throw_not_finite();

    if (interrupt != nullptr && *interrupt)
        throw Error(SIM_ERR_CANCELED, "canceling pca_fit");

    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    top_eigenpairs_interruptible(acc->scatter, d, k, values, vectors, interrupt);

    std::copy(acc->mean, acc->mean + d, model->mean);
    model->total_variance = total;

    // dsyevr returns ascending eigenvalues; the model lists them descending.
    for (int i = 0; i < k; i++) {
        const int source = k - 1 - i;
        // Rounding can leave an eigenvalue of a singular matrix slightly
        // below zero; a variance is never negative.
        const double variance = std::max(0.0, values(source) / divisor);
        if (!std::isfinite(variance))
            throw_not_finite();
        model->explained_variance[i] = variance;

        // Sign rule: the loading of largest magnitude is positive (the first
        // such loading when several tie).
        auto column = vectors.col(source);
        Eigen::Index largest = 0;
        column.cwiseAbs().maxCoeff(&largest);
        const double sign = column(largest) < 0.0 ? -1.0 : 1.0;

        float *row = model->components + static_cast<size_t>(i) * d;
        for (int j = 0; j < d; j++) {
            const double value = sign * column(j);
            if (!std::isfinite(value))
                throw_not_finite();
            row[j] = static_cast<float>(value);
        }
    }
}

}  // namespace

extern "C" bool sim_pca_flush_batch(SimPcaAccumulator *acc, SimError *error) {
    return similarity::guard(error, [&] { flush_batch(acc); });
}

extern "C" bool sim_pca_merge(SimPcaAccumulator *into, const SimPcaAccumulator *from,
                              SimError *error) {
    return similarity::guard(error, [&] { merge(into, from); });
}

extern "C" bool sim_pca_compute(SimPcaAccumulator *acc, SimPcaModelView *model,
                                SimInterruptFlag interrupt, SimError *error) {
    return similarity::guard(error, [&] { compute(acc, model, interrupt); });
}
