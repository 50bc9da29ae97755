// The one source file of hfmm_separate_tests: the whole suite built with
// HFMM_SEPARATE_COMPILATION takes every non-template definition and the common instantiations
// from here, so a definition missing from <hfmm/src.hpp> (or given twice) fails to link.
#include <hfmm/src.hpp>
