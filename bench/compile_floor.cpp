// The floor of the compile-time target: the third-party headers <hfmm/hfmm.hpp> needs (Boost.JSON,
// Boost.System, Asio's coroutines and io_context, OpenSSL's EVP) and the least use of them any
// program with a coroutine fetcher and a JSON catalog makes. bench/run times it beside
// compile_probe.cpp, so the two can be compared on a VM whose speed drifts.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/system/result.hpp>
#include <openssl/evp.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

boost::asio::awaitable<boost::system::result<std::string>> fetch(std::string id) { co_return id + "/config.json"; }

int main(int argc, char** argv) {
  boost::asio::io_context ctx;
  std::optional<std::string> got;
  boost::asio::co_spawn(ctx, fetch(argc > 1 ? argv[1] : "gpt2"),
                        [&](std::exception_ptr, boost::system::result<std::string> r) { if (r) got = *r; });
  ctx.run();
  auto v = boost::json::parse(R"({"files":{"config.json":{"size":1}}})");
  std::cout << boost::json::serialize(v) << " " << got.value_or("-") << " " << std::filesystem::path(*got).filename() << "\n";
  return EVP_sha256() ? 0 : 1;
}
