// memcpy_vs_getdata: the seed's NEED_GET_DATA tables, re-measured on a real ublk device. See
// docs/bench.md.

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/program.hpp"
#include "host_side.hpp"
#include "inner_side.hpp"
#include "options.hpp"
#include "stop_request.hpp"

int main(int argc, char** argv) {
  mvg::Options options;
  try {
    options = mvg::parse_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "memcpy_vs_getdata: %s\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(mvg::usage_text().c_str(), stdout);
    return 0;
  }
  if (options.version) {
    std::printf("%s\n", cli::version_line("memcpy_vs_getdata").c_str());
    return 0;
  }
  mvg::install_stop_handlers();
  if (options.inner) {
    if (options.out_dir.empty() || options.daemon.empty() || !options.runtime_s) {
      std::fprintf(stderr, "memcpy_vs_getdata: --inner needs --out, --daemon and --runtime\n");
      return 2;
    }
    try {
      return mvg::run_inner({options.out_dir, options.reps, *options.runtime_s, options.ramp_s,
                             options.max_io, options.start_timeout_s, options.daemon,
                             options.fio_file, options.only, options.modes});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "memcpy_vs_getdata: %s\n", e.what());
      return 1;
    }
  }
  return mvg::run_host(std::move(options));
}
