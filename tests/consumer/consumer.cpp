// A user's program: builds a structure in code, asks for a hash, writes the structure as JSON
// (Boost.JSON's compiled code) and verifies a local file (OpenSSL's SHA-1) — so that it links
// only when hfmm::hfmm carries both libraries to its consumers.
#include <hfmm/hfmm.hpp>

#include <boost/json/serialize.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

int main() {
  hfmm::repo_structure s{.model_id = "wzshiming/gpt2"};
  s.files.insert("config.json", {.size = 665, .oid = "10c66461e4c109db5a2196bff4bb59be30396ed8"});
  std::cout << "config.json " << hfmm::get_file_hash_from_structure(s, "config.json").value_or("?") << "\n";

  auto text = boost::json::serialize(boost::json::value_from(s));
  std::cout << "json " << (text.find("\"oid\":\"10c66461e4c109db5a2196bff4bb59be30396ed8\"") != std::string::npos ? "ok" : "bad")
            << "\n";

  auto dir = std::filesystem::temp_directory_path() / ("hfmm-consumer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "hello.txt") << "hello\n";
  hfmm::repo_structure local{.model_id = "me/hello"};
  local.files.insert("hello.txt", {.size = 6, .oid = "ce013625030ba8dba906f756967f9e9ca394464a"});  // git hash-object
  auto report = hfmm::verify_local_files(local, dir);
  std::filesystem::remove_all(dir);
  std::cout << "verify " << (report && report->ok() ? "ok" : "bad") << "\n";
}
