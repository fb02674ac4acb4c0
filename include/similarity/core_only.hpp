// core_only.hpp
//
// Included first by every translation unit of the C++ core.  The core must
// never see PostgreSQL headers: their macros (LOG, ERROR, Assert) clash with
// LibTorch's and glog's, and their error handling (longjmp) must not run
// where C++ objects are alive.  This check turns a stray include into a
// compile error instead of a crash at run time.
#pragma once

#if defined(PG_VERSION_NUM) || defined(POSTGRES_H)
#error "similarity core code must not include PostgreSQL headers"
#endif
