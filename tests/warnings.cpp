// Every public header, with the templates users instantiate, compiled as users do: with
// -Wall -Wextra -Wpedantic -Werror, by g++ (an object library of the test build) and by clang
// (the clang_warnings test). A warning in a header body fails the build.
#include <hfmm/hfmm.hpp>
#include <hfmm/audit.hpp>
#include <hfmm/lock.hpp>
#include <hfmm/pull.hpp>
#include <hfmm/serve.hpp>
#include <hfmm/fetch/hub_fetcher.hpp>
#include <hfmm/storage/gzip_codec.hpp>
#include <hfmm/storage/postgres.hpp>
#include <hfmm/storage/sqlite.hpp>
#include <hfmm/storage/zstd_codec.hpp>
#ifdef HFMM_HAVE_DUCKDB
#include <hfmm/storage/duckdb.hpp>
#endif

template class hfmm::model_manager<hfmm::json_file_storage, hfmm::mock_fetcher>;
template class hfmm::model_manager<hfmm::json_file_storage, hfmm::hub_fetcher>;
template class hfmm::model_manager<hfmm::sqlite_storage, hfmm::hub_fetcher>;
template class hfmm::model_manager<hfmm::postgres_storage, hfmm::mock_fetcher>;
template class hfmm::basic_json_file_storage<hfmm::zstd_codec>;
template class hfmm::basic_json_file_storage<hfmm::gzip_codec>;
#ifdef HFMM_HAVE_DUCKDB
template class hfmm::model_manager<hfmm::duckdb_storage, hfmm::mock_fetcher>;
#endif

// A pull on the Hub client (its coroutines and the download path of the fetcher).
[[maybe_unused]] static void pull_from_hub(hfmm::hub_fetcher& f, const hfmm::repo_structure& s) { (void)hfmm::pull(f, s); }

// The server on a catalog, plain and over TLS.
template class hfmm::hub_server<hfmm::model_manager<hfmm::json_file_storage, hfmm::hub_fetcher>>;
[[maybe_unused]] static void serve(hfmm::hub_server<hfmm::model_manager<hfmm::sqlite_storage, hfmm::hub_fetcher>>& server,
                                   boost::asio::ip::tcp::acceptor& acceptor, boost::asio::ssl::context& tls) {
  (void)server.async_serve(acceptor);
  (void)server.async_serve(acceptor, tls);
}

// The queries a JSON file answers without loading (templates on their callbacks).
[[maybe_unused]] static void json_file_queries(hfmm::json_file_storage& s) {
  (void)s.find_model("org/name");
  (void)s.find_models_with_file("config.json");
  (void)s.compact();
}
