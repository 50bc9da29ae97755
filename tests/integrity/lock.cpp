// Lock files and audits on the recorded gpt2 repository.
#include "../support/test_support.hpp"

#include <hfmm/audit.hpp>
#include <hfmm/huggingface.hpp>
#include <hfmm/lock.hpp>
#include <hfmm/verify.hpp>

#include <algorithm>
#include <fstream>

namespace {
hfmm::model_metadata recorded_gpt2() {
  auto hub = hfmm_test::recorded_hub();
  auto m = hfmm::create_model_from_hub(hub, "wzshiming/gpt2");
  REQUIRE(m);
  return *m;
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}
}  // namespace

TEST_CASE("lock: every file's size and digests at the commit, stable, read back as written") {
  auto gpt2 = recorded_gpt2();
  hfmm::model_metadata local{.model_id = "a/local", .model_name = "local"};
  local.repository_structure = hfmm::repo_structure{.model_id = "a/local", .commit_sha = std::string(40, 'c')};
  local.repository_structure->files.insert("weird \"name\"\n.txt", {.size = 3, .oid = std::string(40, 'd')});
  std::vector<const hfmm::model_metadata*> models{&gpt2, &local};
  auto text = hfmm::write_lock(models);
  REQUIRE(text);
  // Models by id, one file per line: a changed file is a one-line diff.
  CHECK(text->find("\"a/local\"") < text->find("\"wzshiming/gpt2\""));
  CHECK(text->find("        \"model.safetensors\": {\"size\": 548105171, \"oid\": "
                   "\"44b36d6e32d13c8fb28b0feab0ac8bfefa7efeda\", \"sha256\": "
                   "\"248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707\"}") != std::string::npos);
  // 5 lines around the models; per model 8 (its braces, repo, type, revision, commit, the files' braces),
  // gpt2's licence, gated and private, and a line per file.
  CHECK(std::count(text->begin(), text->end(), '\n') == 5 + (8 + 3 + 26) + (8 + 1));
  std::vector<const hfmm::model_metadata*> reversed{&local, &gpt2};
  CHECK(hfmm::write_lock(reversed).value() == *text);  // the order given does not matter

  auto lock = hfmm::parse_lock(*text);
  REQUIRE(lock);
  REQUIRE(lock->models.size() == 2);
  const auto* locked = lock->find("wzshiming/gpt2");
  REQUIRE(locked);
  CHECK(locked->license == "mit");
  CHECK(locked->structure.commit_sha == gpt2.repository_structure->commit_sha);
  CHECK(locked->structure.branch == "main");
  CHECK(locked->structure.files.size() == 26);
  for (auto f : gpt2.repository_structure->files) {
    auto e = locked->structure.files.find(f.path());
    REQUIRE(e);
    CHECK(e->size == f.size());
    CHECK(e->oid == f.oid());
    CHECK(e->lfs == f.lfs());
    CHECK(e->download_url == f.download_url());  // the standard URL at the commit
  }
  CHECK(lock->find("a/local")->structure.files.contains("weird \"name\"\n.txt"));
  CHECK(lock->find("nobody/else") == nullptr);

  // Written again from what was read: the same text.
  std::vector<hfmm::model_metadata> again;
  for (const auto& m : lock->models) {
    hfmm::model_metadata r{.model_id = m.model_id};
    r.license = m.license;
    r.repository_structure = m.structure;
    again.push_back(std::move(r));
  }
  std::vector<const hfmm::model_metadata*> again_ptrs{&again[0], &again[1]};
  CHECK(hfmm::write_lock(again_ptrs).value() == *text);
}

