// A user's program: builds a structure in code and asks for a hash.
#include <hfmm/hfmm.hpp>

#include <iostream>

int main() {
  hfmm::repo_structure s{.model_id = "wzshiming/gpt2"};
  s.files.insert("config.json", {.size = 665, .oid = "10c66461e4c109db5a2196bff4bb59be30396ed8"});
  std::cout << "config.json " << hfmm::get_file_hash_from_structure(s, "config.json").value_or("?") << "\n";
}
