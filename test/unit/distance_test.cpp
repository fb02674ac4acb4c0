// Tests of the distance kernels on every instruction set this CPU supports.
//
// Each kernel is compared with a double-precision reference on random data
// at every dimension count from 1 to 4100, so every tail length of every
// block size is covered.  The error measure is the one distance.hpp
// documents: |computed - exact| / sum |term_i|.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "similarity/distance.hpp"
#include "similarity/vector_capi.h"

namespace {

using similarity::CosineSums;
using similarity::DistanceKernels;
using similarity::KernelIsa;

constexpr int kMaxDims = 4100;
constexpr double kTolerance = 1e-6;

// Double-precision sums and the sums of absolute terms they are judged by.
struct Reference {
    double l2_squared = 0, inner_product = 0, inner_product_abs = 0, l1 = 0;
    double norm_a_squared = 0, norm_b_squared = 0;
};

Reference reference_sums(const float *a, const float *b, int n) {
    Reference r;
    for (int i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        double diff = x - y;
        r.l2_squared += diff * diff;
        r.inner_product += x * y;
        r.inner_product_abs += std::fabs(x * y);
        r.l1 += std::fabs(diff);
        r.norm_a_squared += x * x;
        r.norm_b_squared += y * y;
    }
    return r;
}

double relative_error(double computed, double exact, double abs_sum) {
    if (abs_sum == 0.0)
        return std::fabs(computed - exact);
    return std::fabs(computed - exact) / abs_sum;
}

// Return count values: the first half uniform in [-1, 1], the second half
// scaled by random powers of two from 2^-12 to 2^12, so that blocks mix
// large and small terms.
std::vector<float> random_values(unsigned seed, int count) {
    std::mt19937 generator(seed);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::uniform_int_distribution<int> exponent(-12, 12);
    std::vector<float> values(count);
    for (int i = 0; i < count; i++) {
        float x = unit(generator);
        values[i] = (i < count / 2) ? x : std::ldexp(x, exponent(generator));
    }
    return values;
}

std::vector<KernelIsa> supported_isas() {
    std::vector<KernelIsa> isas;
    for (KernelIsa isa : {KernelIsa::scalar, KernelIsa::avx2, KernelIsa::avx512})
        if (similarity::kernel_isa_supported(isa))
            isas.push_back(isa);
    return isas;
}

class DistanceKernelTest : public ::testing::TestWithParam<KernelIsa> {
protected:
    void SetUp() override {
        kernels_ = similarity::kernels_for_isa(GetParam());
        if (kernels_ == nullptr)
            GTEST_SKIP() << "this CPU lacks the instructions of this kernel set";
    }

