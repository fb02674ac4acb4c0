#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "similarity/pca_capi.h"

namespace {

// An accumulator whose buffers live in std::vectors, as the glue's live in
// palloc'd memory.
struct Accumulator {
    explicit Accumulator(int dims, int capacity = SIM_PCA_BATCH_ROWS)
        : mean(dims), scatter(static_cast<size_t>(dims) * dims),
          batch(static_cast<size_t>(dims) * capacity) {
        acc.dims = dims;
        acc.batch_capacity = capacity;
        acc.batch_rows = 0;
        acc.rows = 0;
        acc.mean = mean.data();
        acc.scatter = scatter.data();
        acc.batch = batch.data();
    }

    void add(const std::vector<double> &row) {
        std::copy(row.begin(), row.end(), batch.begin() + acc.batch_rows * acc.dims);
        if (++acc.batch_rows == acc.batch_capacity)
            flush();
    }

    void flush() {
        SimError error;
        sim_error_init(&error);
        ASSERT_TRUE(sim_pca_flush_batch(&acc, &error)) << error.message;
    }

    double scatter_at(int i, int j) const {  // lower triangle only
        return i >= j ? scatter[static_cast<size_t>(j) * acc.dims + i]
                      : scatter[static_cast<size_t>(i) * acc.dims + j];
    }

    SimPcaAccumulator acc;
    std::vector<double> mean, scatter, batch;
};

struct Model {
    Model(int dims, int k, int64_t rows)
        : mean(dims), variance(k), components(static_cast<size_t>(dims) * k) {
        view.dims = dims;
        view.n_components = k;
        view.rows = rows;
        view.total_variance = 0.0;
        view.mean = mean.data();
        view.explained_variance = variance.data();
        view.components = components.data();
    }

