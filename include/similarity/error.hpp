// error.hpp
//
// The core's one exception type, and the guard that turns any exception into
// a SimError at the C API edge.
#pragma once

#include "similarity/core_only.hpp"

#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "similarity/capi.h"

namespace similarity {

// An error with a category the glue maps to a SQLSTATE.  The message follows
// PostgreSQL's style: lowercase, no final period, includes the bad value.
class Error : public std::runtime_error {
public:
    Error(SimErrorKind kind, std::string message, std::string detail = {},
          std::string hint = {})
        : std::runtime_error(std::move(message)), kind_(kind),
          detail_(std::move(detail)), hint_(std::move(hint)) {}

    SimErrorKind kind() const noexcept { return kind_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }

private:
    SimErrorKind kind_;
    std::string detail_;
    std::string hint_;
};

// Copy text into a fixed buffer, truncating and always terminating it.
inline void copy_text(char *out, std::size_t size, const char *text) noexcept {
    std::snprintf(out, size, "%s", text ? text : "");
}

inline void fill_error(SimError *out, SimErrorKind kind, const char *message,
                       const char *detail = "", const char *hint = "") noexcept {
    if (out == nullptr)
        return;
    out->kind = kind;
    copy_text(out->message, sizeof(out->message), message);
    copy_text(out->detail, sizeof(out->detail), detail);
    copy_text(out->hint, sizeof(out->hint), hint);
}

// Run body() and translate every exception into *out.  Returns true when
// body() returned normally.  Every C API function wraps its work in this, so
// no exception ever leaves the core.
template <typename Body>
bool guard(SimError *out, Body &&body) noexcept {
    try {
        body();
        return true;
    } catch (const Error &e) {
        fill_error(out, e.kind(), e.what(), e.detail().c_str(), e.hint().c_str());
    } catch (const std::bad_alloc &) {
        fill_error(out, SIM_ERR_OUT_OF_MEMORY, "out of memory",
                   "A C++ allocation in the similarity core failed.");
    } catch (const std::exception &e) {
        fill_error(out, SIM_ERR_INTERNAL, "unexpected error in the similarity core",
                   e.what());
    } catch (...) {
        fill_error(out, SIM_ERR_INTERNAL, "unexpected error in the similarity core",
                   "An exception of unknown type was caught.");
    }
    return false;
}

}  // namespace similarity
