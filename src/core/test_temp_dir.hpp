#pragma once
// A temporary directory for unit tests: created (mkdtemp) under GoogleTest's
// temporary directory, removed with everything in it when the object goes
// away (owner permissions restored first, so a test that made it read-only
// still cleans up). Test-only: include it from *_test.cpp files.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace signalhub::testing_util {

class TempDir {
   public:
    explicit TempDir(std::string_view prefix = "sh-test") {
        std::string pattern = (std::filesystem::path(::testing::TempDir()) / (std::string(prefix) + "-XXXXXX")).string();
        if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
        EXPECT_FALSE(path_.empty()) << "mkdtemp failed for " << pattern;
    }
    ~TempDir() {
        if (path_.empty()) return;
        std::error_code ec;
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // PATH/NAME.
    std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }
    // Writes `content` to PATH/NAME and returns that path.
    std::string Write(std::string_view name, std::string_view content) const {
        const std::string file = *this / name;
        std::ofstream out(file, std::ios::binary);
        out << content;
        return file;
    }

   private:
    std::string path_;
};

}  // namespace signalhub::testing_util
