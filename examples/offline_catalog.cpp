// Builds a model catalog from the Hugging Face Hub — offline from recorded responses (the
// default), or online with --online (HF_ENDPOINT and HF_TOKEN honoured) — stores it in a JSON
// file (the Python Model Manager's layout) and answers a few questions about it.
//
//   offline_catalog [RECORDINGS_DIR] [STORE.json]
//   offline_catalog --online [STORE.json]
#include <hfmm/hfmm.hpp>
#include <hfmm/fetch/hub_fetcher.hpp>

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>

#ifndef HFMM_RECORDINGS_DIR
#define HFMM_RECORDINGS_DIR "tests/data/hub"
#endif

namespace {

template <class Fetcher>
int build_catalog(Fetcher fetcher, const std::filesystem::path& store) {
  auto manager = hfmm::model_manager<hfmm::json_file_storage, Fetcher>::open(hfmm::json_file_storage(store), std::move(fetcher));
  if (!manager) {
    std::cerr << "cannot open " << store << ": " << manager.error().message() << "\n";
    return 3;
  }
  struct repo {
    const char* id;
    const char* architecture;
  };
  const repo repos[] = {{"wzshiming/gpt2", "GPT2LMHeadModel"},
                        {"google-bert/bert-base-uncased", "BertForMaskedLM"},
                        {"FluidInference/parakeet-tdt-0.6b-v3-coreml", "ParakeetTDT"},
                        {"datasets/wzshiming/fixtures_image_utils", "unknown"},
                        {"wzshiming/does-not-exist", "unknown"}};
  for (const auto& r : repos) {
    boost::json::object config{{"architectures", boost::json::array{r.architecture}}};
    auto s = hfmm::fetch_huggingface_repo_structure(manager->fetcher(), r.id);
    if (!s) {
      std::cout << r.id << ": " << s.error().message() << "\n";
      continue;
    }
    hfmm::create_options no_fetch;
    no_fetch.fetch_repo_structure = false;
    auto model = hfmm::create_model_from_huggingface(r.id, config, no_fetch);
    model.repository_structure = std::move(*s);
    if (auto ok = manager->add_model(std::move(model)); !ok) {
      std::cerr << "cannot store " << r.id << ": " << ok.error().message() << "\n";
      return 3;
    }
  }

  std::printf("\n%-45s %6s %16s  %s\n", "model", "files", "bytes", "commit");
  for (const auto* m : manager->list_models()) {
    if (!m->repository_structure) continue;
    const auto& s = *m->repository_structure;
    std::printf("%-45s %6llu %16llu  %s\n", m->model_id.c_str(), static_cast<unsigned long long>(s.total_files()),
                static_cast<unsigned long long>(s.total_size()), s.commit_sha.empty() ? "(unknown)" : s.commit_sha.c_str());
  }
  std::cout << "\nhash of config.json in wzshiming/gpt2: "
            << manager->get_model_file_hash("wzshiming/gpt2", "config.json").value_or("(none)") << "\n";
  if (const auto* gpt2 = manager->get_model("wzshiming/gpt2")) {
    std::cout << "sha256 of model.safetensors:           "
              << hfmm::get_file_sha256_from_structure(gpt2->repository_structure, "model.safetensors").value_or("(none)")
              << "\n.onnx files in gpt2: ";
    for (const auto& p : hfmm::list_files_by_extension(gpt2->repository_structure, ".onnx")) std::cout << p << " ";
  }
  std::cout << "\nmodels with a .safetensors file: ";
  for (const auto* m : manager->get_models_with_file(".safetensors")) std::cout << m->model_id << " ";
  std::cout << "\n\nstats: " << boost::json::serialize(boost::json::value_from(manager->get_stats())) << "\n";
  std::cout << "stored in " << store << "\n";
  return manager->close() ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--online") == 0) {
    hfmm::hub_fetcher hub;  // HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HTTPS_PROXY
    std::cout << "fetching from " << hub.endpoint() << "\n";
    return build_catalog(std::move(hub), argc > 2 ? argv[2] : "online_catalog.json");
  }
  std::filesystem::path recordings = argc > 1 ? argv[1] : HFMM_RECORDINGS_DIR;
  auto fetcher = hfmm::mock_fetcher::from_recordings(recordings);
  if (!fetcher) {
    std::cerr << "cannot read recordings in " << recordings << ": " << fetcher.error().message() << "\n";
    return 3;
  }
  return build_catalog(std::move(*fetcher), argc > 2 ? argv[2] : "offline_catalog.json");
}
