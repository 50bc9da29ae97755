#pragma once
// An in-process Hub for tests: a Beast HTTP(S) server on loopback (port 0, a self-signed
// certificate made at test time) that answers from the recorded exchanges like the Hub does —
// revision → sha, tree pages with Link (rewritten to this server's origin), X-Error-Code
// errors, anonymous 401 — serves the files of repositories a test hosts (resolve, with LFS
// files redirected to another host name, ETags, ranges) and injects faults a test asks for.
// Include it in one translation unit only: its coroutines are expensive to compile.

#include <hfmm/detail/digest.hpp>
#include <hfmm/detail/recordings.hpp>
#include <hfmm/structure.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace hfmm_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

/// A self-signed certificate and its key, for the names in `san` ("DNS:localhost,IP:127.0.0.1").
struct test_certificate {
  std::string cert_pem, key_pem;

  static test_certificate make(const std::string& san, const std::string& common_name = "hfmm test") {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    static std::atomic<long> serial{1000};
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    test_certificate out;
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char* data;
    long n = BIO_get_mem_data(b, &data);
    out.cert_pem.assign(data, static_cast<std::size_t>(n));
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    n = BIO_get_mem_data(b, &data);
    out.key_pem.assign(data, static_cast<std::size_t>(n));
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    return out;
  }
};

/// What the server saw.
struct seen_request {
  std::string method, target, host, authorization;
  std::string range, if_range;
};

/// A file of a repository the test Hub hosts.
struct hosted_file {
  std::string path, content;
  bool lfs = false;
};

/// A reply the test scripts, instead of the recorded answer.
struct scripted_reply {
  enum class mode {
    normal,       // status, headers, body
    reset,        // headers and half the body, then a TCP reset
    truncated,    // Content-Length says more than is sent, then close
    endless,      // a chunked body that never ends
    slow_drip,    // one byte of the status line per `drip` interval
    stall,        // headers and half the body, then nothing (the connection stays open)
    close,        // close the connection without answering
    raw,          // `body` is the whole answer, status line and headers included; then close
  };
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  mode how = mode::normal;
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds drip{1000};
  /// A body borrowed from a hosted file (no copy per answer); used when set instead of `body`.
  std::shared_ptr<const std::string> shared_body;
  std::size_t shared_offset = 0, shared_length = 0;
  std::string_view payload() const {
    return shared_body ? std::string_view(*shared_body).substr(shared_offset, shared_length) : std::string_view(body);
  }
};

class local_hub {
public:
  struct options {
    bool tls = true;
    std::string san = "DNS:localhost,IP:127.0.0.1";
    std::filesystem::path recordings;  ///< directory with recordings.json; empty: scripted only
    std::chrono::milliseconds latency{0};  ///< added to every answer
    std::uint64_t file_bytes_per_second = 0;  ///< paces hosted files' bodies (0: as fast as it can)
  };

