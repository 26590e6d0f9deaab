#include "daemon.hpp"

int main(int argc, char** argv) { return ublk::cli::run_daemon(argc, argv, ublk::cli::DaemonKind::kLoop); }
