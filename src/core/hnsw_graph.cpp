// hnsw_graph.cpp
//
// In-memory HNSW graph construction with hnswlib, for CREATE INDEX.  The
// glue hands over all vectors at once; worker threads insert them into a
// hnswlib::HierarchicalNSW whose space calls this project's distance
// kernels, and the glue then copies the graph out, element by element, to
// write index pages.  No PostgreSQL call happens here: the glue's main
// thread waits in slices (sim_hnsw_build_wait) and handles interrupts and
// progress reporting between them.  After the inserts, the same workers
// fill each level-0 list up to its 2m slots (see fill_level0), because
// hnswlib selects only m neighbours for a new element at level 0.
#include "similarity/core_only.hpp"

#include <hnswlib/hnswlib.h>
#include <immintrin.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "similarity/distance.hpp"
#include "similarity/error.hpp"
#include "similarity/hnsw_capi.h"
#include "similarity/vector_capi.h"

namespace {

struct SpaceParams {
    int dims;
};

float l2_squared_distance(const void *a, const void *b, const void *param) {
    int dims = static_cast<const SpaceParams *>(param)->dims;
    return static_cast<float>(sim_l2_squared_distance(static_cast<const float *>(a),
                                                      static_cast<const float *>(b), dims));
}

float negative_inner_product(const void *a, const void *b, const void *param) {
    int dims = static_cast<const SpaceParams *>(param)->dims;
    return -static_cast<float>(sim_inner_product(static_cast<const float *>(a),
                                                 static_cast<const float *>(b), dims));
}

float l1_distance(const void *a, const void *b, const void *param) {
    int dims = static_cast<const SpaceParams *>(param)->dims;
    return static_cast<float>(sim_l1_distance(static_cast<const float *>(a),
                                              static_cast<const float *>(b), dims));
}

// Build-only AVX-512 kernels.  Most of a build's time goes into distances.
// These sum in float only (two accumulators of 16 lanes, no double totals),
// which took about 15% less time per distance than the project's kernels in
// a microbenchmark at 128 dimensions.  Their error grows with the
// dimensions (an estimated 1e-5 relative at 4096), which can only swap
// near-ties in the choice of neighbours.  Scans and on-disk inserts still
// use the project's kernels.
#define SIM_TARGET_AVX512 __attribute__((target("avx512f")))

// GCC 12's _mm512_reduce_add_ps starts from an undefined vector, which its
// uninitialized-variable analysis reports falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

SIM_TARGET_AVX512 inline __mmask16 tail_mask(int remaining) {
    return remaining >= 16 ? static_cast<__mmask16>(0xFFFF)
                           : static_cast<__mmask16>((1u << remaining) - 1u);
}

SIM_TARGET_AVX512 float fast_negative_inner_product(const void *a, const void *b,
                                                    const void *param) {
    int n = static_cast<const SpaceParams *>(param)->dims;
    const float *x = static_cast<const float *>(a);
    const float *y = static_cast<const float *>(b);
    __m512 sum0 = _mm512_setzero_ps();
    __m512 sum1 = _mm512_setzero_ps();
    int i = 0;

    for (; i + 32 <= n; i += 32) {
        sum0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), sum0);
        sum1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), sum1);
    }
    for (; i < n; i += 16) {
        __mmask16 mask = tail_mask(n - i);
        sum0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + i),
                               _mm512_maskz_loadu_ps(mask, y + i), sum0);
    }
    return -_mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

SIM_TARGET_AVX512 float fast_l2_squared_distance(const void *a, const void *b,
                                                 const void *param) {
    int n = static_cast<const SpaceParams *>(param)->dims;
    const float *x = static_cast<const float *>(a);
    const float *y = static_cast<const float *>(b);
    __m512 sum0 = _mm512_setzero_ps();
    __m512 sum1 = _mm512_setzero_ps();
    int i = 0;

    for (; i + 32 <= n; i += 32) {
        __m512 diff0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        __m512 diff1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        sum0 = _mm512_fmadd_ps(diff0, diff0, sum0);
        sum1 = _mm512_fmadd_ps(diff1, diff1, sum1);
    }
    for (; i < n; i += 16) {
        __mmask16 mask = tail_mask(n - i);
        __m512 diff = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i),
                                    _mm512_maskz_loadu_ps(mask, y + i));
        sum0 = _mm512_fmadd_ps(diff, diff, sum0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

#pragma GCC diagnostic pop

// A hnswlib space over float vectors that uses the project's kernels, or
// the build-only float kernels above where the CPU has AVX-512.
class KernelSpace : public hnswlib::SpaceInterface<float> {
public:
    KernelSpace(int dims, SimHnswDistance distance) : params_{dims} {
        bool avx512 = similarity::active_kernels().isa == similarity::KernelIsa::avx512;
        switch (distance) {
        case SIM_HNSW_L2_SQUARED:
            function_ = avx512 ? fast_l2_squared_distance : l2_squared_distance;
            break;
        case SIM_HNSW_NEGATIVE_INNER_PRODUCT:
            function_ = avx512 ? fast_negative_inner_product : negative_inner_product;
            break;
        case SIM_HNSW_L1:
            function_ = l1_distance;
            break;
        default:
            throw similarity::Error(SIM_ERR_INTERNAL,
                                    "unknown hnsw distance " + std::to_string(distance));
        }
    }

    size_t get_data_size() override { return sizeof(float) * params_.dims; }
    hnswlib::DISTFUNC<float> get_dist_func() override { return function_; }
    void *get_dist_func_param() override { return &params_; }

private:
    SpaceParams params_;
    hnswlib::DISTFUNC<float> function_;
};

}  // namespace