  explicit local_hub(options o) : options_(std::move(o)), cert_(test_certificate::make(options_.san)) {
    if (!options_.recordings.empty()) recordings_ = hfmm::detail::recording_set::load(options_.recordings).value();
    if (options_.tls) {
      tls_.use_certificate_chain(asio::buffer(cert_.cert_pem));
      tls_.use_private_key(asio::buffer(cert_.key_pem), asio::ssl::context::pem);
    }
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ctx_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~local_hub() {
    asio::post(ctx_, [this] {
      error_code ec;
      acceptor_.close(ec);
      ctx_.stop();
    });
    thread_.join();
  }

  unsigned short port() const { return port_; }
  /// The origin to use as HF_ENDPOINT: https://localhost:<port> (or http://).
  std::string endpoint(const std::string& host = "localhost") const {
    return std::string(options_.tls ? "https://" : "http://") + host + ":" + std::to_string(port_);
  }
  const std::string& certificate_pem() const { return cert_.cert_pem; }
  /// Writes the certificate to `path` (for hub_options::ca_file) and returns the path.
  std::string write_certificate(const std::filesystem::path& path) const {
    std::ofstream(path) << cert_.cert_pem;
    return path.string();
  }

  /// Decides replies before the recordings do; nullopt lets the recording answer.
  void script(std::function<std::optional<scripted_reply>(const seen_request&, std::size_t n)> f) {
    std::lock_guard lock(mutex_);
    script_ = std::move(f);
  }
  std::vector<seen_request> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t connections() const { return connections_.load(); }

  /// Hosts a repository: /api/models/{id}/revision/{branch or commit} lists its files (blob
  /// ids, sizes, LFS data: the ?blobs=true answer), /{id}/resolve/{rev}/{path} serves them —
  /// regular files with `ETag: "<git oid>"`, LFS files as a 302 to /cdn/{sha256} on host
  /// `cdn_host` (another name for this server) with X-Linked-Etag and X-Linked-Size; ranges
  /// (206, 416), If-Range, X-Repo-Commit, EntryNotFound.
  void host_repo(std::string id, std::string commit, std::vector<hosted_file> files, std::string branch = "main",
                 std::string cdn_host = "127.0.0.1") {
    hosted_repo repo{std::move(commit), std::move(branch), std::move(cdn_host), {}};
    for (auto& f : files) {  // digests once, not per answer
      served_file sf{std::move(f.path), std::make_shared<const std::string>(std::move(f.content)), f.lfs, {}, {}};
      sf.sha256 = hfmm::detail::sha256_hex(*sf.content);
      sf.oid = sf.lfs ? hfmm::lfs_pointer_oid(sf.sha256, sf.content->size()) : hfmm::detail::git_blob_oid(*sf.content);
      repo.files.push_back(std::move(sf));
    }
    std::lock_guard lock(mutex_);
    repos_[id] = std::move(repo);
  }
  /// What the hosted repositories answer to `r` (nullopt: not theirs), its body a copy a
  /// script may alter (corrupt the bytes) before returning it, with a fault mode.
  std::optional<scripted_reply> repo_reply(const seen_request& r) const {
    std::optional<scripted_reply> out;
    {
      std::lock_guard lock(mutex_);
      out = hosted_answer(r);
    }
    if (out && out->shared_body) {
      out->body = std::string(out->payload());
      out->shared_body.reset();
    }
    return out;
  }
  /// Body bytes sent for hosted files (resolve and CDN answers, faults included).
  std::uint64_t file_bytes_served() const { return file_bytes_.load(); }

private:
  struct served_file {
    std::string path;
    std::shared_ptr<const std::string> content;
    bool lfs = false;
    std::string oid, sha256;
  };
  struct hosted_repo {
    std::string commit, branch, cdn_host;
    std::vector<served_file> files;
  };

  /// A 200 or 206 answer with the bytes of `f` that `range` asks for ("bytes=a-" or "bytes=a-b").
  static scripted_reply ranged(const served_file& f, const std::string& range, const std::string& etag, bool honour_range) {
    const auto size = f.content->size();
    scripted_reply out;
    out.headers = {{"Accept-Ranges", "bytes"}, {"ETag", "\"" + etag + "\""}};
    out.shared_body = f.content;
    out.shared_length = size;
    if (!honour_range || !range.starts_with("bytes=")) return out;
    auto spec = range.substr(6);
    auto dash = spec.find('-');
    std::uint64_t first = std::stoull(spec.substr(0, dash));
    std::uint64_t last = dash + 1 < spec.size() ? std::stoull(spec.substr(dash + 1)) : size - 1;
    if (first >= size) {
      out.status = 416;
      out.shared_body.reset();
      out.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return out;
    }
    last = std::min<std::uint64_t>(last, size - 1);
    out.status = 206;
    out.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    out.shared_offset = first;
    out.shared_length = last - first + 1;
    return out;
  }

  std::optional<scripted_reply> hosted_answer(const seen_request& r) const {
    std::string target = r.target;
    auto query = target.find('?');
    std::string path_part = target.substr(0, query);
    if (path_part.starts_with("/cdn/")) {
      auto sha = path_part.substr(5);
      for (const auto& [id, repo] : repos_)
        for (const auto& f : repo.files)
          if (f.lfs && f.sha256 == sha) return ranged(f, r.range, sha, true);
      return scripted_reply{.status = 404};
    }
    for (const auto& [id, repo] : repos_) {
      auto api = "/api/models/" + id + "/revision/";
      if (path_part.starts_with(api)) {
        auto rev = path_part.substr(api.size());
        if (rev != repo.branch && rev != repo.commit)
          return scripted_reply{.status = 404, .headers = {{"X-Error-Code", "RevisionNotFound"}}};
        boost::json::array siblings;
        for (const auto& f : repo.files) {
          boost::json::object sib{{"rfilename", f.path}, {"blobId", f.oid}, {"size", f.content->size()}};
          if (f.lfs)
            sib["lfs"] = {{"sha256", f.sha256}, {"size", f.content->size()}, {"pointerSize", hfmm::lfs_pointer_size(f.content->size())}};
          siblings.push_back(std::move(sib));
        }
        boost::json::object answer{{"id", id}, {"modelId", id}, {"sha", repo.commit}, {"siblings", std::move(siblings)}};
        return scripted_reply{.status = 200, .headers = {{"Content-Type", "application/json"}},
                              .body = boost::json::serialize(answer)};
      }
      auto resolve = "/" + id + "/resolve/";
      if (!path_part.starts_with(resolve)) continue;
      auto rest = path_part.substr(resolve.size());
      auto slash = rest.find('/');
      auto rev = rest.substr(0, slash);
      if (rev != repo.branch && rev != repo.commit)
        return scripted_reply{.status = 404, .headers = {{"X-Error-Code", "RevisionNotFound"}}};
      auto file_path = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
      for (const auto& f : repo.files) {
        if (f.path != file_path) continue;
        if (f.lfs)
          return scripted_reply{
              .status = 302,
              .headers = {{"Location", std::string(options_.tls ? "https://" : "http://") + repo.cdn_host + ":" +
                                           std::to_string(port_) + "/cdn/" + f.sha256},
                          {"X-Linked-Etag", "\"" + f.sha256 + "\""},
                          {"X-Linked-Size", std::to_string(f.content->size())},
                          {"ETag", "\"" + f.oid + "\""},
                          {"X-Repo-Commit", repo.commit}}};
        // If-Range naming another version: the whole file, not a splice.
        auto reply = ranged(f, r.range, f.oid, r.if_range.empty() || r.if_range == "\"" + f.oid + "\"");
        reply.headers.emplace_back("X-Repo-Commit", repo.commit);
        return reply;
      }
      return scripted_reply{.status = 404,
                            .headers = {{"X-Error-Code", "EntryNotFound"}, {"X-Error-Message", "Entry not found"}}};
    }
    return std::nullopt;
  }

  static bool is_file_answer(const seen_request& r) {
    return r.target.starts_with("/cdn/") || r.target.find("/resolve/") != std::string::npos;
  }

  using error_code = boost::system::error_code;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      socket.set_option(asio::ip::tcp::no_delay(true), ec);
      ++connections_;
      asio::co_spawn(ctx_, serve_connection(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket) {
    if (!options_.tls) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls_);
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await serve(stream);
  }

  std::optional<scripted_reply> decide(const seen_request& r) {
    std::function<std::optional<scripted_reply>(const seen_request&, std::size_t)> script;
    std::size_t n = 0;
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(r);
      script = script_;
      n = seen_.size();
    }
    if (script)  // outside the lock: a script may ask repo_reply
      if (auto scripted = script(r, n)) return scripted;
    std::lock_guard lock(mutex_);
    return hosted_answer(r);
  }

