// libFuzzer target for the image decoder's front end: header parsing, the
// pixel limit and OpenCV decoding.
//
// The decoder's contract: any input either decodes to a non-empty 8-bit RGB
// image within the pixel limit, or throws similarity::Error.  Any other
// exception, a crash or a sanitizer report is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <opencv2/core.hpp>

#include "similarity/error.hpp"
#include "similarity/image/decode.hpp"

namespace {

// Small enough that a crafted header cannot make the fuzzer allocate gigabytes.
constexpr int64_t kMaxPixels = 4096 * 4096;

void check(bool condition, const char *what) {
    if (!condition) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    cv::setNumThreads(0);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        cv::Mat image = similarity::image::decode_image_rgb(data, size, kMaxPixels);
        check(!image.empty(), "empty image returned");
        check(image.type() == CV_8UC3, "image is not 8-bit RGB");
        check(int64_t(image.rows) * image.cols <= kMaxPixels, "pixel limit exceeded");
    } catch (const similarity::Error &) {
        // Rejected input: the expected outcome for most fuzzed bytes.
    }
    return 0;
}