struct SimHnswBuild {
    const float *vectors = nullptr;
    int max_level = 0;
    size_t count = 0;
    int dims = 0;
    std::unique_ptr<KernelSpace> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
    std::vector<hnswlib::tableint> internal_ids;  // label -> hnswlib internal id

    std::vector<std::thread> workers;
    std::atomic<size_t> next{0};
    std::atomic<size_t> inserted{0};
    std::atomic<bool> stop{false};

    std::mutex mutex;  // guards running, failed and the failure texts
    std::condition_variable finished;
    int running = 0;
    bool failed = false;
    SimError failure;

    // Level-0 fill pass.  After the inserts, each worker computes extra
    // links for a share of the elements into fill_lists, reading the graph
    // only.  The main thread copies them into the graph once every worker
    // has finished.
    std::atomic<size_t> next_fill{0};
    int inserters_left = 0;  // guarded by mutex
    std::condition_variable inserts_done;
    std::vector<hnswlib::tableint> fill_lists;  // 2m slots per internal id
    std::vector<uint16_t> fill_counts;          // extra links per internal id

    // Phase timings for DEBUG1 output: start, last insert done, fill done.
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point inserts_finished;
    std::chrono::steady_clock::time_point fill_finished;

    void insert(size_t label) {
        graph->addPoint(vectors + label * dims, label);
        inserted.fetch_add(1, std::memory_order_relaxed);
    }

    // Compute links that fill the level-0 list of internal id `id` up to 2m
    // with the closest of its neighbours' neighbours.  The lists of the
    // closest neighbours are read first, until at least 2 * ef_construction
    // candidates have been seen.  Existing links are all kept, so every
    // link that keeps an element reachable survives.  The added ones are
    // the closest candidates, the way pgvector fills lists with pruned
    // connections.  `sources` and `candidates` are the calling thread's
    // scratch space.
    void fill_level0(hnswlib::tableint id, std::vector<std::pair<float, hnswlib::tableint>> &sources,
                     std::vector<std::pair<float, hnswlib::tableint>> &candidates) {
        const auto &g = *graph;
        size_t capacity = g.maxM0_;
        hnswlib::linklistsizeint *list = g.get_linklist0(id);
        size_t existing = g.getListCount(list);
        if (existing == 0 || existing >= capacity)
            return;
        const hnswlib::tableint *links = reinterpret_cast<const hnswlib::tableint *>(list + 1);
        const char *base = g.getDataByInternalId(id);
        size_t enough = 2 * g.ef_construction_;

        // Closest neighbours first.
        sources.clear();
        for (size_t i = 0; i < existing; i++)
            sources.emplace_back(distance(base, links[i]), links[i]);
        std::sort(sources.begin(), sources.end());

        // hnswlib's pooled visited marks, one list per thread at a time.
        hnswlib::VisitedList *visited = g.visited_list_pool_->getFreeVisitedList();
        hnswlib::vl_type *seen = visited->mass;
        hnswlib::vl_type epoch = visited->curV;
        seen[id] = epoch;
        for (size_t i = 0; i < existing; i++)
            seen[links[i]] = epoch;

        candidates.clear();
        for (size_t i = 0; i < existing && candidates.size() < enough; i++) {
            hnswlib::linklistsizeint *other = g.get_linklist0(sources[i].second);
            size_t other_count = g.getListCount(other);
            const hnswlib::tableint *other_links =
                reinterpret_cast<const hnswlib::tableint *>(other + 1);
            for (size_t j = 0; j < other_count; j++) {
                hnswlib::tableint candidate = other_links[j];
                if (seen[candidate] == epoch)
                    continue;
                seen[candidate] = epoch;
                // Fetch the next candidate's vector while this one is compared.
                if (j + 1 < other_count)
                    _mm_prefetch(g.getDataByInternalId(other_links[j + 1]), _MM_HINT_T0);
                candidates.emplace_back(distance(base, candidate), candidate);
            }
        }
        g.visited_list_pool_->releaseVisitedList(visited);

        size_t added = std::min(candidates.size(), capacity - existing);
        std::partial_sort(candidates.begin(), candidates.begin() + added, candidates.end());
        hnswlib::tableint *out = fill_lists.data() + id * capacity;
        for (size_t i = 0; i < added; i++)
            out[i] = candidates[i].second;
        fill_counts[id] = static_cast<uint16_t>(added);
    }

