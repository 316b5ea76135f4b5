// PrometheusText: builds the Prometheus text exposition format (version 0.0.4) so that
// every metric family comes out as one group — its HELP and TYPE, then all its samples —
// however the caller interleaves them (per backend: state, weight, share...). The format
// requires the grouping; scrapers reject or misread interleaved families.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace eclb::ctl {

class PrometheusText {
 public:
  // Declares a family (first declaration wins); samples may come before or after.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample: `name` is the family's (or, for a summary, name_sum / name_count);
  // `labels` is `key="value",...` already escaped (label()), or empty.
  void sample(std::string_view family, std::string_view name, std::string_view labels, std::string_view value);
  void sample(std::string_view family, std::string_view labels, std::string_view value) {
    sample(family, family, labels, value);
  }
  std::string render() const;

  // key="value" with the value escaped for the format (\\, \", \n).
  static std::string label(std::string_view key, std::string_view value);

 private:
  struct Family {
    std::string name, type, help;
    std::string samples;
  };
  Family& find(std::string_view name);
  std::vector<Family> families_;
};

}  // namespace eclb::ctl
