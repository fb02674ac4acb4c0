// preprocess.cpp
//
// Resize and normalisation that reproduce torchvision 0.14's transforms on a
// PIL image: Resize(256) (shorter side, PIL bilinear, antialiased), then
// CenterCrop(224), ToTensor() and Normalize(mean, std).
//
// The resize follows the algorithm of PIL 9's Resample.c (precompute_coeffs,
// normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc), written
// here from its description: a triangle filter of support 1 scaled by the
// downscaling factor, coefficients rounded to 22-bit fixed point, and 8-bit
// rounding after the horizontal pass.  OpenCV's INTER_LINEAR does not widen
// the filter when downscaling and INTER_AREA uses another kernel, so neither
// matches torchvision.
#include "similarity/core_only.hpp"

#include "similarity/image/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "similarity/error.hpp"

namespace similarity::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

// Longest side allowed after the shorter-side resize; bounds the memory a
// very thin image (say 1x40000000) could otherwise need.
constexpr int kMaxResizedSide = 65536;

// Fixed-point filter taps of one output pixel along one axis.
struct Taps {
    int first = 0;  // first input index
    int count = 0;
    int offset = 0;  // into Kernel::weights
};

struct Kernel {
    std::vector<Taps> taps;
    std::vector<int32_t> weights;
};

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

Kernel make_kernel(int in_size, int out_size) {
    double scale = double(in_size) / out_size;
    double filter_scale = std::max(scale, 1.0);
    double support = 1.0 * filter_scale;
    int kernel_size = int(std::ceil(support)) * 2 + 1;

    Kernel kernel;
    kernel.taps.resize(out_size);
    kernel.weights.assign(std::size_t(out_size) * kernel_size, 0);
    std::vector<double> w(kernel_size);
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        int xmin = std::max(int(center - support + 0.5), 0);
        int xmax = std::min(int(center + support + 0.5), in_size) - xmin;
        double sum = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) / filter_scale);
            sum += w[x];
        }
        Taps &taps = kernel.taps[xx];
        taps.first = xmin;
        taps.count = xmax;
        taps.offset = xx * kernel_size;
        for (int x = 0; x < xmax; x++) {
            double normalized = sum != 0.0 ? w[x] / sum : w[x];
            double fixed = normalized * (1 << kPrecisionBits);
            kernel.weights[taps.offset + x] = int32_t(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
        }
    }
    return kernel;
}

uint8_t clip8(int32_t value) {
    value >>= kPrecisionBits;
    return uint8_t(std::clamp(value, 0, 255));
}

// Resample along x: out has in.rows rows and width columns.
cv::Mat resample_horizontal(const cv::Mat &in, int width) {
    Kernel kernel = make_kernel(in.cols, width);
    cv::Mat out(in.rows, width, CV_8UC3);
    for (int y = 0; y < in.rows; y++) {
        const uint8_t *src = in.ptr<uint8_t>(y);
        uint8_t *dst = out.ptr<uint8_t>(y);
        for (int x = 0; x < width; x++) {
            const Taps &taps = kernel.taps[x];
            const int32_t *k = &kernel.weights[taps.offset];
            int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
            for (int i = 0; i < taps.count; i++) {
                const uint8_t *px = src + 3 * (taps.first + i);
                s0 += px[0] * k[i];
                s1 += px[1] * k[i];
                s2 += px[2] * k[i];
            }
            dst[3 * x] = clip8(s0);
            dst[3 * x + 1] = clip8(s1);
            dst[3 * x + 2] = clip8(s2);
        }
    }
    return out;
}

