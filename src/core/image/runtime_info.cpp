// runtime_info.cpp
//
// Versions of the libraries the image pipeline was built with.
#include "similarity/core_only.hpp"

#include <torch/version.h>

#include "similarity/image_capi.h"

extern "C" const char *sim_torch_version(void) { return TORCH_VERSION; }
