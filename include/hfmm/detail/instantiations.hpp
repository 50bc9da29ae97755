#pragma once
// The instantiations <hfmm/src.hpp> compiles once for a program built with
// HFMM_SEPARATE_COMPILATION (detail/config.hpp): `extern template` everywhere else, so other
// translation units neither instantiate nor emit them. One list serves both sides.

#include <hfmm/huggingface.hpp>
#include <hfmm/manager.hpp>

#if defined(HFMM_SOURCE)
#  define HFMM_EXTERN_TEMPLATE template
#else
#  define HFMM_EXTERN_TEMPLATE extern template
#endif

namespace hfmm {

HFMM_EXTERN_TEMPLATE class basic_mock_fetcher<detail::recording_set>;
HFMM_EXTERN_TEMPLATE class basic_json_file_storage<identity_codec>;
HFMM_EXTERN_TEMPLATE class model_manager<memory_storage, mock_fetcher>;
HFMM_EXTERN_TEMPLATE class model_manager<json_file_storage, mock_fetcher>;
HFMM_EXTERN_TEMPLATE result<repo_structure> fetch_huggingface_repo_structure(mock_fetcher&, std::string_view,
                                                                             std::string_view);
HFMM_EXTERN_TEMPLATE model_metadata create_model_from_huggingface(mock_fetcher&, std::string_view,
                                                                  const boost::json::object&, const create_options&);

}  // namespace hfmm

#undef HFMM_EXTERN_TEMPLATE
