// Runs fuzz programs without libFuzzer: the built-in seeds, then every file or directory given
// (the regression corpus). Also writes the seeds out for the fuzzer (--write-seeds DIR).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "interpreter.hpp"
#include "seeds.hpp"

namespace {

namespace fs = std::filesystem;

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: pool_fuzz_replay [--write-seeds DIR] [--no-seeds] [FILE|DIR...]\n"
               "Runs the built-in seed programs and every given input file (directories: each file in\n"
               "them) through the libpool fuzz interpreter; a broken invariant aborts.\n"
               "  --write-seeds DIR  write the seed programs into DIR and exit\n"
               "  --no-seeds         run only the given inputs\n"
               "  POOL_FUZZ_TRACE=1  print every operation\n");
}

void run(const std::string& name, const std::vector<std::uint8_t>& program) {
  std::fprintf(stderr, "replay %s (%zu bytes)\n", name.c_str(), program.size());
  fuzz::Interpreter interpreter;
  interpreter.run(program.data(), program.size());
}

bool run_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "pool_fuzz_replay: cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  run(path.string(), bytes);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  bool seeds = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    }
    if (arg == "--write-seeds") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "pool_fuzz_replay: --write-seeds needs a directory\n");
        return 2;
      }
      const fs::path dir = argv[++i];
      std::error_code ec;
      fs::create_directories(dir, ec);
      for (const auto& [name, program] : fuzz::seed_programs()) {
        std::ofstream out(dir / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(program.data()), static_cast<std::streamsize>(program.size()));
        if (!out) {
          std::fprintf(stderr, "pool_fuzz_replay: cannot write %s\n", (dir / name).c_str());
          return 1;
        }
      }
      return 0;
    }
    if (arg == "--no-seeds") {
      seeds = false;
      continue;
    }
    if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "pool_fuzz_replay: unknown option %s (see --help)\n", arg.c_str());
      return 2;
    }
    inputs.emplace_back(arg);
  }
  if (seeds)
    for (const auto& [name, program] : fuzz::seed_programs()) run(name, program);
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(input))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.' && e.path().extension() != ".md")
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files)
        if (!run_file(f)) return 1;
    } else if (!run_file(input)) {
      return 1;
    }
  }
  std::fprintf(stderr, "pool_fuzz_replay: all programs passed\n");
  return 0;
}