    // Distance from a vector in the graph to element `other`.
    float distance(const char *base, hnswlib::tableint other) const {
        return graph->fstdistfunc_(base, graph->getDataByInternalId(other),
                                   graph->dist_func_param_);
    }

    // Copy the links computed by the fill pass into the graph.
    void apply_fill() {
        auto &g = *graph;
        size_t capacity = g.maxM0_;
        for (size_t id = 0; id < fill_counts.size(); id++) {
            size_t added = fill_counts[id];
            if (added == 0)
                continue;
            hnswlib::linklistsizeint *list = g.get_linklist0(static_cast<hnswlib::tableint>(id));
            size_t existing = g.getListCount(list);
            hnswlib::tableint *links = reinterpret_cast<hnswlib::tableint *>(list + 1);
            std::copy_n(fill_lists.data() + id * capacity, added, links + existing);
            g.setListCount(list, static_cast<unsigned short>(existing + added));
        }
    }

    void work() noexcept {
        SimError error;
        sim_error_init(&error);
        bool ok = similarity::guard(&error, [&] {
            while (!stop.load(std::memory_order_relaxed)) {
                size_t label = next.fetch_add(1);
                if (label >= count)
                    break;
                insert(label);
            }

            // Every insert must be finished before the fill pass reads lists.
            {
                std::unique_lock<std::mutex> lock(mutex);
                if (--inserters_left == 0) {
                    inserts_finished = std::chrono::steady_clock::now();
                    inserts_done.notify_all();
                }
                while (inserters_left > 0 && !stop.load())
                    inserts_done.wait_for(lock, std::chrono::milliseconds(20));
            }

            std::vector<std::pair<float, hnswlib::tableint>> sources;
            std::vector<std::pair<float, hnswlib::tableint>> candidates;
            while (!stop.load(std::memory_order_relaxed)) {
                size_t id = next_fill.fetch_add(1);
                if (id >= count)
                    break;
                fill_level0(static_cast<hnswlib::tableint>(id), sources, candidates);
            }
        });

        std::lock_guard<std::mutex> lock(mutex);
        if (!ok && !failed) {
            failed = true;
            failure = error;
            stop = true;
        }
        running--;
        finished.notify_all();
    }

    void join() {
        stop = true;
        for (std::thread &worker : workers)
            if (worker.joinable())
                worker.join();
        workers.clear();
    }

    ~SimHnswBuild() { join(); }
};

