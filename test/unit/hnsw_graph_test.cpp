#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "similarity/hnsw_capi.h"
#include "similarity/vector_capi.h"

namespace {

std::vector<float> random_vectors(size_t count, int dims, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> values(count * dims);
    for (float &value : values)
        value = normal(rng);
    return values;
}

// Wait for a build in 50 ms slices; return the last error kind.
SimErrorKind wait_for(SimHnswBuild *build, volatile int32_t *interrupt) {
    SimError error;
    sim_error_init(&error);
    bool done = false;
    size_t inserted = 0;
    while (!done) {
        if (!sim_hnsw_build_wait(build, interrupt, 50, &done, &inserted, &error))
            return error.kind;
    }
    return SIM_OK;
}

TEST(HnswGraph, DistanceMatchesKernels) {
    std::vector<float> v = random_vectors(2, 37, 1);
    const float *a = v.data(), *b = v.data() + 37;
    EXPECT_DOUBLE_EQ(sim_hnsw_distance(SIM_HNSW_L2_SQUARED, a, b, 37),
                     sim_l2_squared_distance(a, b, 37));
    EXPECT_DOUBLE_EQ(sim_hnsw_distance(SIM_HNSW_NEGATIVE_INNER_PRODUCT, a, b, 37),
                     -sim_inner_product(a, b, 37));
    EXPECT_DOUBLE_EQ(sim_hnsw_distance(SIM_HNSW_L1, a, b, 37), sim_l1_distance(a, b, 37));
}

TEST(HnswGraph, BuildsValidLists) {
    const size_t count = 3000;
    const int dims = 16, m = 8, max_level = 4;
    std::vector<float> vectors = random_vectors(count, dims, 2);
    SimError error;
    sim_error_init(&error);
    SimHnswBuild *build = nullptr;
    ASSERT_TRUE(sim_hnsw_build_start(vectors.data(), count, dims, SIM_HNSW_L2_SQUARED, m, 32,
                                     max_level, 2, &build, &error))
        << error.message;
    ASSERT_EQ(wait_for(build, nullptr), SIM_OK);

    int64_t entry = -1;
    int entry_level = -1;
    sim_hnsw_graph_entry(build, &entry, &entry_level);
    ASSERT_GE(entry, 0);
    EXPECT_LE(entry_level, max_level);
    EXPECT_EQ(sim_hnsw_graph_level(build, entry), entry_level);

    std::vector<uint32_t> neighbors(2 * m);
    for (size_t label = 0; label < count; label++) {
        int level = sim_hnsw_graph_level(build, label);
        ASSERT_LE(level, max_level);
        for (int l = 0; l <= level; l++) {
            int capacity = l == 0 ? 2 * m : m;
            int found = sim_hnsw_graph_neighbors(build, label, l, neighbors.data(), capacity);
            ASSERT_LE(found, capacity);
            if (l == 0)
                ASSERT_GE(found, 1) << "label " << label;
            for (int i = 0; i < found; i++) {
                ASSERT_LT(neighbors[i], count);
                ASSERT_NE(neighbors[i], label);
                ASSERT_GE(sim_hnsw_graph_level(build, neighbors[i]), l);
                for (int j = 0; j < i; j++)
                    ASSERT_NE(neighbors[i], neighbors[j]) << "label " << label << " level " << l;
            }
        }
    }
    sim_hnsw_build_free(build);
}

// hnswlib alone leaves most level-0 lists short of 2m; the fill pass after
// the inserts should fill nearly all of them to 2m.
TEST(HnswGraph, FillsLevelZeroLists) {
    const size_t count = 3000;
    const int dims = 16, m = 8;
    std::vector<float> vectors = random_vectors(count, dims, 4);
    SimError error;
    sim_error_init(&error);
    SimHnswBuild *build = nullptr;
    ASSERT_TRUE(sim_hnsw_build_start(vectors.data(), count, dims, SIM_HNSW_L2_SQUARED, m, 32, 4,
                                     2, &build, &error))
        << error.message;
    ASSERT_EQ(wait_for(build, nullptr), SIM_OK);

    std::vector<uint32_t> neighbors(2 * m);
    size_t full = 0;
    for (size_t label = 0; label < count; label++)
        if (sim_hnsw_graph_neighbors(build, label, 0, neighbors.data(), 2 * m) == 2 * m)
            full++;
    EXPECT_GE(full, count * 95 / 100);
    sim_hnsw_build_free(build);
}

// The build's own kernels (float-only AVX-512 where available) must order
// vectors as the project's kernels do, also in the masked tail of
// dimensions that are not a multiple of 16.  So nearly every element's
// level-0 list should contain its exact nearest neighbour.
TEST(HnswGraph, ListsHoldNearestNeighbour) {
    const size_t count = 600;
    const int m = 8;
    for (SimHnswDistance distance : {SIM_HNSW_L2_SQUARED, SIM_HNSW_NEGATIVE_INNER_PRODUCT}) {
        for (int dims : {3, 17, 45, 100}) {
            std::vector<float> vectors = random_vectors(count, dims, 5);
            for (size_t i = 0; i < count; i++) {
                float *v = vectors.data() + i * dims;
                double norm = std::sqrt(sim_norm_squared(v, dims));
                for (int d = 0; d < dims; d++)
                    v[d] = static_cast<float>(v[d] / norm);
            }
            SimError error;
            sim_error_init(&error);
            SimHnswBuild *build = nullptr;
            ASSERT_TRUE(sim_hnsw_build_start(vectors.data(), count, dims, distance, m, 64, 4, 2,
                                             &build, &error))
                << error.message;
            ASSERT_EQ(wait_for(build, nullptr), SIM_OK);

            std::vector<uint32_t> neighbors(2 * m);
            size_t found = 0;
            for (size_t label = 0; label < count; label++) {
                const float *base = vectors.data() + label * dims;
                size_t nearest = label == 0 ? 1 : 0;
                for (size_t other = 0; other < count; other++) {
                    if (other == label)
                        continue;
                    if (sim_hnsw_distance(distance, base, vectors.data() + other * dims, dims) <
                        sim_hnsw_distance(distance, base, vectors.data() + nearest * dims, dims))
                        nearest = other;
                }
                int listed = sim_hnsw_graph_neighbors(build, label, 0, neighbors.data(), 2 * m);
                for (int i = 0; i < listed; i++)
                    if (neighbors[i] == nearest)
                        found++;
            }
            EXPECT_GE(found, count * 95 / 100) << "distance " << distance << ", dims " << dims;
            sim_hnsw_build_free(build);
        }
    }
}

TEST(HnswGraph, InterruptCancelsBuild) {
    const size_t count = 20000;
    const int dims = 64;
    std::vector<float> vectors = random_vectors(count, dims, 3);
    SimError error;
    sim_error_init(&error);
    SimHnswBuild *build = nullptr;
    ASSERT_TRUE(sim_hnsw_build_start(vectors.data(), count, dims, SIM_HNSW_L2_SQUARED, 16, 400,
                                     8, 2, &build, &error));
    volatile int32_t interrupt = 1;
    EXPECT_EQ(wait_for(build, &interrupt), SIM_ERR_CANCELED);
    sim_hnsw_build_free(build);
}

TEST(HnswGraph, RejectsEmptyInput) {
    SimError error;
    sim_error_init(&error);
    SimHnswBuild *build = nullptr;
    float vector[4] = {0, 0, 0, 0};
    EXPECT_FALSE(sim_hnsw_build_start(vector, 0, 4, SIM_HNSW_L1, 16, 64, 8, 1, &build, &error));
    EXPECT_EQ(build, nullptr);
    EXPECT_NE(error.kind, SIM_OK);
}

}  // namespace
