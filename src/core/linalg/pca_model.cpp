// pca_model.cpp
//
// Projection with a fitted model, its validation, and its text form.
//
// The text form is a JSON object with its keys in a fixed order:
//   {"version":1,"dims":3,"n_components":2,"rows":10,"total_variance":2.5,
//    "mean":[...],"explained_variance":[...],"components":[[...],[...]]}
// Every number is written as the shortest decimal that reads back to the
// same double (mean, variances) or float (components), so text output and
// input round-trip bit for bit.
#include "similarity/core_only.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include <Eigen/Dense>

#include "similarity/error.hpp"
#include "similarity/pca_capi.h"

namespace {

using similarity::Error;

constexpr int kTextVersion = 1;

// Maximum lengths of the shortest round-trip forms: "-1.2345678901234567e-308" and
// "-1.2345678e-38", plus a separator.
constexpr size_t kDoubleChars = 25;
constexpr size_t kFloatChars = 16;

#define SIM_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))

// Eight floats in a GCC vector, which each target clone compiles to its own
// instructions.  The helpers below are always inlined, so the -Wpsabi note
// about passing 32-byte vectors between functions does not apply.
typedef float Lanes8 __attribute__((vector_size(32)));
#pragma GCC diagnostic ignored "-Wpsabi"

__attribute__((always_inline)) inline Lanes8 load8(const float *p) {
    Lanes8 v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

__attribute__((always_inline)) inline float sum_lanes(Lanes8 v) {
    float sum = 0.0f;
    for (int i = 0; i < 8; i++)
        sum += v[i];
    return sum;
}

// out[i] = dot(components row i, x) on one thread, four rows per pass so
// each load of x serves four rows.  A single projection is too short for
// OpenBLAS's threaded sgemv, whose wake-up of its second thread dominated
// when the other core was busy (docs/benchmarks.md, "PCA").
SIM_CLONES void project_one(const float *components, const float *x, int dims, int k,
                            float *out) {
    int i = 0;
    for (; i + 4 <= k; i += 4) {
        const float *w0 = components + static_cast<size_t>(i) * dims;
        const float *w1 = w0 + dims;
        const float *w2 = w1 + dims;
        const float *w3 = w2 + dims;
        Lanes8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
        int j = 0;
        for (; j + 8 <= dims; j += 8) {
            Lanes8 xv = load8(x + j);
            a0 += load8(w0 + j) * xv;
            a1 += load8(w1 + j) * xv;
            a2 += load8(w2 + j) * xv;
            a3 += load8(w3 + j) * xv;
        }
        float s0 = sum_lanes(a0), s1 = sum_lanes(a1), s2 = sum_lanes(a2), s3 = sum_lanes(a3);
        for (; j < dims; j++) {
            s0 += w0[j] * x[j];
            s1 += w1[j] * x[j];
            s2 += w2[j] * x[j];
            s3 += w3[j] * x[j];
        }
        out[i] = s0;
        out[i + 1] = s1;
        out[i + 2] = s2;
        out[i + 3] = s3;
    }
    for (; i < k; i++) {
        const float *w = components + static_cast<size_t>(i) * dims;
        float sum = 0.0f;
        for (int j = 0; j < dims; j++)
            sum += w[j] * x[j];
        out[i] = sum;
    }
}

void project(const float *components, const float *mean, int dims, int k,
             const float *const *inputs, float *const *outputs, int count,
             float *scratch) {
    Eigen::Map<const Eigen::MatrixXf> weights(components, dims, k);
    Eigen::Map<const Eigen::VectorXf> mean_vector(mean, dims);

    for (int start = 0; start < count; start += SIM_PCA_BATCH_ROWS) {
        const int m = std::min(SIM_PCA_BATCH_ROWS, count - start);
        Eigen::Map<Eigen::MatrixXf> centred(scratch, dims, m);
        for (int j = 0; j < m; j++)
            centred.col(j) = Eigen::Map<const Eigen::VectorXf>(inputs[start + j], dims) -
                             mean_vector;

        if (m == 1) {
            project_one(components, scratch, dims, k, outputs[start]);
            continue;
        }

        Eigen::MatrixXf projected(k, m);
        projected.noalias() = weights.transpose() * centred;
        for (int j = 0; j < m; j++)
            std::memcpy(outputs[start + j], projected.col(j).data(), sizeof(float) * k);
    }
}

// Largest squared norm of the mean, as a multiple of the total variance
// (the mean squared distance of the fitted rows from their mean), for which
// project_strided subtracts a precomputed bias instead of centring.  The
// rounding error of components · x grows with the size of x, and the mean
// squared size of x is |mean|^2 + total variance.  So at this limit the
// error is an estimated sqrt(1 + 16), about 4 times, that of the centred
// product.  The benchmark's synthetic ReLU features have a ratio of 0.47.
constexpr double kMaxBiasRatio = 16.0;

// outputs = components · (inputs - mean), column by column, at the given
// strides.  With a bias (components · mean) it runs as one sgemm with
// beta = 1 on outputs preset to -bias, which saves the centring pass, a read
// and a write of every input value (16 MB per 1000 vectors at 4096
// dimensions) that costs about a quarter of the sgemm's time.  Without one
// it centres blocks of vectors into a temporary first.
void project_strided(const float *components, const float *mean, const float *bias, int dims,
                     int k, const float *inputs, size_t input_stride, float *outputs,
                     size_t output_stride, int count) {
    if (count <= 0)
        return;
    if (input_stride < static_cast<size_t>(dims) || output_stride < static_cast<size_t>(k))
        throw Error(SIM_ERR_INTERNAL, "pca projection stride is smaller than a vector");

    using Strided = Eigen::OuterStride<>;
    Eigen::Map<const Eigen::MatrixXf> weights(components, dims, k);
    Eigen::Map<const Eigen::MatrixXf, 0, Strided> x(
        inputs, dims, count, Strided(static_cast<Eigen::Index>(input_stride)));
    Eigen::Map<Eigen::MatrixXf, 0, Strided> projected(
        outputs, k, count, Strided(static_cast<Eigen::Index>(output_stride)));

    if (bias != nullptr) {
        projected.colwise() = -Eigen::Map<const Eigen::VectorXf>(bias, k);
        projected.noalias() += weights.transpose() * x;
        return;
    }

    Eigen::Map<const Eigen::VectorXf> mean_vector(mean, dims);
    Eigen::MatrixXf centred(dims, std::min(count, SIM_PCA_BATCH_ROWS));
    for (int start = 0; start < count; start += SIM_PCA_BATCH_ROWS) {
        const int m = std::min(SIM_PCA_BATCH_ROWS, count - start);
        auto block = centred.leftCols(m);
        block = x.middleCols(start, m).colwise() - mean_vector;
        projected.middleCols(start, m).noalias() = weights.transpose() * block;
    }
}

// ---- validation -----------------------------------------------------------

void validate(const SimPcaModelView *model) {
    const int d = model->dims;
    const int k = model->n_components;

    if (d < 1 || d > SIM_PCA_MAX_DIMS)
        throw Error(SIM_ERR_DATA, "pca model has invalid dims " + std::to_string(d),
                    "dims must be between 1 and " + std::to_string(SIM_PCA_MAX_DIMS) + ".");
    if (k < 1 || k > d)
        throw Error(SIM_ERR_DATA,
                    "pca model has invalid n_components " + std::to_string(k),
                    "n_components must be between 1 and dims (" + std::to_string(d) + ").");
    if (model->rows < 2)
        throw Error(SIM_ERR_DATA,
                    "pca model has invalid rows " + std::to_string(model->rows),
                    "A model is fitted on at least 2 rows.");
    if (!std::isfinite(model->total_variance) || model->total_variance < 0.0)
        throw Error(SIM_ERR_DATA, "pca model has invalid total_variance");

    for (int i = 0; i < d; i++)
        if (!std::isfinite(model->mean[i]))
            throw Error(SIM_ERR_DATA, "pca model has a non-finite mean");

    for (int i = 0; i < k; i++) {
        const double variance = model->explained_variance[i];
        if (!std::isfinite(variance) || variance < 0.0)
            throw Error(SIM_ERR_DATA, "pca model has an invalid explained variance",
                        "Explained variances must be finite and non-negative.");
        if (i > 0 && variance > model->explained_variance[i - 1])
            throw Error(SIM_ERR_DATA, "pca model has explained variances out of order",
                        "Explained variances must not increase.");
    }

    const size_t values = static_cast<size_t>(d) * k;
    for (size_t i = 0; i < values; i++)
        if (!std::isfinite(model->components[i]))
            throw Error(SIM_ERR_DATA, "pca model has a non-finite component value");
}

// ---- text output ------------------------------------------------------------

class Writer {
public:
    Writer(char *out, size_t size) : p_(out), end_(out + size) {}

    void text(const char *s) {
        const size_t n = std::strlen(s);
        if (n >= static_cast<size_t>(end_ - p_))
            overflow();
        std::memcpy(p_, s, n);
        p_ += n;
        *p_ = '\0';
    }

    template <typename T>
    void number(T value) {
        auto result = std::to_chars(p_, end_ - 1, value);
        if (result.ec != std::errc())
            overflow();
        p_ = result.ptr;
        *p_ = '\0';
    }

    template <typename T>
    void array(const T *values, int n) {
        text("[");
        for (int i = 0; i < n; i++) {
            if (i > 0)
                text(",");
            number(values[i]);
        }
        text("]");
    }

private:
    [[noreturn]] static void overflow() {
        throw Error(SIM_ERR_INTERNAL, "pca text buffer is too small");
    }

    char *p_;
    char *end_;
};

void format(const SimPcaModelView *model, char *out, size_t size) {
    Writer w(out, size);
    w.text("{\"version\":");
    w.number(kTextVersion);
    w.text(",\"dims\":");
    w.number(model->dims);
    w.text(",\"n_components\":");
    w.number(model->n_components);
    w.text(",\"rows\":");
    w.number(model->rows);
    w.text(",\"total_variance\":");
    w.number(model->total_variance);
    w.text(",\"mean\":");
    w.array(model->mean, model->dims);
    w.text(",\"explained_variance\":");
    w.array(model->explained_variance, model->n_components);
    w.text(",\"components\":[");
    for (int i = 0; i < model->n_components; i++) {
        if (i > 0)
            w.text(",");
        w.array(model->components + static_cast<size_t>(i) * model->dims, model->dims);
    }
    w.text("]}");
}

// ---- text input -------------------------------------------------------------

class Reader {
public:
    explicit Reader(const char *text) : text_(text), p_(text) {}

    [[noreturn]] void fail(const std::string &detail) const {
        // Quote at most the first 40 characters: a model's text is megabytes.
        std::string shown(text_, strnlen(text_, 41));
        if (shown.size() > 40)
            shown = shown.substr(0, 40) + "...";
        throw Error(SIM_ERR_INVALID_TEXT,
                    "invalid input syntax for type pca: \"" + shown + "\"",
                    detail + " (at character " + std::to_string(p_ - text_ + 1) + ")");
    }

    void skip_spaces() {
        while (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')
            p_++;
    }

    void expect(char c) {
        skip_spaces();
        if (*p_ != c)
            fail(std::string("Expected \"") + c + "\".");
        p_++;
    }

    bool accept(char c) {
        skip_spaces();
        if (*p_ != c)
            return false;
        p_++;
        return true;
    }

    void key(const char *name) {
        skip_spaces();
        const std::string quoted = std::string("\"") + name + "\"";
        if (std::strncmp(p_, quoted.c_str(), quoted.size()) != 0)
            fail("Expected key \"" + std::string(name) + "\".");
        p_ += quoted.size();
        expect(':');
    }

    template <typename T>
    T number() {
        skip_spaces();
        T value{};
        const char *end = p_ + std::strcspn(p_, ",]} \t\n\r");
        auto result = std::from_chars(p_, end, value);
        if (result.ec == std::errc::result_out_of_range)
            throw Error(SIM_ERR_OUT_OF_RANGE,
                        "\"" + std::string(p_, end) + "\" is out of range for type pca");
        if (result.ec != std::errc() || result.ptr != end)
            fail("Expected a number.");
        p_ = end;
        return value;
    }

    template <typename T>
    void array(T *out, int n, const char *what) {
        expect('[');
        for (int i = 0; i < n; i++) {
            if (i > 0 && !accept(','))
                fail(std::string("Expected ") + std::to_string(n) + " values in " + what + ".");
            out[i] = number<T>();
        }
        if (!accept(']'))
            fail(std::string("Expected ") + std::to_string(n) + " values in " + what + ".");
    }

    void end() {
        skip_spaces();
        if (*p_ != '\0')
            fail("Unexpected text after the closing \"}\".");
    }

private:
    const char *text_;
    const char *p_;
};

void parse_shape(Reader &r, int *dims, int *k) {
    r.expect('{');
    r.key("version");
    const int version = r.number<int>();
    if (version != kTextVersion)
        throw Error(SIM_ERR_FEATURE_NOT_SUPPORTED,
                    "unsupported pca text version " + std::to_string(version),
                    "This build reads version " + std::to_string(kTextVersion) + ".");
    r.expect(',');
    r.key("dims");
    *dims = r.number<int>();
    r.expect(',');
    r.key("n_components");
    *k = r.number<int>();

    if (*dims < 1 || *dims > SIM_PCA_MAX_DIMS)
        throw Error(SIM_ERR_DATA, "pca model has invalid dims " + std::to_string(*dims),
                    "dims must be between 1 and " + std::to_string(SIM_PCA_MAX_DIMS) + ".");
    if (*k < 1 || *k > *dims)
        throw Error(SIM_ERR_DATA, "pca model has invalid n_components " + std::to_string(*k),
                    "n_components must be between 1 and dims (" + std::to_string(*dims) +
                        ").");
}

void parse(const char *text, SimPcaModelView *model) {
    Reader r(text);
    int dims = 0, k = 0;
    parse_shape(r, &dims, &k);
    if (dims != model->dims || k != model->n_components)
        throw Error(SIM_ERR_INTERNAL, "pca text shape changed between parses");

    r.expect(',');
    r.key("rows");
    model->rows = r.number<int64_t>();
    r.expect(',');
    r.key("total_variance");
    model->total_variance = r.number<double>();
    r.expect(',');
    r.key("mean");
    r.array(model->mean, dims, "mean");
    r.expect(',');
    r.key("explained_variance");
    r.array(model->explained_variance, k, "explained_variance");
    r.expect(',');
    r.key("components");
    r.expect('[');
    for (int i = 0; i < k; i++) {
        if (i > 0)
            r.expect(',');
        r.array(model->components + static_cast<size_t>(i) * dims, dims, "a component");
    }
    r.expect(']');
    r.expect('}');
    r.end();

    validate(model);
}

}  // namespace

extern "C" void sim_pca_prepare_mean(const SimPcaModelView *model, float *mean_out) {
    for (int i = 0; i < model->dims; i++)
        mean_out[i] = static_cast<float>(model->mean[i]);
}

extern "C" bool sim_pca_prepare_bias(const SimPcaModelView *model, float *bias_out) {
    const size_t dims = static_cast<size_t>(model->dims);
    double mean_norm2 = 0.0;
    for (size_t j = 0; j < dims; j++)
        mean_norm2 += model->mean[j] * model->mean[j];

    for (int i = 0; i < model->n_components; i++) {
        const float *row = model->components + static_cast<size_t>(i) * dims;
        double sum = 0.0;
        for (size_t j = 0; j < dims; j++)
            sum += static_cast<double>(row[j]) * model->mean[j];
        bias_out[i] = static_cast<float>(sum);
    }
    return mean_norm2 <= kMaxBiasRatio * model->total_variance;
}

extern "C" bool sim_pca_project_strided(const float *components, const float *mean,
                                        const float *bias, int dims, int n_components,
                                        const float *inputs, size_t input_stride,
                                        float *outputs, size_t output_stride, int count,
                                        SimError *error) {
    return similarity::guard(error, [&] {
        project_strided(components, mean, bias, dims, n_components, inputs, input_stride,
                        outputs, output_stride, count);
    });
}

extern "C" bool sim_pca_project(const float *components, const float *mean, int dims,
                                int n_components, const float *const *inputs,
                                float *const *outputs, int count, float *scratch,
                                SimError *error) {
    return similarity::guard(error, [&] {
        project(components, mean, dims, n_components, inputs, outputs, count, scratch);
    });
}

extern "C" size_t sim_pca_text_size(int dims, int n_components) {
    const size_t d = static_cast<size_t>(dims);
    const size_t k = static_cast<size_t>(n_components);
    return 256 + (d + k + 1) * kDoubleChars + k * (d * kFloatChars + 3);
}

extern "C" bool sim_pca_format(const SimPcaModelView *model, char *out, size_t out_size,
                               SimError *error) {
    return similarity::guard(error, [&] { format(model, out, out_size); });
}

extern "C" bool sim_pca_parse_shape(const char *text, int *dims, int *n_components,
                                    SimError *error) {
    return similarity::guard(error, [&] {
        Reader r(text);
        parse_shape(r, dims, n_components);
    });
}

extern "C" bool sim_pca_parse(const char *text, SimPcaModelView *model, SimError *error) {
    return similarity::guard(error, [&] { parse(text, model); });
}

extern "C" bool sim_pca_validate(const SimPcaModelView *model, SimError *error) {
    return similarity::guard(error, [&] { validate(model); });
}
