// spdlog's and fmt's own code, compiled once here (SPDLOG_COMPILED_LIB,
// fmt without FMT_HEADER_ONLY), not linked as libspdlog and libfmt: as
// shared libraries their symbol tables cost every agent 0.4 MB
// (bench/README.md, part 13, eighth pass), and compiled into every file
// that logs (header-only) they cost 5-13 s of compiling per file. What the
// libraries' own src/*.cpp do, for the parts flumen uses: the logger and
// registry, the stderr color sink, the ring buffer sink (`flumen tap`'s
// log lines), fmt's formatting.

#ifndef SPDLOG_COMPILED_LIB
#error "SPDLOG_COMPILED_LIB: spdlog's code is compiled here"
#endif

#include <mutex>

#include <fmt/format-inl.h>

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept
    -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept
    -> dragonbox::decimal_fp<double>;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref)
    -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                 locale_ref);
} // namespace detail
FMT_END_NAMESPACE

template SPDLOG_API
spdlog::logger::logger(std::string name,
                       spdlog::sinks_init_list::iterator begin,
                       spdlog::sinks_init_list::iterator end);
template class SPDLOG_API spdlog::sinks::base_sink<std::mutex>;
template class SPDLOG_API spdlog::sinks::base_sink<spdlog::details::null_mutex>;
template class SPDLOG_API
    spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class SPDLOG_API
    spdlog::sinks::ansicolor_stderr_sink<spdlog::details::console_mutex>;
template SPDLOG_API std::shared_ptr<spdlog::logger>
spdlog::stderr_color_mt<spdlog::synchronous_factory>(
    const std::string& logger_name, color_mode mode);
