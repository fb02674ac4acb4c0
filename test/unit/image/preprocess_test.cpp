// Preprocessing against PIL: the resize must match Image.resize(BILINEAR)
// bit for bit (reference outputs in corpus/, written by make_corpus.py).
#include "similarity/core_only.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "similarity/error.hpp"
#include "similarity/image/decode.hpp"
#include "similarity/image/preprocess.hpp"

using namespace similarity::image;

namespace {

cv::Mat load_rgb(const std::string &name) {
    std::string here = __FILE__;
    std::string path = here.substr(0, here.rfind('/')) + "/corpus/" + name;
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return decode_image_rgb(bytes.data(), bytes.size(), 0);
}

int max_difference(const cv::Mat &a, const cv::Mat &b) {
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    double max_value = 0;
    cv::minMaxLoc(diff.reshape(1), nullptr, &max_value);
    return int(max_value);
}

}  // namespace

TEST(PreprocessTest, ResizeMatchesPil) {
    cv::Mat pattern = load_rgb("pattern.png");
    ASSERT_EQ(pattern.cols, 37);
    for (auto [name, width, height] : {std::tuple{"pattern_11x7.png", 11, 7},
                                       std::tuple{"pattern_60x41.png", 60, 41},
                                       std::tuple{"pattern_37x5.png", 37, 5}}) {
        cv::Mat expected = load_rgb(name);
        cv::Mat resized = resize_bilinear_pil(pattern, width, height);
        ASSERT_EQ(resized.size(), expected.size()) << name;
        EXPECT_EQ(max_difference(resized, expected), 0) << name;
    }
}

TEST(PreprocessTest, ShorterSideCropAndNormalize) {
    // A uniform image stays uniform through resize and crop.
    cv::Mat gray(300, 400, CV_8UC3, cv::Scalar(128, 64, 255));
    PreprocessSpec spec;
    std::vector<float> out(3 * 224 * 224);
    preprocess_image(gray, spec, out.data());
    const float expected[3] = {(128 / 255.0f - 0.485f) / 0.229f, (64 / 255.0f - 0.456f) / 0.224f,
                               (255 / 255.0f - 0.406f) / 0.225f};
    for (int c = 0; c < 3; c++) {
        EXPECT_FLOAT_EQ(out[c * 224 * 224], expected[c]);
        EXPECT_FLOAT_EQ(out[c * 224 * 224 + 224 * 224 - 1], expected[c]);
    }
}

TEST(PreprocessTest, WholeResizeBgrWithoutNormalize) {
    cv::Mat image(10, 30, CV_8UC3, cv::Scalar(255, 0, 51));
    PreprocessSpec spec;
    spec.input_size = 16;
    spec.resize = ResizePolicy::Whole;
    spec.normalize = false;
    spec.bgr = true;
    std::vector<float> out(3 * 16 * 16);
    preprocess_image(image, spec, out.data());
    EXPECT_FLOAT_EQ(out[0], 0.2f);                 // B first
    EXPECT_FLOAT_EQ(out[2 * 16 * 16 + 5], 1.0f);   // R last
}

TEST(PreprocessTest, OnePixelUpscales) {
    cv::Mat pixel(1, 1, CV_8UC3, cv::Scalar(9, 9, 9));
    PreprocessSpec spec;
    spec.normalize = false;
    std::vector<float> out(3 * 224 * 224);
    preprocess_image(pixel, spec, out.data());
    EXPECT_FLOAT_EQ(out[1000], 9 / 255.0f);
}

TEST(PreprocessTest, ElongatedImageRejected) {
    cv::Mat strip(1, 70000, CV_8UC3, cv::Scalar(0, 0, 0));
    PreprocessSpec spec;
    std::vector<float> out(3 * 224 * 224);
    EXPECT_THROW(preprocess_image(strip, spec, out.data()), similarity::Error);
}
