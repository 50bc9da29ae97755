#pragma once
// hfmm serve: a read-only Hub API over a catalog and the blobs a pull verified, for clients
// that cannot reach huggingface.co. huggingface_hub (HF_ENDPOINT), @huggingface/hub (hubUrl)
// and hfmm's own hub_fetcher use it unchanged. Endpoints, as the Hub answers them:
//
//   GET  /api/{models|datasets|spaces}/{id}[/revision/{rev}][?blobs=true]   sha, siblings, model info
//   GET  /api/.../{id}/tree/{rev}[/{path}][?recursive=true][&limit=N][&cursor=C]  pages, Link: next
//   POST /api/.../{id}/paths-info/{rev}     paths=a&paths=b (form) or {"paths": [...]} (JSON)
//   GET  /api/.../{id}/refs                 the pinned branch at the pinned commit
//   GET  /api/whoami-v2                     401 without a token
//   HEAD|GET /[datasets/|spaces/]{id}/resolve/{rev}/{path}   the bytes; Range (206, 416), If-Range,
//        ETag and X-Linked-Etag (sha256 for LFS files, the git blob id otherwise), X-Linked-Size,
//        X-Repo-Commit, Accept-Ranges
//   HEAD|GET /[datasets/|spaces/]{id}/raw/{rev}/{path}       what git holds: an LFS file's pointer
//
// A revision is the catalog's pinned branch or commit, or HEAD (the pinned branch); anything else
// is RevisionNotFound. A
// repository the catalog lacks is RepoNotFound, a path it lacks EntryNotFound; a file the catalog
// lists but the cache lacks is a 404 saying so (pull it first). The request never names a file
// on disk: the file is the blob the catalog's digest names (`{cache}/{repo folder}/blobs/{etag}`)
// or, from a local directory, `{dir}/{catalog id}/{catalog path}` for a path the catalog lists
// (and that is_safe_repo_path accepts), of the catalog's size. No Xet endpoints are served.
//
// The server runs on the executor of the acceptor it is given, one coroutine per connection;
// every read and write has its own deadline, a request's header and body are bounded, and
// connections are kept alive. The catalog is read (get_model) and never changed.

#include <hfmm/detail/config.hpp>
#include <hfmm/detail/hub_protocol.hpp>
#include <hfmm/error.hpp>
#include <hfmm/model.hpp>
#include <hfmm/verify.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfmm {

/// One request served, for a request log.
struct served_request {
  std::string remote;  ///< "address:port"
  std::string method, target;
  unsigned status = 0;
  std::uint64_t body_bytes = 0;  ///< bytes of the answer's body sent
  std::chrono::microseconds took{};
};

