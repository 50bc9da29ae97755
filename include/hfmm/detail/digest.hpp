#pragma once
// Streaming SHA-1 / SHA-256 through OpenSSL EVP, and the git blob id.

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hfmm::detail {

enum class digest_algorithm { git_sha1, sha256 };

class hasher {
public:
  explicit hasher(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) throw std::bad_alloc();
  }
  static hasher sha1() { return hasher(EVP_sha1()); }
  static hasher sha256() { return hasher(EVP_sha256()); }
  /// A git blob hasher: SHA-1 over "blob <size>\0" + content.
  static hasher git_blob(std::uint64_t size) {
    auto h = sha1();
    std::string header = "blob " + std::to_string(size);
    h.update(header.data(), header.size() + 1);  // with the terminating NUL
    return h;
  }
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex_final() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return to_hex_bytes(md, len);
  }

private:
  static std::string to_hex_bytes(const unsigned char* p, unsigned n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(2 * n, '\0');
    for (unsigned i = 0; i < n; ++i) out[2 * i] = digits[p[i] >> 4], out[2 * i + 1] = digits[p[i] & 15];
    return out;
  }
  struct free_ctx { void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); } };
  std::unique_ptr<EVP_MD_CTX, free_ctx> ctx_;
};

inline std::string git_blob_oid(std::string_view content) {
  auto h = hasher::git_blob(content.size());
  h.update(content);
  return h.hex_final();
}

inline std::string sha256_hex(std::string_view content) {
  auto h = hasher::sha256();
  h.update(content);
  return h.hex_final();
}

}  // namespace hfmm::detail