    const DistanceKernels *kernels_ = nullptr;
};

std::string isa_name(const ::testing::TestParamInfo<KernelIsa> &info) {
    switch (info.param) {
        case KernelIsa::scalar:
            return "scalar";
        case KernelIsa::avx2:
            return "avx2";
        case KernelIsa::avx512:
            return "avx512";
    }
    return "unknown";
}

TEST_P(DistanceKernelTest, MatchesDoubleReferenceAtEveryDimension) {
    // Two spare floats so the inputs can start unaligned.
    std::vector<float> a_values = random_values(1234, kMaxDims + 2);
    std::vector<float> b_values = random_values(5678, kMaxDims + 2);

    for (int n = 1; n <= kMaxDims; n++) {
        const float *a = a_values.data() + (n % 3 == 1 ? 1 : 0);
        const float *b = b_values.data() + (n % 3 == 2 ? 2 : 0);
        Reference ref = reference_sums(a, b, n);

        EXPECT_LE(relative_error(kernels_->l2_squared_distance(a, b, n), ref.l2_squared,
                                 ref.l2_squared),
                  kTolerance)
            << "l2_squared_distance, n = " << n;
        EXPECT_LE(relative_error(kernels_->inner_product(a, b, n), ref.inner_product,
                                 ref.inner_product_abs),
                  kTolerance)
            << "inner_product, n = " << n;
        EXPECT_LE(relative_error(kernels_->l1_distance(a, b, n), ref.l1, ref.l1), kTolerance)
            << "l1_distance, n = " << n;
        EXPECT_LE(relative_error(kernels_->norm_squared(a, n), ref.norm_a_squared,
                                 ref.norm_a_squared),
                  kTolerance)
            << "norm_squared, n = " << n;

        CosineSums sums = kernels_->cosine_sums(a, b, n);
        EXPECT_LE(relative_error(sums.dot, ref.inner_product, ref.inner_product_abs), kTolerance)
            << "cosine_sums dot, n = " << n;
        EXPECT_LE(relative_error(sums.norm_a_squared, ref.norm_a_squared, ref.norm_a_squared),
                  kTolerance)
            << "cosine_sums norm_a, n = " << n;
        EXPECT_LE(relative_error(sums.norm_b_squared, ref.norm_b_squared, ref.norm_b_squared),
                  kTolerance)
            << "cosine_sums norm_b, n = " << n;

        // With each sum within 1e-6, the similarity is within about 2e-6 of
        // sum |a_i b_i| / (|a| |b|), which is at most 1.
        double norms = std::sqrt(ref.norm_a_squared * ref.norm_b_squared);
        double exact_distance = 1.0 - ref.inner_product / norms;
        EXPECT_LE(std::fabs(similarity::cosine_distance_from_sums(sums) - exact_distance),
                  2.0 * kTolerance * ref.inner_product_abs / norms + 1e-12)
            << "cosine distance, n = " << n;
    }
}

TEST_P(DistanceKernelTest, ReadsNothingPastTheEnd) {
    // Place each input so that it ends exactly where an inaccessible page
    // begins: a read past the last float would crash the test.
    const long page = sysconf(_SC_PAGESIZE);
    const size_t data_bytes = ((kMaxDims * sizeof(float) + page - 1) / page) * page;
    const size_t total = data_bytes + page;
    void *mapping = mmap(nullptr, 2 * total, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mapping, MAP_FAILED);
    char *base_a = static_cast<char *>(mapping);
    char *base_b = base_a + total;
    ASSERT_EQ(mprotect(base_a + data_bytes, page, PROT_NONE), 0);
    ASSERT_EQ(mprotect(base_b + data_bytes, page, PROT_NONE), 0);
    float *end_a = reinterpret_cast<float *>(base_a + data_bytes);
    float *end_b = reinterpret_cast<float *>(base_b + data_bytes);
    for (int i = 1; i <= kMaxDims; i++) {
        end_a[-i] = 0.5f;
        end_b[-i] = -0.25f;
    }

    for (int n = 1; n <= kMaxDims; n++) {
        const float *a = end_a - n;
        const float *b = end_b - n;
        EXPECT_DOUBLE_EQ(kernels_->l2_squared_distance(a, b, n), 0.5625 * n);
        EXPECT_DOUBLE_EQ(kernels_->inner_product(a, b, n), -0.125 * n);
        EXPECT_DOUBLE_EQ(kernels_->l1_distance(a, b, n), 0.75 * n);
        EXPECT_DOUBLE_EQ(kernels_->norm_squared(a, n), 0.25 * n);
        CosineSums sums = kernels_->cosine_sums(a, b, n);
        EXPECT_DOUBLE_EQ(sums.dot, -0.125 * n);
        EXPECT_DOUBLE_EQ(sums.norm_b_squared, 0.0625 * n);
    }
    munmap(mapping, 2 * total);
}

TEST_P(DistanceKernelTest, ZeroLengthInputsGiveZero) {
    float x = 1.0f;
    EXPECT_EQ(kernels_->l2_squared_distance(&x, &x, 0), 0.0);
    EXPECT_EQ(kernels_->inner_product(&x, &x, 0), 0.0);
    EXPECT_EQ(kernels_->l1_distance(&x, &x, 0), 0.0);
    EXPECT_EQ(kernels_->norm_squared(&x, 0), 0.0);
}

TEST_P(DistanceKernelTest, ZeroVectorCosineIsNaN) {
    std::vector<float> zero(37, 0.0f), ones(37, 1.0f);
    CosineSums sums = kernels_->cosine_sums(zero.data(), ones.data(), 37);
    EXPECT_TRUE(std::isnan(similarity::cosine_distance_from_sums(sums)));
    sums = kernels_->cosine_sums(zero.data(), zero.data(), 37);
    EXPECT_TRUE(std::isnan(similarity::cosine_distance_from_sums(sums)));
}

TEST_P(DistanceKernelTest, OverflowMatchesPgvector) {
    // pgvector 0.8.6 forms differences and products in float.
    float big[1] = {3e38f};
    float minus_big[1] = {-3e38f};
    EXPECT_TRUE(std::isinf(kernels_->l2_squared_distance(big, minus_big, 1)));
    EXPECT_TRUE(std::isinf(kernels_->inner_product(big, big, 1)));
    EXPECT_TRUE(std::isinf(kernels_->l1_distance(big, minus_big, 1)));
    EXPECT_TRUE(std::isnan(
        similarity::cosine_distance_from_sums(kernels_->cosine_sums(big, big, 1))));

    // The norm is summed in double, so it stays finite.
    float large[2] = {3e37f, 4e37f};
    EXPECT_NEAR(std::sqrt(kernels_->norm_squared(large, 2)), 5e37, 5e37 * 1e-6);
}

TEST_P(DistanceKernelTest, CosineIsClampedToRange) {
    std::vector<float> a(19, 0.3f), b(19, -0.3f);
    double same = similarity::cosine_distance_from_sums(kernels_->cosine_sums(a.data(), a.data(), 19));
    double opposite =
        similarity::cosine_distance_from_sums(kernels_->cosine_sums(a.data(), b.data(), 19));
    EXPECT_GE(same, 0.0);
    EXPECT_NEAR(same, 0.0, 1e-7);
    EXPECT_LE(opposite, 2.0);
    EXPECT_NEAR(opposite, 2.0, 1e-7);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, DistanceKernelTest,
                         ::testing::Values(KernelIsa::scalar, KernelIsa::avx2, KernelIsa::avx512),
                         isa_name);

TEST(DistanceDispatch, ChoosesBestSupportedIsa) {
    std::vector<KernelIsa> isas = supported_isas();
    ASSERT_FALSE(isas.empty());
    EXPECT_EQ(similarity::active_kernels().isa, isas.back());
    EXPECT_STREQ(sim_kernel_name(), similarity::active_kernels().name);
}

TEST(DistanceDispatch, CApiMatchesActiveKernels) {
    std::vector<float> a = random_values(42, 300), b = random_values(43, 300);
    const DistanceKernels &k = similarity::active_kernels();
    EXPECT_EQ(sim_l2_squared_distance(a.data(), b.data(), 300),
              k.l2_squared_distance(a.data(), b.data(), 300));
    EXPECT_EQ(sim_inner_product(a.data(), b.data(), 300), k.inner_product(a.data(), b.data(), 300));
    EXPECT_EQ(sim_l1_distance(a.data(), b.data(), 300), k.l1_distance(a.data(), b.data(), 300));
    EXPECT_EQ(sim_norm_squared(a.data(), 300), k.norm_squared(a.data(), 300));
    EXPECT_EQ(sim_cosine_distance(a.data(), b.data(), 300),
              similarity::cosine_distance_from_sums(k.cosine_sums(a.data(), b.data(), 300)));
}

}  // namespace