    SimPcaModelView view;
    std::vector<double> mean, variance;
    std::vector<float> components;
};

std::vector<std::vector<double>> random_rows(int rows, int dims, double offset,
                                             unsigned seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<double> normal;
    std::vector<std::vector<double>> data(rows, std::vector<double>(dims));
    for (auto &row : data)
        for (int j = 0; j < dims; j++)
            row[j] = offset + (j + 1) * normal(gen);
    return data;
}

// Two-pass mean and scatter, the reference for the streaming updates.
void two_pass(const std::vector<std::vector<double>> &data, std::vector<double> &mean,
              std::vector<double> &scatter) {
    const int dims = static_cast<int>(data[0].size());
    mean.assign(dims, 0.0);
    for (const auto &row : data)
        for (int j = 0; j < dims; j++)
            mean[j] += row[j] / data.size();
    scatter.assign(static_cast<size_t>(dims) * dims, 0.0);
    for (const auto &row : data)
        for (int i = 0; i < dims; i++)
            for (int j = 0; j < dims; j++)
                scatter[static_cast<size_t>(i) * dims + j] +=
                    (row[i] - mean[i]) * (row[j] - mean[j]);
}

TEST(PcaAccumulate, MatchesTwoPassWithLargeOffset) {
    // An offset of 1e6 against unit spread makes the one-pass formula
    // sum(x x^T) - n mean mean^T lose most digits; batched centring does not.
    const int dims = 5;
    auto data = random_rows(1000, dims, 1e6, 1);
    Accumulator a(dims, 64);
    for (const auto &row : data)
        a.add(row);
    a.flush();

    std::vector<double> mean, scatter;
    two_pass(data, mean, scatter);
    EXPECT_EQ(a.acc.rows, 1000);
    for (int i = 0; i < dims; i++) {
        EXPECT_NEAR(a.mean[i], mean[i], 1e-6);
        for (int j = 0; j <= i; j++)
            EXPECT_NEAR(a.scatter_at(i, j), scatter[static_cast<size_t>(i) * dims + j],
                        1e-9 * std::abs(scatter[static_cast<size_t>(i) * dims + i]))
                << i << "," << j;
    }
}

TEST(PcaAccumulate, MergeEqualsOneStream) {
    const int dims = 4;
    auto data = random_rows(300, dims, 10.0, 2);
    Accumulator whole(dims, 32), first(dims, 32), second(dims, 32);
    for (size_t i = 0; i < data.size(); i++) {
        whole.add(data[i]);
        (i < 70 ? first : second).add(data[i]);
    }
    whole.flush();
    first.flush();
    second.flush();

    SimError error;
    sim_error_init(&error);
    ASSERT_TRUE(sim_pca_merge(&first.acc, &second.acc, &error)) << error.message;
    EXPECT_EQ(first.acc.rows, 300);
    for (int i = 0; i < dims; i++) {
        EXPECT_NEAR(first.mean[i], whole.mean[i], 1e-12);
        for (int j = 0; j <= i; j++)
            EXPECT_NEAR(first.scatter_at(i, j), whole.scatter_at(i, j), 1e-8);
    }
}

TEST(PcaAccumulate, MergeIntoEmptyCopies) {
    const int dims = 3;
    auto data = random_rows(10, dims, 0.0, 3);
    Accumulator empty(dims, 0), full(dims, 16);
    for (const auto &row : data)
        full.add(row);
    full.flush();

    SimError error;
    sim_error_init(&error);
    ASSERT_TRUE(sim_pca_merge(&empty.acc, &full.acc, &error)) << error.message;
    EXPECT_EQ(empty.acc.rows, 10);
    for (int i = 0; i < dims; i++)
        for (int j = 0; j <= i; j++)
            EXPECT_EQ(empty.scatter_at(i, j), full.scatter_at(i, j));
}

TEST(PcaAccumulate, MergeRejectsOtherDims) {
    Accumulator a(3), b(4);
    SimError error;
    sim_error_init(&error);
    EXPECT_FALSE(sim_pca_merge(&a.acc, &b.acc, &error));
    EXPECT_EQ(error.kind, SIM_ERR_DATA);
    EXPECT_STREQ(error.message, "different vector dimensions 3 and 4");
}

Model fit(Accumulator &a, int k) {
    a.flush();
    Model m(a.acc.dims, k, a.acc.rows);
    SimError error;
    sim_error_init(&error);
    EXPECT_TRUE(sim_pca_compute(&a.acc, &m.view, nullptr, &error)) << error.message;
    return m;
}

TEST(PcaCompute, AxisAlignedData) {
    // Spread 1, 3, 0 (a zero-variance column) and 2 along the axes.
    Accumulator a(4);
    for (double t : {-1.0, 1.0}) {
        a.add({t, 0, 7, 0});
        a.add({0, 3 * t, 7, 0});
        a.add({0, 0, 7, 2 * t});
    }
    Model m = fit(a, 3);

    const double n_minus_1 = 5.0;
    EXPECT_NEAR(m.variance[0], 18.0 / n_minus_1, 1e-12);
    EXPECT_NEAR(m.variance[1], 8.0 / n_minus_1, 1e-12);
    EXPECT_NEAR(m.variance[2], 2.0 / n_minus_1, 1e-12);
    EXPECT_NEAR(m.view.total_variance, 28.0 / n_minus_1, 1e-12);
    EXPECT_EQ(m.mean[2], 7.0);

    // Each component is an axis with a positive loading.
    const int expected_axis[] = {1, 3, 0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            EXPECT_NEAR(m.components[i * 4 + j], j == expected_axis[i] ? 1.0f : 0.0f, 1e-6)
                << "component " << i << " loading " << j;
}

TEST(PcaCompute, SignRuleMakesLargestLoadingPositive) {
    auto data = random_rows(200, 6, 0.0, 4);
    Accumulator a(6);
    for (const auto &row : data)
        a.add(row);
    Model m = fit(a, 6);
    for (int i = 0; i < 6; i++) {
        const float *row = &m.components[i * 6];
        int largest = 0;
        for (int j = 1; j < 6; j++)
            if (std::abs(row[j]) > std::abs(row[largest]))
                largest = j;
        EXPECT_GT(row[largest], 0.0f) << "component " << i;
        if (i > 0)
            EXPECT_GE(m.variance[i - 1], m.variance[i]);
    }
}

TEST(PcaProject, MatchesNaiveProduct) {
    const int dims = 7, k = 3, count = 300;  // more than one batch
    std::mt19937 gen(5);
    std::uniform_real_distribution<float> uniform(-1, 1);
    std::vector<float> components(dims * k), mean(dims), inputs(dims * count),
        outputs(k * count), scratch(dims * SIM_PCA_BATCH_ROWS);
    for (auto *v : {&components, &mean, &inputs})
        for (float &x : *v)
            x = uniform(gen);

    std::vector<const float *> in(count);
    std::vector<float *> out(count);
    for (int i = 0; i < count; i++) {
        in[i] = &inputs[i * dims];
        out[i] = &outputs[i * k];
    }
    SimError error;
    sim_error_init(&error);
    ASSERT_TRUE(sim_pca_project(components.data(), mean.data(), dims, k, in.data(),
                                out.data(), count, scratch.data(), &error));
    for (int r = 0; r < count; r++)
        for (int c = 0; c < k; c++) {
            double expected = 0.0;
            for (int j = 0; j < dims; j++)
                expected += double(components[c * dims + j]) * (inputs[r * dims + j] - mean[j]);
            EXPECT_NEAR(outputs[r * k + c], expected, 1e-5) << r << "," << c;
        }
}

std::string format(const SimPcaModelView &view) {
    std::string text(sim_pca_text_size(view.dims, view.n_components), '\0');
    SimError error;
    sim_error_init(&error);
    EXPECT_TRUE(sim_pca_format(&view, text.data(), text.size(), &error)) << error.message;
    text.resize(std::strlen(text.c_str()));
    return text;
}

TEST(PcaText, RoundTripsBitForBit) {
    const int dims = 5, k = 2;
    Model m(dims, k, 12345678901LL);
    std::mt19937 gen(6);
    std::uniform_real_distribution<double> uniform(-1, 1);
    for (double &x : m.mean)
        x = uniform(gen) * 1e-300;  // subnormal-range doubles too
    m.mean[0] = -0.0;
    m.mean[1] = 1.0 / 3.0;
    m.variance = {std::nextafter(2.0, 3.0), 1e-310};
    m.view.total_variance = 0.1 + 0.2;
    for (float &x : m.components)
        x = static_cast<float>(uniform(gen)) * 1e-38f;
    m.components[0] = std::nextafter(1.0f, 2.0f);

    std::string text = format(m.view);
    int parsed_dims = 0, parsed_k = 0;
    SimError error;
    sim_error_init(&error);
    ASSERT_TRUE(sim_pca_parse_shape(text.c_str(), &parsed_dims, &parsed_k, &error));
    EXPECT_EQ(parsed_dims, dims);
    EXPECT_EQ(parsed_k, k);

    Model back(dims, k, 0);
    ASSERT_TRUE(sim_pca_parse(text.c_str(), &back.view, &error)) << error.message << ": "
                                                                 << error.detail;
    EXPECT_EQ(back.view.rows, m.view.rows);
    EXPECT_EQ(std::memcmp(&back.view.total_variance, &m.view.total_variance, sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(back.mean.data(), m.mean.data(), sizeof(double) * dims), 0);
    EXPECT_EQ(std::memcmp(back.variance.data(), m.variance.data(), sizeof(double) * k), 0);
    EXPECT_EQ(std::memcmp(back.components.data(), m.components.data(),
                          sizeof(float) * dims * k), 0);
    EXPECT_EQ(format(back.view), text);
}

TEST(PcaText, RejectsMalformedText) {
    const char *valid_prefix = "{\"version\":1,\"dims\":2,\"n_components\":1,";
    struct Case {
        std::string text;
        SimErrorKind kind;
    } cases[] = {
        {"", SIM_ERR_INVALID_TEXT},
        {"[1,2]", SIM_ERR_INVALID_TEXT},
        {"{\"dims\":2}", SIM_ERR_INVALID_TEXT},
        {"{\"version\":3}", SIM_ERR_FEATURE_NOT_SUPPORTED},
        {"{\"version\":1,\"dims\":0,\"n_components\":1}", SIM_ERR_DATA},
        {"{\"version\":1,\"dims\":2,\"n_components\":x}", SIM_ERR_INVALID_TEXT},
        {std::string(valid_prefix) + "\"rows\":3,\"total_variance\":1,\"mean\":[1,2],"
                                     "\"explained_variance\":[1],\"components\":[[1,0]]}}",
         SIM_ERR_INVALID_TEXT},
        {std::string(valid_prefix) + "\"rows\":3,\"total_variance\":1,\"mean\":[1,2,3],"
                                     "\"explained_variance\":[1],\"components\":[[1,0]]}",
         SIM_ERR_INVALID_TEXT},
        {std::string(valid_prefix) + "\"rows\":3,\"total_variance\":1,\"mean\":[1,2],"
                                     "\"explained_variance\":[1],\"components\":[[1,1e40]]}",
         SIM_ERR_OUT_OF_RANGE},
        {std::string(valid_prefix) + "\"rows\":3,\"total_variance\":1,\"mean\":[1,inf],"
                                     "\"explained_variance\":[1],\"components\":[[1,0]]}",
         SIM_ERR_DATA},
    };
    for (const Case &c : cases) {
        SimError error;
        sim_error_init(&error);
        int dims = 0, k = 0;
        bool ok = sim_pca_parse_shape(c.text.c_str(), &dims, &k, &error);
        if (ok) {
            Model m(dims, k, 0);
            ok = sim_pca_parse(c.text.c_str(), &m.view, &error);
        }
        EXPECT_FALSE(ok) << c.text;
        EXPECT_EQ(error.kind, c.kind) << c.text << ": " << error.message;
    }
}

}  // namespace