TEST_CASE("lock: an unpinned model is refused by name; a bad lock says where") {
  hfmm::model_metadata bare{.model_id = "org/unpinned"};
  std::vector<const hfmm::model_metadata*> one{&bare};
  std::string why;
  CHECK(hfmm::write_lock(one, &why).error() == hfmm::errc::invalid_argument);
  CHECK(why.find("org/unpinned") != std::string::npos);

  auto gpt2 = recorded_gpt2();
  std::vector<const hfmm::model_metadata*> models{&gpt2};
  auto text = hfmm::write_lock(models).value();
  auto refused = [](const std::string& bad, hfmm::errc code, std::string_view says) {
    std::string reason;
    auto r = hfmm::parse_lock(bad, &reason);
    REQUIRE_FALSE(r);
    CHECK(r.error() == code);
    CHECK_MESSAGE(reason.find(says) != std::string::npos, reason);
  };
  refused("{", hfmm::errc::invalid_argument, "not JSON");
  refused("{\"models\": {}}", hfmm::errc::invalid_argument, "not an hfmm lock");
  refused(replaced(text, "\"hfmm_lock\": 1", "\"hfmm_lock\": 2"), hfmm::errc::schema_newer, "newer");
  refused(replaced(text, "ae329b6937f31305a0d6c6779f6cd4072cc4097e", "AE329B"), hfmm::errc::invalid_argument,
          "\"commit\" should be 40 lower-case hex");
  refused(replaced(text, "{\"size\": 548105171", "{\"size\": -1"), hfmm::errc::invalid_argument,
          "file \"model.safetensors\": \"size\"");
  refused(replaced(text, "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707", "x"),
          hfmm::errc::invalid_argument, "\"sha256\" should be 64");
  refused(replaced(text, "\"repo\": \"wzshiming/gpt2\"", "\"repo\": \"../etc\""), hfmm::errc::invalid_argument,
          "\"repo\" is not a repository id");

  hfmm_test::scratch_dir dir;
  CHECK(hfmm::read_lock(dir / "missing.lock").error() == hfmm::errc::file_not_found);
  std::ofstream(dir / "ok.lock") << text;
  CHECK(hfmm::read_lock(dir / "ok.lock").value().models.size() == 1);
}

