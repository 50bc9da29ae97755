#pragma once
// Lets doctest print boost::system::result<T> in failed CHECKs: the error's message, or "value".
#include <boost/system/result.hpp>

#include <doctest/doctest.h>

#include <string>

namespace doctest {
template <class T>
struct StringMaker<boost::system::result<T>> {
  static String convert(const boost::system::result<T>& r) {
    return r ? String("value") : String(("error: " + r.error().message()).c_str());
  }
};
}  // namespace doctest
