// preprocess.hpp
//
// torchvision-style preprocessing of a decoded RGB image into the float
// input of a model: resize, centre crop, scale to [0,1], normalise.
#pragma once

#include "similarity/core_only.hpp"

#include <array>

#include <opencv2/core.hpp>

namespace similarity::image {

enum class ResizePolicy {
    ShorterSideCrop,  // shorter side to resize_size, then centre crop input_size
    Whole,            // whole image to input_size x input_size, aspect not kept
};

struct PreprocessSpec {
    int input_size = 224;
    ResizePolicy resize = ResizePolicy::ShorterSideCrop;
    int resize_size = 256;
    bool normalize = true;  // false when the model normalises its input itself
    std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
    std::array<float, 3> std{0.229f, 0.224f, 0.225f};
    bool bgr = false;  // channel order the model expects
};

// Resize an 8-bit RGB image (CV_8UC3) with PIL's bilinear filter: a triangle
// filter whose support grows with the downscaling factor (antialiased), with
// PIL 9's 22-bit fixed-point coefficients and 8-bit rounding after each pass
// (horizontal first).  The output matches PIL's Image.resize(BILINEAR).
cv::Mat resize_bilinear_pil(const cv::Mat &rgb, int width, int height);

// Apply spec to an 8-bit RGB image and write 3 * input_size * input_size
// floats in CHW order to out.
void preprocess_image(const cv::Mat &rgb, const PreprocessSpec &spec, float *out);

}  // namespace similarity::image