TEST_CASE("lock: a local copy is verified against the lock alone") {
  hfmm_test::scratch_dir dir;
  std::filesystem::create_directories(dir / "copy" / "sub");
  std::ofstream(dir / "copy" / "hello.txt") << "hello\n";
  std::ofstream(dir / "copy" / "sub" / "weights.bin") << "abc";
  hfmm::model_metadata m{.model_id = "local/model"};
  m.repository_structure = hfmm::repo_structure{.model_id = "local/model", .commit_sha = std::string(40, 'a')};
  m.repository_structure->files.insert("hello.txt", {.size = 6, .oid = "ce013625030ba8dba906f756967f9e9ca394464a"});
  m.repository_structure->files.insert(
      "sub/weights.bin", {.size = 3, .oid = hfmm::lfs_pointer_oid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 3),
                          .lfs = hfmm::lfs_info{"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 3, 126}});
  std::vector<const hfmm::model_metadata*> one{&m};
  auto lock = hfmm::parse_lock(hfmm::write_lock(one).value()).value();
  const auto& locked = lock.models.at(0).structure;
  auto intact = hfmm::verify_local_files(locked, dir / "copy");
  REQUIRE(intact);
  CHECK(intact->ok());
  CHECK(intact->checked == 2);
  std::ofstream(dir / "copy" / "sub" / "weights.bin") << "abd";
  auto damaged = hfmm::verify_local_files(locked, dir / "copy");
  REQUIRE(damaged);
  REQUIRE(damaged->mismatches.size() == 1);
  CHECK(damaged->mismatches[0].path == "sub/weights.bin");
  CHECK(damaged->mismatches[0].algorithm == "sha256");
}

TEST_CASE("audit: each rule on the recorded gpt2, violations named, never a pass it could not check") {
  auto gpt2 = recorded_gpt2();
  hfmm::model_metadata bare{.model_id = "org/unpinned"};
  std::vector<const hfmm::model_metadata*> models{&gpt2, &bare};
  auto subjects = hfmm::audit_subjects(models);
  auto rules = [](const hfmm::audit_report& r) {
    std::vector<std::string> out;
    for (const auto& v : r.violations) out.push_back(v.model_id + " " + v.rule + " " + v.detail);
    return out;
  };

  auto none = hfmm::audit(subjects, {}).value();
  CHECK(none.models == 2);
  CHECK(rules(none) == std::vector<std::string>{"org/unpinned unpinned no repository structure pinned to a commit"});

  std::vector<hfmm::audit_subject> only_gpt2(subjects.begin(), subjects.begin() + 1);
  auto strict = hfmm::parse_audit_policy(
                    R"({"allowed_licenses": ["MIT", "apache-2.0"], "deny_pickle": true, "deny_gated": true, "deny_private": true})")
                    .value();
  // Licences compare ASCII case-insensitively; of gpt2's weight files only the PyTorch one unpickles.
  CHECK(rules(hfmm::audit(only_gpt2, strict).value()) == std::vector<std::string>{"wzshiming/gpt2 pickle pytorch_model.bin"});
  strict.allowed_licenses = std::vector<std::string>{"apache-2.0"};
  CHECK(rules(hfmm::audit(only_gpt2, strict).value()).at(0) == "wzshiming/gpt2 license licence mit is not allowed");

  // Gating and visibility not recorded: denied (an audit fails closed).
  auto no_info = gpt2;
  no_info.repository_structure->model_info.reset();
  auto deny = hfmm::parse_audit_policy(R"({"deny_gated": true, "deny_private": true})").value();
  std::vector<const hfmm::model_metadata*> one{&no_info};
  CHECK(hfmm::audit(hfmm::audit_subjects(one), deny).value().violations.size() == 2);
  auto gated = gpt2;
  gated.repository_structure->model_info->gated = "manual";
  one = {&gated};
  CHECK(rules(hfmm::audit(hfmm::audit_subjects(one), deny).value()) ==
        std::vector<std::string>{"wzshiming/gpt2 gated gated (manual)"});

  // The branch must still be at the pinned commit: asked of the Hub (here, the recordings).
  auto pinned = hfmm::parse_audit_policy(R"({"require_pinned_head": true})").value();
  auto hub = hfmm_test::recorded_hub();
  hfmm::head_resolver ask = [&](const hfmm::repo_structure& s) {
    return hfmm::detail::run_blocking(hub.async_resolve_revision(s.model_id, s.branch));
  };
  CHECK(hfmm::audit(only_gpt2, pinned, ask).value().ok());
  auto moved = gpt2;
  moved.repository_structure->commit_sha = std::string(40, '0');
  one = {&moved};
  CHECK(rules(hfmm::audit(hfmm::audit_subjects(one), pinned, ask).value()) ==
        std::vector<std::string>{"wzshiming/gpt2 moved main is at ae329b6937f31305a0d6c6779f6cd4072cc4097e, pinned " +
                                 std::string(40, '0')});
  std::string why;
  CHECK(hfmm::audit(only_gpt2, pinned, {}, &why).error() == hfmm::errc::invalid_argument);
  hfmm::head_resolver offline = [](const hfmm::repo_structure&) -> hfmm::result<std::string> { return hfmm::errc::offline; };
  CHECK(hfmm::audit(only_gpt2, pinned, offline, &why).error() == hfmm::errc::offline);
  CHECK(why.find("wzshiming/gpt2") != std::string::npos);

  // The same audit from a lock.
  std::vector<const hfmm::model_metadata*> lockable{&gpt2};
  auto lock = hfmm::parse_lock(hfmm::write_lock(lockable).value()).value();
  CHECK(rules(hfmm::audit(hfmm::audit_subjects(lock), strict).value()) ==
        rules(hfmm::audit(only_gpt2, strict).value()));
}

TEST_CASE("audit: a policy with a typo or a wrong type is refused, not half applied") {
  std::string why;
  CHECK(hfmm::parse_audit_policy(R"({"deny_pikle": true})", &why).error() == hfmm::errc::invalid_argument);
  CHECK(why.find("unknown key \"deny_pikle\"") != std::string::npos);
  CHECK(hfmm::parse_audit_policy(R"({"deny_pickle": "yes"})", &why).error() == hfmm::errc::invalid_argument);
  CHECK(hfmm::parse_audit_policy(R"({"allowed_licenses": "mit"})", &why).error() == hfmm::errc::invalid_argument);
  CHECK(hfmm::parse_audit_policy("[]", &why).error() == hfmm::errc::invalid_argument);
  CHECK(hfmm::parse_audit_policy("{}").value() == hfmm::audit_policy{});
}
