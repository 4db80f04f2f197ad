#include "runtime/flow/protocol.hpp"

#include "runtime/flow/sink_driver.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace flumen {

namespace {

constexpr auto error_category = caf::atom("flumen");

} // namespace

std::string to_string(errc x) {
  switch (x) {
  case errc::none:
    return "none";
  case errc::batch_too_large:
    return "batch_too_large";
  case errc::unknown_transaction:
    return "unknown_transaction";
  case errc::channel_closed:
    return "channel_closed";
  case errc::delivery_failed:
    return "delivery_failed";
  case errc::component_failed:
    return "component_failed";
  case errc::interceptor_failed:
    return "interceptor_failed";
  case errc::version_mismatch:
    return "version_mismatch";
  case errc::malformed_batch:
    return "malformed_batch";
  case errc::busy:
    return "busy";
  case errc::channel_full:
    return "channel_full";
  }
  return "unknown";
}

caf::error make_error(errc x, std::string msg) {
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::move(msg))};
}

bool is_error(const caf::error& err, errc x) {
  return err.category() == error_category &&
         err.code() == static_cast<uint8_t>(x);
}

caf::error closed_error(std::string why, batch events) {
  return caf::error{static_cast<uint8_t>(errc::channel_closed), error_category,
                    caf::make_message(std::move(why), std::move(events))};
}

batch closed_events(caf::error& err) {
  if (!is_error(err, errc::channel_closed)) return {};
  auto& ctx = err.context();
  if (ctx.size() != 2 || !ctx.match_element<batch>(1)) return {};
  return std::move(ctx.get_mutable_as<batch>(1));
}

std::string describe(const std::exception_ptr& eptr) {
  try {
    if (eptr) std::rethrow_exception(eptr);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "unknown exception";
}

void tolerate_strays(caf::scheduled_actor* self, std::string name) {
  self->set_default_handler(
      [name](caf::scheduled_actor*,
             caf::message_view& x) -> caf::result<caf::message> {
        spdlog::error("{}: unexpected message {}", name,
                      caf::to_string(x.content()));
        return caf::delegated<caf::message>{}; // no answer
      });
  self->set_error_handler([name, self](caf::error& err) {
    spdlog::error("{}: unexpected error message: {}", name,
                  self->system().render(err));
  });
}

void fail_on_exceptions(caf::scheduled_actor* self,
                        std::shared_ptr<component_metrics> metrics,
                        component_state state, std::string prefix) {
  self->set_exception_handler(
      [metrics, state, prefix](std::exception_ptr& eptr) -> caf::error {
        auto why = prefix + describe(eptr);
        metrics->set_state(state, why);
        return make_error(errc::component_failed, why);
      });
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<event>("flumen::event");
  cfg.add_message_type<rejection>("flumen::rejection");
  cfg.add_message_type<delivery_report>("flumen::delivery_report");
  cfg.add_message_type<std::vector<uint32_t>>("std::vector<uint32_t>");
  cfg.add_message_type<counter_snapshot>("flumen::counter_snapshot");
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    auto out = "flumen::" + to_string(static_cast<errc>(code));
    // The reason only: a closed_error's events are no text for a log.
    if (!ctx.empty() && ctx.match_element<std::string>(0))
      out += ": " + ctx.get_as<std::string>(0);
    else if (!ctx.empty())
      out += ": " + caf::to_string(ctx);
    return out;
  });
}

} // namespace flumen
