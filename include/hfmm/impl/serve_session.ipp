#pragma once
// The I/O of <hfmm/serve.hpp>: accepting, and one coroutine per connection reading requests
// and writing answers, each step under its own deadline. Templates: nothing here is compiled
// until a program instantiates hub_server.

#include <hfmm/detail/posix_file.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>

namespace hfmm {

namespace detail {
/// Files up to this size are read whole and written with their headers.
inline constexpr std::uint64_t small_file_bytes = 64 * 1024;
}  // namespace detail

template <class Catalog>
template <class ServeConnection>
boost::asio::awaitable<void> hub_server<Catalog>::accept_loop(boost::asio::ip::tcp::acceptor& acceptor,
                                                             ServeConnection serve_connection) {
  namespace asio = boost::asio;
  for (;;) {
    error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open()) co_return;
    if (ec) {  // out of descriptors, say: not a reason to stop, nor to spin
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    auto peer = socket.remote_endpoint(ec);
    auto remote = ec ? std::string("?") : peer.address().to_string() + ":" + std::to_string(peer.port());
    asio::co_spawn(acceptor.get_executor(), serve_connection(boost::beast::tcp_stream(std::move(socket)), std::move(remote)),
                   asio::detached);
  }
}

template <class Catalog>
boost::asio::awaitable<void> hub_server<Catalog>::async_serve(boost::asio::ip::tcp::acceptor& acceptor) {
  return accept_loop(acceptor, [this](boost::beast::tcp_stream stream, std::string remote) {
    return session(std::move(stream), std::move(remote), false);
  });
}

template <class Catalog>
boost::asio::awaitable<void> hub_server<Catalog>::async_serve(boost::asio::ip::tcp::acceptor& acceptor,
                                                               boost::asio::ssl::context& tls) {
  return accept_loop(acceptor, [this, &tls](boost::beast::tcp_stream stream, std::string remote) {
    return session(boost::asio::ssl::stream<boost::beast::tcp_stream>(std::move(stream), tls), std::move(remote), true);
  });
}

template <class Catalog>
template <class Stream>
boost::asio::awaitable<void> hub_server<Catalog>::session(Stream stream, std::string remote, bool secure) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  constexpr bool tls = !std::is_same_v<Stream, boost::beast::tcp_stream>;
  error_code ec;
  if constexpr (tls) {
    lowest(stream).expires_after(options_.step_timeout);
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    lowest(stream).expires_after(options_.step_timeout);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    auto started = std::chrono::steady_clock::now();
    served_request log{remote, {}, {}, 0, 0, {}};
    detail::api_answer answer;
    bool keep_alive = false;
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      // Answered, then the connection is closed: the rest of the request is not read.
      answer.status = ec == http::error::header_limit ? 431 : 413;
      answer.body = ec == http::error::header_limit ? "Request header fields too large\n" : "Request body too large\n";
      answer.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    } else if (ec) {
      break;  // closed, timed out, or not HTTP
    } else {
      const auto& req = parser.get();
      log.method = std::string(req.method_string());
      log.target = std::string(req.target());
      auto request = detail::parse_api_target(req.target());
      detail::api_headers headers{req[http::field::host], req[http::field::range], req[http::field::if_range],
                                  req[http::field::content_type], req[http::field::authorization]};
      answer = detail::answer_api(
          req.method_string(), request, headers, req.body(), [this](std::string_view id) { return catalog_.get_model(id); },
          folders_, options_, secure);
      keep_alive = req.keep_alive();
    }
    // The file is opened before the headers go out: one that vanished is a 404, not a cut answer.
    detail::unique_fd file;
    if (answer.file) {
      file.reset(::open(answer.file->path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!file) {
        answer = {};
        answer.status = 404;
        answer.body = "the file left the cache while being served; pull it again\n";
        answer.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      }
    }
    bool head = log.method == "HEAD";
    // A small file goes out with its headers in one write (a second write cost a third of the
    // requests per second on config.json).
    if (answer.file && answer.file->length <= detail::small_file_bytes) {
      answer.body.resize(static_cast<std::size_t>(answer.file->length));
      auto n = ::pread(file.get(), answer.body.data(), answer.body.size(), static_cast<off_t>(answer.file->offset));
      if (n != static_cast<ssize_t>(answer.body.size())) break;  // shorter than at the stat: nothing sent yet, close
      answer.file.reset();
    }
    if (answer.file) {
      http::response<http::empty_body> res{static_cast<http::status>(answer.status), 11};
      for (const auto& [k, v] : answer.headers) res.set(k, v);
      res.keep_alive(keep_alive);
      lowest(stream).expires_after(options_.step_timeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) ec = co_await send_file(stream, file.get(), *answer.file, log.body_bytes);
    } else {
      http::response<http::string_body> res{static_cast<http::status>(answer.status), 11};
      for (const auto& [k, v] : answer.headers) res.set(k, v);
      res.body() = std::move(answer.body);
      if (!res.has_content_length()) res.prepare_payload();  // (a file's answer has its length set)
      if (head) res.body().clear();  // the length of what GET would send, and no body
      log.body_bytes = res.body().size();
      res.keep_alive(keep_alive);
      lowest(stream).expires_after(options_.step_timeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    }
    log.status = answer.status;
    log.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    if (options_.on_request) options_.on_request(log);
    if (ec || !keep_alive) break;
  }
  // Close: TLS says goodbye (bounded), TCP stops sending.
  if constexpr (tls) {
    lowest(stream).expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  } else {
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }
}

template <class Catalog>
template <class Stream>
boost::asio::awaitable<error_code> hub_server<Catalog>::send_file(Stream& stream, int fd, const detail::served_file& file,
                                                                 std::uint64_t& sent) {
  namespace asio = boost::asio;
  // 256 KiB reads: few system calls, and the buffer stays in cache.
  std::unique_ptr<char[]> buffer(new char[256 * 1024]);
  for (std::uint64_t left = file.length; left > 0;) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, 256 * 1024));
    auto n = ::pread(fd, buffer.get(), want, static_cast<off_t>(file.offset + sent));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) co_return errc::storage_io;  // shorter than at the stat: cut the answer
    error_code ec;
    lowest(stream).expires_after(options_.step_timeout);
    co_await asio::async_write(stream, asio::buffer(buffer.get(), static_cast<std::size_t>(n)),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    sent += static_cast<std::uint64_t>(n);
    left -= static_cast<std::uint64_t>(n);
  }
  co_return error_code{};
}

}  // namespace hfmm
