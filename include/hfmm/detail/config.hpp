#pragma once
// How hfmm's functions are compiled: header-only (the default) or separately.
//
// Header-only, every function is defined in the headers (non-templates `inline`), so each
// translation unit that uses one compiles it again. With HFMM_SEPARATE_COMPILATION defined in
// every translation unit of the program, the headers <hfmm/hfmm.hpp> brings in declare their
// non-template functions without the bodies (one-line helpers stay inline), the common
// instantiations (the manager and create_model_from_huggingface on mock_fetcher, with
// memory_storage and json_file_storage) are `extern template`, and exactly one source file
// compiles all of it:
//
//     // hfmm.cpp
//     #include <hfmm/src.hpp>
//
// That cuts the build time of every other translation unit to roughly that of the
// third-party headers it needs (bench/README.md has the numbers).

#define HFMM_CONFIG_INCLUDED 1

#if defined(HFMM_SEPARATE_COMPILATION)
#  define HFMM_DECL
#  if defined(HFMM_SOURCE)
#    define HFMM_DEFINE_BODIES 1
#  else
#    define HFMM_DEFINE_BODIES 0
#  endif
#else
#  define HFMM_DECL inline
#  define HFMM_DEFINE_BODIES 1
#endif
