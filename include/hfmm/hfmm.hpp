#pragma once
// hfmm: a catalog of machine-learning models and the exact file structure of their Hugging
// Face Hub repositories. This umbrella brings in everything that needs no optional library
// and no network code. The Hub fetcher is <hfmm/fetch/hub_fetcher.hpp>; databases and codecs
// are under <hfmm/storage/>.

#include <hfmm/version.hpp>
#include <hfmm/error.hpp>
#include <hfmm/structure.hpp>
#include <hfmm/model.hpp>
#include <hfmm/json.hpp>
#include <hfmm/concepts.hpp>
#include <hfmm/huggingface.hpp>
#include <hfmm/storage/memory.hpp>
#include <hfmm/storage/json_file.hpp>
#include <hfmm/fetch/mock_fetcher.hpp>
#include <hfmm/manager.hpp>
#include <hfmm/verify.hpp>
#include <hfmm/diff.hpp>

#if defined(HFMM_SEPARATE_COMPILATION)
#include <hfmm/detail/instantiations.hpp>
#endif
