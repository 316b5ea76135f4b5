// Grouped Prometheus text (see prometheus_text.h).
#include "control/daemon/prometheus_text.h"

#include <fmt/format.h>

namespace eclb::ctl {

PrometheusText::Family& PrometheusText::find(std::string_view name) {
  for (Family& family : families_) {
    if (family.name == name) return family;
  }
  families_.push_back(Family{std::string(name), "untyped", "", ""});
  return families_.back();
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  Family& family = find(name);
  if (family.help.empty()) {
    family.type = type;
    family.help = help;
  }
}

void PrometheusText::sample(std::string_view family, std::string_view name, std::string_view labels,
                            std::string_view value) {
  std::string& samples = find(family).samples;
  samples += name;
  if (!labels.empty()) {
    samples += '{';
    samples += labels;
    samples += '}';
  }
  samples += ' ';
  samples += value;
  samples += '\n';
}

std::string PrometheusText::render() const {
  std::string out;
  for (const Family& family : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name, family.help, family.name, family.type);
    out += family.samples;
  }
  return out;
}

std::string PrometheusText::label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"' || c == '\n') out += '\\';
    out += c == '\n' ? 'n' : c;
  }
  out += '"';
  return out;
}

}  // namespace eclb::ctl
