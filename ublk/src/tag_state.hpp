#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace ublk {

// Where one tag (one ublk IO slot of a queue) is. Exactly one command per tag is ever in the
// kernel's hands, so a tag's state says which CQE may come next.
//
//   kIdle --fetch_sent--> kWaitingRequest --request--> kInTarget --committed--> kWaitingRequest
//                              |    ^                     ^
//                  need_data   v    | committed (error)   | data_in
//                           kWaitingData ------------------
//   kWaitingRequest/kWaitingData --aborted--> kRetired     (the device is going away)
enum class TagState : std::uint8_t {
  kIdle,            // nothing sent yet
  kWaitingRequest,  // FETCH_REQ or COMMIT_AND_FETCH_REQ outstanding: waiting for a request
  kWaitingData,     // NEED_GET_DATA outstanding: the kernel copies the WRITE data in
  kInTarget,        // the request is ours: the target (or an error path) is working on it
  kRetired,         // the kernel aborted the tag; no command outstanding, none will be sent
};

enum class TagEvent : std::uint8_t {
  kFetchSent,   // FETCH_REQ submitted
  kRequest,     // CQE: a request with its data available (UBLK_IO_RES_OK)
  kNeedData,    // CQE: UBLK_IO_RES_NEED_GET_DATA, and NEED_GET_DATA submitted
  kDataIn,      // CQE: NEED_GET_DATA done, the WRITE data is in our buffer
  kCommitted,   // COMMIT_AND_FETCH_REQ submitted
  kAborted,     // CQE: UBLK_IO_RES_ABORT or another error: the kernel is done with this tag
};

// The next state, or nullopt when `event` cannot happen in `state` (a bug or a kernel surprise).
constexpr std::optional<TagState> next_state(TagState state, TagEvent event) noexcept {
  using S = TagState;
  using E = TagEvent;
  switch (state) {
    case S::kIdle:
      if (event == E::kFetchSent) return S::kWaitingRequest;
      break;
    case S::kWaitingRequest:
      if (event == E::kRequest) return S::kInTarget;
      if (event == E::kNeedData) return S::kWaitingData;
      if (event == E::kAborted) return S::kRetired;
      break;
    case S::kWaitingData:
      if (event == E::kDataIn) return S::kInTarget;
      if (event == E::kAborted) return S::kRetired;
      break;
    case S::kInTarget:
      if (event == E::kCommitted) return S::kWaitingRequest;
      break;
    case S::kRetired:
      break;
  }
  return std::nullopt;
}

// Whether the kernel holds a command of this tag (so a CQE for it may still come).
constexpr bool kernel_holds(TagState state) noexcept {
  return state == TagState::kWaitingRequest || state == TagState::kWaitingData;
}

std::string_view to_string(TagState state) noexcept;
std::string_view to_string(TagEvent event) noexcept;

}  // namespace ublk