  scripted_reply recorded(const seen_request& r) {
    scripted_reply out;
    if (!recordings_) {  // a repository nobody hosts, as the Hub answers it
      out.status = 404;
      if (r.target.starts_with("/api/")) out.headers = {{"X-Error-Code", "RepoNotFound"}};
      return out;
    }
    auto a = recordings_->answer(r.target);
    if (a.unrecorded) {  // like the Hub: a revision we have no answer for
      out.status = 404;
      out.headers = {{"X-Error-Code", "RevisionNotFound"}, {"Content-Type", "application/json; charset=utf-8"}};
      out.body = R"({"error":"Invalid rev id"})";
      return out;
    }
    out.status = a.status;
    out.body = a.body;
    for (auto& [k, v] : a.headers) {
      std::string value = v;
      if (k == "Link") {  // a mirror points its pages at itself
        auto pos = value.find("https://huggingface.co");
        if (pos != std::string::npos) value.replace(pos, 22, endpoint());
      }
      out.headers.emplace_back(k, value);
    }
    return out;
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      error_code ec;
      http::request<http::string_body> req;
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      seen_request info{std::string(req.method_string()), std::string(req.target()),
                        std::string(req[http::field::host]), std::string(req[http::field::authorization]),
                        std::string(req[http::field::range]), std::string(req[http::field::if_range])};
      auto reply = decide(info);
      if (!reply) reply = recorded(info);
      auto delay = reply->delay + options_.latency;
      if (delay.count() > 0) {
        asio::steady_timer t(co_await asio::this_coro::executor, delay);
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      beast::get_lowest_layer(stream).expires_never();
      using mode = scripted_reply::mode;
      if (reply->how == mode::close) co_return;
      if (reply->how == mode::raw) {
        co_await asio::async_write(stream, asio::buffer(reply->body), asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      std::string head = "HTTP/1.1 " + std::to_string(reply->status) + " X\r\n";
      for (auto& [k, v] : reply->headers) head += k + ": " + v + "\r\n";
      if (reply->how == mode::endless) {
        head += "Transfer-Encoding: chunked\r\n\r\n";
        co_await asio::async_write(stream, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec));
        std::string chunk = "4000\r\n" + std::string(0x4000, '[') + "\r\n";
        while (!ec) co_await asio::async_write(stream, asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      head += "Content-Length: " + std::to_string(reply->payload().size() + (reply->how == mode::truncated ? 1000 : 0)) + "\r\n\r\n";
      if (reply->how == mode::slow_drip) {
        std::string all = head + std::string(reply->payload());
        for (char c : all) {
          co_await asio::async_write(stream, asio::buffer(&c, 1), asio::redirect_error(asio::use_awaitable, ec));
          if (ec) co_return;
          asio::steady_timer t(co_await asio::this_coro::executor, reply->drip);
          co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        continue;
      }
      bool cut = reply->how == mode::reset || reply->how == mode::stall;
      std::string_view body = reply->payload();
      if (req.method() == http::verb::head) body = {};
      else if (cut) body = body.substr(0, body.size() / 2);
      bool file = is_file_answer(info);
      co_await asio::async_write(stream, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      // The body in pieces: counted as sent, and paced when the test asks for a slow link.
      constexpr std::size_t piece = 64 * 1024;
      for (std::size_t at = 0; at < body.size() && !ec;) {
        auto n = std::min(piece, body.size() - at);
        co_await asio::async_write(stream, asio::buffer(body.data() + at, n), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        at += n;
        if (file) file_bytes_ += n;
        if (file && options_.file_bytes_per_second > 0) {
          asio::steady_timer t(co_await asio::this_coro::executor,
                               std::chrono::microseconds(n * 1'000'000 / options_.file_bytes_per_second));
          co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
      }
      if (ec) co_return;
      if (reply->how == mode::stall) {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(60));
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      if (reply->how == mode::reset) {
        auto& sock = beast::get_lowest_layer(stream).socket();
        sock.set_option(asio::socket_base::linger(true, 0), ec);
        sock.close(ec);
        co_return;
      }
      if (reply->how == mode::truncated) co_return;
      if (!req.keep_alive()) co_return;
    }
  }

  options options_;
  test_certificate cert_;
  std::optional<hfmm::detail::recording_set> recordings_;
  asio::io_context ctx_;
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  asio::ip::tcp::acceptor acceptor_{ctx_};
  unsigned short port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::function<std::optional<scripted_reply>(const seen_request&, std::size_t)> script_;
  std::vector<seen_request> seen_;
  std::atomic<std::size_t> connections_{0};
  std::map<std::string, hosted_repo> repos_;
  std::atomic<std::uint64_t> file_bytes_{0};
};

/// An HTTP CONNECT proxy on loopback: tunnels bytes to the requested host:port.
class connect_proxy {
public:
  connect_proxy() {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ctx_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~connect_proxy() {
    asio::post(ctx_, [this] { ctx_.stop(); });
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> tunnels() const {
    std::lock_guard lock(mutex_);
    return tunnels_;
  }

private:
  using error_code = boost::system::error_code;
  asio::awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(ctx_, tunnel(std::move(socket)), asio::detached);
    }
  }
  static asio::awaitable<void> pipe(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to) {
    std::array<char, 16384> buf;
    for (;;) {
      error_code ec;
      auto n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      co_await asio::async_write(to, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    error_code ignored;
    to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
  asio::awaitable<void> tunnel(asio::ip::tcp::socket client) {
    error_code ec;
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    co_await http::async_read_header(client, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || parser.get().method() != http::verb::connect) co_return;
    std::string target(parser.get().target());
    {
      std::lock_guard lock(mutex_);
      tunnels_.push_back(target);
    }
    auto colon = target.rfind(':');
    asio::ip::tcp::resolver resolver(ctx_);
    auto endpoints = co_await resolver.async_resolve(target.substr(0, colon), target.substr(colon + 1),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::ip::tcp::socket upstream(ctx_);
    co_await asio::async_connect(upstream, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(client, asio::buffer(ok), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    if (buffer.size() > 0) {  // bytes the client sent after the header (the TLS hello, already read)
      co_await asio::async_write(upstream, buffer.data(), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
    asio::co_spawn(ctx_, pipe(upstream, client), asio::detached);
    co_await pipe(client, upstream);
    asio::steady_timer linger(ctx_, std::chrono::seconds(5));  // keep both sockets alive for the other pipe
    co_await linger.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::io_context ctx_;
  asio::ip::tcp::acceptor acceptor_{ctx_};
  unsigned short port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> tunnels_;
};

/// A revision answer as the Hub gives it for ?blobs=true: `revision_json` (a recorded answer)
/// with every file of `tree_json` (a recorded recursive tree) as a sibling — rfilename, blobId,
/// size, lfs{sha256, size, pointerSize}. `extra` siblings are appended; `drop_size` removes the
/// size of the fourth (blobs not served for it).
inline std::string revision_answer_with_blobs(const std::string& revision_json, const std::string& tree_json,
                                              std::size_t extra = 0, bool drop_size = false) {
  auto answer = boost::json::parse(revision_json).as_object();
  boost::json::array siblings;
  const auto tree = boost::json::parse(tree_json);
  for (const auto& e : tree.as_array()) {
    if (e.at("type") != "file") continue;
    boost::json::object s{{"rfilename", e.at("path")}, {"blobId", e.at("oid")}, {"size", e.at("size")}};
    if (const auto* lfs = e.as_object().if_contains("lfs"))
      s["lfs"] = {{"sha256", lfs->at("oid")}, {"size", lfs->at("size")}, {"pointerSize", lfs->at("pointerSize")}};
    siblings.push_back(std::move(s));
  }
  if (drop_size && siblings.size() > 3) siblings[3].as_object().erase("size");
  for (std::size_t i = 0; i < extra; ++i)
    siblings.push_back({{"rfilename", "extra/" + std::to_string(i)}, {"blobId", std::string(40, 'e')}, {"size", 1}});
  answer["siblings"] = std::move(siblings);
  return boost::json::serialize(answer);
}

}  // namespace hfmm_test
