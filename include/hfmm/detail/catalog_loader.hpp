#pragma once
// One pass over a catalog file (the JSON store layout) with Boost.JSON's SAX parser: the file
// tables — nearly all of the bytes — are built straight from the parser's events, without a
// DOM; the rest of each record (a few hundred bytes) goes through a value_stack and the
// lenient record reader (read_model), so both paths share one field table. Each record is
// handed over as soon as it ends, so at most one record's DOM exists at a time.

#include <hfmm/json.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <cmath>
#include <functional>

namespace hfmm::detail {

using boost::json::string_view;

class catalog_handler {
public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  using record_callback = std::function<bool(std::string_view key, model_metadata&&)>;
  catalog_handler(record_callback on_record, std::string* why) : on_record_(std::move(on_record)), why_(why) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code& ec) {
    ++depth_;
    if (depth_ == 1) return true;  // the catalog
    if (depth_ == 2) {             // a record
      stack_.reset();
      files_ = file_table{};
      has_files_ = false;
      return true;
    }
    if (in_files()) return true;
    if (depth_ == 3 && key_ == "repository_structure") in_structure_ = true;
    if (depth_ == 4 && in_structure_ && key_ == "files") {  // the fast path starts here
      files_depth_ = depth_;
      files_ = file_table{};
      prefix_known_ = false;
      has_files_ = true;
      return true;
    }
    (void)ec;
    return true;
  }

  bool on_object_end(std::size_t n, error_code& ec) {
    int d = depth_--;
    if (d == 1) return true;
    if (d == 2) return finish_record(n, ec);
    if (files_depth_ != 0) {
      if (d == files_depth_) {  // the files object: an empty placeholder in the record's DOM
        files_depth_ = 0;
        stack_.push_object(0);
        return true;
      }
      if (d == files_depth_ + 1) finish_entry();
      else if (d == files_depth_ + 2) in_lfs_ = false;
      return true;
    }
    if (d == 3) in_structure_ = false;
    stack_.push_object(n);
    return true;
  }

  bool on_array_begin(error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    ++depth_;
    if (in_files()) ++ignored_;
    return true;
  }
  bool on_array_end(std::size_t n, error_code&) {
    --depth_;
    if (in_files()) {
      --ignored_;
      return true;
    }
    stack_.push_array(n);
    return true;
  }

  bool on_key_part(string_view s, std::size_t, error_code&) {
    key_buf_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    key_buf_.append(s.data(), s.size());
    key_.swap(key_buf_);
    key_buf_.clear();
    if (depth_ == 1) {
      record_key_ = key_;
      return true;
    }
    if (in_files()) {
      if (depth_ == files_depth_) {  // a path: a new entry (buffers keep their capacity)
        path_ = key_;
        entry_ = file_entry_view{};
        oid_.clear(), sha_.clear(), xet_.clear(), url_.clear();
      } else if (depth_ == files_depth_ + 1) {
        field_ = key_;
        in_lfs_ = field_ == "lfs";
      } else if (depth_ == files_depth_ + 2) {
        lfs_field_ = key_;
      }
      return true;
    }
    stack_.push_key(key_);
    return true;
  }

