// decode.hpp
//
// Image decoding with OpenCV: compressed bytes to an 8-bit, 3-channel image.
#pragma once

#include "similarity/core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace similarity::image {

// Container formats the decoder accepts, recognised by their magic bytes.
enum class ImageFormat { Unknown, Jpeg, Png, WebP, Bmp, Tiff };

const char *format_name(ImageFormat format);

// Format and size read from the file header, before any pixel is decoded.
struct ImageHeader {
    ImageFormat format = ImageFormat::Unknown;
    int64_t width = 0;
    int64_t height = 0;
};

// Read the format and the pixel size from the header.  Throws
// Error(SIM_ERR_INVALID_IMAGE) when the magic is not one of ImageFormat or
// the header is truncated or names a zero size.
ImageHeader read_image_header(const uint8_t *data, std::size_t size);

// Decode to 8-bit RGB, rows contiguous (CV_8UC3).  Gray, palette, alpha
// (dropped, as PIL's convert("RGB") does), 16-bit and CMYK inputs are
// converted; the EXIF orientation is applied.  Throws
// Error(SIM_ERR_PROGRAM_LIMIT) when width * height exceeds max_pixels (checked
// on the header, before decoding) and Error(SIM_ERR_INVALID_IMAGE) for
// anything OpenCV cannot decode.
cv::Mat decode_image_rgb(const uint8_t *data, std::size_t size, int64_t max_pixels);

}  // namespace similarity::image