// Resample along y: out has height rows and in.cols columns.
cv::Mat resample_vertical(const cv::Mat &in, int height) {
    Kernel kernel = make_kernel(in.rows, height);
    cv::Mat out(height, in.cols, CV_8UC3);
    const int row_values = in.cols * 3;
    std::vector<int32_t> sums(row_values);
    for (int y = 0; y < height; y++) {
        const Taps &taps = kernel.taps[y];
        const int32_t *k = &kernel.weights[taps.offset];
        std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
        for (int i = 0; i < taps.count; i++) {
            const uint8_t *src = in.ptr<uint8_t>(taps.first + i);
            const int32_t weight = k[i];
            for (int v = 0; v < row_values; v++)
                sums[v] += src[v] * weight;
        }
        uint8_t *dst = out.ptr<uint8_t>(y);
        for (int v = 0; v < row_values; v++)
            dst[v] = clip8(sums[v]);
    }
    return out;
}

}  // namespace

cv::Mat resize_bilinear_pil(const cv::Mat &rgb, int width, int height) {
    if (rgb.type() != CV_8UC3)
        throw Error(SIM_ERR_INTERNAL, "resize expects an 8-bit, 3-channel image");
    if (width <= 0 || height <= 0)
        throw Error(SIM_ERR_INVALID_IMAGE,
                    "invalid resize target " + std::to_string(width) + "x" + std::to_string(height));
    cv::Mat result = rgb;
    if (width != rgb.cols)
        result = resample_horizontal(result, width);
    if (height != rgb.rows)
        result = resample_vertical(result, height);
    return result;
}

void preprocess_image(const cv::Mat &rgb, const PreprocessSpec &spec, float *out) {
    const int size = spec.input_size;
    cv::Mat resized;
    if (spec.resize == ResizePolicy::Whole) {
        resized = resize_bilinear_pil(rgb, size, size);
    } else {
        // torchvision: new_long = int(resize_size * long / short), truncated.
        const int width = rgb.cols, height = rgb.rows;
        const int shorter = std::min(width, height), longer = std::max(width, height);
        const int new_short = spec.resize_size;
        const double scaled_long = double(new_short) * longer / shorter;
        if (scaled_long > kMaxResizedSide)
            throw Error(SIM_ERR_PROGRAM_LIMIT,
                        "image of " + std::to_string(width) + "x" + std::to_string(height) +
                            " pixels is too elongated to resize",
                        "Resizing its shorter side to " + std::to_string(new_short) +
                            " pixels would make the longer side exceed " +
                            std::to_string(kMaxResizedSide) + " pixels.");
        const int new_long = int(scaled_long);
        const int new_width = width <= height ? new_short : new_long;
        const int new_height = width <= height ? new_long : new_short;
        cv::Mat scaled = resize_bilinear_pil(rgb, new_width, new_height);

        if (scaled.cols < size || scaled.rows < size)
            throw Error(SIM_ERR_INVALID_IMAGE,
                        "image too small to crop to " + std::to_string(size) + "x" +
                            std::to_string(size),
                        "After resizing it is " + std::to_string(scaled.cols) + "x" +
                            std::to_string(scaled.rows) + " pixels.");
        // torchvision rounds the offsets with Python's round(), which rounds
        // halves to even; nearbyint does the same in the default mode.
        const int top = int(std::nearbyint((scaled.rows - size) / 2.0));
        const int left = int(std::nearbyint((scaled.cols - size) / 2.0));
        resized = scaled(cv::Rect(left, top, size, size));
    }

    const std::size_t plane = std::size_t(size) * size;
    for (int c = 0; c < 3; c++) {
        const int source_channel = spec.bgr ? 2 - c : c;
        const float mean = spec.normalize ? spec.mean[c] : 0.0f;
        const float std = spec.normalize ? spec.std[c] : 1.0f;
        float *dst = out + c * plane;
        for (int y = 0; y < size; y++) {
            const uint8_t *row = resized.ptr<uint8_t>(y);
            for (int x = 0; x < size; x++) {
                const float value = float(row[3 * x + source_channel]) / 255.0f;
                dst[std::size_t(y) * size + x] = spec.normalize ? (value - mean) / std : value;
            }
        }
    }
}

}  // namespace similarity::image
