// The translation unit DESIGN §7's compile-time target is about: it includes <hfmm/hfmm.hpp>
// and uses the mock fetcher and the manager. bench/run times `-O0 -c` of it.
#include <hfmm/hfmm.hpp>

#include <iostream>

int main(int argc, char** argv) {
  auto hub = hfmm::mock_fetcher::from_recordings(argc > 1 ? argv[1] : "tests/data/hub");
  if (!hub) return 1;
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, *hub);
  auto gpt2 = hfmm::create_model_from_huggingface(mm.fetcher(), "wzshiming/gpt2", {});
  if (!gpt2.repository_structure || !mm.add_model(gpt2)) return 1;
  for (const auto* m : mm.get_models_with_file("config.json"))
    std::cout << m->model_id << " " << mm.get_model_file_hash(m->model_id, "config.json").value_or("-") << "\n";
  return mm.refresh_all().failed() == 0 ? 0 : 1;
}