struct serve_options {
  /// The Hugging Face cache the blobs are in (a pull's); empty with local_dir set.
  std::filesystem::path cache;
  /// Instead: plain files, `{local_dir}/{catalog id}/{path}` (hfmm pull ID --local-dir DIR/ID).
  std::filesystem::path local_dir;
  /// When not empty, only requests with `Authorization: Bearer <one of these>` are answered
  /// (others get the Hub's 401); whoami-v2 answers for them.
  std::vector<std::string> tokens;
  /// The scheme and authority Link headers point at; empty: http(s):// and the request's Host.
  std::string public_url;
  /// Tree entries per page at most (a client's `limit` may ask for fewer).
  std::size_t tree_page_size = 1000;
  /// Deadline of each read or write of a connection (a slow client is cut, not waited for).
  std::chrono::milliseconds step_timeout{30'000};
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1 << 20;  ///< paths-info's body
  /// Called after each request (the CLI prints a log line).
  std::function<void(const served_request&)> on_request;
};

namespace detail {

// ---- Without I/O: what a request asks, and the answer. Fuzzed (fuzz/serve_target.cpp).

enum class api_call { unknown, model_info, revision, tree, paths_info, refs, whoami, resolve, raw };

struct api_request {
  api_call call = api_call::unknown;
  repo_ref repo;
  std::string revision;    ///< decoded; empty for model_info (the pinned branch)
  std::string path;        ///< decoded segments joined by '/': the tree's folder, or the file
  std::string path_part;   ///< the target before '?', as sent (for Link)
  std::string query;       ///< after '?', as sent
};

/// What an origin-form request target asks: "/api/models/org/name/tree/main/sub?recursive=true",
/// "/org/name/resolve/main/onnx/model.onnx", ... A repo id the Hub's rule refuses, an empty or
/// "."/".." path segment, or any other shape is api_call::unknown.
api_request parse_api_target(std::string_view target);

/// The decoded values of `key` in a query or form body ("a=1&b=2&a=3"; "+" is a space).
std::vector<std::string> query_values(std::string_view query, std::string_view key);

/// Whether a query or form flag is on ("recursive=true", "=1", "=True").
bool query_flag(std::string_view query, std::string_view key);

/// `Range: bytes=a-b | a- | -n` for a file of `size` bytes: `whole` when there is no header or
/// it asks for several ranges or another unit (a server may then send the whole file).
enum class range_answer { whole, partial, unsatisfiable };
struct byte_range {
  std::uint64_t first = 0, length = 0;
};
range_answer parse_range_request(std::string_view header, std::uint64_t size, byte_range& out);

/// The request headers the answer depends on.
struct api_headers {
  std::string_view host, range, if_range, content_type, authorization;
};

/// A file's bytes to send after the answer's headers (GET only).
struct served_file {
  std::filesystem::path path;
  std::uint64_t offset = 0, length = 0;
};

struct api_answer {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<served_file> file;
};

/// The folders (git tree ids by path) of the repositories served, computed at a repository's
/// first tree or paths-info request and kept per id and commit: a listing paged by 1000 would
/// otherwise hash every tree of the repository for each page. Safe to share between threads.
class folder_cache {
public:
  using folders = std::vector<std::pair<std::string, std::string>>;
  std::shared_ptr<const folders> of(std::string_view catalog_id, const repo_structure& s);

private:
  struct entry {
    std::string commit;
    std::shared_ptr<const folders> list;
  };
  std::mutex mutex_;
  std::map<std::string, entry, std::less<>> by_id_;
};

/// The answer to one request. `find_model(display id)` gives the catalog's record or null;
/// `secure` says the connection is TLS (for Link's scheme). The blobs are under `options.cache`
/// (or local_dir); an empty cache means default_hf_cache().
api_answer answer_api(std::string_view method, const api_request& request, const api_headers& headers, std::string_view body,
                      const std::function<const model_metadata*(std::string_view)>& find_model, folder_cache& folders,
                      const serve_options& options, bool secure);

}  // namespace detail

/// The server: `catalog.get_model(id)` (a model_manager's) must give the record of `id` (or
/// null), and is only read. Both must outlive the coroutines async_serve starts.
template <class Catalog>
class hub_server {
public:
  hub_server(const Catalog& catalog, serve_options options) : catalog_(catalog), options_(std::move(options)) {
    if (options_.cache.empty() && options_.local_dir.empty()) options_.cache = default_hf_cache();  // once, not per request
  }

  /// Accepts plain HTTP connections until the acceptor is closed; each is served by its own
  /// coroutine on the acceptor's executor.
  boost::asio::awaitable<void> async_serve(boost::asio::ip::tcp::acceptor& acceptor);
  /// The same over TLS with `tls` (a server context with its certificate and key).
  boost::asio::awaitable<void> async_serve(boost::asio::ip::tcp::acceptor& acceptor, boost::asio::ssl::context& tls);

  const serve_options& options() const noexcept { return options_; }

private:
  /// Accepts until the acceptor closes; `serve_connection(tcp_stream, remote)` gives the
  /// connection's coroutine.
  template <class ServeConnection>
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor, ServeConnection serve_connection);
  template <class Stream>
  boost::asio::awaitable<void> session(Stream stream, std::string remote, bool secure);
  template <class Stream>
  boost::asio::awaitable<error_code> send_file(Stream& stream, int fd, const detail::served_file& file, std::uint64_t& sent);
  boost::beast::tcp_stream& lowest(boost::beast::tcp_stream& s) { return s; }
  boost::beast::tcp_stream& lowest(boost::asio::ssl::stream<boost::beast::tcp_stream>& s) { return s.next_layer(); }

  const Catalog& catalog_;
  serve_options options_;
  detail::folder_cache folders_;
};

}  // namespace hfmm

#include <hfmm/impl/serve_session.ipp>

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/serve.ipp>
#endif
