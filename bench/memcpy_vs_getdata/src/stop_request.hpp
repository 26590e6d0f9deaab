#pragma once
// SIGINT, SIGTERM and SIGHUP ask the bench to stop: it then stops fio and the daemon in order, so
// that no device or daemon is left behind, and exits with 128 + the signal.

namespace mvg {

void install_stop_handlers();
// 0 while no stop was asked, else the signal that asked.
int stop_signal() noexcept;

}  // namespace mvg
