// Every public header, for a syntax check with clang (users build hfmm with either compiler).
#include <hfmm/hfmm.hpp>
#include <hfmm/fetch/hub_fetcher.hpp>
#include <hfmm/storage/gzip_codec.hpp>
#include <hfmm/storage/postgres.hpp>
#include <hfmm/storage/sqlite.hpp>
#include <hfmm/storage/zstd_codec.hpp>

// Instantiate the templates users instantiate, so their bodies are checked too.
template class hfmm::model_manager<hfmm::json_file_storage, hfmm::mock_fetcher>;
template class hfmm::model_manager<hfmm::sqlite_storage, hfmm::hub_fetcher>;
template class hfmm::model_manager<hfmm::postgres_storage, hfmm::mock_fetcher>;
template class hfmm::basic_json_file_storage<hfmm::zstd_codec>;
