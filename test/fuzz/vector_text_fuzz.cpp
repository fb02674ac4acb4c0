// libFuzzer target for the vector text parser.
//
// Besides crashes and sanitizer reports, it checks the parser's contract: a
// successful parse yields 1..max_dims finite values, and a failure carries an
// error kind and a message.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "similarity/vector_capi.h"

namespace {

constexpr int kMaxDims = 64;

void check(bool condition, const char *what) {
    if (!condition) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    std::vector<float> values(kMaxDims);
    int dims = -1;
    SimError error;
    sim_error_init(&error);

    bool ok = sim_vector_parse(text.c_str(), values.data(), kMaxDims, &dims, &error);
    if (ok) {
        check(dims >= 1 && dims <= kMaxDims, "dimension count out of range");
        for (int i = 0; i < dims; i++)
            check(std::isfinite(values[i]), "non-finite value accepted");
    } else {
        check(error.kind != SIM_OK, "failure without an error kind");
        check(error.message[0] != '\0', "failure without a message");
    }
    return 0;
}