  bool on_string_part(string_view s, std::size_t, error_code&) {
    str_buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    str_buf_.append(s.data(), s.size());
    bool ok = in_files() ? file_string(str_buf_, ec) : (stack_.push_string(str_buf_), true);
    str_buf_.clear();
    return ok;
  }

  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, string_view, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (in_files()) return i >= 0 ? file_number(static_cast<std::uint64_t>(i), ec) : bad(ec, "a negative size");
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (in_files()) return file_number(u, ec);
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, string_view, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (in_files()) {
      if (d >= 0 && d < 1.8e19 && std::floor(d) == d) return file_number(static_cast<std::uint64_t>(d), ec);
      return bad(ec, "a size that is not an integer");
    }
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (!in_files()) stack_.push_bool(b);
    return true;
  }
  bool on_null(error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (!in_files()) stack_.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

private:
  bool in_files() const noexcept { return files_depth_ != 0; }

  bool not_a_catalog(error_code& ec) {
    if (why_ && why_->empty())
      *why_ = depth_ == 0 ? "the top level should be an object keyed by model_id"
                          : "model \"" + record_key_ + "\": a model record should be a JSON object";
    ec = errc::invalid_argument;
    return false;
  }

  bool bad(error_code& ec, const std::string& what) {
    if (why_ && why_->empty()) *why_ = "model \"" + record_key_ + "\": file \"" + path_ + "\": " + what;
    ec = errc::invalid_argument;
    return false;
  }

  bool file_string(const std::string& s, error_code& ec) {
    if (ignored_ || depth_ > files_depth_ + 2) return true;
    if (depth_ == files_depth_ + 1) {
      if (field_ == "oid") oid_ = s;
      else if (field_ == "download_url") url_ = s;
      else if (field_ == "xet_hash") xet_ = s, entry_.has_xet = true;
      else if (field_ == "size") return bad(ec, "\"size\" should be a number");
      return true;
    }
    if (depth_ == files_depth_ + 2 && in_lfs_) {
      if (lfs_field_ == "oid" || lfs_field_ == "sha256") sha_ = s, entry_.has_lfs = true;
    }
    return true;
  }

  bool file_number(std::uint64_t n, error_code& ec) {
    if (ignored_ || depth_ > files_depth_ + 2) return true;
    if (depth_ == files_depth_ + 1 && field_ == "size") entry_.size = n;
    else if (depth_ == files_depth_ + 2 && in_lfs_) {
      entry_.has_lfs = true;
      if (lfs_field_ == "size") entry_.lfs_size = n;
      else if (lfs_field_ == "pointerSize" || lfs_field_ == "pointer_size") {
        if (n > 0xFFFF'FFFFu) return bad(ec, "an absurd pointer size");
        entry_.pointer_size = static_cast<std::uint32_t>(n);
      }
    }
    return true;
  }

  void finish_entry() {
    entry_.oid = oid_, entry_.lfs_sha256 = sha_, entry_.xet_hash = xet_, entry_.download_url = url_;
    if (!prefix_known_ && !url_.empty()) {  // the standard prefix, from the first URL
      encoded_.clear();
      append_encoded_path(encoded_, path_);
      const auto& url = url_;
      if (url.size() > encoded_.size() && url.ends_with(encoded_) && url[url.size() - encoded_.size() - 1] == '/') {
        file_table_access::set_prefix_empty_table(files_, url.substr(0, url.size() - encoded_.size()));
        prefix_known_ = true;
      }
    }
    file_table_access::append(files_, path_, entry_);
  }

  bool finish_record(std::size_t pairs, error_code& ec) {
    stack_.push_object(pairs);
    auto record = stack_.release();
    auto m = read_model(record, why_);
    if (!m) {
      ec = m.error();
      return false;
    }
    if (m->model_id.empty()) m->model_id = record_key_;
    if (has_files_ && m->repository_structure) {
      file_table_access::finish(files_);
      m->repository_structure->files = std::move(files_);
    }
    if (!on_record_(record_key_, std::move(*m))) {
      ec = errc::invalid_argument;
      return false;
    }
    return true;
  }

  record_callback on_record_;
  std::string* why_;
  boost::json::value_stack stack_;
  int depth_ = 0, files_depth_ = 0, ignored_ = 0;
  bool in_structure_ = false, in_lfs_ = false, prefix_known_ = false, has_files_ = false;
  std::string key_, key_buf_, str_buf_, record_key_, path_, field_, lfs_field_, encoded_;
  std::string oid_, sha_, xet_, url_;  // the current entry's strings
  file_entry_view entry_;
  file_table files_;
};

/// Parses a whole catalog, calling `on_record(key, model)` for each record in file order.
/// Errors: storage_corrupt (not JSON, truncated, or a record of the wrong shape; `why` says
/// where), or the callback's refusal.
inline result<void> parse_catalog(std::string_view text, catalog_handler::record_callback on_record, std::string* why) {
  boost::json::basic_parser<catalog_handler> parser(boost::json::parse_options{}, std::move(on_record), why);
  error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  if (ec) {
    if (why && why->empty()) *why = "not valid JSON (" + ec.message() + ") — truncated or corrupt";
    return errc::storage_corrupt;
  }
  return {};
}

}  // namespace hfmm::detail
