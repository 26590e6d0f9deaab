#include "tag_state.hpp"

namespace ublk {

std::string_view to_string(TagState state) noexcept {
  switch (state) {
    case TagState::kIdle: return "idle";
    case TagState::kWaitingRequest: return "waiting-request";
    case TagState::kWaitingData: return "waiting-data";
    case TagState::kInTarget: return "in-target";
    case TagState::kRetired: return "retired";
  }
  return "?";
}

std::string_view to_string(TagEvent event) noexcept {
  switch (event) {
    case TagEvent::kFetchSent: return "fetch-sent";
    case TagEvent::kRequest: return "request";
    case TagEvent::kNeedData: return "need-data";
    case TagEvent::kDataIn: return "data-in";
    case TagEvent::kCommitted: return "committed";
    case TagEvent::kAborted: return "aborted";
  }
  return "?";
}

}  // namespace ublk
