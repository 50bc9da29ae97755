#pragma once
// The one source file of a program built with HFMM_SEPARATE_COMPILATION (detail/config.hpp):
//
//     // hfmm.cpp — compiled once, linked into the program
//     #include <hfmm/src.hpp>
//
// It defines every non-template function <hfmm/hfmm.hpp> declares and the common template
// instantiations (detail/instantiations.hpp). Include it before any other hfmm header.

#if !defined(HFMM_SEPARATE_COMPILATION)
#  error "<hfmm/src.hpp> is for programs built with HFMM_SEPARATE_COMPILATION defined in every translation unit"
#endif
#if defined(HFMM_CONFIG_INCLUDED)
#  error "include <hfmm/src.hpp> before any other hfmm header in its source file"
#endif

#define HFMM_SOURCE 1
#include <hfmm/hfmm.hpp>
#include <hfmm/audit.hpp>  // (not in the umbrella: most programs lock and audit nothing)
#include <hfmm/lock.hpp>
#include <hfmm/pull.hpp>  // (nor pull: it needs a downloading fetcher)
#include <hfmm/serve.hpp>  // (nor serve: Beast's server side)