namespace {

// Start threads with every signal blocked, so PostgreSQL's handlers only
// ever run on the backend's main thread.
void start_workers(SimHnswBuild *build, int threads) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    try {
        for (int i = 0; i < threads; i++) {
            {
                std::lock_guard<std::mutex> lock(build->mutex);
                build->running++;
                build->inserters_left++;
            }
            try {
                build->workers.emplace_back([build] { build->work(); });
            } catch (...) {
                std::lock_guard<std::mutex> lock(build->mutex);
                build->running--;
                build->inserters_left--;
                throw;
            }
        }
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace

extern "C" {

double sim_hnsw_distance(SimHnswDistance distance, const float *a, const float *b, int n) {
    switch (distance) {
    case SIM_HNSW_L2_SQUARED:
        return sim_l2_squared_distance(a, b, n);
    case SIM_HNSW_NEGATIVE_INNER_PRODUCT:
        return -sim_inner_product(a, b, n);
    case SIM_HNSW_L1:
        return sim_l1_distance(a, b, n);
    }
    return 0.0;
}

size_t sim_hnsw_build_memory(size_t n, int dims, int m) {
    // hnswlib stores, per element: the vector, the label, a level-0 list of
    // 2m ids plus a count, a lock, a level and a pointer to its upper lists;
    // about 1/(m - 1) of the elements have upper lists of m ids each.  The
    // 64 bytes cover the label lookup table's node and allocator overhead.
    // The level-0 fill pass adds 2m ids and a count per element.
    size_t level0 = sizeof(float) * dims + sizeof(size_t) + (2 * m + 1) * sizeof(uint32_t);
    size_t fill = 2 * m * sizeof(uint32_t) + sizeof(uint16_t);
    size_t upper = (m + 1) * sizeof(uint32_t) / std::max(1, m - 1) + 1;
    size_t overhead = sizeof(std::mutex) + sizeof(int) + sizeof(void *) + 64;
    return n * (level0 + upper + overhead + fill);
}

bool sim_hnsw_build_start(const float *vectors, size_t n, int dims, SimHnswDistance distance,
                          int m, int ef_construction, int max_level, int threads,
                          SimHnswBuild **out, SimError *error) {
    *out = nullptr;
    return similarity::guard(error, [&] {
        if (n == 0 || dims <= 0 || m < 2 || ef_construction < 1)
            throw similarity::Error(SIM_ERR_INTERNAL, "invalid hnsw build parameters");

        auto build = std::make_unique<SimHnswBuild>();
        build->vectors = vectors;
        build->max_level = max_level;
        build->count = n;
        build->dims = dims;
        build->space = std::make_unique<KernelSpace>(dims, distance);
        build->fill_lists.resize(n * 2 * static_cast<size_t>(m));
        build->fill_counts.assign(n, 0);
        build->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            build->space.get(), n, static_cast<size_t>(m),
            static_cast<size_t>(ef_construction));

        // hnswlib needs one element in the graph before concurrent inserts.
        build->started = std::chrono::steady_clock::now();
        build->insert(0);
        build->next = 1;

        unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
        int workers = std::max(1, std::min(threads, static_cast<int>(hardware)));
        start_workers(build.get(), workers);
        *out = build.release();
    });
}

bool sim_hnsw_build_wait(SimHnswBuild *build, SimInterruptFlag interrupt, int timeout_ms,
                         bool *done, size_t *inserted, SimError *error) {
    *done = false;
    *inserted = build->inserted.load();
    return similarity::guard(error, [&] {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        std::unique_lock<std::mutex> lock(build->mutex);
        while (build->running > 0 && !build->failed) {
            if (interrupt != nullptr && *interrupt)
                break;
            // Wake up often enough to notice an interrupt promptly.
            auto slice = std::min(deadline, std::chrono::steady_clock::now() +
                                                std::chrono::milliseconds(20));
            build->finished.wait_until(lock, slice);
            if (std::chrono::steady_clock::now() >= deadline)
                break;
        }
        bool failed = build->failed;
        SimError failure = build->failure;
        bool running = build->running > 0;
        lock.unlock();

        if (failed) {
            build->join();
            throw similarity::Error(failure.kind, failure.message, failure.detail, failure.hint);
        }
        if (running && interrupt != nullptr && *interrupt) {
            build->join();
            throw similarity::Error(SIM_ERR_CANCELED, "hnsw build canceled");
        }
        *inserted = build->inserted.load();
        if (running)
            return;

        build->join();
        build->apply_fill();
        build->fill_finished = std::chrono::steady_clock::now();
        build->internal_ids.assign(build->count, 0);
        for (const auto &entry : build->graph->label_lookup_)
            build->internal_ids[entry.first] = entry.second;
        *done = true;
    });
}

void sim_hnsw_build_free(SimHnswBuild *build) { delete build; }

void sim_hnsw_build_seconds(const SimHnswBuild *build, double *inserts, double *fill) {
    using seconds = std::chrono::duration<double>;
    *inserts = seconds(build->inserts_finished - build->started).count();
    *fill = seconds(build->fill_finished - build->inserts_finished).count();
}

void sim_hnsw_graph_entry(const SimHnswBuild *build, int64_t *label, int *level) {
    const auto &graph = *build->graph;
    if (graph.cur_element_count == 0 || graph.maxlevel_ < 0) {
        *label = -1;
        *level = -1;
        return;
    }
    *label = static_cast<int64_t>(graph.getExternalLabel(graph.enterpoint_node_));
    *level = std::min(graph.maxlevel_, build->max_level);
}

int sim_hnsw_graph_level(const SimHnswBuild *build, size_t label) {
    int level = build->graph->element_levels_[build->internal_ids[label]];
    return std::min(level, build->max_level);
}

int sim_hnsw_graph_neighbors(const SimHnswBuild *build, size_t label, int level,
                             uint32_t *out, int capacity) {
    const auto &graph = *build->graph;
    hnswlib::tableint id = build->internal_ids[label];
    if (level > graph.element_levels_[id] || level > build->max_level)
        return 0;
    hnswlib::linklistsizeint *list = graph.get_linklist_at_level(id, level);
    int count = static_cast<int>(graph.getListCount(list));
    const hnswlib::tableint *ids = reinterpret_cast<const hnswlib::tableint *>(list + 1);
    int copied = std::min(count, capacity);
    for (int i = 0; i < copied; i++)
        out[i] = static_cast<uint32_t>(graph.getExternalLabel(ids[i]));
    return copied;
}

}  // extern "C"
